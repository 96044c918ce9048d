//! Variants — each session's whole sequence of touchpoints, START to END —
//! against a recount written here from the events themselves: on a
//! generated shop (with and without merged repeats) and on a real hospital
//! log, every listed variant's steps, sessions, shares, durations and
//! conversions, and the totals of the others; and the `variant:` segment
//! selects exactly the sessions of the variants it names.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, NaiveDateTime};
use common::{Ev, shared_data};
use serde_json::Value;

/// The default session timeout, µs.
const THIRTY_MINUTES_US: i64 = 30 * 60 * 1_000_000;

fn journeyscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// `summarize PATH EXTRA… --format json`, which must succeed.
fn summary(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["summarize", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    let out = journeyscope(&args);
    assert!(
        out.status.success(),
        "summarize {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the summary is JSON")
}

fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

fn near(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

/// A clean shop (no duplicates, late or malformed records) written by
/// `generate`.
fn generated_shop(dir: &Path) -> PathBuf {
    common::broker::generated(dir, "shop.jsonl", 50_000, true)
}

/// The shop's events, read from its JSON lines, in file order.
fn read_shop(path: &Path) -> Vec<Ev> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            let text = |key: &str| {
                record[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {key} in {line}"))
                    .to_owned()
            };
            Ev {
                customer: text("customer_id"),
                event: text("event"),
                time_us: DateTime::parse_from_rfc3339(&text("timestamp"))
                    .unwrap()
                    .timestamp_micros(),
            }
        })
        .collect()
}

/// The Sepsis log's events (`;`-separated, times without a zone: UTC), in
/// file order.
fn read_sepsis(path: &Path) -> Vec<Ev> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (c, e, t) = (
        column("Case ID"),
        column("Activity"),
        column("Complete Timestamp"),
    );
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            Ev {
                customer: record[c].to_owned(),
                event: record[e].to_owned(),
                time_us: NaiveDateTime::parse_from_str(&record[t], "%Y/%m/%d %H:%M:%S%.f")
                    .unwrap_or_else(|err| panic!("{}: {err}", &record[t]))
                    .and_utc()
                    .timestamp_micros(),
            }
        })
        .collect()
}

/// Each customer's events ordered by time (file order breaks ties), cut
/// into sessions at idle gaps longer than `timeout_us` (None: never).
fn sessions(events: &[Ev], timeout_us: Option<i64>) -> Vec<Vec<&Ev>> {
    let mut by_customer: BTreeMap<&str, Vec<&Ev>> = BTreeMap::new();
    for e in events {
        by_customer.entry(e.customer.as_str()).or_default().push(e);
    }
    let mut out = Vec::new();
    for (_, mut list) in by_customer {
        list.sort_by_key(|e| e.time_us);
        let mut session: Vec<&Ev> = Vec::new();
        for e in list {
            let gap = session.last().map(|p| e.time_us - p.time_us);
            if gap.zip(timeout_us).is_some_and(|(gap, t)| gap > t) {
                out.push(std::mem::take(&mut session));
            }
            session.push(e);
        }
        if !session.is_empty() {
            out.push(session);
        }
    }
    out
}

/// A session's touchpoints in order, a repeat dropped when `collapse`.
fn steps_of(session: &[&Ev], collapse: bool) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for e in session {
        if collapse && steps.last() == Some(&e.event) {
            continue;
        }
        steps.push(e.event.clone());
    }
    steps
}

/// One variant as counted here.
struct Counted {
    steps: Vec<String>,
    /// Its sessions' durations (last event less first), seconds, sorted.
    durations_s: Vec<f64>,
    /// Its sessions with an event at the goal.
    converted: u64,
}

impl Counted {
    fn sessions(&self) -> u64 {
        self.durations_s.len() as u64
    }
}

/// Every variant, busiest first, equally busy ones by their steps.
fn ranked_variants(sessions: &[Vec<&Ev>], collapse: bool, goal: Option<&str>) -> Vec<Counted> {
    let mut by_steps: BTreeMap<Vec<String>, (Vec<f64>, u64)> = BTreeMap::new();
    for session in sessions {
        let entry = by_steps.entry(steps_of(session, collapse)).or_default();
        let duration_us = session[session.len() - 1].time_us - session[0].time_us;
        entry.0.push(duration_us as f64 / 1e6);
        if goal.is_some_and(|g| session.iter().any(|e| e.event == g)) {
            entry.1 += 1;
        }
    }
    // The map is in order of steps; a stable sort by sessions keeps that
    // order among equally busy variants.
    let mut ranked: Vec<Counted> = by_steps
        .into_iter()
        .map(|(steps, (mut durations_s, converted))| {
            durations_s.sort_by(f64::total_cmp);
            Counted {
                steps,
                durations_s,
                converted,
            }
        })
        .collect();
    ranked.sort_by_key(|v| std::cmp::Reverse(v.sessions()));
    ranked
}

/// numpy's default quantile (linear interpolation) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// Asserts that the summary's `variants` are `ranked`, the first `top`
/// listed and the rest added up, with conversion at `goal`.
fn assert_variants(got: &Value, ranked: &[Counted], top: usize, goal: Option<&str>, what: &str) {
    let total: u64 = ranked.iter().map(Counted::sessions).sum();
    assert_eq!(got["goal"].as_str(), goal, "{what}: goal");
    assert_eq!(count(&got["sessions"]), total, "{what}: sessions");
    assert_eq!(
        count(&got["variants"]),
        ranked.len() as u64,
        "{what}: distinct variants"
    );
    let rows = got["top"].as_array().expect("top is a list");
    assert_eq!(rows.len(), top.min(ranked.len()), "{what}: variants listed");
    let mut cumulative = 0;
    for (k, (row, want)) in rows.iter().zip(ranked).enumerate() {
        let n = want.sessions();
        cumulative += n;
        let steps: Vec<&str> = row["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(steps, want.steps, "{what}: variant {k}");
        assert_eq!(count(&row["sessions"]), n, "{what}: {steps:?} sessions");
        assert_eq!(
            count(&row["converted"]),
            want.converted,
            "{what}: {steps:?} converted"
        );
        for (field, value) in [
            ("share", n as f64 / total as f64),
            ("cumulative_share", cumulative as f64 / total as f64),
            ("duration_median_s", quantile(&want.durations_s, 0.5)),
            ("duration_p90_s", quantile(&want.durations_s, 0.9)),
            ("conversion", want.converted as f64 / n as f64),
        ] {
            let shown = number(&row[field]);
            assert!(
                near(shown, value),
                "{what}: {steps:?} {field} {shown} ≠ {value}"
            );
        }
    }
    let rest = &ranked[rows.len()..];
    let other = &got["other"];
    assert_eq!(
        count(&other["variants"]),
        rest.len() as u64,
        "{what}: other variants"
    );
    assert_eq!(
        count(&other["sessions"]),
        rest.iter().map(Counted::sessions).sum::<u64>(),
        "{what}: other sessions"
    );
    assert_eq!(
        count(&other["converted"]),
        rest.iter().map(|v| v.converted).sum::<u64>(),
        "{what}: other converted"
    );
    let listed: u64 = rows.iter().map(|row| count(&row["sessions"])).sum();
    assert_eq!(
        listed + count(&other["sessions"]),
        total,
        "{what}: listed and other add up to all sessions"
    );
}

#[test]
fn generated_shop_variants_match_a_recount() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated_shop(dir.path());
    let events = read_shop(&path);
    let all = sessions(&events, Some(THIRTY_MINUTES_US));
    // --top 15 as asked, and the default (10) with merged repeats.
    for (collapse, top) in [(false, 15), (true, 10)] {
        let mut flags = vec!["--variants"];
        if collapse {
            flags.push("--collapse-repeats");
        } else {
            flags.extend(["--top", "15"]);
        }
        let got = summary(&path, &flags);
        assert_eq!(got["mapping"]["customer"], "customer_id");
        assert_eq!(got["mapping"]["event"], "event");
        assert_eq!(got["mapping"]["time"], "timestamp");
        assert_eq!(
            count(&got["events"]),
            events.len() as u64,
            "every event is read"
        );
        assert_eq!(count(&got["duplicates"]), 0);
        assert_eq!(count(&got["sessions"]), all.len() as u64);
        let ranked = ranked_variants(&all, collapse, Some("purchase"));
        assert!(
            ranked.len() > top,
            "the shop has more variants than are listed"
        );
        // The goal is guessed from the touchpoints' names.
        assert_variants(
            &got["variants"],
            &ranked,
            top,
            Some("purchase"),
            &format!("shop, collapse {collapse}"),
        );
    }
}

#[test]
fn sepsis_variants_match_a_recount() {
    let path = shared_data("sepsis.csv");
    let events = read_sepsis(&path);
    let cases = sessions(&events, None);
    for collapse in [false, true] {
        let mut flags = vec![
            "--customer",
            "Case ID",
            "--event",
            "Activity",
            "--time",
            "Complete Timestamp",
            "--session-timeout",
            "none",
            "--variants",
            "--top",
            "15",
            "--goal",
            "Release A",
        ];
        if collapse {
            flags.push("--collapse-repeats");
        }
        let got = summary(&path, &flags);
        assert_eq!(count(&got["rejected"]["total"]), 0);
        assert_eq!(count(&got["events"]), events.len() as u64);
        let ranked = ranked_variants(&cases, collapse, Some("Release A"));
        // Most cases take a variant of their own: which of the equally
        // busy variants are listed is decided by their steps.
        assert!(ranked.len() > 16);
        assert_eq!(
            ranked[14].sessions(),
            ranked[15].sessions(),
            "the cut falls among equally busy variants"
        );
        assert_variants(
            &got["variants"],
            &ranked,
            15,
            Some("Release A"),
            &format!("sepsis, collapse {collapse}"),
        );
    }
}

#[test]
fn variant_segment_selects_the_sessions_of_its_variants() {
    let dir = tempfile::tempdir().unwrap();
    let path = generated_shop(dir.path());
    let events = read_shop(&path);
    let all = sessions(&events, Some(THIRTY_MINUTES_US));

    // The two busiest variants, as they are.
    let raw = ranked_variants(&all, false, None);
    let (first, second) = (&raw[0], &raw[1]);
    let segment = format!(
        "variant:{},{}",
        first.steps.join(">"),
        second.steps.join(">")
    );
    let got = summary(&path, &["--segment", &segment, "--variants"]);
    assert_eq!(
        count(&got["sessions"]),
        first.sessions() + second.sessions(),
        "{segment}"
    );
    let events_in: usize = all
        .iter()
        .filter(|s| {
            let steps = steps_of(s, false);
            steps == first.steps || steps == second.steps
        })
        .map(|s| s.len())
        .sum();
    assert_eq!(count(&got["events"]), events_in as u64, "{segment}: events");
    let listed: Vec<Vec<String>> = got["variants"]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| serde_json::from_value::<Vec<String>>(row["steps"].clone()).unwrap())
        .collect();
    assert_eq!(listed, vec![first.steps.clone(), second.steps.clone()]);

    // A variant some sessions take only once their repeats are merged: the
    // segment reads repeats as the journeys do.
    let merged = ranked_variants(&all, true, None);
    let exactly = |steps: &[String]| {
        raw.iter()
            .find(|v| v.steps == steps)
            .map_or(0, Counted::sessions)
    };
    let chosen = merged
        .iter()
        .find(|v| {
            let n = exactly(v.steps.as_slice());
            n > 0 && n < v.sessions()
        })
        .expect("a variant that some sessions take only with repeats merged");
    let segment = format!("variant:{}", chosen.steps.join(">"));
    let with = summary(&path, &["--segment", &segment, "--collapse-repeats"]);
    assert_eq!(
        count(&with["sessions"]),
        chosen.sessions(),
        "{segment}, repeats merged"
    );
    let without = summary(&path, &["--segment", &segment]);
    assert_eq!(
        count(&without["sessions"]),
        exactly(chosen.steps.as_slice()),
        "{segment}, repeats kept"
    );
}

/// A goal no touchpoint is called is named, and no session converts.
#[test]
fn a_goal_that_is_not_a_touchpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::broker::generated(dir.path(), "shop.jsonl", 2_000, true);
    let out = journeyscope(&[
        "summarize",
        path.to_str().unwrap(),
        "--variants",
        "--goal",
        "purchse",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let variants = &json["variants"];
    assert_eq!(variants["missing_goal"], "purchse");
    assert_eq!(variants["other"]["converted"], 0);
    for row in variants["top"].as_array().unwrap() {
        assert_eq!(row["converted"], 0, "{row}");
    }
}
