//! The parsers under fuzzing: every input kept in `fuzz/corpus` (the
//! inputs that reached new code, and every crash ever found) is replayed
//! through the same entry points the fuzz targets use, and each
//! libFuzzer target built by `scripts/test` runs for a few seconds more.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 6] = [
    ("json_lines", journeyscope::fuzzing::json_lines),
    ("delimited", journeyscope::fuzzing::delimited),
    ("timestamp", journeyscope::fuzzing::timestamp),
    ("json_document", journeyscope::fuzzing::json_document),
    ("kafka_value", journeyscope::fuzzing::kafka_value),
    ("saved_state", journeyscope::fuzzing::saved_state),
];

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn every_kept_input_replays_without_a_failure() {
    for (name, target) in TARGETS {
        let dir = corpus(name);
        let inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            inputs.len() >= 10,
            "{name}: only {} inputs kept",
            inputs.len()
        );
        for input in inputs {
            let bytes = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&bytes));
            assert!(outcome.is_ok(), "{name} fails on {}", input.display());
        }
    }
}

/// Where `scripts/test` builds the fuzz targets.
fn fuzz_binaries() -> PathBuf {
    let root = std::env::var_os("JOURNEYSCOPE_FUZZ_TARGET").map_or_else(
        || {
            let home = std::env::var_os("HOME").expect("HOME");
            Path::new(&home).join(".cache/journeyscope/fuzz-target")
        },
        PathBuf::from,
    );
    root.join("x86_64-unknown-linux-gnu/release")
}

#[test]
fn each_fuzz_target_runs_a_few_seconds_without_a_crash() {
    let bin = fuzz_binaries();
    for (name, _) in TARGETS {
        let exe = bin.join(name);
        assert!(
            exe.exists(),
            "{} is not built: run `scripts/test`, or `cargo fuzz build -s none --fuzz-dir fuzz \
             --target-dir ~/.cache/journeyscope/fuzz-target`",
            exe.display()
        );
        // New inputs go to a scratch directory; the kept corpus is only read.
        let scratch = tempfile::tempdir().unwrap();
        let out = Command::new(&exe)
            .arg(scratch.path())
            .arg(corpus(name))
            .args(["-max_total_time=4", "-rss_limit_mb=1024", "-timeout=10"])
            .arg(format!("-artifact_prefix={}/", scratch.path().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} found a failure:\n{}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
