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

/// A count with thousands separators.
///
/// ```
/// assert_eq!(journeyscope::report::thousands(1234567), "1,234,567");
/// ```
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and its noun, plural unless the count is one ("1 event",
/// "1,204 events").
///
/// ```
/// assert_eq!(journeyscope::report::plural(1204, "event"), "1,204 events");
/// ```
pub fn plural(n: usize, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {what}{s}", thousands(n as u64))
}

/// A duration for people: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h";
/// a smaller unit that is zero is left out ("30 min", not "30 min 0 s").
///
/// ```
/// use journeyscope::report::human_duration;
/// assert_eq!(human_duration(200.0), "3 min 20 s");
/// assert_eq!(human_duration(7500.0), "2 h 5 min");
/// assert_eq!(human_duration(1800.0), "30 min");
/// ```
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "–".into();
    }
    let s = seconds.abs();
    if s < 10.0 {
        return format!("{seconds:.1} s");
    }
    let total = s.round() as u64;
    let (d, h, m, sec) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let sign = if seconds < 0.0 { "-" } else { "" };
    let (big, small) = if d > 0 {
        ((d, "d"), (h, "h"))
    } else if h > 0 {
        ((h, "h"), (m, "min"))
    } else if m > 0 {
        ((m, "min"), (sec, "s"))
    } else {
        return format!("{sign}{sec} s");
    };
    match small {
        (0, _) => format!("{sign}{} {}", big.0, big.1),
        (n, unit) => format!("{sign}{} {} {n} {unit}", big.0, big.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(4.25), "4.2 s");
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(200.0), "3 min 20 s");
        assert_eq!(human_duration(7500.0), "2 h 5 min");
        assert_eq!(human_duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 4 h");
    }
}
