//! Project tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! Each task lives in its own module; this file only parses the command line and dispatches.

// The tasks are command-line reports: printing to stdout is their job.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod conversations;
mod eval;
mod integration;
mod perf;
mod server;
mod setup;
mod svg;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Ash-NLP project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the service on the embedded default model (fetches it first; release build).
    Serve {
        /// Extra flags for `ash-nlp` (e.g. `--port 9000`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Fetch and verify ONNX Runtime, the embedded default model and the tests' redis-server
    /// (idempotent).
    Setup {
        /// Only check the files; fetch and delete nothing.
        #[arg(long)]
        verify: bool,
    },
    /// Run every test of the workspace (runs `setup` first).
    Test,
    /// Start the real binary and run the end-to-end suites against it.
    Integration,
    /// Measure the release service against xtask/perf-budget.yaml; reports in target/perf/.
    PerfValidate {
        /// Shorter runs (for CI).
        #[arg(long)]
        quick: bool,
    },
    /// Train the risk head on data/corpus and write config/risk_head.yaml (report in target/train/).
    ///
    /// Runs the separate `ash-train` crate in release mode, so training dependencies never slow
    /// the server, `serve` or `test` builds. Flags go to it (`-- --help`).
    Train {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Accuracy on labelled phrase files (in-process, or against a running server with --url).
    Eval {
        /// Folder of phrase files (`category.expected_priority`, `subcategories.*[].message`).
        #[arg(long, default_value = "tests/data/phrases")]
        dataset: PathBuf,
        /// For a corpus folder (`*.jsonl`): train, validation, test or all.
        #[arg(long, default_value = "validation")]
        split: String,
        /// Base URL of a running server (e.g. http://127.0.0.1:8881); in-process when absent.
        #[arg(long)]
        url: Option<String>,
        /// Configuration directory for the in-process run.
        #[arg(long, default_value = "config")]
        config: PathBuf,
        /// A second configuration directory to compare with.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// Where to write the JSON report.
        #[arg(long, default_value = "target/eval/report.json")]
        json: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root();
    match cli.task {
        Task::Serve { args } => {
            setup::run(&root, false)?;
            run(Command::new(cargo())
                .current_dir(&root)
                .args([
                    "run",
                    "--release",
                    "-p",
                    "ash-server",
                    "--bin",
                    "ash-nlp",
                    "--",
                    "--config",
                    "config",
                ])
                .args(args))
        }
        Task::Setup { verify } => setup::run(&root, verify),
        Task::Train { args } => {
            setup::run(&root, false)?;
            // The matrices are small: one thread is as fast and does not spin against a busy
            // machine (measured: 5 of 9 minutes were system time with the default pool).
            run(Command::new(cargo())
                .current_dir(&root)
                .env(
                    "RAYON_NUM_THREADS",
                    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "1".into()),
                )
                .args(["run", "--release", "-p", "ash-train", "--"])
                .args(args))
        }
        Task::PerfValidate { quick } => perf::run(&root, quick),
        Task::Integration => integration::run(&root),
        Task::Eval {
            dataset,
            split,
            url,
            config,
            compare,
            json,
        } => {
            setup::run(&root, false)?;
            eval::run(
                &root,
                &dataset,
                &split,
                url.as_deref(),
                &config,
                compare.as_deref(),
                &json,
            )
        }
        Task::Test => {
            setup::run(&root, false)?;
            // The trainer's own tests run in CI beside this (`cargo test -p ash-train`): candle
            // would otherwise be built for every `cargo xtask test`.
            run(Command::new(cargo()).current_dir(&root).args([
                "test",
                "--workspace",
                "--all-targets",
                "--exclude",
                "ash-train",
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

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Cargo's target directory for this workspace, where the binaries the tasks start are built.
///
/// Asked of `cargo metadata`, so it is the directory `cargo build` uses whatever moved it:
/// `CARGO_TARGET_DIR` (relative to the workspace root), `build.target-dir` in a config file.
pub(crate) fn target_dir(root: &Path) -> Result<PathBuf> {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir.clone());
    }
    let dir = query_target_dir(Command::new(cargo()).current_dir(root))?;
    Ok(DIR.get_or_init(|| dir).clone())
}

fn query_target_dir(command: &mut Command) -> Result<PathBuf> {
    let output = command
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        target_directory: PathBuf,
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)
        .context("`cargo metadata` printed no target_directory")?;
    Ok(metadata.target_directory)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_directory_follows_cargo_target_dir_relative_to_the_root() {
        let root = project_root();
        let moved = query_target_dir(
            Command::new(cargo())
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", "elsewhere/build"),
        )
        .expect("cargo metadata");
        assert_eq!(
            moved,
            root.canonicalize().expect("root").join("elsewhere/build")
        );
        let absolute = query_target_dir(
            Command::new(cargo())
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", "/tmp/ash-target"),
        )
        .expect("cargo metadata");
        assert_eq!(absolute, PathBuf::from("/tmp/ash-target"));
    }
}
