//! JSON files whose shape once fooled the reader into losing records: a
//! first record longer than the detection window, and broken values inside
//! documents. Each is compared with the same events written plainly.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::broker::{BIN, summarize_json as summary};
use journeyscope::generate::{GenerateOptions, write_sample};
use serde_json::Value;

/// What two summaries of the same events share.
fn graph(s: &Value) -> Vec<Value> {
    ["events", "sessions", "customers", "nodes", "edges"]
        .iter()
        .map(|k| s[*k].clone())
        .collect()
}

/// The generated shop's events as JSON lines, without its messy parts.
fn sample_lines(dir: &Path, events: usize) -> Vec<String> {
    let path = dir.join("sample.jsonl");
    write_sample(
        &path,
        &GenerateOptions {
            events,
            seed: 11,
            messy: false,
        },
    )
    .unwrap();
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `line` (an event) with a property `pad` of `bytes` bytes.
fn padded(line: &str, bytes: usize) -> String {
    let mut event: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
    event.insert("pad".to_owned(), Value::String("x".repeat(bytes)));
    serde_json::to_string(&event).unwrap()
}

/// Every tenth line of `lines` followed by a line of garbage of three kinds.
fn with_garbage(lines: &[String]) -> (Vec<String>, u64) {
    let mut out = Vec::new();
    let mut garbage = 0;
    for (i, line) in lines.iter().enumerate() {
        out.push(line.clone());
        if i % 10 == 5 {
            out.push(["{not json", "{\"a\": [1, 2}", "{\"unclosed\": \"x"][i % 3].to_owned());
            garbage += 1;
        }
    }
    (out, garbage)
}

/// Writes `lines` as `name`, plain, gzip or zstd by its suffix.
fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let text = lines.join("\n") + "\n";
    let file = std::fs::File::create(&path).unwrap();
    if name.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    } else if name.ends_with(".zst") {
        let mut zst = zstd::stream::write::Encoder::new(file, 1).unwrap();
        zst.write_all(text.as_bytes()).unwrap();
        zst.finish().unwrap();
    } else {
        std::fs::write(&path, text).unwrap();
    }
    path
}

#[test]
fn a_long_first_record_reads_like_a_short_one_plain_gzip_and_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sample_lines(dir.path(), 3_000);
    let (messy, garbage) = with_garbage(&lines);
    let mut short = messy.clone();
    short[0] = padded(&messy[0], 10);
    let reference = summary(&write(dir.path(), "short.jsonl", &short));
    assert_eq!(reference["rejected"]["total"], garbage);
    let mut long = messy.clone();
    long[0] = padded(&messy[0], 70_000);
    for name in ["long.jsonl", "long.jsonl.gz", "long.jsonl.zst"] {
        let got = summary(&write(dir.path(), name, &long));
        assert_eq!(graph(&got), graph(&reference), "{name}");
        assert_eq!(got["rejected"], reference["rejected"], "{name}");
    }
}

#[test]
fn a_first_record_over_the_limit_is_rejected_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sample_lines(dir.path(), 3_000);
    let (messy, garbage) = with_garbage(&lines[1..]);
    let reference = summary(&write(dir.path(), "rest.jsonl", &messy));
    let mut long = vec![padded(&lines[0], 2_000_000)];
    long.extend(messy);
    for name in ["huge.jsonl", "huge.json.zst"] {
        let got = summary(&write(dir.path(), name, &long));
        assert_eq!(graph(&got), graph(&reference), "{name}");
        assert_eq!(got["rejected"]["total"], garbage + 1, "{name}");
        assert_eq!(got["rejected"]["by_reason"]["oversized"], 1, "{name}");
    }
}

#[test]
fn a_pretty_document_with_broken_elements_keeps_every_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sample_lines(dir.path(), 2_000);
    let reference = summary(&write(dir.path(), "plain.jsonl", &lines));
    let mut text = String::from("[\n");
    let mut broken = 0;
    for (i, line) in lines.iter().enumerate() {
        let event: Value = serde_json::from_str(line).unwrap();
        text.push_str(&serde_json::to_string_pretty(&event).unwrap());
        text.push_str(",\n");
        if i % 50 == 7 {
            text.push_str(["{\n \"a\": [1, 2}\n},\n", "{\n \"b\": \"x\n},\n"][i % 2]);
            broken += 1;
        }
    }
    text.truncate(text.len() - 2);
    text.push_str("\n]\n");
    let path = dir.path().join("pretty.json");
    std::fs::write(&path, text).unwrap();
    let got = summary(&path);
    assert_eq!(graph(&got), graph(&reference));
    assert!(
        got["rejected"]["total"].as_u64().unwrap() >= broken,
        "{}",
        got["rejected"]
    );
}

#[test]
fn a_document_that_cannot_be_read_on_is_an_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = sample_lines(dir.path(), 30_000);
    let mut text = String::from("[\n");
    text.push_str(&lines[0]);
    text.push_str(",\n{\"unclosed\": [\n");
    for line in &lines[1..] {
        text.push_str(line);
        text.push_str(",\n");
    }
    text.push_str("{}\n]\n");
    let path = dir.path().join("broken.json");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["summarize", path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a reader never stops early quietly");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("never closes"), "{err}");
}
