//! Inputs whose shape, not size, once made work without bounds: a hundred
//! thousand distinct event names read in seconds, the summary keeps every
//! one with its exact count, and the map draws the rarest as one box.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_journeyscope");

/// Runs the binary with `args`: it succeeds within a minute.
fn within_a_minute(args: &[&str]) -> std::process::Output {
    let started = Instant::now();
    let out = Command::new(BIN).args(args).output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(60), "{} took {took:?}", args[0]);
    out
}

#[test]
fn a_hundred_thousand_event_names_are_read_kept_and_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.jsonl");
    let mut text = String::new();
    let mut expected: HashMap<String, u64> = HashMap::new();
    for i in 0..120_000u64 {
        // Names ev0 … ev99999, the first 20,000 twice.
        let name = format!("ev{}", i % 100_000);
        *expected.entry(name.clone()).or_default() += 1;
        text.push_str(&format!(
            "{{\"customer_id\":\"c{}\",\"event\":\"{name}\",\"timestamp\":{}}}\n",
            i % 10_000,
            1_795_737_600 + i as i64
        ));
    }
    std::fs::write(&path, text).unwrap();

    let out = within_a_minute(&["summarize", path.to_str().unwrap(), "--format", "json"]);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = summary["nodes"].as_array().unwrap();
    let got: HashMap<String, u64> = nodes
        .iter()
        .filter(|n| !["START", "END"].contains(&n["name"].as_str().unwrap()))
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["events"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected, "every name with its exact count");

    let svg = dir.path().join("map.svg");
    within_a_minute(&[
        "export",
        path.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    let grouped = 100_000 - (journeyscope::layout::MAP_TOUCHPOINT_LIMIT - 1);
    assert!(
        drawn.contains(&format!(
            "other ({} touchpoints)",
            journeyscope::format::thousands(grouped as u64)
        )),
        "the rarest are one box"
    );
}
