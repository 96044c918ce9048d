//! The summary of a data set: what `summarize` prints and what tests,
//! scripts and the app compare. Its JSON field names are a contract.

mod text;

use serde::Serialize;

use crate::engine::{
    EdgeReport, FunnelReport, FunnelSpec, Journeys, NodeReport, RejectedLog, compute_funnel,
};
use crate::source::Mapping;

pub use text::{csv_text, to_csv, to_dot, to_table};

/// Everything `summarize` reports about a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// What was read.
    pub source: String,
    /// Which column played which role.
    pub mapping: Mapping,
    /// Accepted, de-duplicated events in the graph.
    pub events: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Sessions.
    pub sessions: u64,
    /// Events dropped as duplicates of an earlier event id.
    pub duplicates: u64,
    /// Events left out by exclude rules.
    pub excluded: u64,
    /// Rejected records: total, by reason, and a sample with positions.
    pub rejected: RejectedLog,
    /// Idle gap that separates sessions, in seconds; null = one session per
    /// customer (or explicit session ids).
    pub session_timeout_s: Option<f64>,
    /// Earliest event (RFC 3339, UTC).
    pub first_event: Option<String>,
    /// Latest event (RFC 3339, UTC).
    pub last_event: Option<String>,
    /// Touchpoints with START first and END last.
    pub nodes: Vec<NodeReport>,
    /// Transitions, most frequent first.
    pub edges: Vec<EdgeReport>,
    /// The funnel, when one was asked for.
    pub funnel: Option<FunnelReport>,
}

fn rfc3339(us: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

impl Summary {
    /// Summarises finished journeys read from `source` with `mapping`.
    pub fn new(
        source: &str,
        mapping: &Mapping,
        journeys: &Journeys,
        funnel: Option<&FunnelSpec>,
    ) -> Self {
        Summary {
            source: source.to_owned(),
            mapping: mapping.clone(),
            events: journeys.events,
            customers: journeys.customers,
            sessions: journeys.sessions,
            duplicates: journeys.duplicates,
            excluded: journeys.excluded,
            rejected: journeys.rejected.clone(),
            session_timeout_s: journeys.config.session_timeout_us.map(|t| t as f64 / 1e6),
            first_event: journeys.time_range_us.and_then(|(a, _)| rfc3339(a)),
            last_event: journeys.time_range_us.and_then(|(_, b)| rfc3339(b)),
            nodes: journeys.graph.node_reports(),
            edges: journeys.graph.edge_reports(),
            funnel: funnel.map(|spec| compute_funnel(journeys, spec)),
        }
    }

    /// The summary as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
