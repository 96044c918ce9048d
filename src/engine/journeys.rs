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

use super::store::{Anchors, EventStore, for_each_session, walk};

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
