//! Property tests: for random events the engine's graph equals a naive
//! recomputation; input order, splitting by customer and merging, and
//! duplicated deliveries change nothing.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Ev, brute_force};
use journeyscope::engine::{EngineConfig, EventBatch, JourneyBuilder, JourneyGraph, NewEvent};
use proptest::prelude::*;

const TIMEOUT_US: i64 = 600 * 1_000_000;

fn events_strategy() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0u8..6, 0u8..5, 0i64..7_200), 0..120).prop_map(|raw| {
        raw.into_iter()
            .map(|(c, e, t)| Ev {
                customer: format!("c{c}"),
                event: ["home", "search", "product", "cart", "buy"][e as usize].to_owned(),
                // Whole seconds plus a customer-specific offset; ties are possible.
                time_us: t * 1_000_000,
            })
            .collect()
    })
}

fn batch_of(events: &[Ev], ids: Option<&[String]>) -> EventBatch {
    let mut batch = EventBatch::default();
    for (i, e) in events.iter().enumerate() {
        batch.push(
            NewEvent {
                customer: &e.customer,
                event: &e.event,
                time_us: e.time_us,
                // An empty id stands for an event without one.
                event_id: ids.map(|ids| ids[i].as_str()).filter(|id| !id.is_empty()),
                session_id: None,
            },
            [],
        );
    }
    batch
}

fn graph_of(batches: &[EventBatch]) -> JourneyGraph {
    let mut builder = JourneyBuilder::new(EngineConfig {
        session_timeout_us: Some(TIMEOUT_US),
        ..EngineConfig::default()
    });
    batches.iter().for_each(|b| builder.ingest(b));
    builder.finish().graph
}

fn assert_graphs_equal(a: &JourneyGraph, b: &JourneyGraph) {
    assert_eq!(a.node_reports(), b.node_reports());
    assert_eq!(a.edge_reports(), b.edge_reports());
}

/// Distinct times per customer, so that any input order has one true order.
fn without_ties(mut events: Vec<Ev>) -> Vec<Ev> {
    let mut seen = std::collections::HashSet::new();
    events.retain(|e| seen.insert((e.customer.clone(), e.time_us)));
    events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn graph_equals_naive_recomputation(events in events_strategy()) {
        let graph = graph_of(&[batch_of(&events, None)]);
        let reference = brute_force(&events, Some(TIMEOUT_US));
        let edges = graph.edge_reports();
        prop_assert_eq!(edges.len(), reference.len());
        for e in &edges {
            let want = &reference[&(e.from.clone(), e.to.clone())];
            prop_assert_eq!(e.transitions, want.transitions);
            prop_assert_eq!(e.customers, want.customers.len() as u64);
            match &e.time_s {
                None => prop_assert!(want.durations.is_empty()),
                Some(t) => {
                    let mut d = want.durations.clone();
                    prop_assert_eq!(t.count, d.len() as u64);
                    prop_assert!(common::close(t.median, common::median(&mut d)));
                    prop_assert_eq!(t.min, d[0]);
                    prop_assert_eq!(t.max, d[d.len() - 1]);
                }
            }
        }
        let sessions: u64 = reference.iter().filter(|((f, _), _)| f == "START").map(|(_, e)| e.transitions).sum();
        let start = graph.node("START").unwrap();
        prop_assert_eq!(start.sessions, sessions);
        let events_in_graph: u64 = graph.node_reports().iter().filter(|n| n.name != "START" && n.name != "END").map(|n| n.events).sum();
        prop_assert_eq!(events_in_graph, events.len() as u64);
    }

    #[test]
    fn shuffled_input_gives_the_same_graph(events in events_strategy(), seed in any::<u64>()) {
        let events = without_ties(events);
        let mut shuffled = events.clone();
        // A deterministic Fisher–Yates driven by the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        assert_graphs_equal(&graph_of(&[batch_of(&events, None)]), &graph_of(&[batch_of(&shuffled, None)]));
    }

    #[test]
    fn merged_halves_equal_the_whole(events in events_strategy(), split in 0u8..6) {
        let (a, b): (Vec<Ev>, Vec<Ev>) = events.iter().cloned().partition(|e| e.customer.as_str() < format!("c{split}").as_str());
        let mut merged = graph_of(&[batch_of(&a, None)]);
        merged.merge(&graph_of(&[batch_of(&b, None)]));
        assert_graphs_equal(&merged, &graph_of(&[batch_of(&events, None)]));
    }

    #[test]
    fn duplicates_change_nothing(events in events_strategy(), every in 1usize..5) {
        // Every third event has no id and is never a duplicate.
        let ids: Vec<String> = (0..events.len())
            .map(|i| if i % 3 == 2 { String::new() } else { format!("id{i}") })
            .collect();
        let mut with_dups = events.clone();
        let mut dup_ids = ids.clone();
        for i in (0..events.len()).step_by(every).filter(|i| !ids[*i].is_empty()) {
            // A re-delivery of the same event, later in the stream, even with another time.
            let mut again = events[i].clone();
            again.time_us += 1_000_000;
            with_dups.push(again);
            dup_ids.push(ids[i].clone());
        }
        let mut builder = JourneyBuilder::new(EngineConfig { session_timeout_us: Some(TIMEOUT_US), ..EngineConfig::default() });
        // Split across batches so that de-duplication spans batches.
        let half = with_dups.len() / 2;
        builder.ingest(&batch_of(&with_dups[..half], Some(&dup_ids[..half])));
        builder.ingest(&batch_of(&with_dups[half..], Some(&dup_ids[half..])));
        let journeys = builder.finish();
        prop_assert_eq!(journeys.duplicates, (with_dups.len() - events.len()) as u64);
        assert_graphs_equal(&journeys.graph, &graph_of(&[batch_of(&events, Some(&ids))]));
    }
}

/// A batch's texts held once and given again (as a Parquet source gives a
/// dictionary's values) are taken for what they say: the same memory
/// holding another text in the next batch is read as that text.
#[test]
fn texts_held_once_are_not_carried_into_the_next_batch() {
    use journeyscope::engine::{HeldEvent, Segment};
    let config = EngineConfig {
        kept_properties: vec!["channel".into()],
        ..EngineConfig::default()
    };
    let mut builder = JourneyBuilder::new(config);
    let mut batch = EventBatch::default();
    for (round, (event, channel)) in [("home", "web"), ("cart", "app")].into_iter().enumerate() {
        batch.clear();
        let (event, name, value) = (
            batch.hold(event),
            batch.hold("channel"),
            batch.hold(channel),
        );
        for c in 0..3 {
            let customer = batch.hold(&format!("c{c}"));
            let held = HeldEvent {
                customer,
                event,
                // Two hours apart: a session each.
                time_us: (round as i64 * 7_200 + c) * 1_000_000,
                sub_us_ns: 0,
                event_id: None,
                session_id: None,
            };
            batch.push_held(held, [(name, value)]);
        }
        builder.ingest(&batch);
    }
    let journeys = builder.finish();
    let transitions: Vec<(String, String, u64)> = journeys
        .graph
        .edge_reports()
        .into_iter()
        .map(|e| (e.from, e.to, e.transitions))
        .collect();
    assert!(transitions.contains(&("START".into(), "home".into(), 3)));
    assert!(transitions.contains(&("START".into(), "cart".into(), 3)));
    for channel in ["app", "web"] {
        let segment = Segment::parse(&format!("channel={channel}"), &|_| None).unwrap();
        assert_eq!(journeys.with_segment(Some(segment)).unwrap().sessions, 3);
    }
}
