//! Hostile values in files: arrays holding more than events, JSON and Avro
//! records nesting far deeper than any event does.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::broker::{BIN, stderr};
use serde_json::Value;

fn summarize(path: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["summarize", path.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rejected(summary: &Value, reason: &str) -> u64 {
    summary["rejected"]["by_reason"][reason]
        .as_u64()
        .unwrap_or(0)
}

fn event(i: usize) -> String {
    format!(r#"{{"customer_id":"c{i}","event":"home","timestamp":"2026-11-27T09:00:0{i}Z"}}"#)
}

#[test]
fn each_element_of_an_array_that_is_no_object_is_a_rejected_record() {
    let dir = tempfile::tempdir().unwrap();
    let array = format!(r#"[null, 1, "x", {}]"#, event(1));
    let cases = [
        (
            "line.jsonl",
            format!("{}\n{array}\n{}\n", event(2), event(3)),
        ),
        ("line.json", format!("{array}\n")),
        (
            "document.json",
            format!("[\n  null,\n  1,\n  \"x\",\n  {}\n]\n", event(1)),
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let s = summarize(&path);
        let events = text.matches("customer_id").count() as u64;
        assert_eq!(s["events"], events, "{name}");
        assert_eq!(rejected(&s, "wrong_type"), 3, "{name}: {}", s["rejected"]);
        assert_eq!(s["rejected"]["total"], 3, "{name}");
        let records: Vec<&str> = s["rejected"]["sample"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["record"].as_str().unwrap())
            .collect();
        assert_eq!(records, ["null", "1", "\"x\""], "{name}");
    }
}

#[test]
fn json_nesting_deeper_than_128_levels_is_too_deep() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        r#"{{"customer_id":"c9","event":"home","timestamp":"2026-11-27T09:00:09Z","x":{}1{}}}"#,
        "[".repeat(1_000),
        "]".repeat(1_000)
    );
    let path = dir.path().join("deep.jsonl");
    std::fs::write(&path, format!("{}\n{deep}\n{}\n", event(1), event(2))).unwrap();
    let s = summarize(&path);
    assert_eq!(s["events"], 2);
    assert_eq!(rejected(&s, "too_deep"), 1, "{}", s["rejected"]);
}

/// An event whose `context` may hold a node that holds itself.
const NESTED_SCHEMA: &str = r#"{"type":"record","name":"Event","fields":[
  {"name":"customer_id","type":"string"},
  {"name":"event","type":"string"},
  {"name":"timestamp","type":"string"},
  {"name":"context","type":["null",{"type":"record","name":"Node","fields":[
    {"name":"child","type":["null","Node"]}]}]}]}"#;

/// An Avro long.
fn avro_long(n: i64) -> Vec<u8> {
    let mut n = ((n << 1) ^ (n >> 63)) as u64;
    let mut bytes = Vec::new();
    while n >= 0x80 {
        bytes.push((n as u8) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
    bytes
}

fn avro_bytes(bytes: &[u8]) -> Vec<u8> {
    [avro_long(bytes.len() as i64), bytes.to_vec()].concat()
}

/// Event `i`, its context `depth` nodes deep.
fn nested_event(i: usize, depth: usize) -> Vec<u8> {
    let mut datum = [
        avro_bytes(format!("c{}", i % 7).as_bytes()),
        avro_bytes(b"home"),
        avro_bytes(format!("2026-11-27T09:00:{:02}Z", i % 60).as_bytes()),
    ]
    .concat();
    datum.extend(std::iter::repeat_n(2u8, depth));
    datum.push(0);
    datum
}

/// An Avro object container file of `blocks` (records each), without
/// compression, written by hand (the Avro crate's writer recurses as deep
/// as the value): see the specification's "Object Container Files".
fn container(blocks: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let marker = *b"0123456789abcdef";
    let mut file = b"Obj\x01".to_vec();
    file.extend(avro_long(2));
    file.extend(avro_bytes(b"avro.schema"));
    file.extend(avro_bytes(NESTED_SCHEMA.as_bytes()));
    file.extend(avro_bytes(b"avro.codec"));
    file.extend(avro_bytes(b"null"));
    file.extend(avro_long(0));
    file.extend(marker);
    for records in blocks {
        let data = records.concat();
        file.extend(avro_long(records.len() as i64));
        file.extend(avro_long(data.len() as i64));
        file.extend(data);
        file.extend(marker);
    }
    file
}

#[test]
fn avro_records_nesting_thousands_deep_are_rejected_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<Vec<u8>> = (0..6)
        .map(|i| match i {
            2 => nested_event(i, 1_000),
            4 => nested_event(i, 100_000),
            _ => nested_event(i, i),
        })
        .collect();
    let second: Vec<Vec<u8>> = (6..10).map(|i| nested_event(i, 1)).collect();
    let path = dir.path().join("nested.avro");
    std::fs::write(&path, container(&[first, second])).unwrap();
    let s = summarize(&path);
    assert_eq!(s["events"], 8, "{}", s["rejected"]);
    assert_eq!(rejected(&s, "too_deep"), 2, "{}", s["rejected"]);
    assert_eq!(s["rejected"]["total"], 2);
}
