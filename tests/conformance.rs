//! Expected journeys (`a > b? > c`) against a walker written here from
//! their definition: each session's outcome on random sessions and random
//! journeys; the whole conformance report (entered, conforming, rate,
//! median duration, first deviations, steps on the path, periods) on random
//! customers, through the library and through the command line; a journey
//! named in a rules file is its steps written out; and a comparison counts
//! each group as its own segment does.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use common::Ev;
use common::conformance_reference::*;
use common::shop::{chance, next};
use journeyscope::engine::compute_conformance;
use journeyscope::engine::conformance::ExpectedJourney;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

/// The default session timeout, µs.
#[test]
fn every_session_walks_as_the_definition_says() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 4_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        journey_strategy(&NAMES),
        prop::collection::vec(0..NAMES.len(), 0..=12),
    );
    let seen = RefCell::new(BTreeSet::new());
    let result = runner.run(&strategy, |(steps, session)| {
        let names: Vec<&str> = session.iter().map(|&i| NAMES[i]).collect();
        let want = reference_walk(&steps, &names);
        let got = engine_walk(&steps, &session);
        prop_assert_eq!(
            &got,
            &want,
            "journey `{}`, session {:?}",
            journey_text(&steps),
            names
        );
        seen.borrow_mut().insert(label(&want));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    for outcome in [
        "not entered",
        "conforms",
        "skipped",
        "backtrack",
        "detour",
        "left",
    ] {
        assert!(seen.contains(outcome), "no random case {outcome}: {seen:?}");
    }
}

#[test]
fn each_kind_of_outcome_by_hand() {
    let cases: [(&str, &[&str], &str); 10] = [
        // Before the first step is ignored, repeats are allowed, and once
        // the last required step is reached the rest does not matter.
        (
            "home > product > buy",
            &["search", "home", "home", "product", "buy", "cart"],
            "conforms",
        ),
        ("home > product? > buy", &["home", "buy"], "conforms"),
        ("home > product? > buy?", &["home"], "conforms"),
        ("home > product > buy", &["home", "buy"], "skipped"),
        ("home > product? > cart > buy", &["home", "buy"], "skipped"),
        (
            "home > product > buy",
            &["home", "product", "home"],
            "backtrack",
        ),
        (
            "home > product? > cart? > buy",
            &["home", "cart", "product"],
            "backtrack",
        ),
        (
            "home > product > buy",
            &["home", "product", "cart"],
            "detour",
        ),
        ("home > product > buy", &["home", "product"], "left"),
        ("home > product > buy", &["search", "cart"], "not entered"),
    ];
    for (text, session, kind) in cases {
        let steps = parse_steps(text);
        let want = reference_walk(&steps, session);
        assert_eq!(label(&want), kind, "{text}: {session:?} (reference)");
        let indices: Vec<usize> = session
            .iter()
            .map(|name| NAMES.iter().position(|n| n == name).unwrap())
            .collect();
        assert_eq!(engine_walk(&steps, &indices), want, "{text}: {session:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_library_report_counts_as_the_definition_says(
        events in events_strategy(),
        steps in journey_strategy(&JOURNEY_NAMES),
    ) {
        let journey = ExpectedJourney::parse(None, &journey_text(&steps)).unwrap();
        let report = compute_conformance(&journeys_of(&events), &journey);
        let got = serde_json::to_value(&report).unwrap();
        let want = expected(&events, &sessions(&events, TIMEOUT_US), &steps);
        assert_conformance(&got, &want, &steps);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn the_command_line_report_counts_as_the_definition_says(
        events in events_strategy(),
        steps in journey_strategy(&JOURNEY_NAMES),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        write_events(&path, &events);
        let got = summary(&path, &["--journey", &journey_text(&steps)]);
        let want = expected(&events, &sessions(&events, TIMEOUT_US), &steps);
        assert_conformance(&got["conformance"], &want, &steps);
    }
}

/// Touchpoints of the noisy sessions.
const NOISE: [&str; 7] = [
    "home", "search", "product", "cart", "checkout", "buy", "help",
];

/// `customers` customers, each starting within `spread_s` and taking one
/// to three sessions `pause_s` apart (more than 30 minutes) along home >
/// product > cart > checkout > buy, now and then skipping a step, doing it
/// twice, doing something else or stopping, and with other touchpoints
/// before and after; shuffled.
fn noisy(seed: u64, customers: usize, spread_s: u64, pause_s: (u64, u64)) -> Vec<Ev> {
    const PATH: [&str; 5] = ["home", "product", "cart", "checkout", "buy"];
    const WITHIN_S: [u64; 7] = [0, 5, 40, 180, 720, 1_740, 1_800];
    fn pick(state: &mut u64) -> &'static str {
        NOISE[(next(state) % NOISE.len() as u64) as usize]
    }
    let mut state = 0x2545_f491_4f6c_dd1d ^ seed;
    let mut events = Vec::new();
    for c in 0..customers {
        let mut t = base_us() + (next(&mut state) % spread_s) as i64 * 1_000_000;
        for _ in 0..1 + next(&mut state) % 3 {
            let mut names = Vec::new();
            if chance(&mut state, 15) {
                names.push(pick(&mut state));
            }
            for step in PATH {
                match next(&mut state) % 20 {
                    0 => {}
                    1 => names.push(pick(&mut state)),
                    2 => break,
                    3 | 4 => names.extend([step, step]),
                    _ => names.push(step),
                }
            }
            if chance(&mut state, 30) {
                names.push(pick(&mut state));
            }
            for (k, name) in names.into_iter().enumerate() {
                if k > 0 {
                    t += (WITHIN_S[(next(&mut state) % WITHIN_S.len() as u64) as usize] * 1_000_000)
                        as i64;
                }
                events.push(Ev {
                    customer: format!("c{c}"),
                    event: name.to_owned(),
                    time_us: t,
                });
            }
            let pause = pause_s.0 + next(&mut state) % (pause_s.1 - pause_s.0);
            t += pause as i64 * 1_000_000;
        }
    }
    for i in (1..events.len()).rev() {
        let j = (next(&mut state) % (i as u64 + 1)) as usize;
        events.swap(i, j);
    }
    events
}

#[test]
fn the_command_line_report_on_noisy_journeys() {
    let dir = tempfile::tempdir().unwrap();
    let journeys = [
        "home > product > cart > checkout? > buy",
        "product > cart? > checkout? > buy",
        "home > search? > product",
        "cart > buy? > help?",
    ];
    let mut seen = BTreeSet::new();
    // Under two days of data is counted by hour, more by day.
    for (name, events, hourly) in [
        ("hours", noisy(1, 300, 20 * 3_600, (1_801, 7_200)), true),
        (
            "days",
            noisy(2, 400, 10 * 86_400, (1_801, 3 * 86_400)),
            false,
        ),
    ] {
        let path = dir.path().join(format!("{name}.jsonl"));
        write_events(&path, &events);
        let all = sessions(&events, TIMEOUT_US);
        for text in journeys {
            let steps = parse_steps(text);
            let want = expected(&events, &all, &steps);
            assert_eq!(want.hourly, hourly, "the {name} data's span");
            assert!(want.entered > 0, "{name}: {text} is entered");
            let got = summary(&path, &["--journey", text]);
            assert_conformance(&got["conformance"], &want, &steps);
            seen.extend(want.seen.iter().copied());
        }
    }
    for outcome in ["conforms", "skipped", "backtrack", "detour", "left"] {
        assert!(seen.contains(outcome), "no session {outcome}: {seen:?}");
    }
}

#[test]
fn the_period_is_an_hour_under_two_days_of_data() {
    for span_us in [2 * DAY_US - 1, 2 * DAY_US, 2 * DAY_US + 1] {
        let events: Vec<Ev> = [("a", 0), ("a", 90_000_000), ("b", span_us)]
            .into_iter()
            .map(|(customer, offset_us)| Ev {
                customer: customer.into(),
                event: "home".into(),
                time_us: base_us() + 37 * 60_000_000 + offset_us,
            })
            .collect();
        let steps = parse_steps("home > buy?");
        let journey = ExpectedJourney::parse(None, &journey_text(&steps)).unwrap();
        let got =
            serde_json::to_value(compute_conformance(&journeys_of(&events), &journey)).unwrap();
        let want = expected(&events, &sessions(&events, TIMEOUT_US), &steps);
        assert_eq!(want.hourly, span_us < 2 * DAY_US);
        assert_conformance(&got, &want, &steps);
    }
}

#[test]
fn a_journey_named_in_a_rules_file_is_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let events = noisy(3, 200, 20 * 3_600, (1_801, 7_200));
    let path = dir.path().join("events.jsonl");
    write_events(&path, &events);
    let named = [
        ("checkout", "home > product > cart > checkout? > buy"),
        ("browse", "home > search? > product"),
    ];
    let rules = dir.path().join("rules.toml");
    let mut toml = String::new();
    for (name, steps) in named {
        toml.push_str(&format!(
            "[[journey]]\nname = \"{name}\"\nsteps = \"{steps}\"\n\n"
        ));
    }
    std::fs::write(&rules, toml).unwrap();
    let rules = rules.to_str().unwrap();
    let all = sessions(&events, TIMEOUT_US);
    for (name, text) in named {
        let by_name = summary(&path, &["--rules", rules, "--journey", name]);
        let written = summary(&path, &["--journey", text]);
        let mut by_name = by_name["conformance"].clone();
        let mut written = written["conformance"].clone();
        assert_eq!(by_name["journey"], name);
        assert_eq!(written["journey"], text);
        by_name.as_object_mut().unwrap().remove("journey");
        written.as_object_mut().unwrap().remove("journey");
        assert_eq!(by_name, written, "{name}");
        let steps = parse_steps(text);
        assert_conformance(&by_name, &expected(&events, &all, &steps), &steps);
    }
    let out = journeyscope(&summarize_args(
        &path,
        &["--rules", rules, "--journey", "nosuch"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unknown journey fails: {stderr}");
    for name in ["nosuch", "checkout", "browse"] {
        assert!(stderr.contains(name), "the error names {name}: {stderr}");
    }
}

/// The events of a clean generated shop and each one's channel, in file
/// order.
fn read_shop(path: &Path) -> (Vec<Ev>, Vec<String>) {
    let mut events = Vec::new();
    let mut channels = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(line).unwrap();
        let channel = text(&record["channel"]);
        assert!(!channel.is_empty(), "every event has a channel: {line}");
        channels.push(channel);
        events.push(Ev {
            customer: text(&record["customer_id"]),
            event: text(&record["event"]),
            time_us: DateTime::parse_from_rfc3339(&text(&record["timestamp"]))
                .unwrap()
                .timestamp_micros(),
        });
    }
    (events, channels)
}

/// First deviations of a report's JSON: (after, kind, touchpoint) →
/// sessions.
fn deviations_of(report: &Value) -> BTreeMap<(String, String, String), u64> {
    report["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                (
                    text(&row["after"]),
                    text(&row["kind"]),
                    text(&row["touchpoint"]),
                ),
                count(&row["sessions"]),
            )
        })
        .collect()
}

#[test]
fn a_comparison_counts_each_group_as_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = common::broker::generated(dir.path(), "shop.jsonl", 50_000, true);
    let (events, channels) = read_shop(&path);
    let text_of_journey = "product_view > add_to_cart > view_cart? > checkout > payment > purchase";
    let steps = parse_steps(text_of_journey);

    let compared = summary(
        &path,
        &["--journey", text_of_journey, "--compare", "channel=web"],
    );
    let web = summary(
        &path,
        &["--journey", text_of_journey, "--segment", "channel=web"],
    );
    let rest = summary(
        &path,
        &["--journey", text_of_journey, "--segment", "channel!=web"],
    );
    let groups = &compared["compare_conformance"];
    for (side, segment) in [("a", &web), ("b", &rest)] {
        let own = &segment["conformance"];
        for field in ["entered", "conforming"] {
            assert_eq!(
                count(&groups[side][field]),
                count(&own[field]),
                "{side}: {field}"
            );
        }
        assert!(near(number(&groups[side]["rate"]), number(&own["rate"])));
        let in_comparison: BTreeMap<(String, String, String), u64> = groups["deviations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    (
                        text(&row["after"]),
                        text(&row["kind"]),
                        text(&row["touchpoint"]),
                    ),
                    count(&row[side]["sessions"]),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(
            in_comparison,
            deviations_of(own),
            "{side}: first deviations"
        );
    }
    assert_eq!(
        count(&groups["a"]["entered"]) + count(&groups["b"]["entered"]),
        count(&compared["conformance"]["entered"]),
        "every session entered is in one group"
    );

    // And each group against the walker here: a session's channel is its
    // first event's.
    let all = sessions(&events, TIMEOUT_US);
    let (in_web, not_web): (Vec<Vec<usize>>, Vec<Vec<usize>>) =
        all.iter().cloned().partition(|s| channels[s[0]] == "web");
    assert!(!in_web.is_empty() && !not_web.is_empty());
    let everyone = expected(&events, &all, &steps);
    assert!(everyone.conforming > 0 && !everyone.deviations.is_empty());
    assert_conformance(&compared["conformance"], &everyone, &steps);
    for (group, group_sessions, report) in [("web", &in_web, &web), ("not web", &not_web, &rest)] {
        let want = expected(&events, group_sessions, &steps);
        assert!(want.entered > 0, "{group}: sessions enter the journey");
        assert_conformance(&report["conformance"], &want, &steps);
    }
}
