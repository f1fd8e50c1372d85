//! Command-line flags of `ash-nlp`.

use std::path::PathBuf;

use clap::Parser;

/// Crisis detection for chat communities.
#[derive(Parser, Debug, Clone)]
#[command(name = "ash-nlp", version, about)]
pub struct Args {
    /// Configuration directory.
    #[arg(long, env = "NLP_CONFIG_DIR", default_value = "config")]
    pub config: PathBuf,
    /// Bind address (overrides `server.yaml: host` and `NLP_SERVER_HOST`).
    #[arg(long)]
    pub host: Option<String>,
    /// Bind port (overrides `server.yaml: port` and `GLOBAL_NLP_API_PORT`; 0 picks a free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// A `.env` file to read before the process environment (which wins).
    #[arg(long, env = "NLP_ENV_FILE")]
    pub env_file: Option<PathBuf>,
    /// Validate the configuration, print it with secrets redacted, and exit.
    #[arg(long)]
    pub check_config: bool,
}
