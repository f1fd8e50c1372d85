//! Project tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! Each task lives in its own module; this file only parses the command line and dispatches.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod setup;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Ash-NLP project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the service on the embedded default model (fetches it first).
    Serve,
    /// Fetch and verify ONNX Runtime and the embedded default model (idempotent).
    Setup {
        /// Only check the files; fetch and delete nothing.
        #[arg(long)]
        verify: bool,
    },
    /// Run every test of the workspace (runs `setup` first).
    Test,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root();
    match cli.task {
        Task::Serve => {
            bail!("the HTTP server (ash-nlp) is not built yet; `cargo xtask test` runs what exists")
        }
        Task::Setup { verify } => setup::run(&root, verify),
        Task::Test => {
            setup::run(&root, false)?;
            run(Command::new(cargo()).current_dir(&root).args([
                "test",
                "--workspace",
                "--all-targets",
            ]))
        }
    }
}

/// The workspace root (this crate lives in `<root>/xtask`).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
