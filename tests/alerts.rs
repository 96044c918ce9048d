//! Alert rules against a real broker: a stream whose app checkout
//! conversion collapses for 45 minutes fires the rule once, within the
//! window and hold after the break, and resolves after it recovers; the
//! same stream without the break fires nothing.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::broker::*;
use serde_json::Value;

const HOUR_US: i64 = 3600 * 1_000_000;
/// 2026-11-27T00:00:00Z.
const START_US: i64 = 1_795_737_600 * 1_000_000;

/// Six hours of sessions, one every 10 s per channel (app, web): home,
/// begin_checkout, then purchase for 7 in 10 of them; with `broken`, for 3
/// in 10 of the app's from hour 3 to 3¾.
fn stream(broken: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let (break_at, recover_at) = (
        START_US + 3 * HOUR_US,
        START_US + 3 * HOUR_US + HOUR_US * 3 / 4,
    );
    for n in 0..2160i64 {
        for (c, channel) in ["app", "web"].iter().enumerate() {
            let t = START_US + n * 10_000_000 + c as i64 * 3_000_000;
            let customer = format!("{channel}-{n}");
            let collapsed = broken && *channel == "app" && (break_at..recover_at).contains(&t);
            let buys = n % 10 < if collapsed { 3 } else { 7 };
            let mut steps = vec!["home", "begin_checkout"];
            if buys {
                steps.push("purchase");
            }
            for (k, event) in steps.iter().enumerate() {
                let at = chrono::DateTime::from_timestamp_micros(t + k as i64 * 20_000_000)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                lines.push(format!(
                    r#"{{"customer_id":"{customer}","event":"{event}","timestamp":"{at}","channel":"{channel}"}}"#
                ));
            }
        }
    }
    lines
}

const RULES: &str = r#"
[[rule]]
name = "app checkout conversion"
kind = "transition_share"
from = "begin_checkout"
to = "purchase"
segment = "channel=app"
window = "15m"
baseline = "1h"
drop = 0.2
min_sessions = 30
for = "2m"
"#;

fn alerts_of(broken: bool) -> Vec<Value> {
    let topic = if broken { "broken" } else { "clean" };
    let (broker, dir) = with_topic(topic);
    let file = dir.path().join("stream.jsonl");
    write_lines(&file, &stream(broken));
    produce(&broker, topic, &file);
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let streamed = live_with(&broker, topic, &["--alerts", rules.to_str().unwrap()]);
    streamed["alerts"].as_array().expect("alerts").clone()
}

fn time_us(alert: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(alert["event_time"].as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

#[test]
fn a_collapsing_conversion_fires_once_and_resolves_after_it_recovers() {
    let alerts = alerts_of(true);
    let firing: Vec<&Value> = alerts.iter().filter(|a| a["state"] == "firing").collect();
    assert_eq!(firing.len(), 1, "{alerts:#?}");
    let alert = firing[0];
    assert_eq!(alert["rule"], "app checkout conversion");
    assert_eq!(alert["kind"], "transition_share");
    assert_eq!(alert["subject"]["from"], "begin_checkout");
    assert_eq!(alert["subject"]["to"], "purchase");
    assert_eq!(alert["segment"], "channel=app");
    let break_at = START_US + 3 * HOUR_US;
    let fired = time_us(alert);
    // Within the window and the hold after the break (plus a check step).
    assert!(
        fired >= break_at && fired <= break_at + (15 + 2 + 1) * 60 * 1_000_000,
        "fired at {}",
        alert["event_time"]
    );
    assert!(alert["value"].as_f64().unwrap() < alert["baseline"].as_f64().unwrap() * 0.8);
    let resolved: Vec<&Value> = alerts.iter().filter(|a| a["state"] == "resolved").collect();
    assert_eq!(resolved.len(), 1, "{alerts:#?}");
    let recovered_at = break_at + HOUR_US * 3 / 4;
    assert!(
        time_us(resolved[0]) > recovered_at,
        "{}",
        resolved[0]["event_time"]
    );
}

#[test]
fn a_steady_stream_fires_nothing() {
    let alerts = alerts_of(false);
    assert!(alerts.iter().all(|a| a["state"] != "firing"), "{alerts:#?}");
}

/// A rules file that cannot be followed is refused before connecting, with
/// what to change.
#[test]
fn a_wrong_rule_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        (
            "[[rule]]\nname = \"lag\"\nkind = \"lag\"\nwindow = \"5m\"\nabove = 10.0\n",
            "kinds are transition_share, exit_share and volume",
        ),
        (
            "[[rule]]\nname = \"c\"\nkind = \"transition_share\"\nfrom = \"a\"\nwindow = \"5m\"\ndrop = 0.2\n",
            "alert rule `c`: a transition_share rule needs `to`",
        ),
        (
            "[[rule]]\nname = \"w\"\nkind = \"exit_share\"\ntouchpoint = \"a\"\nwindow = \"soon\"\nrise = 1.0\n",
            "window `soon`",
        ),
    ] {
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
            .args([
                "live",
                "--headless",
                "--brokers",
                "127.0.0.1:1",
                "--topic",
                "t",
            ])
            .arg("--alerts")
            .arg(&rules)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}
