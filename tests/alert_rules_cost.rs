//! What alert rules cost, without a broker: a generated stream of about
//! 100,000 events (six hours, a planted break in the app's checkout
//! conversion) goes through a `LiveEngine` in batches, and 0, 1, 100 and
//! 200 rules are checked at every minute of its event time as a live run
//! checks them. Run with
//! `cargo test --release --test alert_rules_cost -- --ignored --nocapture`;
//! it prints the times and holds that a rule fires the same alerts among
//! 200 rules as alone.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use journeyscope::engine::alerts::{Alert, Alerts, Lag, StreamState};
use journeyscope::engine::{EngineConfig, EventBatch, LiveEngine, NewEvent};

const HOUR_US: i64 = 3600 * 1_000_000;
/// 2026-11-27T00:00:00Z.
const START_US: i64 = 1_795_737_600 * 1_000_000;

struct Generated {
    customer: String,
    event: &'static str,
    time_us: i64,
    channel: &'static str,
}

/// `sessions` sessions spread over six hours, alternately app and web:
/// home, begin_checkout, then purchase for 7 in 10 of them; for 3 in 10 of
/// the app's from hour 3 to 3¾. In event-time order.
fn stream(sessions: i64) -> Vec<Generated> {
    let (break_at, recover_at) = (START_US + 3 * HOUR_US, START_US + 3 * HOUR_US * 5 / 4);
    let mut events = Vec::new();
    for n in 0..sessions {
        let t = START_US + n * (6 * HOUR_US / sessions);
        let channel = ["app", "web"][(n % 2) as usize];
        let collapsed = channel == "app" && (break_at..recover_at).contains(&t);
        let buys = (n / 2) % 10 < if collapsed { 3 } else { 7 };
        let steps: &[&'static str] = match buys {
            true => &["home", "begin_checkout", "purchase"],
            false => &["home", "begin_checkout"],
        };
        for (k, event) in steps.iter().enumerate() {
            events.push(Generated {
                customer: format!("c{n}"),
                event,
                time_us: t + k as i64 * 20_000_000,
                channel,
            });
        }
    }
    events.sort_by_key(|e| e.time_us);
    events
}

/// Rule `k` of a mix of kinds, segments and thresholds (windows of 15
/// minutes against the previous window or an hour earlier, or fixed).
fn rule(k: usize) -> String {
    let segment = [
        "",
        "segment = \"channel=app\"\n",
        "segment = \"channel=web\"\n",
    ][k % 3];
    let body = match k % 4 {
        0 => format!(
            "kind = \"transition_share\"\nfrom = \"begin_checkout\"\nto = \"purchase\"\n\
             window = \"15m\"\nbaseline = \"1h\"\ndrop = {}\nmin_sessions = 30\nfor = \"2m\"\n",
            0.2 + (k % 7) as f64 * 0.01
        ),
        1 => format!(
            "kind = \"exit_share\"\ntouchpoint = \"begin_checkout\"\nwindow = \"15m\"\n\
             rise = {}\nmin_sessions = 30\n",
            0.3 + (k % 5) as f64 * 0.01
        ),
        2 => format!(
            "kind = \"funnel_step\"\nsteps = [\"home\", \"begin_checkout\", \"purchase\"]\n\
             window = \"15m\"\nbaseline = \"1h\"\ndrop = {}\nmin_sessions = 30\n",
            0.2 + (k % 3) as f64 * 0.01
        ),
        _ => format!(
            "kind = \"volume\"\ntouchpoint = \"home\"\nwindow = \"15m\"\nbelow = {}.0\n",
            k % 50
        ),
    };
    format!("[[rule]]\nname = \"rule {k}\"\n{segment}{body}\n")
}

fn rules(n: usize) -> String {
    (0..n).map(rule).collect()
}

fn batch_of(events: &[Generated]) -> EventBatch {
    let mut batch = EventBatch::default();
    for e in events {
        batch.push(
            NewEvent {
                customer: &e.customer,
                event: e.event,
                time_us: e.time_us,
                event_id: None,
                session_id: None,
            },
            [("channel", e.channel)],
        );
    }
    batch
}

/// The stream through an engine in batches of 1,000 with `rules` checked
/// after each (as a caught-up live run does), to the end: the alerts, and
/// how long it all took.
fn run(rules_text: &str, events: &[Generated]) -> (Vec<Alert>, Duration) {
    let rules = journeyscope::settings::alert_rules(rules_text, Default::default()).unwrap();
    let config = EngineConfig {
        kept_properties: vec!["channel".into()],
        ..EngineConfig::default()
    };
    let mut engine = LiveEngine::new(config, 60_000_000);
    let mut alerts = Alerts::new(rules, "generated");
    engine.keep_at_least(alerts.keeps_us());
    let state = StreamState {
        caught_up: true,
        lag: Lag::default(),
        wall_us: 0,
    };
    let started = Instant::now();
    let mut raised = Vec::new();
    for chunk in events.chunks(1000) {
        engine.ingest(&batch_of(chunk));
        raised.extend(alerts.check(&engine, &state).unwrap());
    }
    while alerts.is_behind(&engine) {
        raised.extend(alerts.check(&engine, &state).unwrap());
    }
    (raised, started.elapsed())
}

/// What each alert says, but when it was raised in wall time.
fn said(alerts: &[Alert], rule: &str) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| a.rule == rule)
        .map(|a| Alert {
            wall_time: String::new(),
            ..a.clone()
        })
        .collect()
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn rules_cost_per_minute_of_event_time() {
    let events = stream(37_000);
    println!("{} events over 6 h", events.len());
    let (_, ingest_only) = run("", &events);
    println!("no rules: {:.2} s", ingest_only.as_secs_f64());
    let mut alone = Vec::new();
    for n in [1, 100, 200] {
        let (raised, took) = run(&rules(n), &events);
        println!(
            "{n} rules: {:.2} s ({} alerts)",
            took.as_secs_f64(),
            raised.len()
        );
        if n == 1 {
            alone = said(&raised, "rule 0");
            assert!(
                alone
                    .iter()
                    .any(|a| a.state == journeyscope::engine::alerts::AlertState::Firing),
                "the planted break fires rule 0: {alone:#?}"
            );
        } else {
            assert_eq!(said(&raised, "rule 0"), alone, "rule 0 among {n}");
        }
    }
}
