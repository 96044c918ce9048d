//! From retained events to sessions and the graph: events are grouped by
//! customer, ordered by (time, position in the source), cut into sessions and
//! walked once to count every node and edge.

use std::sync::Arc;

use super::event::{EngineConfig, Event};
use super::graph::JourneyGraph;
use super::grouping::Grouped;
use super::intern::Interner;
use super::property_column::PropertyColumn;
use super::rejected::RejectedLog;
use super::rules::split_name;
use super::segment::{Segment, SegmentError, SessionFilter};

use super::walk::{Markers, Tally, starts_session};

/// Everything computed from a finished set of events.
#[derive(Debug)]
pub struct Journeys {
    /// The configuration the journeys were built with.
    pub config: EngineConfig,
    /// Which part of each session the graph covers.
    pub anchors: Anchors,
    /// Which sessions the graph counts (None: all).
    pub segment: Option<Segment>,
    filter: Option<Arc<SessionFilter>>,
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
    /// The kept properties' names, their values, and their values along
    /// `sorted`.
    kept: Vec<String>,
    values: Vec<Interner>,
    properties: Vec<PropertyColumn>,
}

impl EventStore {
    /// True when the session of customer `c` starting at `start` (within
    /// the customer's events) is selected by `filter`.
    fn selects(
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
    fn each_selected<'a>(
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
    fn value_at(&self, property: Option<usize>, c: usize, start: usize) -> u32 {
        property
            .and_then(|p| self.properties.get(p))
            .map_or(0, |column| column.at(self.offsets[c] + start))
    }

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

    /// The touchpoints a funnel step or a name typed by the user means:
    /// the one called `name`, else every touchpoint split from it
    /// (`name: value`); empty when there is none.
    pub fn touchpoints_matching(&self, name: &str) -> Vec<u32> {
        if let Some(id) = self.touchpoint_id(name) {
            return vec![id];
        }
        let prefix = split_name(name, "");
        (0u32..)
            .zip(self.store.touchpoint_names.iter())
            .filter(|(_, n)| n.starts_with(&prefix))
            .map(|(id, _)| id)
            .collect()
    }

    /// Every touchpoint's name, by id.
    pub fn touchpoint_names(&self) -> &Interner {
        &self.store.touchpoint_names
    }

    /// Number of touchpoint ids (START and END included).
    pub fn touchpoint_count(&self) -> usize {
        self.store.touchpoint_names.len()
    }

    /// The name of customer `id`.
    pub fn customer_name(&self, id: u32) -> &str {
        self.store.customer_names.name(id)
    }

    /// The id of the customer called `name`, when there is one.
    pub fn customer_id(&self, name: &str) -> Option<u32> {
        self.store.customer_names.get(name)
    }

    /// Number of customer ids, including any whose events were all dropped.
    pub fn customer_count(&self) -> usize {
        self.store.offsets.len() - 1
    }

    /// One customer's whole sessions in order (anchors and segment not
    /// applied).
    pub fn sessions_of(&self, customer: u32) -> Vec<&[Event]> {
        let mut sessions = Vec::new();
        if (customer as usize) < self.customer_count() {
            let (events, keys) = self.store.customer(customer as usize);
            for_each_session(events, keys, self.config.session_timeout_us, |_, s| {
                sessions.push(s)
            });
        }
        sessions
    }

    /// Calls `f(customer, session)` for every whole session the segment
    /// selects (anchors not applied), in customer order.
    pub fn for_each_selected_session<'a>(&'a self, mut f: impl FnMut(u32, &'a [Event])) {
        let filter = self.filter.as_deref();
        for c in 0..self.customer_count() {
            self.store
                .each_selected(c, self.config.session_timeout_us, filter, |_, s| {
                    f(c as u32, s)
                });
        }
    }

    /// Calls `f(customer, session)` for every whole session, whether the
    /// segment selects it or not, in customer order.
    pub fn for_each_session<'a>(&'a self, mut f: impl FnMut(u32, &'a [Event])) {
        for c in 0..self.customer_count() {
            self.store
                .each_selected(c, self.config.session_timeout_us, None, |_, s| {
                    f(c as u32, s)
                });
        }
    }

    /// Calls `f(customer, start, session)` for every whole session, whether
    /// the segment selects it or not, in customer order; `start` is the
    /// session's first index among its customer's events.
    pub fn for_each_session_at<'a>(&'a self, mut f: impl FnMut(u32, usize, &'a [Event])) {
        for c in 0..self.customer_count() {
            self.store
                .each_selected(c, self.config.session_timeout_us, None, |start, s| {
                    f(c as u32, start, s)
                });
        }
    }

    /// True when the events carried session ids (sessions are cut where
    /// the id changes, not by time).
    pub fn has_session_keys(&self) -> bool {
        !self.store.session_keys.is_empty()
    }

    /// Calls `f(customer, events)` for every customer with a selected
    /// session: the events of the selected sessions, in order (all the
    /// customer's events when there is no segment).
    pub fn for_each_selected_customer(&self, mut f: impl FnMut(u32, &[Event])) {
        self.selected_customers(None, |c, _, events| f(c, events));
    }

    /// As [`Self::for_each_selected_customer`], calling `f(customer, value,
    /// events)` with the value kept property `property` has at the first
    /// event of the customer's first selected session (id + 1 as in
    /// [`Self::property_value`], 0: none).
    pub fn for_each_selected_customer_by(
        &self,
        property: usize,
        f: impl FnMut(u32, u32, &[Event]),
    ) {
        self.selected_customers(Some(property), f);
    }

    fn selected_customers(&self, property: Option<usize>, mut f: impl FnMut(u32, u32, &[Event])) {
        let Some(filter) = self.filter.as_deref() else {
            for (c, events) in self.customer_events() {
                f(c, self.store.value_at(property, c as usize, 0), events);
            }
            return;
        };
        let mut kept = Vec::new();
        for c in 0..self.customer_count() {
            kept.clear();
            let mut first = None;
            self.store.each_selected(
                c,
                self.config.session_timeout_us,
                Some(filter),
                |start, s| {
                    first.get_or_insert(start);
                    kept.extend_from_slice(s)
                },
            );
            if let Some(start) = first {
                f(c as u32, self.store.value_at(property, c, start), &kept);
            }
        }
    }

    /// The properties kept per session, by name.
    pub fn kept_properties(&self) -> &[String] {
        &self.store.kept
    }

    /// The kept properties' values at event `index` of customer
    /// `customer`'s ordered events (counted across its sessions, as
    /// [`Journeys::sessions_of`] lists them): (property, value) for each
    /// property the event has a value of.
    pub fn kept_values_at(&self, customer: u32, index: usize) -> Vec<(&str, &str)> {
        let c = customer as usize;
        let store = &self.store;
        let Some(at) = store
            .offsets
            .get(c)
            .map(|start| start + index)
            .filter(|at| store.offsets.get(c + 1).is_some_and(|end| at < end))
        else {
            return Vec::new();
        };
        store
            .kept
            .iter()
            .zip(&store.properties)
            .zip(&store.values)
            .filter_map(|((name, column), values)| {
                let value = column.at(at).checked_sub(1)?;
                Some((name.as_str(), values.name(value)))
            })
            .collect()
    }

    /// The values kept property `index` takes, in order first seen.
    pub fn property_values(&self, index: usize) -> impl Iterator<Item = &str> {
        self.store
            .values
            .get(index)
            .into_iter()
            .flat_map(Interner::iter)
    }

    /// The name of value `value` (id + 1) of kept property `property`;
    /// None for 0 (the event has no such property) or an unknown id.
    pub fn property_value(&self, property: usize, value: u32) -> Option<&str> {
        let names = self.store.values.get(property)?;
        let id = value.checked_sub(1)?;
        ((id as usize) < names.len()).then(|| names.name(id))
    }

    /// Bytes the kept properties' values along the sessions take.
    pub fn kept_property_bytes(&self) -> usize {
        self.store
            .properties
            .iter()
            .map(PropertyColumn::bytes)
            .sum()
    }

    /// The same events with only the sessions of `segment` counted (None:
    /// all); anchors and session rules stay.
    pub fn with_segment(&self, segment: Option<Segment>) -> Result<Journeys, SegmentError> {
        let filter = self.filter_of(segment.as_ref())?;
        Ok(self.walked(self.config.clone(), self.anchors, segment, filter))
    }

    fn filter_of(
        &self,
        segment: Option<&Segment>,
    ) -> Result<Option<Arc<SessionFilter>>, SegmentError> {
        segment
            .map(|s| {
                SessionFilter::new(
                    s,
                    &self.store.kept,
                    &self.store.values,
                    &self.store.touchpoint_names,
                    self.config.collapse_repeats,
                )
                .map(Arc::new)
            })
            .transpose()
    }

    /// Each customer's sessions, in order: (customer id, session events).
    pub fn sessions(&self) -> impl Iterator<Item = (u32, Vec<&[Event]>)> {
        (0..self.customer_count() as u32)
            .map(|c| (c, self.sessions_of(c)))
            .filter(|(_, s)| !s.is_empty())
    }

    /// Calls `f(customer, session part)` for every session part in the graph:
    /// sessions of the segment cut by the anchors, in customer order.
    pub fn for_each_mapped_session<'a>(&'a self, mut f: impl FnMut(u32, &'a [Event])) {
        self.for_each_selected_session(|c, s| {
            if let Some(part) = self.anchors.cut(s) {
                f(c, part)
            }
        });
    }

    /// As [`Self::for_each_mapped_session`], calling `f(customer, value,
    /// part)` with the value kept property `property` has at the whole
    /// session's first event, the one a segment reads (id + 1 as in
    /// [`Self::property_value`], 0: none).
    pub fn for_each_mapped_session_by<'a>(
        &'a self,
        property: usize,
        mut f: impl FnMut(u32, u32, &'a [Event]),
    ) {
        let filter = self.filter.as_deref();
        for c in 0..self.customer_count() {
            self.store
                .each_selected(c, self.config.session_timeout_us, filter, |start, s| {
                    if let Some(part) = self.anchors.cut(s) {
                        f(
                            c as u32,
                            self.store.value_at(Some(property), c, start),
                            part,
                        )
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
    /// collapsing or anchors (the segment stays); the events are shared,
    /// not copied.
    pub fn rewalk(
        &self,
        session_timeout_us: Option<i64>,
        collapse_repeats: bool,
        anchors: Anchors,
    ) -> Journeys {
        let mut config = self.config.clone();
        config.session_timeout_us = session_timeout_us;
        config.collapse_repeats = collapse_repeats;
        // A variant reads repeats as the walk does: the filter follows.
        let filter = match (&self.filter, &self.segment) {
            (Some(f), Some(segment)) if f.collapse_repeats() != collapse_repeats => {
                SessionFilter::new(
                    segment,
                    &self.store.kept,
                    &self.store.values,
                    &self.store.touchpoint_names,
                    collapse_repeats,
                )
                .ok()
                .map(Arc::new)
            }
            (filter, _) => filter.clone(),
        };
        self.walked(config, anchors, self.segment.clone(), filter)
    }

    /// The same events walked again with another session timeout, repeat
    /// collapsing, anchors and segment, in one walk.
    pub fn rewalk_segment(
        &self,
        session_timeout_us: Option<i64>,
        collapse_repeats: bool,
        anchors: Anchors,
        segment: Option<Segment>,
    ) -> Result<Journeys, SegmentError> {
        let mut config = self.config.clone();
        config.session_timeout_us = session_timeout_us;
        config.collapse_repeats = collapse_repeats;
        let filter = segment
            .as_ref()
            .map(|s| {
                SessionFilter::new(
                    s,
                    &self.store.kept,
                    &self.store.values,
                    &self.store.touchpoint_names,
                    collapse_repeats,
                )
                .map(Arc::new)
            })
            .transpose()?;
        Ok(self.walked(config, anchors, segment, filter))
    }

    fn walked(
        &self,
        config: EngineConfig,
        anchors: Anchors,
        segment: Option<Segment>,
        filter: Option<Arc<SessionFilter>>,
    ) -> Journeys {
        let walked = walk(&self.store, &config, anchors, filter.as_deref());
        Journeys {
            config,
            anchors,
            segment,
            filter,
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
    pub values: Vec<Interner>,
    pub grouped: Grouped,
    pub excluded: u64,
    pub rejected: RejectedLog,
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
struct Walked {
    graph: JourneyGraph,
    events: u64,
    customers: u64,
    sessions: u64,
    time_range_us: Option<(i64, i64)>,
}

fn walk(
    store: &EventStore,
    config: &EngineConfig,
    anchors: Anchors,
    filter: Option<&SessionFilter>,
) -> Walked {
    let touchpoint_count = store.touchpoint_names.len();
    let mut tally = Tally::new(touchpoint_count);
    let mut markers = Markers::new(touchpoint_count);
    let (mut customers, mut events_walked) = (0u64, 0u64);
    let mut time_range: Option<(i64, i64)> = None;
    for c in 0..store.offsets.len() - 1 {
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
    Walked {
        graph: tally.graph(&store.touchpoint_names),
        events: events_walked,
        customers,
        sessions: tally.sessions,
        time_range_us: time_range,
    }
}

pub(super) fn build(parts: Parts) -> Journeys {
    let Grouped {
        events,
        session_keys,
        offsets,
        duplicates,
        properties,
    } = parts.grouped;
    let store = EventStore {
        customer_names: parts.customers,
        touchpoint_names: parts.touchpoints,
        sorted: events,
        session_keys,
        offsets,
        kept: parts.config.kept_properties.clone(),
        values: parts.values,
        properties,
    };
    let anchors = Anchors::default();
    let walked = walk(&store, &parts.config, anchors, None);
    Journeys {
        config: parts.config,
        anchors,
        segment: None,
        filter: None,
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
