//! From retained events to sessions and the graph: events are grouped by
//! customer, ordered by (time, position in the source), cut into sessions and
//! walked once to count every node and edge.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::event::{END, EngineConfig, Event, START};
use super::graph::JourneyGraph;
use super::intern::Interner;
use super::rejected::RejectedLog;
use super::staging::{BUCKET_SHIFT, Bucket};
use super::stats::DurationStats;

/// Everything computed from a finished set of events.
#[derive(Debug)]
pub struct Journeys {
    /// The configuration the journeys were built with.
    pub config: EngineConfig,
    /// Which part of each session the graph covers.
    pub anchors: Anchors,
    /// The transition graph.
    pub graph: JourneyGraph,
    /// Accepted, de-duplicated events that are in the graph.
    pub events: u64,
    /// Distinct customers with at least one session in the graph.
    pub customers: u64,
    /// Sessions in the graph.
    pub sessions: u64,
    /// Events dropped because their event id had been seen.
    pub duplicates: u64,
    /// Events left out by an exclude rule.
    pub excluded: u64,
    /// Records the source rejected.
    pub rejected: RejectedLog,
    /// Time of the earliest and latest event (µs since the epoch).
    pub time_range_us: Option<(i64, i64)>,
    store: Arc<EventStore>,
}

/// "Paths from X" / "paths to Y": each session is cut to start at its first
/// `from` and end at the first `to` after that; sessions without them are
/// left out. Touchpoint ids as in [`Journeys::touchpoint_id`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Anchors {
    /// Keep each session from its first event at this touchpoint.
    pub from: Option<u32>,
    /// Keep each session up to its first event at this touchpoint.
    pub to: Option<u32>,
}

impl Anchors {
    /// The part of `session` these anchors keep, if any.
    pub fn cut<'a>(&self, session: &'a [Event]) -> Option<&'a [Event]> {
        let start = match self.from {
            Some(t) => session.iter().position(|e| e.touchpoint == t)?,
            None => 0,
        };
        let rest = &session[start..];
        let end = match self.to {
            Some(t) => rest.iter().position(|e| e.touchpoint == t)? + 1,
            None => rest.len(),
        };
        Some(&rest[..end])
    }
}

/// The retained events, shared by every re-computation of one load.
#[derive(Debug)]
struct EventStore {
    customer_names: Interner,
    touchpoint_names: Interner,
    /// Each customer's events in (time, source position) order.
    sorted: Vec<Event>,
    /// Session key of each event; empty when no event had a session id.
    session_keys: Vec<u32>,
    /// Start of each customer's events, plus a final end.
    offsets: Vec<usize>,
}

impl EventStore {
    fn customer(&self, c: usize) -> (&[Event], &[u32]) {
        let (a, b) = (self.offsets[c], self.offsets[c + 1]);
        let keys: &[u32] = if self.session_keys.is_empty() {
            &[]
        } else {
            &self.session_keys[a..b]
        };
        (&self.sorted[a..b], keys)
    }
}

impl Journeys {
    /// The name of touchpoint `id`.
    pub fn touchpoint_name(&self, id: u32) -> &str {
        self.store.touchpoint_names.name(id)
    }

    /// The id of the touchpoint called `name`.
    pub fn touchpoint_id(&self, name: &str) -> Option<u32> {
        self.store.touchpoint_names.get(name)
    }

    /// Number of touchpoint ids (START and END included).
    pub fn touchpoint_count(&self) -> usize {
        self.store.touchpoint_names.len()
    }

    /// The name of customer `id`.
    pub fn customer_name(&self, id: u32) -> &str {
        self.store.customer_names.name(id)
    }

    /// Number of customer ids, including any whose events were all dropped.
    pub fn customer_count(&self) -> usize {
        self.store.offsets.len() - 1
    }

    /// One customer's whole sessions in order (anchors not applied).
    pub fn sessions_of(&self, customer: u32) -> Vec<&[Event]> {
        let mut sessions = Vec::new();
        if (customer as usize) < self.customer_count() {
            let (events, keys) = self.store.customer(customer as usize);
            for_each_session(events, keys, self.config.session_timeout_us, |s| {
                sessions.push(s)
            });
        }
        sessions
    }

    /// Each customer's sessions, in order: (customer id, session events).
    pub fn sessions(&self) -> impl Iterator<Item = (u32, Vec<&[Event]>)> {
        (0..self.customer_count() as u32)
            .map(|c| (c, self.sessions_of(c)))
            .filter(|(_, s)| !s.is_empty())
    }

    /// Calls `f(customer, session part)` for every session part in the graph:
    /// sessions cut by the anchors, in customer order.
    pub fn for_each_mapped_session<'a>(&'a self, mut f: impl FnMut(u32, &'a [Event])) {
        for c in 0..self.customer_count() {
            let (events, keys) = self.store.customer(c);
            for_each_session(events, keys, self.config.session_timeout_us, |s| {
                if let Some(part) = self.anchors.cut(s) {
                    f(c as u32, part)
                }
            });
        }
    }

    /// Each customer's events in order (time, then position in the source).
    pub fn customer_events(&self) -> impl Iterator<Item = (u32, &[Event])> {
        (0..self.customer_count())
            .map(|c| (c as u32, self.store.customer(c).0))
            .filter(|(_, e)| !e.is_empty())
    }

    /// The same events walked again with another session timeout, repeat
    /// collapsing or anchors; the events are shared, not copied.
    pub fn rewalk(
        &self,
        session_timeout_us: Option<i64>,
        collapse_repeats: bool,
        anchors: Anchors,
    ) -> Journeys {
        let mut config = self.config.clone();
        config.session_timeout_us = session_timeout_us;
        config.collapse_repeats = collapse_repeats;
        let walked = walk(&self.store, &config, anchors);
        Journeys {
            config,
            anchors,
            graph: walked.graph,
            events: walked.events,
            customers: walked.customers,
            sessions: walked.sessions,
            duplicates: self.duplicates,
            excluded: self.excluded,
            rejected: self.rejected.clone(),
            time_range_us: walked.time_range_us,
            store: self.store.clone(),
        }
    }
}

/// Inputs of [`build`], taken apart from the builder.
pub(super) struct Parts {
    pub config: EngineConfig,
    pub customers: Interner,
    pub touchpoints: Interner,
    pub grouped: Grouped,
    pub excluded: u64,
    pub rejected: RejectedLog,
}

/// Events grouped by customer, de-duplicated and in order.
pub(super) struct Grouped {
    /// Each customer's events in (time, source position) order.
    pub events: Vec<Event>,
    /// Session key of each event; empty when no event had a session id.
    pub session_keys: Vec<u32>,
    /// Start of each customer's events, plus a final end.
    pub offsets: Vec<usize>,
    /// Events dropped because the customer already had their event id.
    pub duplicates: u64,
}

/// Groups staged events by customer (keeping source order), drops repeated
/// event ids per customer (the first in source order stays), then orders
/// each customer's events by time. Chunks are freed as they are consumed.
pub(super) fn group_by_customer(
    buckets: Vec<Bucket>,
    with_keys: bool,
    total: usize,
    customer_count: usize,
) -> Grouped {
    let mut offsets = vec![0usize; customer_count + 1];
    let mut with_ids = false;
    for s in buckets.iter().flat_map(|b| b.chunks.iter().flatten()) {
        offsets[s.event.customer as usize + 1] += 1;
        with_ids |= s.id_hash != 0;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    // One bucket at a time: its customers' slots form one region of the
    // final arrays, and its chunks are freed as they are consumed, so the
    // staged events are never held twice.
    let mut events = Vec::with_capacity(total);
    let mut ids = Vec::with_capacity(if with_ids { total } else { 0 });
    let mut keys = Vec::with_capacity(if with_keys { total } else { 0 });
    for (b, bucket) in buckets.into_iter().enumerate() {
        let lo = (b << BUCKET_SHIFT).min(customer_count);
        let hi = ((b + 1) << BUCKET_SHIFT).min(customer_count);
        let end = offsets[hi];
        events.resize(end, Event::default());
        if with_ids {
            ids.resize(end, 0);
        }
        if with_keys {
            keys.resize(end, 0);
        }
        let mut cursor: Vec<usize> = offsets[lo..hi].to_vec();
        let mut index = 0;
        for chunk in bucket.chunks {
            for s in chunk {
                let slot = &mut cursor[s.event.customer as usize - lo];
                events[*slot] = s.event;
                if with_ids {
                    ids[*slot] = s.id_hash;
                }
                if with_keys {
                    keys[*slot] = bucket.keys[index];
                }
                *slot += 1;
                index += 1;
            }
        }
    }

    let mut duplicates = 0u64;
    let mut seen = rustc_hash::FxHashSet::default();
    let mut write = 0usize;
    for c in 0..customer_count {
        let (start, end) = (offsets[c], offsets[c + 1]);
        offsets[c] = write;
        // Small customers are checked by a scan of their kept ids, large ones
        // through a set.
        let small = end - start <= 32;
        seen.clear();
        for read in start..end {
            let id = if with_ids { ids[read] } else { 0 };
            if id != 0 {
                let repeated = if small {
                    ids[offsets[c]..write].contains(&id)
                } else {
                    !seen.insert(id)
                };
                if repeated {
                    duplicates += 1;
                    continue;
                }
            }
            if with_ids {
                ids[write] = id;
            }
            events[write] = events[read];
            if with_keys {
                keys[write] = keys[read];
            }
            write += 1;
        }
        sort_by_time(
            &mut events[offsets[c]..write],
            if with_keys {
                &mut keys[offsets[c]..write]
            } else {
                &mut []
            },
        );
    }
    offsets[customer_count] = write;
    events.truncate(write);
    events.shrink_to_fit();
    keys.truncate(if with_keys { write } else { 0 });
    keys.shrink_to_fit();
    Grouped {
        events,
        session_keys: keys,
        offsets,
        duplicates,
    }
}

/// Stable sort of one customer's events by time (source order breaks ties),
/// moving session keys along when there are any.
fn sort_by_time(events: &mut [Event], keys: &mut [u32]) {
    if events.is_sorted_by_key(|e| e.time_us) {
        return;
    }
    if keys.is_empty() {
        events.sort_by_key(|e| e.time_us);
        return;
    }
    let mut pairs: Vec<(Event, u32)> = events.iter().copied().zip(keys.iter().copied()).collect();
    pairs.sort_by_key(|(e, _)| e.time_us);
    for (i, (e, k)) in pairs.into_iter().enumerate() {
        events[i] = e;
        keys[i] = k;
    }
}

#[derive(Default, Clone)]
struct NodeAcc {
    events: u64,
    sessions: u64,
    customers: u64,
    exits: u64,
    first_step_sum: u64,
    last_session: u64,
    last_customer: u32,
}

#[derive(Default)]
struct EdgeAcc {
    from: u32,
    to: u32,
    transitions: u64,
    customers: u64,
    last_customer: u32,
    time: DurationStats,
}

/// Edge accumulators addressed by (from, to): a dense table while the
/// number of touchpoints is small, a hash map beyond.
struct EdgeTable {
    touchpoints: usize,
    dense: Vec<u32>,
    sparse: FxHashMap<(u32, u32), u32>,
    edges: Vec<EdgeAcc>,
}

const DENSE_LIMIT: usize = 1024;

impl EdgeTable {
    fn new(touchpoints: usize) -> Self {
        let dense = if touchpoints <= DENSE_LIMIT {
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

    fn get(&mut self, from: u32, to: u32) -> &mut EdgeAcc {
        let slot = if self.dense.is_empty() {
            *self
                .sparse
                .entry((from, to))
                .or_insert(self.edges.len() as u32)
        } else {
            let cell = &mut self.dense[from as usize * self.touchpoints + to as usize];
            if *cell == u32::MAX {
                *cell = self.edges.len() as u32;
            }
            *cell
        } as usize;
        if slot == self.edges.len() {
            self.edges.push(EdgeAcc {
                from,
                to,
                last_customer: u32::MAX,
                ..EdgeAcc::default()
            });
        }
        &mut self.edges[slot]
    }
}

struct Walker {
    nodes: Vec<NodeAcc>,
    edges: EdgeTable,
    sessions: u64,
    collapse_repeats: bool,
}

impl Walker {
    fn visit(&mut self, touchpoint: u32, customer: u32, step: u64) {
        let session = self.sessions;
        let node = &mut self.nodes[touchpoint as usize];
        node.events += 1;
        if node.last_session != session {
            node.last_session = session;
            node.sessions += 1;
            node.first_step_sum += step;
        }
        if node.last_customer != customer {
            node.last_customer = customer;
            node.customers += 1;
        }
    }

    fn transition(&mut self, from: u32, to: u32, customer: u32, duration_us: Option<i64>) {
        let edge = self.edges.get(from, to);
        edge.transitions += 1;
        if edge.last_customer != customer {
            edge.last_customer = customer;
            edge.customers += 1;
        }
        if let Some(d) = duration_us {
            edge.time.add_us(d);
        }
    }

    /// Walks one session's events: START → e1 → … → en → END.
    fn session(&mut self, customer: u32, events: &[Event]) {
        self.sessions += 1;
        self.visit(START, customer, 0);
        let mut previous: Option<&Event> = None;
        let mut step = 0;
        for e in events {
            match previous {
                Some(p) if self.collapse_repeats && p.touchpoint == e.touchpoint => continue,
                Some(p) => self.transition(
                    p.touchpoint,
                    e.touchpoint,
                    customer,
                    Some(e.time_us - p.time_us),
                ),
                None => self.transition(START, e.touchpoint, customer, None),
            }
            step += 1;
            self.visit(e.touchpoint, customer, step);
            previous = Some(e);
        }
        if let Some(last) = previous {
            self.nodes[last.touchpoint as usize].exits += 1;
            self.transition(last.touchpoint, END, customer, None);
        }
        self.visit(END, customer, step + 1);
    }
}

/// Splits one customer's ordered events into sessions.
pub fn for_each_session<'a>(
    events: &'a [Event],
    keys: &[u32],
    timeout_us: Option<i64>,
    mut f: impl FnMut(&'a [Event]),
) {
    let mut start = 0;
    for i in 1..events.len() {
        let key_changed = !keys.is_empty() && keys[i] != keys[i - 1];
        let idle = (keys.is_empty() || keys[i] == 0)
            && timeout_us.is_some_and(|t| events[i].time_us - events[i - 1].time_us > t);
        if key_changed || idle {
            f(&events[start..i]);
            start = i;
        }
    }
    if start < events.len() {
        f(&events[start..]);
    }
}

/// The graph and counts of one walk over the stored events.
struct Walked {
    graph: JourneyGraph,
    events: u64,
    customers: u64,
    sessions: u64,
    time_range_us: Option<(i64, i64)>,
}

fn walk(store: &EventStore, config: &EngineConfig, anchors: Anchors) -> Walked {
    let touchpoint_count = store.touchpoint_names.len();
    let mut walker = Walker {
        nodes: vec![
            NodeAcc {
                last_customer: u32::MAX,
                ..NodeAcc::default()
            };
            touchpoint_count
        ],
        edges: EdgeTable::new(touchpoint_count),
        sessions: 0,
        collapse_repeats: config.collapse_repeats,
    };
    let (mut customers, mut events_walked) = (0u64, 0u64);
    let mut time_range: Option<(i64, i64)> = None;
    for c in 0..store.offsets.len() - 1 {
        let (events, keys) = store.customer(c);
        if events.is_empty() {
            continue;
        }
        let sessions_before = walker.sessions;
        for_each_session(events, keys, config.session_timeout_us, |s| {
            if let Some(part) = anchors.cut(s) {
                events_walked += part.len() as u64;
                let (first, last) = (part[0].time_us, part[part.len() - 1].time_us);
                time_range =
                    Some(time_range.map_or((first, last), |(a, b)| (a.min(first), b.max(last))));
                walker.session(c as u32, part);
            }
        });
        if walker.sessions > sessions_before {
            customers += 1;
        }
    }

    let mut graph = JourneyGraph::new();
    for (id, acc) in walker.nodes.iter().enumerate() {
        if acc.events == 0 && id as u32 != START && id as u32 != END {
            continue;
        }
        let name = store.touchpoint_names.name(id as u32);
        let node = graph.node_mut(name);
        node.events = acc.events;
        node.sessions = acc.sessions;
        node.customers = acc.customers;
        node.exits = acc.exits;
        node.first_step_sum = acc.first_step_sum;
    }
    for acc in walker.edges.edges {
        let from = store.touchpoint_names.name(acc.from);
        let to = store.touchpoint_names.name(acc.to);
        let edge = graph.edge_mut(from, to);
        edge.transitions = acc.transitions;
        edge.customers = acc.customers;
        edge.time = acc.time;
    }
    Walked {
        graph,
        events: events_walked,
        customers,
        sessions: walker.sessions,
        time_range_us: time_range,
    }
}

pub(super) fn build(parts: Parts) -> Journeys {
    let Grouped {
        events,
        session_keys,
        offsets,
        duplicates,
    } = parts.grouped;
    let store = EventStore {
        customer_names: parts.customers,
        touchpoint_names: parts.touchpoints,
        sorted: events,
        session_keys,
        offsets,
    };
    let anchors = Anchors::default();
    let walked = walk(&store, &parts.config, anchors);
    Journeys {
        config: parts.config,
        anchors,
        graph: walked.graph,
        events: walked.events,
        customers: walked.customers,
        sessions: walked.sessions,
        duplicates,
        excluded: parts.excluded,
        rejected: parts.rejected,
        time_range_us: walked.time_range_us,
        store: Arc::new(store),
    }
}
