//! The one session walk: the rule for where a session starts and which
//! events are steps, and the counter of visits, transitions and exits that
//! a file's sorted events, a stream's running totals and the customer list
//! all use.
//!
//! Every session is `START → e1 → … → en → END`. A [`Tally`] counts it step
//! by step; what it needs to know of the customer — whether a touchpoint is
//! met for the first time in the session, or a touchpoint or transition for
//! the first time for the customer — it asks a [`Firsts`], because a file
//! walks one customer after another (a marker per touchpoint is enough)
//! while a stream interleaves customers (each keeps its own sets).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::event::{END, START};
use super::graph::JourneyGraph;
use super::intern::Interner;
use super::stats::DurationStats;

/// True when an event at `time_us` with session key `key` (0: none) starts
/// a new session, given its customer's previous event (time, key), if any:
/// the first event, a changed session key, or an idle gap longer than
/// `timeout_us` between events without a key.
pub fn starts_session(
    previous: Option<(i64, u32)>,
    time_us: i64,
    key: u32,
    timeout_us: Option<i64>,
) -> bool {
    match previous {
        None => true,
        Some((previous_us, previous_key)) => {
            key != previous_key
                || (key == 0 && timeout_us.is_some_and(|t| time_us - previous_us > t))
        }
    }
}

/// True when an event at touchpoint `touchpoint` after one at `previous`
/// is a step of its own (with `collapse_repeats`, a repeat is not).
pub fn is_step(previous: u32, touchpoint: u32, collapse_repeats: bool) -> bool {
    !(collapse_repeats && previous == touchpoint)
}

/// Counts of one touchpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeTotal {
    /// Visits (events, and sessions for START and END).
    pub events: u64,
    /// Sessions that visit it.
    pub sessions: u64,
    /// Customers that visit it.
    pub customers: u64,
    /// Sessions that end at it.
    pub exits: u64,
    /// Sum over sessions of the step at which it is first reached.
    pub first_step_sum: u64,
}

/// Counts of one transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeTotal {
    /// From this touchpoint.
    pub from: u32,
    /// To this one.
    pub to: u32,
    /// Times it was taken.
    pub transitions: u64,
    /// Customers who took it.
    pub customers: u64,
    /// Time between the two events (none from START or to END).
    pub time: DurationStats,
}

/// Whether something is met for the first time, as the walk asks it.
pub trait Firsts {
    /// The touchpoint is met; true the first time in the session.
    fn node_in_session(&mut self, node: u32) -> bool;
    /// The touchpoint is met; true the first time for the customer.
    fn node_for_customer(&mut self, node: u32) -> bool;
    /// The transition (its id) is taken; true the first time for the customer.
    fn edge_for_customer(&mut self, edge: u32) -> bool;
}

/// Transitions addressed by (from, to): a dense table while the number of
/// touchpoints is small and known, a hash map beyond (and for streams).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Vec<EdgeTotal>", into = "Vec<EdgeTotal>")]
pub struct EdgeTable {
    touchpoints: usize,
    dense: Vec<u32>,
    sparse: FxHashMap<(u32, u32), u32>,
    /// The transitions, in the order first taken.
    pub edges: Vec<EdgeTotal>,
}

/// Touchpoints up to which transitions are addressed by a dense table.
const DENSE_LIMIT: usize = 1024;

impl EdgeTable {
    /// A table for `touchpoints` touchpoints (0: unknown, hashed).
    pub fn new(touchpoints: usize) -> Self {
        let dense = if (1..=DENSE_LIMIT).contains(&touchpoints) {
            vec![u32::MAX; touchpoints * touchpoints]
        } else {
            Vec::new()
        };
        EdgeTable {
            touchpoints,
            dense,
            sparse: FxHashMap::default(),
            edges: Vec::new(),
        }
    }

    /// The id of the transition `from → to`, counted from now if new.
    pub fn id(&mut self, from: u32, to: u32) -> u32 {
        let next = self.edges.len() as u32;
        let dense = !self.dense.is_empty()
            && (from as usize) < self.touchpoints
            && (to as usize) < self.touchpoints;
        let slot = if dense {
            let cell = &mut self.dense[from as usize * self.touchpoints + to as usize];
            if *cell == u32::MAX {
                *cell = next;
            }
            *cell
        } else {
            *self.sparse.entry((from, to)).or_insert(next)
        };
        if slot == next {
            self.edges.push(EdgeTotal {
                from,
                to,
                transitions: 0,
                customers: 0,
                time: DurationStats::default(),
            });
        }
        slot
    }
}

impl From<Vec<EdgeTotal>> for EdgeTable {
    fn from(edges: Vec<EdgeTotal>) -> Self {
        let sparse = edges
            .iter()
            .enumerate()
            .map(|(i, e)| ((e.from, e.to), i as u32))
            .collect();
        EdgeTable {
            touchpoints: 0,
            dense: Vec::new(),
            sparse,
            edges,
        }
    }
}

impl From<EdgeTable> for Vec<EdgeTotal> {
    fn from(table: EdgeTable) -> Self {
        table.edges
    }
}

/// The counts of every session walked so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Per touchpoint id.
    pub nodes: Vec<NodeTotal>,
    /// Per transition.
    pub edges: EdgeTable,
    /// Sessions begun.
    pub sessions: u64,
}

/// Where a session being walked is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Open {
    /// The touchpoint of the last step.
    pub last: u32,
    /// Steps so far.
    pub step: u32,
    /// Time of the last step (where durations start).
    pub step_us: i64,
}

impl Tally {
    /// A tally for `touchpoints` touchpoints (0: not known yet).
    pub fn new(touchpoints: usize) -> Self {
        Tally {
            nodes: vec![NodeTotal::default(); touchpoints.max(2)],
            edges: EdgeTable::new(touchpoints),
            sessions: 0,
        }
    }

    /// Adds the counts of `later`, a tally of other customers walked after
    /// these: its transitions are taken in the order it first took them.
    pub fn absorb(&mut self, later: &Tally) {
        for (touchpoint, theirs) in later.nodes.iter().enumerate() {
            let mine = self.node(touchpoint as u32);
            mine.events += theirs.events;
            mine.sessions += theirs.sessions;
            mine.customers += theirs.customers;
            mine.exits += theirs.exits;
            mine.first_step_sum += theirs.first_step_sum;
        }
        for theirs in &later.edges.edges {
            let id = self.edges.id(theirs.from, theirs.to);
            let mine = &mut self.edges.edges[id as usize];
            mine.transitions += theirs.transitions;
            mine.customers += theirs.customers;
            mine.time.merge(&theirs.time);
        }
        self.sessions += later.sessions;
    }

    fn node(&mut self, touchpoint: u32) -> &mut NodeTotal {
        let i = touchpoint as usize;
        if i >= self.nodes.len() {
            self.nodes.resize(i + 1, NodeTotal::default());
        }
        &mut self.nodes[i]
    }

    fn visit(&mut self, firsts: &mut impl Firsts, touchpoint: u32, step: u32) {
        let first_in_session = firsts.node_in_session(touchpoint);
        let first_for_customer = firsts.node_for_customer(touchpoint);
        let node = self.node(touchpoint);
        node.events += 1;
        if first_in_session {
            node.sessions += 1;
            node.first_step_sum += step as u64;
        }
        if first_for_customer {
            node.customers += 1;
        }
    }

    fn transition(
        &mut self,
        firsts: &mut impl Firsts,
        from: u32,
        to: u32,
        duration_us: Option<i64>,
    ) {
        let id = self.edges.id(from, to);
        let first_for_customer = firsts.edge_for_customer(id);
        let edge = &mut self.edges.edges[id as usize];
        edge.transitions += 1;
        if first_for_customer {
            edge.customers += 1;
        }
        if let Some(d) = duration_us {
            edge.time.add_us(d);
        }
    }

    /// Begins a session at `touchpoint` at `time_us`: START, the step to
    /// it, and it.
    pub fn begin(&mut self, firsts: &mut impl Firsts, touchpoint: u32, time_us: i64) -> Open {
        self.sessions += 1;
        self.visit(firsts, START, 0);
        self.transition(firsts, START, touchpoint, None);
        self.visit(firsts, touchpoint, 1);
        Open {
            last: touchpoint,
            step: 1,
            step_us: time_us,
        }
    }

    /// Walks on to `touchpoint` at `time_us` (a repeat merged with
    /// `collapse_repeats` is no step).
    pub fn step(
        &mut self,
        firsts: &mut impl Firsts,
        open: &mut Open,
        touchpoint: u32,
        time_us: i64,
        collapse_repeats: bool,
    ) {
        if !is_step(open.last, touchpoint, collapse_repeats) {
            return;
        }
        self.transition(firsts, open.last, touchpoint, Some(time_us - open.step_us));
        open.step += 1;
        self.visit(firsts, touchpoint, open.step);
        open.last = touchpoint;
        open.step_us = time_us;
    }

    /// Ends the session: an exit at its last step, the step to END, and END.
    pub fn end(&mut self, firsts: &mut impl Firsts, open: &Open) {
        self.node(open.last).exits += 1;
        self.transition(firsts, open.last, END, None);
        self.visit(firsts, END, open.step + 1);
    }

    /// Walks one whole session of events (touchpoint, time) in order.
    pub fn session(
        &mut self,
        firsts: &mut impl Firsts,
        events: impl IntoIterator<Item = (u32, i64)>,
        collapse_repeats: bool,
    ) {
        let mut events = events.into_iter();
        let Some((first, at)) = events.next() else {
            return;
        };
        let mut open = self.begin(firsts, first, at);
        for (touchpoint, time_us) in events {
            self.step(firsts, &mut open, touchpoint, time_us, collapse_repeats);
        }
        self.end(firsts, &open);
    }

    /// The counts as a graph with touchpoint names; START and END are in
    /// it even when nothing was walked.
    pub fn graph(&self, names: &Interner) -> JourneyGraph {
        let mut graph = JourneyGraph::new();
        for (id, node) in self.nodes.iter().enumerate() {
            let id = id as u32;
            if node.events == 0 && id != START && id != END {
                continue;
            }
            let stats = graph.node_mut(names.name(id));
            stats.events = node.events;
            stats.sessions = node.sessions;
            stats.customers = node.customers;
            stats.exits = node.exits;
            stats.first_step_sum = node.first_step_sum;
        }
        for edge in &self.edges.edges {
            let stats = graph.edge_mut(names.name(edge.from), names.name(edge.to));
            stats.transitions = edge.transitions;
            stats.customers = edge.customers;
            stats.time = edge.time.clone();
        }
        graph
    }
}

/// First visits of a walk that takes one customer at a time: a marker per
/// touchpoint and transition says which session and customer last met it.
#[derive(Debug, Default)]
pub struct Markers {
    node_session: Vec<u64>,
    node_customer: Vec<u32>,
    edge_customer: Vec<u32>,
    session: u64,
    customer: u32,
}

impl Markers {
    /// Markers for `touchpoints` touchpoints.
    pub fn new(touchpoints: usize) -> Self {
        Markers {
            node_session: vec![u64::MAX; touchpoints.max(2)],
            node_customer: vec![u32::MAX; touchpoints.max(2)],
            edge_customer: Vec::new(),
            session: 0,
            customer: u32::MAX,
        }
    }

    /// The next session, of `customer`.
    pub fn next_session(&mut self, customer: u32) {
        self.session += 1;
        self.customer = customer;
    }
}

fn mark<T: Copy + PartialEq>(marks: &mut Vec<T>, at: u32, now: T, unset: T) -> bool {
    let i = at as usize;
    if i >= marks.len() {
        marks.resize(i + 1, unset);
    }
    let first = marks[i] != now;
    marks[i] = now;
    first
}

impl Firsts for Markers {
    fn node_in_session(&mut self, node: u32) -> bool {
        mark(&mut self.node_session, node, self.session, u64::MAX)
    }

    fn node_for_customer(&mut self, node: u32) -> bool {
        mark(&mut self.node_customer, node, self.customer, u32::MAX)
    }

    fn edge_for_customer(&mut self, edge: u32) -> bool {
        mark(&mut self.edge_customer, edge, self.customer, u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_start_at_the_first_event_a_new_key_or_an_idle_gap() {
        let t = Some(30);
        assert!(starts_session(None, 0, 0, t));
        assert!(!starts_session(Some((0, 0)), 30, 0, t));
        assert!(starts_session(Some((0, 0)), 31, 0, t));
        assert!(starts_session(Some((0, 1)), 5, 2, t));
        assert!(
            !starts_session(Some((0, 1)), 500, 1, t),
            "a key holds the session"
        );
        assert!(!starts_session(Some((0, 0)), 500, 0, None));
    }

    #[test]
    fn a_session_counts_its_steps_first_visits_and_exit() {
        let mut tally = Tally::new(5);
        let mut markers = Markers::new(5);
        markers.next_session(0);
        tally.session(&mut markers, [(2, 0), (3, 10), (3, 15), (2, 40)], true);
        markers.next_session(0);
        tally.session(&mut markers, [(2, 100)], true);
        let n = |t: u32| tally.nodes[t as usize].clone();
        assert_eq!((n(2).events, n(2).sessions, n(2).customers), (3, 2, 1));
        assert_eq!((n(3).events, n(3).exits), (1, 0), "the repeat is merged");
        assert_eq!((n(START).sessions, n(END).events), (2, 2));
        let edge = |a: u32, b: u32| {
            tally
                .edges
                .edges
                .iter()
                .find(|e| e.from == a && e.to == b)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            edge(3, 2).time.summary().map(|s| s.median),
            Some(30.0 / 1e6)
        );
        assert_eq!((edge(2, END).transitions, edge(2, END).customers), (2, 1));
        assert_eq!(tally.sessions, 2);
    }
}
