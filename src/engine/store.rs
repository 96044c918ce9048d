//! The retained events of one load and the walk over them: each
//! customer's events cut into sessions and counted once into a tally.
//! Past [`PARALLEL_WALK_EVENTS`] the customers are shared between two
//! threads, the later half's tally added after the first's, so the counts
//! and the order transitions are first taken in are those of one walk.

use std::ops::Range;

use super::event::{EngineConfig, Event};
use super::graph::JourneyGraph;
use super::intern::Interner;
use super::property_column::PropertyColumn;
use super::segment::SessionFilter;
use super::walk::{Markers, Tally, starts_session};
use crate::background::on_two_threads;

/// "Paths from X" / "paths to Y": each session is cut to start at its first
/// `from` and end at the first `to` after that; sessions without them are
/// left out. Touchpoint ids as in
/// [`Journeys::touchpoint_id`](crate::engine::Journeys::touchpoint_id).
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
pub(super) struct EventStore {
    pub(super) customer_names: Interner,
    pub(super) touchpoint_names: Interner,
    /// Each customer's events in (time, source position) order.
    pub(super) sorted: Vec<Event>,
    /// Session key of each event; empty when no event had a session id.
    pub(super) session_keys: Vec<u32>,
    /// Start of each customer's events, plus a final end.
    pub(super) offsets: Vec<usize>,
    /// The kept properties' names, their values, and their values along
    /// `sorted`.
    pub(super) kept: Vec<String>,
    pub(super) values: Vec<Interner>,
    pub(super) properties: Vec<PropertyColumn>,
}

impl EventStore {
    /// True when the session of customer `c` starting at `start` (within
    /// the customer's events) is selected by `filter`.
    pub(super) fn selects(
        &self,
        filter: Option<&SessionFilter>,
        c: usize,
        start: usize,
        session: &[Event],
    ) -> bool {
        filter.is_none_or(|f| {
            let at = self.offsets[c] + start;
            f.selects(session, |p| self.properties[p].at(at))
        })
    }

    /// Calls `f(start, session)` for each of customer `c`'s sessions that
    /// `filter` selects, `start` its first index in the customer's events.
    pub(super) fn each_selected<'a>(
        &'a self,
        c: usize,
        timeout_us: Option<i64>,
        filter: Option<&SessionFilter>,
        mut f: impl FnMut(usize, &'a [Event]),
    ) {
        let (events, keys) = self.customer(c);
        for_each_session(events, keys, timeout_us, |start, s| {
            if self.selects(filter, c, start, s) {
                f(start, s)
            }
        });
    }

    /// The value id + 1 (0: none) kept property `property` (None: 0) has
    /// at customer `c`'s event `start`.
    pub(super) fn value_at(&self, property: Option<usize>, c: usize, start: usize) -> u32 {
        property
            .and_then(|p| self.properties.get(p))
            .map_or(0, |column| column.at(self.offsets[c] + start))
    }

    pub(super) fn customer(&self, c: usize) -> (&[Event], &[u32]) {
        let (a, b) = (self.offsets[c], self.offsets[c + 1]);
        let keys: &[u32] = if self.session_keys.is_empty() {
            &[]
        } else {
            &self.session_keys[a..b]
        };
        (&self.sorted[a..b], keys)
    }
}

/// Splits one customer's ordered events into sessions (see
/// [`starts_session`]), calling `f(start, session)` with each session's
/// first index in `events`; `keys` holds each event's session key, or is
/// empty when no event has one.
pub fn for_each_session<'a>(
    events: &'a [Event],
    keys: &[u32],
    timeout_us: Option<i64>,
    mut f: impl FnMut(usize, &'a [Event]),
) {
    let key = |i: usize| keys.get(i).copied().unwrap_or(0);
    let mut start = 0;
    for i in 1..events.len() {
        let previous = Some((events[i - 1].time_us, key(i - 1)));
        if starts_session(previous, events[i].time_us, key(i), timeout_us) {
            f(start, &events[start..i]);
            start = i;
        }
    }
    if start < events.len() {
        f(start, &events[start..]);
    }
}

/// The graph and counts of one walk over the stored events.
pub(super) struct Walked {
    pub(super) graph: JourneyGraph,
    pub(super) events: u64,
    pub(super) customers: u64,
    pub(super) sessions: u64,
    pub(super) time_range_us: Option<(i64, i64)>,
}

/// Events from which a walk is shared between two threads, each taking
/// half of the customers.
const PARALLEL_WALK_EVENTS: usize = 200_000;

pub(super) fn walk(
    store: &EventStore,
    config: &EngineConfig,
    anchors: Anchors,
    filter: Option<&SessionFilter>,
) -> Walked {
    let customers = store.offsets.len() - 1;
    let total = store.offsets[customers];
    let part = |range: Range<usize>| walk_customers(store, config, anchors, filter, range);
    let whole = if total < PARALLEL_WALK_EVENTS {
        part(0..customers)
    } else {
        // The first customer whose events begin in the second half.
        let middle = store
            .offsets
            .partition_point(|&o| o < total / 2)
            .min(customers);
        let (mut first, later) = on_two_threads(
            "journey walk",
            || part(0..middle),
            || part(middle..customers),
        );
        first.absorb(later);
        first
    };
    Walked {
        graph: whole.tally.graph(&store.touchpoint_names),
        events: whole.events,
        customers: whole.customers,
        sessions: whole.tally.sessions,
        time_range_us: whole.time_range_us,
    }
}

/// What walking some of the customers counted.
struct WalkedPart {
    tally: Tally,
    events: u64,
    customers: u64,
    time_range_us: Option<(i64, i64)>,
}

impl WalkedPart {
    /// Adds what `later` (the customers after these) counted: as if they
    /// had been walked on after these.
    fn absorb(&mut self, later: WalkedPart) {
        self.tally.absorb(&later.tally);
        self.events += later.events;
        self.customers += later.customers;
        self.time_range_us = match (self.time_range_us, later.time_range_us) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (mine, theirs) => mine.or(theirs),
        };
    }
}

/// Walks the customers in `range`, in order.
fn walk_customers(
    store: &EventStore,
    config: &EngineConfig,
    anchors: Anchors,
    filter: Option<&SessionFilter>,
    range: Range<usize>,
) -> WalkedPart {
    let touchpoint_count = store.touchpoint_names.len();
    let mut tally = Tally::new(touchpoint_count);
    let mut markers = Markers::new(touchpoint_count);
    let (mut customers, mut events_walked) = (0u64, 0u64);
    let mut time_range: Option<(i64, i64)> = None;
    for c in range {
        if store.offsets[c] == store.offsets[c + 1] {
            continue;
        }
        let sessions_before = tally.sessions;
        store.each_selected(c, config.session_timeout_us, filter, |_, s| {
            if let Some(part) = anchors.cut(s) {
                events_walked += part.len() as u64;
                let (first, last) = (part[0].time_us, part[part.len() - 1].time_us);
                time_range =
                    Some(time_range.map_or((first, last), |(a, b)| (a.min(first), b.max(last))));
                markers.next_session(c as u32);
                let steps = part.iter().map(|e| (e.touchpoint, e.time_us));
                tally.session(&mut markers, steps, config.collapse_repeats);
            }
        });
        if tally.sessions > sessions_before {
            customers += 1;
        }
    }
    WalkedPart {
        tally,
        events: events_walked,
        customers,
        time_range_us: time_range,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Customers with sessions of varied steps and gaps, enough events for
    /// the walk to be shared.
    fn store(customers: u32) -> EventStore {
        let touchpoint_names: Interner = ["START", "END", "home", "search", "cart", "buy", "help"]
            .into_iter()
            .collect();
        let customer_names: Interner = (0..customers).map(|c| format!("c{c}")).collect();
        let (mut sorted, mut offsets) = (Vec::new(), vec![0]);
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for customer in 0..customers {
            let mut time_us = 1_700_000_000_000_000 + next(1 << 30) as i64;
            for _ in 0..1 + next(30) {
                time_us += match next(10) {
                    0 => 3_600_000_000,
                    _ => next(600_000_000) as i64,
                };
                let touchpoint = 2 + next(5) as u32;
                sorted.push(Event {
                    time_us,
                    customer,
                    touchpoint,
                });
            }
            offsets.push(sorted.len());
        }
        EventStore {
            customer_names,
            touchpoint_names,
            sorted,
            session_keys: Vec::new(),
            offsets,
            kept: Vec::new(),
            values: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// Two threads count what one walk counts, and take the transitions
    /// in the same order.
    #[test]
    fn a_shared_walk_counts_as_one_walk() {
        let store = store(20_000);
        assert!(store.sorted.len() >= PARALLEL_WALK_EVENTS);
        for collapse_repeats in [false, true] {
            let config = EngineConfig {
                collapse_repeats,
                ..EngineConfig::default()
            };
            let shared = walk(&store, &config, Anchors::default(), None);
            let customers = store.offsets.len() - 1;
            let one = walk_customers(&store, &config, Anchors::default(), None, 0..customers);
            let graph = one.tally.graph(&store.touchpoint_names);
            // Nodes and edges in order with their counts (the name maps'
            // order is a hash map's).
            let in_order = |g: &JourneyGraph| {
                let text = format!("{g:?}");
                text[..text.find("by_name").unwrap_or(text.len())].to_owned()
            };
            assert_eq!(in_order(&shared.graph), in_order(&graph));
            assert_eq!(shared.graph.node_reports(), graph.node_reports());
            assert_eq!(shared.graph.edge_reports(), graph.edge_reports());
            assert_eq!(
                (shared.events, shared.customers, shared.sessions),
                (one.events, one.customers, one.tally.sessions)
            );
            assert_eq!(shared.time_range_us, one.time_range_us);
            assert!(one.tally.sessions > customers as u64);
        }
    }
}
