//! Helpers shared by the integration tests.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

pub mod alert_stream;
pub mod broker;
pub mod conformance_reference;
pub mod demo_app;
pub mod pointer;
pub mod registry;
pub mod shop;
pub mod triggers_reference;

use std::path::{Path, PathBuf};

use journeyscope::cli::MappingArgs;
use journeyscope::commands::{Failure, settings, summarize_path};
use journeyscope::report::Summary;
use journeyscope::settings::Settings;

/// The public event logs beside the project (`../shared/data`).
pub fn shared_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name)
}

/// Mapping flags with defaults, as the command line would give them.
pub fn flags() -> MappingArgs {
    MappingArgs {
        session_timeout: "30m".into(),
        ..MappingArgs::default()
    }
}

/// Settings from flags, panicking on usage errors.
pub fn settings_of(args: &MappingArgs) -> Settings {
    match settings(args, None, None) {
        Ok(s) => s,
        Err(Failure::Usage(e) | Failure::Failed(e)) => panic!("bad test flags: {e:#}"),
    }
}

/// Summarises a file the way `summarize` does.
pub fn summarize(path: &Path, args: &MappingArgs) -> Summary {
    match summarize_path(path, &path.display().to_string(), settings_of(args)) {
        Ok(s) => s,
        Err(Failure::Usage(e) | Failure::Failed(e)) => {
            panic!("cannot summarize {}: {e:#}", path.display())
        }
    }
}

/// An edge of a summary: (transitions, customers, median seconds).
pub fn edge(summary: &Summary, from: &str, to: &str) -> Option<(u64, u64, Option<f64>)> {
    summary
        .edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .map(|e| (e.transitions, e.customers, e.time_s.map(|t| t.median)))
}

/// Exact median with linear interpolation, written here independently of
/// the engine.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// True when `got` is within 1 % (relative) of `want`, or both are tiny.
pub fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 0.01 * want.abs() + 1e-6
}

/// One event as a test reads it: customer, event name, time in µs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    pub customer: String,
    pub event: String,
    pub time_us: i64,
}

/// Per transition: how often, by how many customers, and every duration in
/// seconds (empty from START and to END).
#[derive(Debug, Default, Clone)]
pub struct RefEdge {
    pub transitions: u64,
    pub customers: std::collections::BTreeSet<String>,
    pub durations: Vec<f64>,
}

/// Brute-force sessionized transitions: group by customer, stable-sort by
/// time (file order breaks ties), cut sessions at gaps over `timeout_us`
/// (None: never), add START and END.
pub fn brute_force(
    events: &[Ev],
    timeout_us: Option<i64>,
) -> std::collections::BTreeMap<(String, String), RefEdge> {
    use std::collections::BTreeMap;
    let mut by_customer: BTreeMap<&str, Vec<&Ev>> = BTreeMap::new();
    for e in events {
        by_customer.entry(&e.customer).or_default().push(e);
    }
    let mut edges: BTreeMap<(String, String), RefEdge> = BTreeMap::new();
    let mut add = |from: &str, to: &str, customer: &str, duration: Option<f64>| {
        let edge = edges.entry((from.to_owned(), to.to_owned())).or_default();
        edge.transitions += 1;
        edge.customers.insert(customer.to_owned());
        if let Some(d) = duration {
            edge.durations.push(d);
        }
    };
    for (customer, mut list) in by_customer {
        list.sort_by_key(|e| e.time_us);
        for (i, e) in list.iter().enumerate() {
            let new_session =
                i == 0 || timeout_us.is_some_and(|t| e.time_us - list[i - 1].time_us > t);
            if new_session {
                if i > 0 {
                    add(&list[i - 1].event, "END", customer, None);
                }
                add("START", &e.event, customer, None);
            } else {
                let p = list[i - 1];
                add(
                    &p.event,
                    &e.event,
                    customer,
                    Some((e.time_us - p.time_us) as f64 / 1e6),
                );
            }
        }
        if let Some(last) = list.last() {
            add(&last.event, "END", customer, None);
        }
    }
    edges
}

/// Asserts that a summary's edges are exactly the brute-force ones, with
/// the same customers and medians (exact or within 1 %).
pub fn assert_same_transitions(
    summary: &Summary,
    reference: &std::collections::BTreeMap<(String, String), RefEdge>,
) {
    assert_eq!(
        summary.edges.len(),
        reference.len(),
        "edge count differs for {}",
        summary.source
    );
    for ((from, to), want) in reference {
        let (transitions, customers, median_s) = edge(summary, from, to)
            .unwrap_or_else(|| panic!("{}: missing edge {from} → {to}", summary.source));
        assert_eq!(transitions, want.transitions, "{from} → {to} transitions");
        assert_eq!(
            customers,
            want.customers.len() as u64,
            "{from} → {to} customers"
        );
        if want.durations.is_empty() {
            assert_eq!(median_s, None, "{from} → {to} has no time");
        } else {
            let want_median = median(&mut want.durations.clone());
            let got = median_s.expect("a median");
            assert!(
                close(got, want_median),
                "{from} → {to} median {got} vs {want_median}"
            );
        }
    }
}

/// Journeys from `events` (in this order) as a file's loader builds them,
/// sessions ending after `timeout_us` idle, repeats merged when `collapse`.
pub fn journeys_of(
    events: &[Ev],
    timeout_us: i64,
    collapse: bool,
) -> journeyscope::engine::Journeys {
    use journeyscope::engine::{EngineConfig, EventBatch, JourneyBuilder, NewEvent};
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
        session_timeout_us: Some(timeout_us),
        collapse_repeats: collapse,
        ..EngineConfig::default()
    });
    builder.ingest(&batch);
    builder.finish()
}
