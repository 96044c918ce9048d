//! `customers` and `timeline` against a recomputation from the file itself:
//! each customer's sessions (cut at 30-minute gaps), events, latest
//! touchpoint and conversion; a segment's customers; one customer's events
//! with their properties.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::broker::{BIN, generated, stderr};
use serde_json::Value;

/// One line of the file: (time µs, event, channel, event id).
type Line = (i64, String, String, String);

/// The file's events by customer, in time order (file order on ties).
fn by_customer(path: &std::path::Path) -> BTreeMap<String, Vec<Line>> {
    let mut customers: BTreeMap<String, Vec<Line>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let time = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp_micros();
        customers
            .entry(v["customer_id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                time,
                v["event"].as_str().unwrap().to_owned(),
                v["channel"].as_str().unwrap_or_default().to_owned(),
                v["event_id"].as_str().unwrap_or_default().to_owned(),
            ));
    }
    for events in customers.values_mut() {
        events.sort_by_key(|e| e.0);
    }
    customers
}

/// A customer's sessions: cut where 30 minutes pass without an event.
fn sessions(events: &[Line]) -> Vec<&[Line]> {
    let mut out = Vec::new();
    let mut start = 0;
    for k in 1..=events.len() {
        if k == events.len() || events[k].0 - events[k - 1].0 > 30 * 60 * 1_000_000 {
            out.push(&events[start..k]);
            start = k;
        }
    }
    out
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What `customers` should print for the sessions `keep` selects.
fn expected(customers: &BTreeMap<String, Vec<Line>>, keep: impl Fn(&[Line]) -> bool) -> Vec<Value> {
    customers
        .iter()
        .filter_map(|(id, events)| {
            let kept: Vec<&[Line]> = sessions(events).into_iter().filter(|s| keep(s)).collect();
            let last = kept.last()?.last()?;
            Some(serde_json::json!({
                "id": id,
                "sessions": kept.len(),
                "events": kept.iter().map(|s| s.len()).sum::<usize>(),
                "last_touchpoint": last.1,
                "converted": kept.iter().flat_map(|s| s.iter()).any(|e| e.1 == "purchase"),
            }))
        })
        .collect()
}

/// The rows printed, without the fields the recomputation leaves out.
fn rows(printed: &Value) -> Vec<Value> {
    printed["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.as_object_mut().unwrap().remove("last_seen");
            c
        })
        .collect()
}

#[test]
fn customers_equal_a_recomputation_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 8_000, true);
    let path = file.to_str().unwrap();
    let customers = by_customer(&file);

    let all = json(&["customers", path]);
    assert_eq!(rows(&all), expected(&customers, |_| true));

    // The CSV says the same.
    let csv = run(&["customers", path, "--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("id,sessions,events,last_touchpoint,last_seen,converted")
    );
    let from_csv: Vec<String> = lines.map(str::to_owned).collect();
    let from_json: Vec<String> = all["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{},{},{},{},{},{}",
                c["id"].as_str().unwrap(),
                c["sessions"],
                c["events"],
                c["last_touchpoint"].as_str().unwrap(),
                c["last_seen"].as_str().unwrap(),
                c["converted"]
            )
        })
        .collect();
    assert_eq!(from_csv, from_json);

    // A segment lists the customers of its sessions, with just those.
    let app = json(&["customers", path, "--segment", "channel=app"]);
    let want = expected(&customers, |s| s[0].2 == "app");
    assert!(!want.is_empty());
    assert_eq!(rows(&app), want);

    // Another conversion touchpoint.
    let carted = json(&["customers", path, "--converted-at", "add_to_cart"]);
    let converted: Vec<bool> = carted["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["converted"].as_bool().unwrap())
        .collect();
    let want: Vec<bool> = customers
        .values()
        .map(|events| events.iter().any(|e| e.1 == "add_to_cart"))
        .collect();
    assert_eq!(converted, want);
    let out = run(&["customers", path, "--converted-at", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("touchpoint `nowhere` not found; touchpoints are:"));
}

#[test]
fn a_timeline_is_the_customers_events_with_their_properties() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 4_000, true);
    let path = file.to_str().unwrap();
    let customers = by_customer(&file);
    // The customers with the most sessions.
    let mut busiest: Vec<(&String, &Vec<Line>)> = customers.iter().collect();
    busiest.sort_by_key(|(_, events)| std::cmp::Reverse(sessions(events).len()));
    for (id, events) in busiest.into_iter().take(3) {
        let timeline = json(&["timeline", path, "--id", id, "--format", "json"]);
        assert_eq!(timeline["customer"], id.as_str());
        let printed = timeline["sessions"].as_array().unwrap();
        let want = sessions(events);
        assert_eq!(printed.len(), want.len(), "{id}");
        for (session, want) in printed.iter().zip(want) {
            let got: Vec<(i64, String, String, String)> = session["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let time = chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap())
                        .unwrap()
                        .timestamp_micros();
                    let p = &e["properties"];
                    (
                        time,
                        e["touchpoint"].as_str().unwrap().to_owned(),
                        p["channel"].as_str().unwrap_or_default().to_owned(),
                        p["event_id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            assert_eq!(got, want.to_vec(), "{id}");
        }
        let table = run(&["timeline", path, "--id", id]);
        let text = String::from_utf8(table.stdout).unwrap();
        assert!(text.starts_with(&format!("Customer {id}: ")), "{text}");
        assert_eq!(text.matches("\nSession ").count(), sessions(events).len());
    }
    let out = run(&["timeline", path, "--id", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("customer `nobody` not found"),
        "{}",
        stderr(&out)
    );
}
