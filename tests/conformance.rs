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
use std::process::{Command, Output};

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike};
use common::shop::{chance, next};
use common::{Ev, median};
use journeyscope::engine::conformance::{ExpectedJourney, JourneyIds, Walk};
use journeyscope::engine::event::END;
use journeyscope::engine::{
    EngineConfig, EventBatch, JourneyBuilder, Journeys, NewEvent, compute_conformance,
};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

/// The default session timeout, µs.
const TIMEOUT_US: i64 = 30 * 60 * 1_000_000;
const DAY_US: i64 = 86_400_000_000;
/// Touchpoints of the random sessions.
const NAMES: [&str; 6] = ["home", "search", "product", "cart", "checkout", "buy"];
/// Touchpoints of the random journeys: those, and one no session visits.
const JOURNEY_NAMES: [&str; 7] = [
    "home", "search", "product", "cart", "checkout", "buy", "wishlist",
];
/// Gaps between a customer's random events, seconds: a session ends after
/// more than 30 minutes idle.
const GAPS_S: [i64; 8] = [0, 20, 300, 1_799, 1_800, 1_801, 7_200, 72_000];
/// The touchpoint `left` names.
const LEFT_TO: &str = "END";

/// A journey as the test holds it: each step's touchpoint and whether it
/// is optional.
type Steps = Vec<(String, bool)>;

/// How one session goes on a journey, as the definition says.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    NotEntered,
    Conforms {
        entered: usize,
        done: usize,
    },
    Deviates {
        entered: usize,
        after: usize,
        kind: &'static str,
        touchpoint: String,
        at: usize,
    },
}

fn label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::NotEntered => "not entered",
        Outcome::Conforms { .. } => "conforms",
        Outcome::Deviates { kind, .. } => *kind,
    }
}

/// `a > b? > c`.
fn journey_text(steps: &Steps) -> String {
    steps
        .iter()
        .map(|(t, optional)| format!("{t}{}", if *optional { "?" } else { "" }))
        .collect::<Vec<_>>()
        .join(" > ")
}

fn parse_steps(text: &str) -> Steps {
    text.split('>')
        .map(|part| {
            let part = part.trim();
            match part.strip_suffix('?') {
                Some(t) => (t.trim().to_owned(), true),
                None => (part.to_owned(), false),
            }
        })
        .collect()
}

/// The walk, from the definition. A session is entered at its first event
/// at the first step. From there, with a current step, each event is:
/// the current step again (a repeat); one of the steps the journey may
/// move on to — those after the current one up to and including the next
/// required one — and the journey moves there; or the session's first
/// deviation: a step further on (skipped), a step before (backtrack), a
/// touchpoint not in the journey (detour). Reaching the last required step
/// conforms; running out of events first is `left`.
fn reference_walk(steps: &Steps, session: &[&str]) -> Outcome {
    let position = |name: &str| steps.iter().position(|(t, _)| t == name);
    let last_required = steps.iter().rposition(|(_, optional)| !optional).unwrap();
    let Some(entered) = session.iter().position(|&t| t == steps[0].0) else {
        return Outcome::NotEntered;
    };
    let mut current = 0;
    if current == last_required {
        return Outcome::Conforms {
            entered,
            done: entered,
        };
    }
    for (i, &name) in session.iter().enumerate().skip(entered + 1) {
        if name == steps[current].0 {
            continue;
        }
        let mut may_move_to = BTreeSet::new();
        for k in current + 1..steps.len() {
            may_move_to.insert(k);
            if !steps[k].1 {
                break;
            }
        }
        let kind = match position(name) {
            Some(k) if may_move_to.contains(&k) => {
                current = k;
                if current == last_required {
                    return Outcome::Conforms { entered, done: i };
                }
                continue;
            }
            Some(k) if k > current => "skipped",
            Some(_) => "backtrack",
            None => "detour",
        };
        return Outcome::Deviates {
            entered,
            after: current,
            kind,
            touchpoint: name.to_owned(),
            at: i,
        };
    }
    Outcome::Deviates {
        entered,
        after: current,
        kind: "left",
        touchpoint: LEFT_TO.to_owned(),
        at: session.len(),
    }
}

/// The engine's walk of `session` (indices into [`NAMES`]).
fn engine_walk(steps: &Steps, session: &[usize]) -> Outcome {
    let journey = ExpectedJourney::parse(None, &journey_text(steps)).unwrap();
    // Touchpoint ids as loaded data has them: START and END first.
    let ids = JourneyIds::new(&journey, |name| {
        NAMES.iter().position(|n| *n == name).map(|i| i as u32 + 2)
    });
    let name = |t: u32| {
        if t == END {
            LEFT_TO.to_owned()
        } else {
            NAMES[t as usize - 2].to_owned()
        }
    };
    match ids.walk(session.iter().map(|&i| i as u32 + 2)) {
        Walk::NotEntered => Outcome::NotEntered,
        Walk::Conforms { entered, done } => Outcome::Conforms { entered, done },
        Walk::Deviates {
            entered,
            after,
            kind,
            touchpoint,
            at,
        } => Outcome::Deviates {
            entered,
            after,
            kind: kind.name(),
            touchpoint: name(touchpoint),
            at,
        },
    }
}

/// Journeys of 2–5 distinct steps of `names`, each but the first optional
/// at random.
fn journey_strategy(names: &'static [&'static str]) -> impl Strategy<Value = Steps> {
    (
        Just((0..names.len()).collect::<Vec<usize>>()).prop_shuffle(),
        2usize..=5,
        prop::collection::vec(any::<bool>(), 5),
    )
        .prop_map(move |(order, len, optional)| {
            order[..len]
                .iter()
                .zip(&optional)
                .enumerate()
                .map(|(k, (&n, &o))| (names[n].to_owned(), k > 0 && o))
                .collect::<Steps>()
        })
}

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

/// Midnight, 2 November 2026 UTC, µs.
fn base_us() -> i64 {
    NaiveDate::from_ymd_opt(2026, 11, 2)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// One to six customers, each starting within three days and doing 1–12
/// events of [`NAMES`] [`GAPS_S`] apart; the events shuffled, so that the
/// file's order is not time order (it breaks ties of equal times).
fn events_strategy() -> impl Strategy<Value = Vec<Ev>> {
    let customer = (
        0i64..4_320,
        prop::collection::vec((0..NAMES.len(), 0..GAPS_S.len()), 1..=12),
    );
    prop::collection::vec(customer, 1..=6)
        .prop_map(|customers| {
            let mut events = Vec::new();
            for (c, (start_min, list)) in customers.into_iter().enumerate() {
                let mut time_us = base_us() + start_min * 60_000_000;
                for (k, (name, gap)) in list.into_iter().enumerate() {
                    if k > 0 {
                        time_us += GAPS_S[gap] * 1_000_000;
                    }
                    events.push(Ev {
                        customer: format!("c{c}"),
                        event: NAMES[name].to_owned(),
                        time_us,
                    });
                }
            }
            events
        })
        .prop_shuffle()
}

/// Each customer's events ordered by time (file order breaks ties), cut
/// into sessions at idle gaps longer than `timeout_us`: indices into
/// `events`.
fn sessions(events: &[Ev], timeout_us: i64) -> Vec<Vec<usize>> {
    let mut by_customer: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_customer.entry(e.customer.as_str()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (_, mut list) in by_customer {
        list.sort_by_key(|&i| events[i].time_us);
        let mut session: Vec<usize> = Vec::new();
        for i in list {
            let idle = session
                .last()
                .is_some_and(|&p| events[i].time_us - events[p].time_us > timeout_us);
            if idle {
                out.push(std::mem::take(&mut session));
            }
            session.push(i);
        }
        if !session.is_empty() {
            out.push(session);
        }
    }
    out
}

/// The start of the UTC hour (or day) holding `us`.
fn period_start(us: i64, hourly: bool) -> i64 {
    let t = DateTime::from_timestamp_micros(us).unwrap();
    let hour = if hourly { t.hour() } else { 0 };
    t.date_naive()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// A conformance report as counted here.
#[derive(Debug, Default)]
struct Expected {
    entered: u64,
    conforming: u64,
    /// First step to last required step of each conforming session, s.
    durations_s: Vec<f64>,
    /// First deviations by (after, kind, touchpoint).
    deviations: BTreeMap<(String, String, String), u64>,
    /// Each entered session's furthest step on the journey.
    furthest: Vec<usize>,
    /// Entered and conforming by the start of the entering event's period.
    periods: BTreeMap<i64, (u64, u64)>,
    hourly: bool,
    /// Steps no event is at.
    missing: Vec<String>,
    /// The outcomes met.
    seen: BTreeSet<&'static str>,
}

/// How `sessions` (of `events`) keep to `steps`.
fn expected(events: &[Ev], sessions: &[Vec<usize>], steps: &Steps) -> Expected {
    let mut first_last: Option<(i64, i64)> = None;
    for &i in sessions.iter().flatten() {
        let t = events[i].time_us;
        first_last = Some(first_last.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
    }
    let mut want = Expected {
        hourly: first_last.is_some_and(|(a, b)| b - a < 2 * DAY_US),
        missing: steps
            .iter()
            .filter(|(t, _)| events.iter().all(|e| &e.event != t))
            .map(|(t, _)| t.clone())
            .collect(),
        ..Expected::default()
    };
    for session in sessions {
        let names: Vec<&str> = session.iter().map(|&i| events[i].event.as_str()).collect();
        let time = |k: usize| events[session[k]].time_us;
        let outcome = reference_walk(steps, &names);
        want.seen.insert(label(&outcome));
        let (entered, conforms) = match outcome {
            Outcome::NotEntered => continue,
            Outcome::Conforms { entered, done } => {
                want.conforming += 1;
                want.durations_s
                    .push((time(done) - time(entered)) as f64 / 1e6);
                // A session that conforms is past every step.
                want.furthest.push(steps.len() - 1);
                (entered, true)
            }
            Outcome::Deviates {
                entered,
                after,
                kind,
                touchpoint,
                ..
            } => {
                *want
                    .deviations
                    .entry((steps[after].0.clone(), kind.to_owned(), touchpoint))
                    .or_default() += 1;
                want.furthest.push(after);
                (entered, false)
            }
        };
        want.entered += 1;
        let period = want
            .periods
            .entry(period_start(time(entered), want.hourly))
            .or_default();
        period.0 += 1;
        period.1 += u64::from(conforms);
    }
    want
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

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

fn near(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn ratio(x: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { x as f64 / n as f64 }
}

/// Asserts that a conformance report (its JSON) says what `want` counted.
fn assert_conformance(got: &Value, want: &Expected, steps: &Steps) {
    let journey = journey_text(steps);
    assert_eq!(got["expected"], journey.as_str());
    assert_eq!(count(&got["entered"]), want.entered, "{journey}: entered");
    assert_eq!(
        count(&got["conforming"]),
        want.conforming,
        "{journey}: conforming"
    );
    let rate = ratio(want.conforming, want.entered);
    assert!(
        near(number(&got["rate"]), rate),
        "{journey}: rate {} ≠ {rate}",
        got["rate"]
    );
    let median_s = (!want.durations_s.is_empty()).then(|| median(&mut want.durations_s.clone()));
    match (median_s, got["median_duration_s"].as_f64()) {
        (None, _) => assert!(
            got["median_duration_s"].is_null(),
            "{journey}: no session conforms, yet median {}",
            got["median_duration_s"]
        ),
        (Some(w), Some(g)) => assert!(near(g, w), "{journey}: median {g} ≠ {w}"),
        (Some(w), None) => panic!("{journey}: no median, want {w}"),
    }

    let rows = got["deviations"].as_array().expect("deviations");
    let mut deviations = BTreeMap::new();
    for row in rows {
        let key = (
            text(&row["after"]),
            text(&row["kind"]),
            text(&row["touchpoint"]),
        );
        let n = count(&row["sessions"]);
        assert!(
            near(number(&row["share"]), ratio(n, want.entered)),
            "{journey}: {key:?} share"
        );
        assert!(
            deviations.insert(key.clone(), n).is_none(),
            "{journey}: {key:?} listed twice"
        );
    }
    assert_eq!(deviations, want.deviations, "{journey}: first deviations");
    assert!(
        rows.windows(2)
            .all(|w| count(&w[0]["sessions"]) >= count(&w[1]["sessions"])),
        "{journey}: deviations are listed most frequent first"
    );

    let listed = got["steps"].as_array().expect("steps");
    assert_eq!(listed.len(), steps.len(), "{journey}: steps");
    for (k, (row, (name, optional))) in listed.iter().zip(steps).enumerate() {
        assert_eq!(row["step"], name.as_str(), "{journey}: step {k}");
        assert_eq!(row["optional"], *optional, "{journey}: step {k}");
        let on_path = want.furthest.iter().filter(|&&f| f >= k).count() as u64;
        assert_eq!(
            count(&row["on_path"]),
            on_path,
            "{journey}: on path at {name}"
        );
    }

    let missing: Vec<String> = got
        .get("missing_steps")
        .map(|m| m.as_array().unwrap().iter().map(text).collect())
        .unwrap_or_default();
    assert_eq!(missing, want.missing, "{journey}: missing steps");

    let period = if want.hourly { "hour" } else { "day" };
    assert_eq!(got["period"], period, "{journey}: period");
    let mut periods = BTreeMap::new();
    for row in got["by_period"].as_array().expect("by_period") {
        let start = DateTime::parse_from_rfc3339(&text(&row["start"])).unwrap();
        assert_eq!(start.offset().local_minus_utc(), 0, "{journey}: UTC");
        let (entered, conforming) = (count(&row["entered"]), count(&row["conforming"]));
        assert!(near(number(&row["rate"]), ratio(conforming, entered)));
        periods.insert(start.timestamp_micros(), (entered, conforming));
    }
    assert_eq!(periods, want.periods, "{journey}: by {period}");
}

/// Journeys from `events` (in this order) as a file's loader builds them.
fn journeys_of(events: &[Ev]) -> Journeys {
    let mut batch = EventBatch::default();
    for e in events {
        batch.push(
            NewEvent {
                customer: &e.customer,
                event: &e.event,
                time_us: e.time_us,
                event_id: None,
                session_id: None,
            },
            [],
        );
    }
    let mut builder = JourneyBuilder::new(EngineConfig {
        session_timeout_us: Some(TIMEOUT_US),
        ..EngineConfig::default()
    });
    builder.ingest(&batch);
    builder.finish()
}

fn rfc3339(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes `events` as JSON lines, in order.
fn write_events(path: &Path, events: &[Ev]) {
    let mut lines = String::new();
    for e in events {
        let line = serde_json::json!({
            "customer_id": e.customer,
            "event": e.event,
            "timestamp": rfc3339(e.time_us),
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

fn journeyscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The arguments of `summarize PATH` with the test files' columns.
fn summarize_args<'a>(path: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "summarize",
        path.to_str().unwrap(),
        "--customer",
        "customer_id",
        "--event",
        "event",
        "--time",
        "timestamp",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    args
}

/// `summarize PATH EXTRA… --format json`, which must succeed.
fn summary(path: &Path, extra: &[&str]) -> Value {
    let out = journeyscope(&summarize_args(path, extra));
    assert!(
        out.status.success(),
        "summarize {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the summary is JSON")
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
    let path: PathBuf = dir.path().join("shop.jsonl");
    let out = journeyscope(&[
        "generate",
        "--events",
        "50000",
        "--out",
        path.to_str().unwrap(),
        "--clean",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
