//! Live comparisons and alert rules compare like with like: the earlier
//! window as it stood when it was as old as the current one. On a steady
//! stream whose sessions take twelve minutes, nothing is flagged and no
//! rule fires at any minute of a replay (the current window's sessions are
//! still going on, and so are the earlier window's, seen at the same age);
//! with a planted break on one channel, only the broken transition and the
//! exits it causes are flagged, and only its rule fires.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use journeyscope::engine::alerts::{AlertState, Alerts, StreamState};
use journeyscope::engine::live_compare::{LiveComparison, compare_windows};
use journeyscope::engine::{EngineConfig, EventBatch, LiveEngine, NewEvent};
use journeyscope::settings::alert_rules;
use journeyscope::source::TimeParser;

const MINUTE_US: i64 = 60 * 1_000_000;
/// 2026-11-27T00:00:00Z.
const START_US: i64 = 1_795_737_600 * 1_000_000;
const HOURS: i64 = 3;
/// The web channel's add_to_cart → begin_checkout breaks from here on.
const BREAK_US: i64 = START_US + 2 * 60 * MINUTE_US;

/// One event: (time, customer, touchpoint, channel).
type Event = (i64, String, &'static str, &'static str);

/// A session every 2 s on each of three channels: home, product_view,
/// then (3 in 5) add_to_cart, then (4 in 7) begin_checkout, then (2 in 3)
/// purchase, three minutes apart. With `broken`, the web channel's
/// sessions from [`BREAK_US`] go on to begin_checkout 1 in 7 times.
fn stream(broken: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let sessions = HOURS * 3600 / 2;
    for n in 0..sessions {
        for (c, channel) in ["web", "app", "email"].into_iter().enumerate() {
            let t = START_US + n * 2_000_000 + c as i64 * 500_000;
            let customer = format!("{channel}-{n}");
            let checkout_in_7 = if broken && channel == "web" && t >= BREAK_US {
                1
            } else {
                4
            };
            let mut steps = vec!["home", "product_view"];
            if n % 5 < 3 {
                steps.push("add_to_cart");
                if n % 7 < checkout_in_7 {
                    steps.push("begin_checkout");
                    if n % 3 < 2 {
                        steps.push("purchase");
                    }
                }
            }
            for (k, step) in steps.into_iter().enumerate() {
                events.push((
                    t + k as i64 * 3 * MINUTE_US,
                    customer.clone(),
                    step,
                    channel,
                ));
            }
        }
    }
    events.sort_by_key(|e| e.0);
    events
}

fn batch_of(events: &[Event]) -> EventBatch {
    let mut batch = EventBatch::default();
    for (time_us, customer, event, channel) in events {
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
    }
    batch
}

fn engine() -> LiveEngine {
    let config = EngineConfig {
        kept_properties: vec!["channel".to_owned()],
        ..EngineConfig::default()
    };
    let mut engine = LiveEngine::new(config, 10_000_000);
    engine.keep_at_least(4 * 60 * MINUTE_US);
    engine
}

/// The stream taken in a minute at a time; after each minute, `look` is
/// given the engine and the minute's end.
fn replay(events: &[Event], mut look: impl FnMut(&LiveEngine, i64)) {
    let mut engine = engine();
    let mut from = 0;
    let mut minute_end = START_US + MINUTE_US;
    while from < events.len() {
        let to = from + events[from..].partition_point(|e| e.0 < minute_end);
        engine.ingest(&batch_of(&events[from..to]));
        from = to;
        look(&engine, minute_end);
        minute_end += MINUTE_US;
    }
}

/// The rows of a comparison flagged as significant: ("from → to") for
/// transitions, ("leave at X") for exits.
fn flagged(engine: &LiveEngine, spec: &LiveComparison) -> Vec<String> {
    let report = compare_windows(engine, spec, false).unwrap().unwrap();
    let edges = report
        .edges
        .iter()
        .filter(|e| e.difference.significant)
        .map(|e| format!("{} → {}", e.from, e.to));
    let nodes = report
        .nodes
        .iter()
        .filter(|n| n.difference.significant)
        .map(|n| format!("leave at {}", n.name));
    edges.chain(nodes).collect()
}

const FIFTEEN_MINUTES_AGAINST_AN_HOUR_BEFORE: LiveComparison = LiveComparison {
    window_us: 15 * MINUTE_US,
    back_us: 60 * MINUTE_US,
};

/// The first minute whose earlier window is wholly in the stream and
/// steady: sessions already going on when it starts, as in every later
/// window (the first twelve minutes of the stream hold none).
const FIRST_FULL_US: i64 = START_US + 90 * MINUTE_US;
/// The last minute sessions start (the stream's last twelve minutes only
/// finish the sessions already going on).
const LAST_FULL_US: i64 = START_US + HOURS * 60 * MINUTE_US;

/// True at the minutes a steady stream's windows are alike.
fn steady_at(now: i64) -> bool {
    (FIRST_FULL_US..=LAST_FULL_US).contains(&now)
}

#[test]
fn a_steady_stream_flags_nothing_at_any_minute() {
    let mut checked = 0;
    replay(&stream(false), |engine, now| {
        if !steady_at(now) {
            return;
        }
        for spec in [
            FIFTEEN_MINUTES_AGAINST_AN_HOUR_BEFORE,
            LiveComparison {
                window_us: 5 * MINUTE_US,
                back_us: 5 * MINUTE_US,
            },
        ] {
            let rows = flagged(engine, &spec);
            assert!(
                rows.is_empty(),
                "minute {}: {rows:?}",
                (now - START_US) / MINUTE_US
            );
        }
        checked += 1;
    });
    assert!(checked > 90, "{checked}");
}

#[test]
fn a_planted_break_flags_only_its_transition_and_exits() {
    let allowed = [
        "add_to_cart → begin_checkout",
        "add_to_cart → END",
        "leave at add_to_cart",
    ];
    let mut seen_break = false;
    replay(&stream(true), |engine, now| {
        if !steady_at(now) {
            return;
        }
        let rows = flagged(engine, &FIFTEEN_MINUTES_AGAINST_AN_HOUR_BEFORE);
        for row in &rows {
            assert!(
                allowed.contains(&row.as_str()),
                "minute {}: {row} flagged; all: {rows:?}",
                (now - START_US) / MINUTE_US
            );
        }
        seen_break |= rows.iter().any(|r| r == allowed[0]);
    });
    assert!(seen_break, "the break itself is flagged");
}

/// A rule named `name` watching `subject` (its kind and what it reads):
/// the last 15 minutes against an hour earlier, firing on a drop of a fifth.
fn rule(name: &str, subject: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\n{subject}\nwindow = \"15m\"\nbaseline = \"1h\"\n\
         drop = 0.2\nmin_sessions = 30\nfor = \"2m\"\n\n"
    )
}

/// A rule on each step, and one on the web's step that breaks.
fn rules() -> String {
    let carts = "kind = \"transition_share\"\nfrom = \"add_to_cart\"\nto = \"begin_checkout\"";
    [
        rule(
            "checkout pays",
            "kind = \"transition_share\"\nfrom = \"begin_checkout\"\nto = \"purchase\"",
        ),
        rule("carts go on", carts),
        rule("web carts go on", &format!("{carts}\nsegment = \"channel=web\"")),
        rule(
            "products get carted",
            "kind = \"funnel_step\"\nsteps = [\"product_view\", \"add_to_cart\", \"begin_checkout\"]\n\
             step = \"add_to_cart\"",
        ),
    ]
    .concat()
}

/// The rules that went pending or firing at any minute of a replay.
fn raised(events: &[Event]) -> Vec<(String, AlertState)> {
    let rules = alert_rules(&rules(), TimeParser::default()).unwrap();
    let mut alerts = Alerts::new(rules, "test");
    let mut raised = Vec::new();
    replay(events, |engine, now| {
        let stream = StreamState {
            caught_up: true,
            wall_us: now,
            ..StreamState::default()
        };
        for alert in alerts.check(engine, &stream).unwrap() {
            raised.push((alert.rule, alert.state));
        }
    });
    raised
}

#[test]
fn no_rule_fires_on_a_steady_stream() {
    assert_eq!(raised(&stream(false)), Vec::new());
}

#[test]
fn only_the_broken_steps_rules_fire() {
    let got = raised(&stream(true));
    let fired: Vec<&str> = got
        .iter()
        .filter(|(_, s)| *s == AlertState::Firing)
        .map(|(r, _)| r.as_str())
        .collect();
    assert!(fired.contains(&"web carts go on"), "{got:?}");
    for (rule, _) in &got {
        assert!(
            rule == "web carts go on" || rule == "carts go on",
            "{rule} was raised: {got:?}"
        );
    }
}
