//! Garbage in a good file: 10 % malformed records of every kind change no
//! number computed from the good records, every one is counted by reason
//! with its line number, and the source's bytes stay as they were.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{flags, summarize};
use journeyscope::engine::RejectReason;
use journeyscope::generate::{GenerateOptions, write_sample};
use journeyscope::report::Summary;

/// Lines of a clean generated file (header first for CSV).
fn clean_lines(dir: &Path, name: &str, events: usize) -> Vec<Vec<u8>> {
    let path = dir.join(name);
    write_sample(
        &path,
        &GenerateOptions {
            events,
            seed: 11,
            messy: false,
        },
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Mixes `garbage` into `good` (after `keep_first` lines) at spread-out
/// places; returns the file and, per 1-based line number, the reason expected.
fn mix(
    good: &[Vec<u8>],
    keep_first: usize,
    garbage: &[(Vec<u8>, RejectReason)],
) -> (Vec<u8>, BTreeMap<u64, RejectReason>) {
    let mut out = Vec::new();
    let mut expected = BTreeMap::new();
    let mut line = 0u64;
    let push = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(bytes);
        out.push(b'\n');
    };
    let body = &good[keep_first..];
    let every = (body.len() / garbage.len().max(1)).max(1);
    let mut next_garbage = garbage.iter();
    for l in &good[..keep_first] {
        push(&mut out, l);
        line += 1;
    }
    for (i, l) in body.iter().enumerate() {
        if i % every == every / 2
            && let Some((g, reason)) = next_garbage.next()
        {
            push(&mut out, g);
            line += 1;
            expected.insert(line, *reason);
        }
        push(&mut out, l);
        line += 1;
    }
    for (g, reason) in next_garbage {
        push(&mut out, g);
        line += 1;
        expected.insert(line, *reason);
    }
    (out, expected)
}

fn assert_only_rejections_differ(
    good: &Summary,
    mixed: &Summary,
    expected: &BTreeMap<u64, RejectReason>,
) {
    assert_eq!(mixed.rejected.total, expected.len() as u64);
    let mut by_reason: BTreeMap<RejectReason, u64> = BTreeMap::new();
    expected
        .values()
        .for_each(|r| *by_reason.entry(*r).or_default() += 1);
    assert_eq!(mixed.rejected.by_reason, by_reason);
    let sampled: Vec<(String, RejectReason)> = mixed
        .rejected
        .sample
        .iter()
        .map(|r| (r.position.clone(), r.reason))
        .collect();
    let want: Vec<(String, RejectReason)> = expected
        .iter()
        .take(sampled.len())
        .map(|(line, r)| (format!("line {line}"), *r))
        .collect();
    assert_eq!(sampled, want);
    let mut comparable = mixed.clone();
    comparable.rejected = good.rejected.clone();
    comparable.source = good.source.clone();
    assert_eq!(&comparable, good);
}

fn check(name: &str, good: &[Vec<u8>], keep_first: usize, garbage: Vec<(Vec<u8>, RejectReason)>) {
    let dir = tempfile::tempdir().unwrap();
    let good_path = dir.path().join(format!("good-{name}"));
    let mixed_path = dir.path().join(format!("mixed-{name}"));
    std::fs::write(&good_path, good.join(&b'\n')).unwrap();
    let (mixed, expected) = mix(good, keep_first, &garbage);
    std::fs::write(&mixed_path, &mixed).unwrap();
    let modified = std::fs::metadata(&mixed_path).unwrap().modified().unwrap();

    let good_summary = summarize(&good_path, &flags());
    let mixed_summary = summarize(&mixed_path, &flags());
    assert_eq!(good_summary.rejected.total, 0);
    assert_only_rejections_differ(&good_summary, &mixed_summary, &expected);

    assert_eq!(
        std::fs::read(&mixed_path).unwrap(),
        mixed,
        "the source's bytes changed"
    );
    assert_eq!(
        std::fs::metadata(&mixed_path).unwrap().modified().unwrap(),
        modified
    );
}

fn cycle<T: Clone>(kinds: &[T], n: usize) -> Vec<T> {
    kinds.iter().cycle().take(n).cloned().collect()
}

#[test]
fn json_lines_garbage_is_counted_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let good = clean_lines(dir.path(), "clean.jsonl", 3000);
    let huge = format!(
        r#"{{"customer_id":"C1","event":"home","timestamp":"2026-11-02T10:00:00Z","pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let mut invalid = br#"{"customer_id":"C1","event":"caf"#.to_vec();
    invalid.extend_from_slice(&[0xff, 0xfe]);
    invalid.extend_from_slice(br#"","timestamp":"2026-11-02T10:00:00Z"}"#);
    let kinds: Vec<(Vec<u8>, RejectReason)> = vec![
        (
            br#"{"customer_id":"C1","event":"home","timestamp":"#.to_vec(),
            RejectReason::Unparseable,
        ),
        (
            br#"{"event":"home","timestamp":"2026-11-02T10:00:00Z"}"#.to_vec(),
            RejectReason::MissingCustomer,
        ),
        (
            br#"{"customer_id":"C1","timestamp":"2026-11-02T10:00:00Z"}"#.to_vec(),
            RejectReason::MissingEvent,
        ),
        (
            br#"{"customer_id":"C1","event":"home"}"#.to_vec(),
            RejectReason::MissingTime,
        ),
        (
            br#"{"customer_id":"C1","event":"home","timestamp":"yesterday"}"#.to_vec(),
            RejectReason::BadTimestamp,
        ),
        (
            br#"{"customer_id":"C1","event":{"name":"home"},"timestamp":"2026-11-02T10:00:00Z"}"#
                .to_vec(),
            RejectReason::WrongType,
        ),
        (invalid, RejectReason::InvalidUtf8),
        (b"this is not json".to_vec(), RejectReason::Unparseable),
        (b"42".to_vec(), RejectReason::WrongType),
    ];
    let mut garbage = cycle(&kinds, good.len() / 10 - 3);
    garbage.extend(std::iter::repeat_n(
        (huge.into_bytes(), RejectReason::Oversized),
        3,
    ));
    check("events.jsonl", &good, 0, garbage);
}

#[test]
fn csv_garbage_is_counted_and_changes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let good = clean_lines(dir.path(), "clean.csv", 3000);
    let header = String::from_utf8(good[0].clone()).unwrap();
    let columns: Vec<&str> = header.split(',').collect();
    let row = |customer: &str, event: &str, time: &str| -> Vec<u8> {
        columns
            .iter()
            .map(|c| match *c {
                "customer_id" => customer.to_owned(),
                "event" => event.to_owned(),
                "timestamp" => time.to_owned(),
                "event_id" => String::new(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes()
    };
    let t = "2026-11-02T10:00:00Z";
    let mut invalid = row("C1", "home", t);
    let at = invalid.iter().position(|b| *b == b'C').unwrap();
    invalid.splice(at..at, [0xff, 0xfe]);
    let huge = row("C1", &format!("\"{}\"", "x".repeat(1 << 20)), t);
    let kinds: Vec<(Vec<u8>, RejectReason)> = vec![
        (b"a,b,c".to_vec(), RejectReason::Unparseable),
        (row("", "home", t), RejectReason::MissingCustomer),
        (row("C1", "", t), RejectReason::MissingEvent),
        (row("C1", "home", ""), RejectReason::MissingTime),
        (row("C1", "home", "not-a-time"), RejectReason::BadTimestamp),
        (invalid, RejectReason::InvalidUtf8),
    ];
    let mut garbage = cycle(&kinds, (good.len() - 1) / 10 - 3);
    garbage.extend(std::iter::repeat_n((huge, RejectReason::Oversized), 3));
    check("events.csv", &good, 1, garbage);
}
