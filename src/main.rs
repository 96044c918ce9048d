//! The `journeyscope` binary: parse the command line, run, report errors.

use std::process::ExitCode;

use clap::Parser;
use journeyscope::cli::Cli;
use journeyscope::commands::{Failure, remove_temporaries_on_signals, run};
use journeyscope::format::printable_lines;

/// Large buffers (event chunks, batches) are allocated and freed in turn;
/// with a fixed mmap threshold glibc hands each freed one back to the
/// system at once instead of keeping it in the heap, so peak memory follows
/// what is really alive.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_promptly() {
    // SAFETY: mallopt only tunes the allocator and is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_promptly() {}

/// Messages of the library's threads go to standard error: Journeyscope's
/// own from `info`, librdkafka's only when they are errors (its warnings
/// include expected ones, such as a topic missing from an empty metadata
/// cache). `RUST_LOG` changes this.
fn start_logging() {
    env_logger::Builder::from_env(
        env_logger::Env::default()
            .default_filter_or("warn,journeyscope=info,librdkafka=error,rdkafka=error"),
    )
    .format_timestamp(None)
    .init();
}

fn main() -> ExitCode {
    return_large_buffers_promptly();
    start_logging();
    if let Err(e) = remove_temporaries_on_signals() {
        log::warn!("cannot watch for signals ({e}): a stopped write may leave a temporary file");
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {}", printable_lines(&format!("{e:#}")));
            ExitCode::from(2)
        }
        Err(Failure::Failed(e)) => {
            eprintln!("error: {}", printable_lines(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}
