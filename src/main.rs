//! The `journeyscope` binary: parse the command line, run, report errors.

use std::process::ExitCode;

use clap::Parser;
use journeyscope::cli::Cli;
use journeyscope::commands::{Failure, run};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
