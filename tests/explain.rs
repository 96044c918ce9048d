//! Explain a change: a shop whose web channel stops going from the cart to
//! checkout in the second half of its time span (57 % → 10 %) while app
//! and email go on as before. The explanation of `--compare
//! previous-period --explain` names web first, and every value's share,
//! volume and contribution equals counts made here from the generated
//! sessions, by the binary's JSON and by the engine's API alike; and on a
//! stream, whose web channel breaks in its last hour, by `live --headless
//! --compare 1h --explain`.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::broker::{json, live_args, produce, run, with_topic};
use common::shop::*;
use journeyscope::engine::compare::CompareReport;
use journeyscope::engine::explain::{Explainer, OTHER_VALUES};
use journeyscope::engine::{
    CompareSpec, EngineConfig, EventBatch, FunnelSpec, JourneyBuilder, Journeys, NewEvent, Segment,
    compare,
};
use serde_json::Value;

/// Checks every transition and exit row of `compare` against a recount of
/// `sides`: exactly the significant ones are explained, each as the
/// recount says; returns how many were.
fn explained_rows(compare: &Value, sides: &[Vec<&Session>; 2]) -> usize {
    let mut explained = 0;
    for edge in compare["edges"].as_array().unwrap() {
        assert_eq!(
            edge["explain"].is_array(),
            edge["significant"] == true,
            "{edge}"
        );
        if edge["significant"] == true {
            let (from, to) = (edge["from"].as_str().unwrap(), edge["to"].as_str().unwrap());
            check_explained(edge, sides, &transition(from, to), false);
            explained += 1;
        }
    }
    for node in compare["nodes"].as_array().unwrap() {
        assert_eq!(
            node["explain"].is_array(),
            node["significant"] == true,
            "{node}"
        );
        if node["significant"] == true {
            check_explained(node, sides, &exit(node["name"].as_str().unwrap()), false);
            explained += 1;
        }
    }
    explained
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

#[test]
fn explain_names_the_web_channel_and_every_number_equals_a_recount() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = shop(DAY_US);
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

    let mut explained = explained_rows(compare, &sides);
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
    write_jsonl(&shop(DAY_US), &file);
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
    let sessions = shop(DAY_US);
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

/// An hour of the stream as the live comparison takes it, in slots of six
/// minutes: twenty slots make the two hours compared.
const SLOT_US: i64 = 6 * 60 * 1_000_000;
const HOUR_US: i64 = 3_600 * 1_000_000;

/// `live --headless --compare 1h --explain` on a stream whose web channel
/// breaks in its last hour: the newest event's hour against the hour
/// before, each stretch holding only its own events up to its own "now"
/// (both ends included, see `LiveComparison::copy`). Every significant
/// row's explanation equals a recount from the produced events of those
/// stretches, and web is first where it broke.
#[test]
fn live_explains_the_last_hour_against_the_one_before_as_a_recount() {
    let (broker, dir) = with_topic("explained");
    let sessions = shop(SLOT_US);
    let file = dir.path().join("shop.jsonl");
    write_jsonl(&sessions, &file);
    produce(&broker, "explained", &file);
    let flags = ["--compare", "1h", "--keep-property", "plan"];
    let mut args = live_args(&broker, "explained", &flags);
    args.push("--explain".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let compare = &json(&run(&args))["compare"];

    let times = sessions.iter().flat_map(|s| s.events.iter().map(|e| e.1));
    let now = times.max().unwrap();
    let stretches = [
        sessions_between(&sessions, now - HOUR_US, now),
        sessions_between(&sessions, now - 2 * HOUR_US, now - HOUR_US),
    ];
    let sides = [0, 1].map(|s| stretches[s].iter().collect::<Vec<&Session>>());
    for (side, key) in ["a", "b"].into_iter().enumerate() {
        assert_eq!(compare[key]["sessions"], sides[side].len(), "{key}");
    }

    let cart = [("from", "add_to_cart"), ("to", "begin_checkout")];
    let row = find(&compare["edges"], &cart);
    assert_eq!(row["significant"], true, "{row}");
    let top = &row["explain"][0];
    assert_eq!(
        (&top["property"], &top["value"]),
        (&"channel".into(), &"web".into())
    );
    let explained = explained_rows(compare, &sides);
    assert!(explained >= 2, "only {explained} rows were significant");
}

/// Comparing the web channel with the rest, every web session is in A: the
/// channel explains nothing and is left out, the other kept property
/// stays.
#[test]
fn the_property_the_groups_are_told_apart_by_is_not_explained() {
    let sessions = shop(DAY_US);
    let journeys = journeys_of(&sessions);
    let web = Segment::parse("channel=web", &|_: &str| None).unwrap();
    let report = compare(
        &journeys,
        &CompareSpec::Segments { a: web, b: None },
        None,
        None,
        true,
    )
    .unwrap();
    let explained: Vec<_> = report
        .edges
        .iter()
        .filter_map(|e| e.explanation.as_ref())
        .collect();
    assert!(!explained.is_empty());
    for explanation in explained {
        assert!(explanation.explain.iter().all(|v| v.property != "channel"));
        assert!(explanation.explain.iter().any(|v| v.property == "plan"));
    }
}
