//! `ash-nlp`: the Ash-NLP service binary. Everything lives in the library so that tests and tools
//! can run the same code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    ash_server::main_with(ash_server::cli::Args::parse())
}
