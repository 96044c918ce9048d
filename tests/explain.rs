//! Explain a change: a shop whose web channel stops going from the cart to
//! checkout in the second half of its time span (57 % → 10 %) while app
//! and email go on as before. The explanation of `--compare
//! previous-period --explain` names web first, and every value's share,
//! volume and contribution equals counts made here from the generated
//! sessions, by the binary's JSON and by the engine's API alike.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use journeyscope::engine::compare::CompareReport;
use journeyscope::engine::explain::{Explainer, NONE_VALUE, OTHER_VALUES};
use journeyscope::engine::{
    CompareSpec, EngineConfig, EventBatch, FunnelSpec, JourneyBuilder, Journeys, NewEvent, compare,
};
use serde_json::Value;

const FUNNEL: [&str; 5] = [
    "home",
    "product_view",
    "add_to_cart",
    "begin_checkout",
    "purchase",
];
const DAY_US: i64 = 86_400_000_000;
const START_US: i64 = 1_790_000_000_000_000;

/// One generated session: its customer, channel (None: the events carry
/// none), plan, and events (touchpoint, time in µs).
#[derive(Debug, Clone)]
struct Session {
    customer: String,
    channel: Option<&'static str>,
    plan: &'static str,
    events: Vec<(&'static str, i64)>,
}

impl Session {
    /// The value of `property` at the session's first event.
    fn value(&self, property: &str) -> String {
        match property {
            "channel" => self.channel.unwrap_or(NONE_VALUE).to_owned(),
            _ => self.plan.to_owned(),
        }
    }
}

/// A small xorshift, so the data needs no crate.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn chance(state: &mut u64, percent: u64) -> bool {
    next(state) % 100 < percent
}

/// 4,000 customers with one to three sessions each, on distinct days of
/// twenty; web's cart-to-checkout share drops from 57 % to 10 % in the
/// last ten days.
fn shop() -> Vec<Session> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut sessions = Vec::new();
    for c in 0..4_000 {
        let plan = if chance(&mut state, 20) {
            "pro"
        } else {
            "free"
        };
        let count = 1 + next(&mut state) % 3;
        let mut days: Vec<i64> = (0..count).map(|k| (c + k as i64 * 7) % 20).collect();
        days.sort_unstable();
        days.dedup();
        for day in days {
            let channel = match next(&mut state) % 100 {
                0..50 => Some("web"),
                50..80 => Some("app"),
                80..95 => Some("email"),
                _ => None,
            };
            let checkout = match channel {
                Some("web") if day >= 10 => 10,
                Some("web") => 57,
                Some("app") => 45,
                Some(_) => 35,
                None => 40,
            };
            let mut names = vec!["home", "product_view", "add_to_cart"];
            if chance(&mut state, checkout) {
                names.push("begin_checkout");
                if chance(&mut state, 60) {
                    names.push("purchase");
                }
            } else if chance(&mut state, 50) {
                names.push("product_view");
            }
            let start = START_US + day * DAY_US + (next(&mut state) % 600) as i64 * 60_000_000;
            sessions.push(Session {
                customer: format!("c{c}"),
                channel,
                plan,
                events: (0..)
                    .zip(names)
                    .map(|(i, n)| (n, start + i * 60_000_000))
                    .collect(),
            });
        }
    }
    sessions
}

fn write_jsonl(sessions: &[Session], path: &Path) {
    let mut out = String::new();
    for s in sessions {
        for (event, time_us) in &s.events {
            let mut v = serde_json::json!({
                "customer_id": s.customer,
                "event": event,
                "timestamp": chrono::DateTime::from_timestamp_micros(*time_us).unwrap().to_rfc3339(),
                "plan": s.plan,
            });
            if let Some(channel) = s.channel {
                v["channel"] = Value::from(channel);
            }
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    std::fs::write(path, out).unwrap();
}

fn journeys_of(sessions: &[Session]) -> Journeys {
    let mut batch = EventBatch::default();
    for s in sessions {
        for (event, time_us) in &s.events {
            let mut properties = vec![("plan", s.plan)];
            properties.extend(s.channel.map(|c| ("channel", c)));
            let event = NewEvent {
                customer: &s.customer,
                event,
                time_us: *time_us,
                event_id: None,
                session_id: None,
            };
            batch.push(event, properties);
        }
    }
    let mut builder = JourneyBuilder::new(EngineConfig {
        session_timeout_us: Some(30 * 60 * 1_000_000),
        kept_properties: vec!["channel".into(), "plan".into()],
        ..EngineConfig::default()
    });
    builder.ingest(&batch);
    builder.finish()
}

/// The generated sessions of each side of `previous-period`: the second
/// half of the time span (now) and the first (before), split at the
/// middle as the product defines it.
fn halves(sessions: &[Session]) -> [Vec<&Session>; 2] {
    let times = sessions.iter().flat_map(|s| s.events.iter().map(|e| e.1));
    let (first, last) = (times.clone().min().unwrap(), times.max().unwrap());
    let middle = first + (last - first) / 2;
    let now = sessions
        .iter()
        .filter(|s| s.events[0].1 >= middle)
        .collect();
    let before = sessions.iter().filter(|s| s.events[0].1 < middle).collect();
    [now, before]
}

/// A row's numerator and denominator over some sessions, counted here.
type Count<'a> = Box<dyn Fn(&[&Session]) -> (u64, u64) + 'a>;

fn transition<'a>(from: &'a str, to: &'a str) -> Count<'a> {
    Box::new(move |sessions| {
        let (mut x, mut n) = (0, 0);
        for s in sessions {
            let steps: Vec<&str> = std::iter::once("START")
                .chain(s.events.iter().map(|e| e.0))
                .chain(["END"])
                .collect();
            for pair in steps.windows(2) {
                if pair[0] == from {
                    n += 1;
                    x += u64::from(pair[1] == to);
                }
            }
        }
        (x, n)
    })
}

fn exit(name: &str) -> Count<'_> {
    Box::new(move |sessions| {
        let visits = sessions
            .iter()
            .filter(|s| s.events.iter().any(|e| e.0 == name));
        let exits = sessions
            .iter()
            .filter(|s| s.events.last().unwrap().0 == name);
        (exits.count() as u64, visits.count() as u64)
    })
}

/// Funnel step `step`: customers of these sessions reaching it and the one
/// before (steps in order, from the first visit of the first).
fn step(step: usize) -> Count<'static> {
    Box::new(move |sessions| {
        let mut events: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
        for s in sessions {
            let list = events.entry(&s.customer).or_default();
            list.extend(s.events.iter().map(|(n, t)| (*t, *n)));
        }
        let (mut x, mut n) = (0, 0);
        for list in events.values_mut() {
            list.sort();
            let mut reached = 0;
            for (_, name) in list.iter() {
                if reached < FUNNEL.len() && *name == FUNNEL[reached] {
                    reached += 1;
                }
            }
            n += u64::from(reached >= step);
            x += u64::from(reached > step);
        }
        (x, n)
    })
}

/// The sessions of `side` grouped by the value `property` has: at each
/// session's first event, or for a funnel (`by_customer`) at the first
/// event of the customer's first session on that side.
fn by_value<'s>(
    side: &[&'s Session],
    property: &str,
    by_customer: bool,
) -> BTreeMap<String, Vec<&'s Session>> {
    let mut first: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    for s in side {
        let entry = first
            .entry(&s.customer)
            .or_insert((i64::MAX, String::new()));
        if s.events[0].1 < entry.0 {
            *entry = (s.events[0].1, s.value(property));
        }
    }
    let mut groups: BTreeMap<String, Vec<&Session>> = BTreeMap::new();
    for s in side {
        let value = match by_customer {
            true => first[s.customer.as_str()].1.clone(),
            false => s.value(property),
        };
        groups.entry(value).or_default().push(s);
    }
    groups
}

fn near(got: f64, want: f64) -> bool {
    (got - want).abs() < 1e-9
}

/// Checks one explained row of the JSON against counts made here.
fn check_explained(row: &Value, sides: &[Vec<&Session>; 2], count: &Count, by_customer: bool) {
    let what = row["explain_summary"].as_str().unwrap();
    let total = sides.clone().map(|side| count(&side));
    let share = total.map(|(x, n)| x as f64 / n as f64);
    let values = row["explain"].as_array().unwrap();
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut listed = 0;
    for property in ["channel", "plan"] {
        let groups = [0, 1].map(|s| by_value(&sides[s], property, by_customer));
        let mut names: Vec<&String> = groups[0].keys().chain(groups[1].keys()).collect();
        names.sort();
        names.dedup();
        for value in names {
            let got = values
                .iter()
                .find(|v| v["property"] == property && v["value"] == value.as_str())
                .unwrap_or_else(|| panic!("{what}: {property}={value} is not explained"));
            let counts = [0, 1].map(|s| groups[s].get(value).map_or((0, 0), |g| count(g)));
            if counts.iter().all(|(_, n)| *n == 0) {
                continue;
            }
            let mut parts = [0.0; 2];
            for (s, key) in ["a", "b"].into_iter().enumerate() {
                let (x, n) = counts[s];
                let side = &got[key];
                assert_eq!(side["transitions"], x, "{what}: {property}={value} {key}");
                assert_eq!(side["outflow"], n, "{what}: {property}={value} {key}");
                let s_v = if n == 0 { 0.0 } else { x as f64 / n as f64 };
                let w = n as f64 / total[s].1 as f64;
                assert!(near(side["share"].as_f64().unwrap(), s_v), "{what}: {side}");
                assert!(near(side["weight"].as_f64().unwrap(), w), "{what}: {side}");
                parts[s] = w * s_v;
            }
            let want = (parts[0] - parts[1]) / (share[0] - share[1]);
            let contribution = got["contribution"].as_f64().unwrap();
            assert!(near(contribution, want), "{what}: {got} want {want}");
            *sums.entry(property).or_default() += contribution;
            listed += 1;
        }
    }
    assert_eq!(values.len(), listed, "{what}: values no session has");
    for (property, sum) in sums {
        assert!(near(sum, 1.0), "{what}: {property}'s parts sum to {sum}");
    }
    let sizes: Vec<f64> = values
        .iter()
        .map(|v| v["contribution"].as_f64().unwrap().abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{what}: not ranked");
}

fn summarize_json(file: &Path, explain: bool) -> Value {
    let funnel = FUNNEL.join(",");
    let mut args = vec![
        "summarize",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--compare",
        "previous-period",
        "--keep-property",
        "plan",
        "--funnel",
        &funnel,
    ];
    if explain {
        args.push("--explain");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The row of `list` whose `key` fields are `want`.
fn find<'v>(list: &'v Value, want: &[(&str, &str)]) -> &'v Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| want.iter().all(|(k, v)| r[*k] == *v))
        .unwrap_or_else(|| panic!("no row {want:?}"))
}

#[test]
fn explain_names_the_web_channel_and_every_number_equals_a_recount() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = shop();
    let file = dir.path().join("shop.jsonl");
    write_jsonl(&sessions, &file);
    let sides = halves(&sessions);
    let json = summarize_json(&file, true);
    let compare = &json["compare"];

    let cart = [("from", "add_to_cart"), ("to", "begin_checkout")];
    let row = find(&compare["edges"], &cart);
    assert_eq!(row["significant"], true, "{row}");
    let top = &row["explain"][0];
    assert_eq!(
        (top["property"].as_str(), top["value"].as_str()),
        (Some("channel"), Some("web"))
    );
    let summary = row["explain_summary"].as_str().unwrap();
    assert!(
        summary.starts_with("add_to_cart → begin_checkout fell ")
            && summary.contains("web accounts for "),
        "{summary}"
    );

    let mut explained = 0;
    for edge in compare["edges"].as_array().unwrap() {
        assert_eq!(
            edge["explain"].is_array(),
            edge["significant"] == true,
            "{edge}"
        );
        if edge["significant"] == true {
            let (from, to) = (edge["from"].as_str().unwrap(), edge["to"].as_str().unwrap());
            check_explained(edge, &sides, &transition(from, to), false);
            explained += 1;
        }
    }
    for node in compare["nodes"].as_array().unwrap() {
        if node["significant"] == true {
            check_explained(node, &sides, &exit(node["name"].as_str().unwrap()), false);
            explained += 1;
        }
    }
    for (i, s) in compare["funnel"].as_array().unwrap().iter().enumerate() {
        if s["significant"] == true {
            check_explained(s, &sides, &step(i + 1), true);
            explained += 1;
        }
    }
    let checkout_step = &compare["funnel"][2];
    assert_eq!(checkout_step["touchpoint"], "begin_checkout");
    assert_eq!(
        checkout_step["explain"][0]["value"], "web",
        "{checkout_step}"
    );
    assert!(explained >= 4, "only {explained} rows were significant");
}

#[test]
fn without_explain_the_json_is_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.jsonl");
    write_jsonl(&shop(), &file);
    let mut explained = summarize_json(&file, true);
    let plain = summarize_json(&file, false);
    assert!(!plain.to_string().contains("explain"));
    for list in ["edges", "nodes", "funnel"] {
        for row in explained["compare"][list].as_array_mut().unwrap() {
            let row = row.as_object_mut().unwrap();
            row.remove("explain");
            row.remove("explain_summary");
        }
    }
    assert_eq!(explained, plain);
}

#[test]
fn the_engine_explains_any_row_as_the_json_does() {
    let sessions = shop();
    let sides = halves(&sessions);
    let journeys = journeys_of(&sessions);
    let funnel = FunnelSpec {
        steps: FUNNEL.map(String::from).to_vec(),
        within_us: None,
    };
    let report: CompareReport = compare(
        &journeys,
        &CompareSpec::PreviousPeriod,
        Some(&funnel),
        None,
        true,
    )
    .unwrap();
    let row = report
        .edges
        .iter()
        .find(|e| e.from == "add_to_cart" && e.to == "begin_checkout")
        .unwrap();
    let explanation = row.explanation.as_ref().unwrap();
    assert_eq!(explanation.explain[0].value, "web");
    check_explained(
        &serde_json::to_value(row).unwrap(),
        &sides,
        &transition("add_to_cart", "begin_checkout"),
        false,
    );

    // A row that is not significant is explained on request all the same.
    let (a, b) = journeys::sides_of(&journeys);
    let explainer = Explainer::new(&a, &b, Some(&funnel));
    let home = explainer.transition("home", "product_view");
    assert!(
        home.explain.iter().all(|v| v.contribution.is_none()),
        "{home:?}"
    );
    assert!(
        home.explain_summary
            .starts_with("home → product_view did not change"),
        "{}",
        home.explain_summary
    );
    let view = explainer.transition("product_view", "add_to_cart");
    let mut json = serde_json::to_value(&view).unwrap();
    json["significant"] = true.into();
    check_explained(
        &json,
        &sides,
        &transition("product_view", "add_to_cart"),
        false,
    );
}

mod journeys {
    use journeyscope::engine::compare::sides;
    use journeyscope::engine::{CompareSpec, Journeys};

    /// Each side's sessions of `previous-period`, walked apart.
    pub fn sides_of(journeys: &Journeys) -> (Journeys, Journeys) {
        let (a, b) = sides(journeys, &CompareSpec::PreviousPeriod);
        (
            journeys.with_segment(Some(a)).unwrap(),
            journeys.with_segment(Some(b)).unwrap(),
        )
    }
}

#[test]
fn past_the_busiest_values_the_rest_are_told_together() {
    // Campaign kj has 20·(j + 1) customers, one session each, half before
    // the middle and half after; checkout from the cart gets rarer for all.
    let mut batch = EventBatch::default();
    let mut counts: BTreeMap<String, [(u64, u64); 2]> = BTreeMap::new();
    let mut state = 7u64;
    for j in 0..20 {
        for k in 0..20 * (j + 1) {
            let (customer, campaign) = (format!("c{j}-{k}"), format!("k{j}"));
            let later = k % 2;
            let checkout = chance(&mut state, if later == 1 { 20 } else { 60 });
            let names: &[&str] = match checkout {
                true => &["add_to_cart", "begin_checkout"],
                false => &["add_to_cart"],
            };
            let start = START_US + later as i64 * 10 * DAY_US + k as i64 * 60_000_000;
            for (i, name) in (0..).zip(names) {
                let event = NewEvent {
                    customer: &customer,
                    event: name,
                    time_us: start + i * 1_000_000,
                    event_id: None,
                    session_id: None,
                };
                batch.push(event, [("campaign", campaign.as_str())]);
            }
            let side = &mut counts.entry(campaign).or_default()[1 - later];
            *side = (side.0 + u64::from(checkout), side.1 + 1);
        }
    }
    let mut builder = JourneyBuilder::new(EngineConfig {
        session_timeout_us: Some(30 * 60 * 1_000_000),
        kept_properties: vec!["campaign".into()],
        ..EngineConfig::default()
    });
    builder.ingest(&batch);
    let (a, b) = journeys::sides_of(&builder.finish());
    let explained = Explainer::new(&a, &b, None).transition("add_to_cart", "begin_checkout");
    let mut values: Vec<&str> = explained.explain.iter().map(|v| v.value.as_str()).collect();
    values.sort_unstable();
    let mut want: Vec<String> = (8..20).map(|j| format!("k{j}")).collect();
    want.push(OTHER_VALUES.into());
    want.sort_unstable();
    assert_eq!(values, want);
    let other = explained
        .explain
        .iter()
        .find(|v| v.value == OTHER_VALUES)
        .unwrap();
    let rest = (0..8).map(|j| counts[&format!("k{j}")]);
    let rest = rest.fold([(0, 0); 2], |[a, b], [x, y]| {
        [(a.0 + x.0, a.1 + x.1), (b.0 + y.0, b.1 + y.1)]
    });
    assert_eq!((other.a.transitions, other.a.outflow), rest[0]);
    assert_eq!((other.b.transitions, other.b.outflow), rest[1]);
    let sum: f64 = explained
        .explain
        .iter()
        .filter_map(|v| v.contribution)
        .sum();
    assert!(near(sum, 1.0), "{sum}");
}
