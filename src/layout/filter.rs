//! Which part of the graph the map shows: the most frequent touchpoints and
//! transitions, with what is hidden still counted.

use serde::Serialize;

use std::collections::HashSet;

use crate::engine::{END_NAME, EdgeReport, NodeReport, is_terminal_name};
use crate::format::plural;

/// The sliders of the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapFilter {
    /// Show the most frequent touchpoints that together hold at least this
    /// share (0..=1) of all events.
    pub touchpoint_share: f64,
    /// Show the busiest moves between the shown touchpoints that together
    /// carry at least this share (0..=1) of those moves, plus each
    /// touchpoint's busiest way in and out. Exits and repeats are always
    /// shown (as stubs and badges).
    pub path_share: f64,
}

impl MapFilter {
    /// Everything: every touchpoint and transition.
    pub const EVERYTHING: MapFilter = MapFilter {
        touchpoint_share: 1.0,
        path_share: 1.0,
    };

    /// The main flow, as the map opens: every touchpoint, and the moves
    /// that carry most of the traffic.
    pub const MAIN_FLOW: MapFilter = MapFilter {
        touchpoint_share: 1.0,
        path_share: 0.8,
    };
}

impl Default for MapFilter {
    fn default() -> Self {
        MapFilter::MAIN_FLOW
    }
}

/// The most touchpoints a map draws: past it, the rarest of those the
/// sliders show are drawn as one box, "other (N touchpoints)" (the exports
/// keep every touchpoint with its exact counts).
pub const MAP_TOUCHPOINT_LIMIT: usize = 2_000;

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
    /// Touchpoints drawn together as one "other" box (past
    /// [`MAP_TOUCHPOINT_LIMIT`]).
    pub grouped_touchpoints: usize,
}

impl Visible {
    /// "42 touchpoints, 6 % of events hidden", or None when nothing is hidden.
    pub fn hidden_note(&self) -> Option<String> {
        if self.hidden_touchpoints == 0
            && self.hidden_transitions == 0
            && self.grouped_touchpoints == 0
        {
            return None;
        }
        let mut parts = Vec::new();
        if self.grouped_touchpoints > 0 {
            parts.push(format!(
                "the rarest {} drawn as one box (exports list each)",
                plural(self.grouped_touchpoints, "touchpoint")
            ));
        }
        if self.hidden_touchpoints > 0 {
            parts.push(format!(
                "{}, {} of events hidden",
                plural(self.hidden_touchpoints, "touchpoint"),
                percent(self.hidden_event_share)
            ));
        }
        if self.hidden_transitions > 0 {
            parts.push(format!(
                "{} hidden ({} of steps)",
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
    let hidden_touchpoints = touchpoints.len() - kept_names.len();
    // The kept touchpoints are the busiest, a prefix of `touchpoints`.
    let grouped: HashSet<&str> = match kept_names.len() > MAP_TOUCHPOINT_LIMIT {
        true => touchpoints[MAP_TOUCHPOINT_LIMIT - 1..kept_names.len()]
            .iter()
            .map(|n| n.name.as_str())
            .collect(),
        false => HashSet::new(),
    };
    let other = other_name(grouped.len());
    let shown_nodes: Vec<NodeReport> = grouped_nodes(nodes, &kept_names, &grouped, &other);
    let grouped_edges;
    let edges = if grouped.is_empty() {
        edges
    } else {
        grouped_edges = group_edges(edges, &grouped, &other);
        &grouped_edges[..]
    };
    let kept_names: HashSet<&str> = shown_nodes.iter().map(|n| n.name.as_str()).collect();
    let total_transitions: u64 = edges.iter().map(|e| e.transitions).sum();
    let candidates: Vec<&EdgeReport> = edges
        .iter()
        .filter(|e| {
            (is_terminal_name(&e.from) || kept_names.contains(e.from.as_str()))
                && (is_terminal_name(&e.to) || kept_names.contains(e.to.as_str()))
        })
        .collect();
    let shown_edges = main_flow(&candidates, filter.path_share);
    let kept: u64 = shown_edges.iter().map(|e| e.transitions).sum();
    let hidden_transitions = edges.len() - shown_edges.len();
    Visible {
        hidden_touchpoints,
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
        grouped_touchpoints: grouped.len(),
        nodes: shown_nodes,
        edges: shown_edges,
    }
}

/// The box that stands for `n` grouped touchpoints.
fn other_name(n: usize) -> String {
    format!("other ({})", plural(n, "touchpoint"))
}

/// The nodes shown: those kept, with the `grouped` ones added up into one
/// named `other` (its sessions and customers are sums, so counted once per
/// touchpoint).
fn grouped_nodes(
    nodes: &[NodeReport],
    kept: &HashSet<&str>,
    grouped: &HashSet<&str>,
    other: &str,
) -> Vec<NodeReport> {
    let mut shown: Vec<NodeReport> = Vec::new();
    let mut sum = NodeReport {
        name: other.to_owned(),
        ..NodeReport::default()
    };
    for n in nodes {
        if grouped.contains(n.name.as_str()) {
            sum.events += n.events;
            sum.sessions += n.sessions;
            sum.customers += n.customers;
            sum.exits += n.exits;
            sum.first_step_sum += n.first_step_sum;
        } else if is_terminal_name(&n.name) || kept.contains(n.name.as_str()) {
            shown.push(n.clone());
        }
    }
    if !grouped.is_empty() {
        shown.push(sum);
    }
    shown
}

/// `edges` with every end among `grouped` moved to `other`, those that
/// then share both ends added up (their times are not shown: a median does
/// not add up).
fn group_edges<'a>(
    edges: &'a [EdgeReport],
    grouped: &HashSet<&str>,
    other: &'a str,
) -> Vec<EdgeReport> {
    let mut out: Vec<EdgeReport> = Vec::new();
    let mut by_ends: std::collections::HashMap<(&str, &str), usize> = Default::default();
    let mut outflow: std::collections::HashMap<&str, u64> = Default::default();
    for e in edges {
        let (from, to) = (
            end_of(&e.from, grouped, other),
            end_of(&e.to, grouped, other),
        );
        *outflow.entry(from).or_default() += e.transitions;
        match by_ends.entry((from, to)) {
            std::collections::hash_map::Entry::Occupied(at) => {
                let edge = &mut out[*at.get()];
                edge.transitions += e.transitions;
                edge.customers += e.customers;
                edge.time_s = None;
            }
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(out.len());
                let mut edge = e.clone();
                if from != e.from || to != e.to {
                    edge.time_s = None;
                    edge.from = from.to_owned();
                    edge.to = to.to_owned();
                }
                out.push(edge);
            }
        }
    }
    for e in &mut out {
        let total = outflow.get(e.from.as_str()).copied().unwrap_or(0);
        e.share = if total == 0 {
            0.0
        } else {
            e.transitions as f64 / total as f64
        };
    }
    out
}

/// Where an edge's end `name` is drawn: `other` when it is grouped.
fn end_of<'a>(name: &'a str, grouped: &HashSet<&str>, other: &'a str) -> &'a str {
    if grouped.contains(name) { other } else { name }
}

/// Is `e` a move between two steps (not an exit to END, not a repeat)?
fn is_move(e: &EdgeReport) -> bool {
    e.to != END_NAME && e.from != e.to
}

/// The transitions shown of `candidates`: every exit and repeat; the
/// busiest way into and out of every touchpoint; then the busiest other
/// moves until the moves shown carry `share` of all moves.
fn main_flow(candidates: &[&EdgeReport], share: f64) -> Vec<EdgeReport> {
    let mut busiest: Vec<&EdgeReport> = candidates.to_vec();
    busiest.sort_by(|a, b| {
        b.transitions
            .cmp(&a.transitions)
            .then(a.from.cmp(&b.from))
            .then(a.to.cmp(&b.to))
    });
    let mut shown = vec![false; busiest.len()];
    let (mut way_in, mut way_out) = (HashSet::new(), HashSet::new());
    for (i, e) in busiest.iter().enumerate() {
        if !is_move(e) {
            shown[i] = true;
            continue;
        }
        // The busiest first: inserting tells whether this is the first.
        let first_in = way_in.insert(e.to.as_str());
        let first_out = way_out.insert(e.from.as_str());
        shown[i] = first_in || first_out;
    }
    let total: u64 = busiest
        .iter()
        .filter(|e| is_move(e))
        .map(|e| e.transitions)
        .sum();
    let mut carried: u64 = busiest
        .iter()
        .zip(&shown)
        .filter(|(e, s)| **s && is_move(e))
        .map(|(e, _)| e.transitions)
        .sum();
    for (i, e) in busiest.iter().enumerate() {
        if (carried as f64) >= share * total as f64 {
            break;
        }
        if !shown[i] {
            shown[i] = true;
            carried += e.transitions;
        }
    }
    busiest
        .into_iter()
        .zip(shown)
        .filter(|(_, s)| *s)
        .map(|(e, _)| e.clone())
        .collect()
}
