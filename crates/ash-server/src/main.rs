//! `ash-nlp`: the Ash-NLP service binary.

use std::path::PathBuf;
use std::process::ExitCode;

use ash_config::{ConfigLoader, Environment};
use clap::Parser;

/// Crisis detection for chat communities.
#[derive(Parser, Debug)]
#[command(name = "ash-nlp", version)]
struct Args {
    /// Configuration directory.
    #[arg(long, env = "NLP_CONFIG_DIR", default_value = "config")]
    config: PathBuf,
    /// Validate the configuration, print it with secrets redacted, and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded =
        ConfigLoader::new(&args.config, Environment::from_process()).and_then(|l| l.load());
    match loaded {
        Ok(config) if args.check_config => {
            #[allow(clippy::print_stdout)]
            {
                print!("{}", config.to_redacted_yaml());
            }
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!(
                "ash-nlp: the HTTP server is not built yet; only --check-config is available"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("ash-nlp: invalid configuration:\n{error}");
            ExitCode::from(2)
        }
    }
}
