//! Rules read together share their work, and each reads what it reads
//! alone: over a stream with a planted break, at every minute checked, each
//! rule's reading among all the rules equals its reading from journeys
//! built for it alone (as every rule was read before they shared), and a
//! set of rules goes through the same states as each rule on its own.

use super::reading::{Shared, read};
use super::*;
use crate::engine::batch::{RejectReason, Rejected};
use crate::engine::{EngineConfig, EventBatch, LiveEngine, NewEvent};

const HOUR_US: i64 = 3600 * 1_000_000;
/// 2026-11-27T00:00:00Z.
const START_US: i64 = 1_795_737_600 * 1_000_000;

/// Four hours of sessions every 5 s, alternately app and web: home,
/// begin_checkout, then purchase for 7 in 10; for 3 in 10 of the app's
/// from hour 2 to 2¾; and a rejected record every 20 s from hour 3 to 3½.
fn engine() -> LiveEngine {
    let config = EngineConfig {
        kept_properties: vec!["channel".into()],
        ..EngineConfig::default()
    };
    let mut engine = LiveEngine::new(config, 60_000_000);
    engine.keep_at_least(6 * HOUR_US);
    let (break_at, recover_at) = (START_US + 2 * HOUR_US, START_US + 2 * HOUR_US * 11 / 8);
    let garbage = START_US + 3 * HOUR_US..START_US + 3 * HOUR_US + HOUR_US / 2;
    let mut events = Vec::new();
    for n in 0..2880i64 {
        let t = START_US + n * 5_000_000;
        let channel = ["app", "web"][(n % 2) as usize];
        let collapsed = channel == "app" && (break_at..recover_at).contains(&t);
        let buys = (n / 2) % 10 < if collapsed { 3 } else { 7 };
        let steps = match buys {
            true => &["home", "begin_checkout", "purchase"][..],
            false => &["home", "begin_checkout"][..],
        };
        for (k, step) in steps.iter().enumerate() {
            events.push((t + k as i64 * 20_000_000, format!("c{n}"), *step, channel));
        }
    }
    events.sort();
    for chunk in events.chunks(500) {
        let mut batch = EventBatch::default();
        for (time_us, customer, event, channel) in chunk {
            batch.push(
                NewEvent {
                    customer,
                    event,
                    time_us: *time_us,
                    event_id: None,
                    session_id: None,
                },
                [("channel", *channel)],
            );
            if garbage.contains(time_us) && (time_us - START_US) % 20_000_000 == 0 {
                batch.rejected.push(Rejected::new(
                    "line",
                    RejectReason::Unparseable,
                    "not JSON",
                    "garbage",
                ));
                batch.rejected_at_us.push(Some(*time_us));
            }
        }
        engine.ingest(&batch);
    }
    engine
}

fn segment(text: &str) -> Option<Segment> {
    Some(Segment::parse(text, &|_| None).unwrap())
}

fn rule(name: &str, kind: AlertKind, window_m: i64, baseline: Baseline) -> AlertRule {
    AlertRule {
        name: name.into(),
        kind,
        segment: None,
        window_us: window_m * 60_000_000,
        baseline,
        min_sessions: 30,
        for_us: 0,
        outputs: RuleOutputs::default(),
    }
}

fn back(back_m: i64, drop: f64) -> Baseline {
    Baseline::Back {
        back_us: back_m * 60_000_000,
        drop: Some(drop),
        rise: Some(0.3),
    }
}

fn fixed(below: Option<f64>, above: Option<f64>) -> Baseline {
    Baseline::Fixed { below, above }
}

/// Rules of every event-time kind: several on each stretch of event time,
/// differing in segment, subject, funnel and thresholds only.
fn rules() -> Vec<AlertRule> {
    let checkout = || AlertKind::TransitionShare {
        from: "begin_checkout".into(),
        to: "purchase".into(),
    };
    let funnel = |steps: &[&str]| AlertKind::FunnelStep {
        steps: steps.iter().map(|s| s.to_string()).collect(),
        step: steps.len() - 1,
    };
    let exits = |touchpoint: &str| AlertKind::ExitShare {
        touchpoint: touchpoint.into(),
    };
    let mut rules = vec![
        rule("all", checkout(), 15, back(60, 0.2)),
        rule("app", checkout(), 15, back(60, 0.2)),
        rule("web", checkout(), 15, back(60, 0.2)),
        rule("app lower", checkout(), 15, back(60, 0.1)),
        rule(
            "home",
            AlertKind::TransitionShare {
                from: "home".into(),
                to: "begin_checkout".into(),
            },
            15,
            back(60, 0.2),
        ),
        rule("app previous", checkout(), 15, back(15, 0.2)),
        rule("app 30m", checkout(), 30, back(45, 0.2)),
        rule(
            "app paying",
            funnel(&["home", "begin_checkout", "purchase"]),
            15,
            back(60, 0.2),
        ),
        rule(
            "app checking out",
            funnel(&["home", "begin_checkout"]),
            15,
            back(60, 0.2),
        ),
        rule("cart exits", exits("begin_checkout"), 15, back(15, 0.2)),
        rule("app fixed", checkout(), 15, fixed(Some(0.5), None)),
        rule(
            "app fixed exits",
            exits("begin_checkout"),
            15,
            fixed(None, Some(0.4)),
        ),
        rule(
            "paying fixed",
            funnel(&["home", "begin_checkout", "purchase"]),
            15,
            fixed(Some(0.5), None),
        ),
        rule(
            "home volume",
            AlertKind::Volume {
                touchpoint: "home".into(),
            },
            15,
            fixed(Some(11.0), None),
        ),
        rule("no such", exits("nowhere"), 15, fixed(None, Some(0.1))),
        rule(
            "garbage",
            AlertKind::RejectedRate,
            15,
            fixed(None, Some(0.05)),
        ),
        rule(
            "garbage 75m",
            AlertKind::RejectedRate,
            75,
            fixed(None, Some(0.02)),
        ),
    ];
    for r in &mut rules {
        if r.name.starts_with("app") {
            r.segment = segment("channel=app");
        } else if r.name == "web" {
            r.segment = segment("channel=web");
        }
    }
    rules
}

/// The first minute checked: the longest stretch rules read (75 minutes)
/// is kept whole from there.
const FIRST_CHECK_US: i64 = START_US + 2 * HOUR_US - 15 * 60_000_000;

#[test]
fn rules_read_together_read_what_each_reads_alone() {
    let engine = engine();
    let rules = rules();
    let order = read_order(&rules);
    let (mut held, mut readings, mut steps) = (vec![0; rules.len()], 0, 0);
    let mut at = FIRST_CHECK_US;
    while at <= START_US + 4 * HOUR_US {
        let mut shared = Shared::new(&engine, at);
        let mut together = vec![None; rules.len()];
        let mut stretch: Option<i64> = None;
        for &k in &order {
            if stretch.is_some_and(|s| s != rules[k].reads_back_us()) {
                shared = Shared::new(&engine, at);
            }
            stretch = Some(rules[k].reads_back_us());
            together[k] = read(&rules[k], &mut shared).unwrap();
        }
        for (k, rule) in rules.iter().enumerate() {
            let alone = read(rule, &mut Shared::new(&engine, at)).unwrap();
            assert_eq!(together[k], alone, "{} at {}", rule.name, rfc3339(at));
            readings += usize::from(alone.is_some());
            held[k] += usize::from(alone.is_some_and(|r| r.holds));
        }
        at += CHECK_EVERY_US * 3;
        steps += 1;
    }
    // The planted break and the garbage are seen, and not everywhere.
    for name in ["all", "app", "app paying", "app fixed", "garbage"] {
        let k = rules.iter().position(|r| r.name == name).unwrap();
        assert!(
            held[k] > 0 && held[k] < steps,
            "{name} held {} times of {steps}",
            held[k]
        );
    }
    assert!(readings > rules.len() * steps / 2, "{readings} readings");
}

/// What each alert says, but when it was raised in wall time.
fn said(alerts: Vec<Alert>) -> Vec<Alert> {
    alerts
        .into_iter()
        .map(|a| Alert {
            wall_time: String::new(),
            ..a
        })
        .collect()
}

/// Every change of `rules` checked from [`FIRST_CHECK_US`] to the end.
fn changes(rules: Vec<AlertRule>, engine: &LiveEngine) -> Vec<Alert> {
    let stream = StreamState {
        caught_up: true,
        ..StreamState::default()
    };
    let mut alerts = Alerts::new(rules, "t");
    alerts.next_check_us = Some(FIRST_CHECK_US);
    let mut changes = Vec::new();
    while alerts.is_behind(engine) {
        changes.extend(alerts.check(engine, &stream).unwrap());
    }
    said(changes)
}

#[test]
fn a_set_of_rules_changes_state_as_each_rule_alone() {
    let engine = engine();
    let together = changes(rules(), &engine);
    let mut alone: Vec<Alert> = rules()
        .into_iter()
        .flat_map(|rule| changes(vec![rule], &engine))
        .collect();
    let names: Vec<String> = rules().into_iter().map(|r| r.name).collect();
    alone.sort_by_key(|a| {
        let k = names.iter().position(|n| *n == a.rule);
        (a.event_time.clone(), k)
    });
    for name in ["all", "app paying", "garbage"] {
        assert!(
            together
                .iter()
                .any(|a| a.rule == name && a.state == AlertState::Firing),
            "{name}: {together:#?}"
        );
    }
    assert_eq!(together, alone);
}
