//! The generated Parquet files the file benchmarks time (`bench`,
//! `bench --journeys`), kept between runs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, anyhow};

use super::Failure;
use crate::cli::BenchArgs;
use crate::generate::{GenerateOptions, write_sample};

/// The generated Parquet file of `n` events the benchmarks time, written
/// once into the bench data folder.
pub(super) fn bench_file(args: &BenchArgs, n: usize) -> Result<PathBuf, Failure> {
    let dir = data_dir(args);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("events-{n}-seed7.parquet"));
    if !path.exists() {
        let started = Instant::now();
        eprintln!("generating {} …", path.display());
        write_sample(
            &path,
            &GenerateOptions {
                events: n,
                seed: 7,
                messy: true,
            },
        )
        .map_err(|e| anyhow!(e))?;
        eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(path)
}

fn data_dir(args: &BenchArgs) -> PathBuf {
    if let Some(dir) = &args.data_dir {
        return dir.clone();
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("bench-data"),
        None => std::env::temp_dir().join("journeyscope-bench-data"),
    }
}
