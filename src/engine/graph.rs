//! The journey graph: touchpoints (plus START and END) and the transitions
//! between them, with mergeable statistics.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use super::event::{END_NAME, START_NAME};
use super::stats::{DurationStats, DurationSummary};

/// Statistics of one touchpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    /// Touchpoint name (`START` and `END` for the synthetic ends).
    pub name: String,
    /// Visits: events mapped to this touchpoint (after collapsing repeats).
    pub events: u64,
    /// Sessions that contain the touchpoint.
    pub sessions: u64,
    /// Distinct customers that reached it.
    pub customers: u64,
    /// Sessions that ended here (drop-offs).
    pub exits: u64,
    /// Sum over sessions of the step at which the touchpoint first appears
    /// (START is step 0); divided by `sessions`, its typical step, which
    /// places it on the map.
    pub first_step_sum: u64,
}

/// Statistics of one transition.
#[derive(Debug, Clone, Default)]
pub struct EdgeStats {
    /// How often the transition happened.
    pub transitions: u64,
    /// Distinct customers that made it.
    pub customers: u64,
    /// Time between the two events; empty on edges from START and to END.
    pub time: DurationStats,
}

/// A directed graph of touchpoint transitions.
///
/// Graphs built from parts of a data set that share no customer merge into
/// exactly the graph of the whole (how live mode and scale-out combine
/// partial results): sessions never cross customers, so every count adds up.
#[derive(Debug, Clone, Default)]
pub struct JourneyGraph {
    graph: DiGraph<NodeStats, EdgeStats>,
    by_name: HashMap<String, NodeIndex>,
    /// Each edge by its ends: petgraph finds an edge by walking its source's
    /// edges, and START and END have one per touchpoint (a million
    /// touchpoints made that quadratic).
    by_ends: rustc_hash::FxHashMap<(NodeIndex, NodeIndex), EdgeIndex>,
}

/// A node as listed in reports.
pub type NodeReport = NodeStats;

/// An edge as listed in reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeReport {
    /// Source touchpoint.
    pub from: String,
    /// Target touchpoint.
    pub to: String,
    /// How often the transition happened.
    pub transitions: u64,
    /// Distinct customers that made it.
    pub customers: u64,
    /// Share of the source touchpoint's outgoing transitions (0..1).
    pub share: f64,
    /// Time between the events in seconds; null from START and to END.
    pub time_s: Option<DurationSummary>,
}

impl JourneyGraph {
    /// An empty graph with START and END.
    pub fn new() -> Self {
        let mut graph = JourneyGraph::default();
        graph.node_mut(START_NAME);
        graph.node_mut(END_NAME);
        graph
    }

    /// The underlying petgraph graph.
    pub fn graph(&self) -> &DiGraph<NodeStats, EdgeStats> {
        &self.graph
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeStats> {
        self.by_name.get(name).map(|i| &self.graph[*i])
    }

    /// The edge `from → to`.
    pub fn edge(&self, from: &str, to: &str) -> Option<&EdgeStats> {
        let (a, b) = (self.by_name.get(from)?, self.by_name.get(to)?);
        self.by_ends.get(&(*a, *b)).map(|e| &self.graph[*e])
    }

    /// The node called `name`, created empty if missing.
    pub fn node_mut(&mut self, name: &str) -> &mut NodeStats {
        let index = self.node_index(name);
        &mut self.graph[index]
    }

    fn node_index(&mut self, name: &str) -> NodeIndex {
        if let Some(index) = self.by_name.get(name) {
            return *index;
        }
        let index = self.graph.add_node(NodeStats {
            name: name.to_owned(),
            ..NodeStats::default()
        });
        self.by_name.insert(name.to_owned(), index);
        index
    }

    /// The edge `from → to`, created empty if missing.
    pub fn edge_mut(&mut self, from: &str, to: &str) -> &mut EdgeStats {
        let (a, b) = (self.node_index(from), self.node_index(to));
        let graph = &mut self.graph;
        let edge: EdgeIndex = *self
            .by_ends
            .entry((a, b))
            .or_insert_with(|| graph.add_edge(a, b, EdgeStats::default()));
        &mut self.graph[edge]
    }

    /// Adds every count of `other` into this graph.
    pub fn merge(&mut self, other: &JourneyGraph) {
        for node in other.graph.node_weights() {
            let mine = self.node_mut(&node.name);
            mine.events += node.events;
            mine.sessions += node.sessions;
            mine.customers += node.customers;
            mine.exits += node.exits;
            mine.first_step_sum += node.first_step_sum;
        }
        for edge in other.graph.edge_references() {
            let from = &other.graph[edge.source()].name;
            let to = &other.graph[edge.target()].name;
            let theirs = edge.weight();
            let mine = self.edge_mut(from, to);
            mine.transitions += theirs.transitions;
            mine.customers += theirs.customers;
            mine.time.merge(&theirs.time);
        }
    }

    /// Nodes in report order: START, then by events (most first) and name,
    /// then END.
    pub fn node_reports(&self) -> Vec<NodeReport> {
        let mut nodes: Vec<NodeReport> = self.graph.node_weights().cloned().collect();
        nodes.sort_by(|a, b| {
            rank(&a.name)
                .cmp(&rank(&b.name))
                .then(b.events.cmp(&a.events))
                .then(a.name.cmp(&b.name))
        });
        nodes
    }

    /// Edges in report order: most transitions first, then by names.
    pub fn edge_reports(&self) -> Vec<EdgeReport> {
        let mut outflow = vec![0u64; self.graph.node_count()];
        for edge in self.graph.edge_references() {
            outflow[edge.source().index()] += edge.weight().transitions;
        }
        let mut edges: Vec<EdgeReport> = self
            .graph
            .edge_references()
            .map(|edge| {
                let stats = edge.weight();
                let total = outflow[edge.source().index()];
                EdgeReport {
                    from: self.graph[edge.source()].name.clone(),
                    to: self.graph[edge.target()].name.clone(),
                    transitions: stats.transitions,
                    customers: stats.customers,
                    share: if total == 0 {
                        0.0
                    } else {
                        stats.transitions as f64 / total as f64
                    },
                    time_s: stats.time.summary(),
                }
            })
            .collect();
        edges.sort_by(|a, b| {
            b.transitions
                .cmp(&a.transitions)
                .then_with(|| a.from.cmp(&b.from))
                .then_with(|| a.to.cmp(&b.to))
        });
        edges
    }

    /// Number of touchpoints, START and END excluded.
    pub fn touchpoint_count(&self) -> usize {
        self.graph.node_count().saturating_sub(2)
    }
}

fn rank(name: &str) -> u8 {
    match name {
        START_NAME => 0,
        END_NAME => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_creates_missing_parts() {
        let mut a = JourneyGraph::new();
        a.node_mut("search").events = 2;
        a.edge_mut("START", "search").transitions = 2;
        let mut b = JourneyGraph::new();
        b.node_mut("search").events = 3;
        b.node_mut("cart").events = 1;
        b.edge_mut("search", "cart").transitions = 1;
        b.edge_mut("search", "cart").time.add_us(5_000_000);
        a.merge(&b);
        assert_eq!(a.node("search").unwrap().events, 5);
        assert_eq!(a.node("cart").unwrap().events, 1);
        let edge = a.edge("search", "cart").unwrap();
        assert_eq!((edge.transitions, edge.time.count()), (1, 1));
    }

    #[test]
    fn share_is_fraction_of_outflow() {
        let mut g = JourneyGraph::new();
        g.edge_mut("a", "b").transitions = 3;
        g.edge_mut("a", "END").transitions = 1;
        let edges = g.edge_reports();
        assert_eq!(edges[0].share, 0.75);
        assert_eq!(edges[1].share, 0.25);
    }
}
