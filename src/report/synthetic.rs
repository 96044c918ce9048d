//! A synthetic summary of a map of any size, for the map's benchmark and
//! the tests that hold it readable at scale.

use crate::engine::JourneyGraph;
use crate::source::Mapping;

use super::Summary;

/// A synthetic summary: `touchpoints` nodes and `edges` transitions with
/// skewed volumes, and a time sample on every edge between touchpoints.
pub fn synthetic_summary(touchpoints: usize, edges: usize) -> Summary {
    let mut graph = JourneyGraph::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let name = |i: usize| format!("touchpoint {i:03}");
    let mut added = 0;
    while added < edges {
        let (a, b) = match added {
            n if n < touchpoints => ("START".to_owned(), name(n)),
            n if n < 2 * touchpoints => (name(n - touchpoints), "END".to_owned()),
            _ => (
                name(next() as usize % touchpoints),
                name(next() as usize % touchpoints),
            ),
        };
        if graph.edge(&a, &b).is_some() {
            continue;
        }
        let volume = 1 + 100_000 / (1 + next() % 1000);
        let edge = graph.edge_mut(&a, &b);
        edge.transitions = volume;
        edge.customers = volume / 2 + 1;
        if a != "START" && b != "END" {
            for k in 0..8 {
                edge.time.add_us(((next() % 600) as i64 + k) * 1_000_000);
            }
        }
        graph.node_mut(&b).events += volume;
        added += 1;
    }
    Summary {
        source: format!("synthetic map: {touchpoints} touchpoints, {edges} transitions"),
        mapping: Mapping::named("customer", "event", "time"),
        events: 0,
        customers: 0,
        sessions: 0,
        duplicates: 0,
        excluded: 0,
        rejected: Default::default(),
        session_timeout_s: None,
        first_event: None,
        last_event: None,
        nodes: graph.node_reports(),
        edges: graph.edge_reports(),
        funnel: None,
        segment: None,
        compare: None,
        paths: None,
        variants: None,
        conformance: None,
        compare_conformance: None,
        triggers: None,
        trigger_actions: Vec::new(),
    }
}
