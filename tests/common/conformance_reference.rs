//! The expected journey written here from its definition, for the
//! conformance tests: each session's outcome (`reference_walk`), random
//! journeys and customers, their sessions, and the whole report they
//! should give (`expected`, `assert_conformance`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike};
use journeyscope::engine::Journeys;
use journeyscope::engine::conformance::{ExpectedJourney, JourneyIds, Walk};
use journeyscope::engine::event::END;
use proptest::prelude::*;
use serde_json::Value;

use super::{Ev, median};

/// The default session timeout, µs.
pub const TIMEOUT_US: i64 = 30 * 60 * 1_000_000;
pub const DAY_US: i64 = 86_400_000_000;
/// Touchpoints of the random sessions.
pub const NAMES: [&str; 6] = ["home", "search", "product", "cart", "checkout", "buy"];
/// Touchpoints of the random journeys: those, and one no session visits.
pub const JOURNEY_NAMES: [&str; 7] = [
    "home", "search", "product", "cart", "checkout", "buy", "wishlist",
];
/// Gaps between a customer's random events, seconds: a session ends after
/// more than 30 minutes idle.
pub const GAPS_S: [i64; 8] = [0, 20, 300, 1_799, 1_800, 1_801, 7_200, 72_000];
/// The touchpoint `left` names.
pub const LEFT_TO: &str = "END";

/// A journey as the test holds it: each step's touchpoint and whether it
/// is optional.
pub type Steps = Vec<(String, bool)>;

/// How one session goes on a journey, as the definition says.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
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

pub fn label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::NotEntered => "not entered",
        Outcome::Conforms { .. } => "conforms",
        Outcome::Deviates { kind, .. } => kind,
    }
}

/// `a > b? > c`.
pub fn journey_text(steps: &Steps) -> String {
    steps
        .iter()
        .map(|(t, optional)| format!("{t}{}", if *optional { "?" } else { "" }))
        .collect::<Vec<_>>()
        .join(" > ")
}

pub fn parse_steps(text: &str) -> Steps {
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
pub fn reference_walk(steps: &Steps, session: &[&str]) -> Outcome {
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
        for (k, (_, optional)) in steps.iter().enumerate().skip(current + 1) {
            may_move_to.insert(k);
            if !optional {
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
pub fn engine_walk(steps: &Steps, session: &[usize]) -> Outcome {
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
pub fn journey_strategy(names: &'static [&'static str]) -> impl Strategy<Value = Steps> {
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

/// Midnight, 2 November 2026 UTC, µs.
pub fn base_us() -> i64 {
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
pub fn events_strategy() -> impl Strategy<Value = Vec<Ev>> {
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
pub fn sessions(events: &[Ev], timeout_us: i64) -> Vec<Vec<usize>> {
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
pub fn period_start(us: i64, hourly: bool) -> i64 {
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
pub struct Expected {
    pub entered: u64,
    pub conforming: u64,
    /// First step to last required step of each conforming session, s.
    pub durations_s: Vec<f64>,
    /// First deviations by (after, kind, touchpoint).
    pub deviations: BTreeMap<(String, String, String), u64>,
    /// Each entered session's furthest step on the journey.
    pub furthest: Vec<usize>,
    /// Entered and conforming by the start of the entering event's period.
    pub periods: BTreeMap<i64, (u64, u64)>,
    pub hourly: bool,
    /// Steps no event is at.
    pub missing: Vec<String>,
    /// The outcomes met.
    pub seen: BTreeSet<&'static str>,
}

/// How `sessions` (of `events`) keep to `steps`.
pub fn expected(events: &[Ev], sessions: &[Vec<usize>], steps: &Steps) -> Expected {
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

pub fn count(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

pub fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

pub fn near(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

pub fn ratio(x: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { x as f64 / n as f64 }
}

/// Asserts that a conformance report (its JSON) says what `want` counted.
pub fn assert_conformance(got: &Value, want: &Expected, steps: &Steps) {
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
pub fn journeys_of(events: &[Ev]) -> Journeys {
    super::journeys_of(events, TIMEOUT_US, false)
}

pub fn rfc3339(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes `events` as JSON lines, in order.
pub fn write_events(path: &Path, events: &[Ev]) {
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

pub fn journeyscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The arguments of `summarize PATH` with the test files' columns.
pub fn summarize_args<'a>(path: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
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
pub fn summary(path: &Path, extra: &[&str]) -> Value {
    let out = journeyscope(&summarize_args(path, extra));
    assert!(
        out.status.success(),
        "summarize {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the summary is JSON")
}
