//! Per-customer triggers backtested on a file: `summarize --rules` fires
//! exactly the actions a brute-force reading of the events says (every
//! rule kind, on a week with planted stalls, abandoned carts and
//! sequences, duplicates, late lines and a tenth of garbage), counts them
//! per rule, day and customer, and writes them with `--actions`.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::broker::{json, run, write_lines};
use common::triggers_reference::{RULES, actions_of, assert_same_actions, expected, week};
use serde_json::Value;

/// `summarize` of `lines` with the rules: its JSON and the actions written.
fn backtest(dir: &std::path::Path, lines: &[String]) -> (Value, Vec<Value>) {
    let file = dir.join("week.jsonl");
    write_lines(&file, lines);
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let out = dir.join("actions.jsonl");
    let summary = json(&run(&[
        "summarize",
        &file.display().to_string(),
        "--rules",
        &rules.display().to_string(),
        "--format",
        "json",
        "--actions",
        &out.display().to_string(),
    ]));
    let actions = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (summary, actions)
}

#[test]
fn a_backtest_fires_what_the_events_say_every_rule_per_day_and_customer() {
    let dir = tempfile::tempdir().unwrap();
    for sentinels in [false, true] {
        let (lines, events) = week(1500, 7, sentinels);
        let want = expected(&events);
        let (summary, actions) = backtest(dir.path(), &lines);
        let got = actions_of(&actions);
        assert_same_actions(&got, &want, &format!("sentinels {sentinels}"));
        // Every rule fires, so none of it is checked vacuously.
        let rules: Vec<&str> = ["pricing stall", "checkout stall", "cart abandoned"]
            .into_iter()
            .chain([
                "support after purchase",
                "browse to cart",
                "off the checkout path",
            ])
            .collect();
        for rule in &rules {
            let n = want.values().filter(|(r, ..)| r == rule).count();
            assert!(n >= 20, "{rule}: only {n} actions planted");
        }
        // The counts per rule, customer and day are those of the actions.
        let per_rule = summary["triggers"].as_array().unwrap();
        assert_eq!(per_rule.len(), rules.len());
        for entry in per_rule {
            let rule = entry["rule"].as_str().unwrap();
            let mine: Vec<_> = want.values().filter(|(r, ..)| r == rule).collect();
            assert_eq!(
                entry["actions"].as_u64().unwrap(),
                mine.len() as u64,
                "{rule}"
            );
            let customers: BTreeSet<&String> = mine.iter().map(|(_, c, _)| c).collect();
            assert_eq!(entry["customers"].as_u64().unwrap(), customers.len() as u64);
            let mut days: BTreeMap<String, u64> = BTreeMap::new();
            for (_, _, at) in &mine {
                let day = chrono::DateTime::from_timestamp_micros(*at)
                    .unwrap()
                    .date_naive();
                *days.entry(day.to_string()).or_default() += 1;
            }
            let listed: BTreeMap<String, u64> = entry["per_day"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["day"].as_str().unwrap().to_owned(),
                        d["actions"].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(listed, days, "{rule} per day");
        }
        // The actions carry what a consumer needs.
        let a = &actions[0];
        for field in ["session_start", "at", "source"] {
            assert!(
                a[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field}: {a}"
            );
        }
        assert!(a["path"].as_array().is_some_and(|p| !p.is_empty()), "{a}");
        assert!(a["properties"]["channel"].is_string(), "{a}");
    }
}

#[test]
fn the_watermark_is_the_files_last_event() {
    // Cut mid-week: sessions and stalls not over by the last event kept do
    // not fire, though they would once event time went on.
    let dir = tempfile::tempdir().unwrap();
    let (lines, events) = week(800, 11, false);
    let times: Vec<i64> = events.iter().map(|e| e.time_us).collect();
    let middle = (times.iter().min().unwrap() + times.iter().max().unwrap()) / 2;
    let kept: Vec<_> = events
        .iter()
        .filter(|e| e.time_us <= middle)
        .cloned()
        .collect();
    let cut: Vec<String> = lines
        .into_iter()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_default();
            v["timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| t.timestamp_micros() <= middle)
        })
        .collect();
    let want = expected(&kept);
    let later = common::triggers_reference::expected_at(&kept, i64::MAX / 2);
    assert!(
        later.len() > want.len(),
        "{} vs {}",
        later.len(),
        want.len()
    );
    let (_, actions) = backtest(dir.path(), &cut);
    assert_same_actions(&actions_of(&actions), &want, "cut mid-week");
}
