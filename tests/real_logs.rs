//! The public event logs in ../shared/data (see its SOURCES.md) load without
//! mapping flags and give exactly the transitions of a brute-force
//! recomputation written here, with its own parsing.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use common::*;

/// The running example's expected directly-follows graph, read from
/// `running-example.dfg` (pm4py's format: activities, start activities,
/// end activities, then `a>bxN` edges).
fn expected_dfg() -> BTreeMap<(String, String), u64> {
    let text = std::fs::read_to_string(shared_data("running-example.dfg")).unwrap();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut next = || lines.next().unwrap().to_owned();
    let activity_count: usize = next().parse().unwrap();
    let activities: Vec<String> = (0..activity_count).map(|_| next()).collect();
    let mut expected = BTreeMap::new();
    let counted = |line: String| -> (String, u64) {
        let (what, n) = line.split_once('x').unwrap();
        (what.to_owned(), n.parse().unwrap())
    };
    let starts: usize = next().parse().unwrap();
    for _ in 0..starts {
        let (a, n) = counted(next());
        expected.insert(
            (
                "START".into(),
                activities[a.parse::<usize>().unwrap()].clone(),
            ),
            n,
        );
    }
    let ends: usize = next().parse().unwrap();
    for _ in 0..ends {
        let (a, n) = counted(next());
        expected.insert(
            (
                activities[a.parse::<usize>().unwrap()].clone(),
                "END".into(),
            ),
            n,
        );
    }
    let rest: Vec<String> = std::iter::from_fn(|| lines.next().map(str::to_owned)).collect();
    for line in rest {
        let (pair, n) = counted(line);
        let (a, b) = pair.split_once('>').unwrap();
        let (a, b) = (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap());
        expected.insert((activities[a].clone(), activities[b].clone()), n);
    }
    expected
}

#[test]
fn running_example_gives_the_published_dfg() {
    let expected = expected_dfg();
    let between: usize = expected
        .keys()
        .filter(|(a, b)| a != "START" && b != "END")
        .count();
    assert_eq!(between, 16, "the .dfg file lists 16 directly-follows edges");
    let mut args = flags();
    args.session_timeout = "none".into();
    let summary = summarize(&shared_data("running-example.csv"), &args);
    assert_eq!(summary.mapping.customer, "case:concept:name");
    assert_eq!(summary.mapping.event, "concept:name");
    assert_eq!(summary.mapping.time, "time:timestamp");
    let got: BTreeMap<(String, String), u64> = summary
        .edges
        .iter()
        .map(|e| ((e.from.clone(), e.to.clone()), e.transitions))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        (summary.events, summary.customers, summary.sessions),
        (42, 6, 6)
    );
}

fn read_csv(
    name: &str,
    delimiter: u8,
    customer: &str,
    event: &str,
    time: &str,
    parse: fn(&str) -> i64,
) -> Vec<Ev> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(shared_data(name))
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (c, e, t) = (col(customer), col(event), col(time));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Ev {
                customer: r[c].to_owned(),
                event: r[e].to_owned(),
                time_us: parse(&r[t]),
            }
        })
        .collect()
}

fn zoned(text: &str) -> i64 {
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .timestamp_micros()
}

fn slashed_utc(text: &str) -> i64 {
    NaiveDateTime::parse_from_str(text, "%Y/%m/%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .and_utc()
        .timestamp_micros()
}

fn check_csv_log(name: &str, delimiter: u8, columns: (&str, &str, &str), parse: fn(&str) -> i64) {
    let events = read_csv(name, delimiter, columns.0, columns.1, columns.2, parse);
    for (timeout, flag) in [(Some(30 * 60 * 1_000_000), "30m"), (None, "none")] {
        let mut args = flags();
        args.session_timeout = flag.into();
        let summary = summarize(&shared_data(name), &args);
        assert_eq!(
            summary.rejected.total,
            0,
            "{name}: {:?}",
            summary.rejected.sample.first()
        );
        assert_eq!(summary.events, events.len() as u64, "{name}");
        assert_same_transitions(&summary, &brute_force(&events, timeout));
    }
}

#[test]
fn receipt_log_matches_brute_force() {
    check_csv_log(
        "receipt.csv",
        b',',
        ("case:concept:name", "concept:name", "time:timestamp"),
        zoned,
    );
}

#[test]
fn road_traffic_log_matches_brute_force() {
    check_csv_log(
        "roadtraffic100traces.csv",
        b',',
        ("case:concept:name", "concept:name", "time:timestamp"),
        zoned,
    );
}

#[test]
fn running_example_matches_brute_force() {
    check_csv_log(
        "running-example.csv",
        b',',
        ("case:concept:name", "concept:name", "time:timestamp"),
        zoned,
    );
}

#[test]
fn sepsis_log_matches_brute_force() {
    check_csv_log(
        "sepsis.csv",
        b';',
        ("Case ID", "Activity", "Complete Timestamp"),
        slashed_utc,
    );
}

#[test]
fn otto_sessions_match_brute_force_with_flags() {
    let text = std::fs::read_to_string(shared_data("train.jsonl")).unwrap();
    let mut events = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let session = value["session"].to_string();
        for e in value["events"].as_array().unwrap() {
            events.push(Ev {
                customer: session.clone(),
                event: e["type"].as_str().unwrap().to_owned(),
                time_us: e["ts"].as_i64().unwrap() * 1000,
            });
        }
    }
    assert_eq!(events.len(), 862);
    let mut args = flags();
    args.customer = Some("session".into());
    args.event = Some("type".into());
    args.time = Some("ts".into());
    let summary = summarize(&shared_data("train.jsonl"), &args);
    assert_eq!(summary.rejected.total, 0);
    assert_eq!((summary.events, summary.customers), (862, 20));
    assert_same_transitions(&summary, &brute_force(&events, Some(30 * 60 * 1_000_000)));
}
