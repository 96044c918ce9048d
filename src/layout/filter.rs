//! Which part of the graph the map shows: the most frequent touchpoints and
//! transitions, with what is hidden still counted.

use serde::Serialize;

use crate::engine::{EdgeReport, NodeReport, is_terminal_name};
use crate::format::plural;

/// The sliders of the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapFilter {
    /// Show the most frequent touchpoints that together hold at least this
    /// share (0..=1) of all events.
    pub touchpoint_share: f64,
    /// Among the remaining transitions, show the most frequent ones that
    /// together hold at least this share (0..=1) of them.
    pub path_share: f64,
}

impl Default for MapFilter {
    fn default() -> Self {
        MapFilter {
            touchpoint_share: 1.0,
            path_share: 1.0,
        }
    }
}

/// The visible part of a graph and what was hidden.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visible {
    /// Shown touchpoints (START and END always).
    pub nodes: Vec<NodeReport>,
    /// Shown transitions.
    pub edges: Vec<EdgeReport>,
    /// Touchpoints hidden.
    pub hidden_touchpoints: usize,
    /// Share (0..=1) of events at hidden touchpoints.
    pub hidden_event_share: f64,
    /// Transitions hidden (by either slider).
    pub hidden_transitions: usize,
    /// Share (0..=1) of all transitions hidden.
    pub hidden_transition_share: f64,
}

impl Visible {
    /// "42 touchpoints, 6 % of events hidden", or None when nothing is hidden.
    pub fn hidden_note(&self) -> Option<String> {
        if self.hidden_touchpoints == 0 && self.hidden_transitions == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if self.hidden_touchpoints > 0 {
            parts.push(format!(
                "{}, {} of events hidden",
                plural(self.hidden_touchpoints, "touchpoint"),
                percent(self.hidden_event_share)
            ));
        }
        if self.hidden_transitions > 0 {
            parts.push(format!(
                "{} ({} of moves) hidden",
                plural(self.hidden_transitions, "transition"),
                percent(self.hidden_transition_share)
            ));
        }
        Some(parts.join("; "))
    }
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1 %".to_owned()
    } else {
        format!("{p:.0} %")
    }
}

/// Applies the sliders to a graph's nodes and edges.
pub fn visible_part(nodes: &[NodeReport], edges: &[EdgeReport], filter: &MapFilter) -> Visible {
    let mut touchpoints: Vec<&NodeReport> = nodes
        .iter()
        .filter(|n| !is_terminal_name(&n.name))
        .collect();
    touchpoints.sort_by(|a, b| b.events.cmp(&a.events).then(a.name.cmp(&b.name)));
    let total_events: u64 = touchpoints.iter().map(|n| n.events).sum();
    let mut kept_names = std::collections::HashSet::new();
    let mut covered = 0u64;
    let mut hidden_events = 0u64;
    for n in &touchpoints {
        if kept_names.is_empty() || (covered as f64) < filter.touchpoint_share * total_events as f64
        {
            kept_names.insert(n.name.as_str());
            covered += n.events;
        } else {
            hidden_events += n.events;
        }
    }
    let shown_nodes: Vec<NodeReport> = nodes
        .iter()
        .filter(|n| is_terminal_name(&n.name) || kept_names.contains(n.name.as_str()))
        .cloned()
        .collect();
    let total_transitions: u64 = edges.iter().map(|e| e.transitions).sum();
    let mut candidates: Vec<&EdgeReport> = edges
        .iter()
        .filter(|e| {
            (is_terminal_name(&e.from) || kept_names.contains(e.from.as_str()))
                && (is_terminal_name(&e.to) || kept_names.contains(e.to.as_str()))
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.transitions
            .cmp(&a.transitions)
            .then(a.from.cmp(&b.from))
            .then(a.to.cmp(&b.to))
    });
    let candidate_total: u64 = candidates.iter().map(|e| e.transitions).sum();
    let mut shown_edges = Vec::new();
    let mut kept = 0u64;
    for e in candidates {
        if shown_edges.is_empty() || (kept as f64) < filter.path_share * candidate_total as f64 {
            kept += e.transitions;
            shown_edges.push(e.clone());
        }
    }
    let hidden_transitions = edges.len() - shown_edges.len();
    Visible {
        hidden_touchpoints: touchpoints.len() - kept_names.len(),
        hidden_event_share: if total_events == 0 {
            0.0
        } else {
            hidden_events as f64 / total_events as f64
        },
        hidden_transitions,
        hidden_transition_share: if total_transitions == 0 {
            0.0
        } else {
            1.0 - kept as f64 / total_transitions as f64
        },
        nodes: shown_nodes,
        edges: shown_edges,
    }
}
