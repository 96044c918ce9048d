//! The customer list of a loaded source or a live stream: what the user
//! asked for (search, sort, the selection on the map, what counts as
//! converting), computed on a worker when that changes.

use std::sync::Arc;

use crate::engine::conformance::{DeviationKind, JourneyIds};
use crate::engine::paths::AnchorKind;
use crate::engine::{
    CustomerRow, ExpectedJourney, Journeys, PathsAnchor, Segment, Selection, customer_rows,
    guess_conversion,
};

use super::memo::Memo;
use crate::background::{Task, Waker};

/// A column the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Customer id, alphabetically.
    Customer,
    /// Number of sessions.
    #[default]
    Sessions,
    /// Number of events.
    Events,
    /// Last touchpoint, alphabetically.
    LastTouchpoint,
    /// Converted first.
    Converted,
}

/// What the list shows: everything it depends on but the journeys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Text the customer id must contain (case-insensitive).
    pub search: String,
    /// Sort column.
    pub sort: SortKey,
    /// Sort direction (largest first unless set).
    pub ascending: bool,
    /// Only customers with a session selected so.
    pub filter: Option<ListFilter>,
    /// The touchpoint that counts as converting; guessed when None.
    pub conversion: Option<String>,
}

/// Which sessions' customers the list shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ListFilter {
    /// Sessions through a touchpoint (name, None) or a transition (from,
    /// Some(to)) of the map.
    Map(String, Option<String>),
    /// Customers here now: their latest event is at this touchpoint,
    /// within the session timeout of the newest event; newest first.
    HereNow(String),
    /// Sessions at a touchpoint at a step of the paths view (and then at
    /// `next`, for a link).
    Path {
        /// Where the view's step 1 is.
        anchor: PathsAnchor,
        /// The step, from 1.
        step: usize,
        /// The touchpoint at that step.
        touchpoint: String,
        /// The touchpoint at the next step, for a link.
        next: Option<String>,
        /// Only the sessions of this group of a comparison.
        group: Option<Segment>,
    },
    /// Sessions that first leave an expected journey this way.
    Deviation {
        /// The journey.
        journey: ExpectedJourney,
        /// The step they were at.
        after: String,
        /// How they left.
        kind: DeviationKind,
        /// The touchpoint that made them leave (END when they left).
        touchpoint: String,
        /// In a stream, the event time its sessions were read at: those
        /// still open then have not left yet.
        read_at_us: Option<i64>,
    },
}

impl ListFilter {
    /// The filter in words: "Sessions through checkout".
    pub fn describe(&self) -> String {
        match self {
            ListFilter::Map(a, None) => format!("Sessions through {a}"),
            ListFilter::Map(a, Some(b)) => format!("Sessions going {a} » {b}"),
            ListFilter::HereNow(a) => format!("Here now at {a}"),
            ListFilter::Deviation {
                journey,
                after,
                kind,
                touchpoint,
                ..
            } => format!(
                "Sessions leaving {} after {after}: {}",
                journey.name,
                deviation_words(*kind, touchpoint)
            ),
            ListFilter::Path {
                anchor,
                step,
                touchpoint,
                next,
                group,
            } => {
                let from = match anchor {
                    PathsAnchor::Start => String::new(),
                    PathsAnchor::From(x) => format!(" after {x}"),
                    PathsAnchor::To(y) => format!(" before {y}"),
                };
                let of = group
                    .as_ref()
                    .map_or(String::new(), |g| format!(" ({})", g.text));
                match next {
                    None => format!("Sessions{of} at {touchpoint} at step {step}{from}"),
                    Some(n) => {
                        format!("Sessions{of} going {touchpoint} » {n} at step {step}{from}")
                    }
                }
            }
        }
    }

    /// The selection of `journeys` it means; None when a touchpoint it
    /// names is not there.
    fn selection(&self, journeys: &Journeys) -> Option<Selection> {
        let id = |name: &str| journeys.touchpoint_id(name);
        Some(match self {
            ListFilter::Map(a, None) => Selection::Touchpoint(id(a)?),
            ListFilter::Map(a, Some(b)) => Selection::Transition(id(a)?, id(b)?),
            ListFilter::HereNow(_) => return None,
            ListFilter::Deviation {
                journey,
                after,
                kind,
                touchpoint,
                read_at_us,
            } => Selection::Deviation {
                journey: JourneyIds::of(journey, journeys),
                after: journey.steps.iter().position(|s| s.touchpoint == *after)?,
                kind: *kind,
                touchpoint: id(touchpoint)?,
                open_after: read_at_us
                    .map(|t| crate::engine::conformance_report::open_after(journeys, t)),
            },
            ListFilter::Path {
                anchor,
                step,
                touchpoint,
                next,
                ..
            } => Selection::PathStep {
                kind: AnchorKind::of(anchor),
                anchor: match anchor {
                    PathsAnchor::Start => None,
                    PathsAnchor::From(x) | PathsAnchor::To(x) => Some(id(x)?),
                },
                step: *step,
                touchpoint: id(touchpoint)?,
                next: match next {
                    Some(n) => Some(id(n)?),
                    None => None,
                },
            },
        })
    }
}

/// A first deviation in words: "detour to search", "left".
pub fn deviation_words(kind: DeviationKind, touchpoint: &str) -> String {
    match kind {
        DeviationKind::Skipped => format!("skipped ahead to {touchpoint}"),
        DeviationKind::Backtrack => format!("went back to {touchpoint}"),
        DeviationKind::Detour => format!("detour to {touchpoint}"),
        DeviationKind::Left => "left (the session ended)".to_owned(),
    }
}

/// A computed list.
#[derive(Debug)]
pub struct CustomerList {
    /// The rows, filtered and sorted.
    pub rows: Vec<CustomerRow>,
    /// The touchpoint that counts as converting.
    pub conversion: Option<String>,
}

/// The list's inputs, the customer picked, and the list computed for them.
#[derive(Default)]
pub struct Customers {
    /// What the list shows.
    pub query: ListQuery,
    /// The customer whose timeline is shown.
    pub selected: Option<u32>,
    /// Bumped when the journeys change.
    generation: u64,
    list: Memo<(ListQuery, u64), CustomerList>,
}

impl Customers {
    /// The journeys changed: the list must be computed again.
    pub fn invalidate(&mut self) {
        self.generation += 1;
    }

    /// The customers were given new ids (`old` → `new`): the customer
    /// picked is found again by name, and the list of old ids is dropped.
    pub fn renumbered(&mut self, old: &Journeys, new: &Journeys) {
        self.selected = self
            .selected
            .and_then(|c| new.customer_id(old.customer_name(c)));
        self.list.clear();
        self.invalidate();
    }

    /// The list on screen, once computed (perhaps for earlier inputs).
    pub fn list(&self) -> Option<&Arc<CustomerList>> {
        self.list.value()
    }

    /// True while the list on screen is not the one the inputs ask for.
    pub fn is_stale(&self) -> bool {
        self.list.value_for(&self.key()).is_none()
    }

    /// Why the list could not be computed, if it could not.
    pub fn failure(&self) -> Option<&str> {
        self.list.failure()
    }

    fn key(&self) -> (ListQuery, u64) {
        let mut query = self.query.clone();
        query.search = query.search.trim().to_lowercase();
        (query, self.generation)
    }

    /// Takes a finished list and starts the one the inputs ask for.
    pub fn poll(&mut self, journeys: &Arc<Journeys>, wake: &Waker) {
        let key = self.key();
        self.list.want(&key, |(query, _)| {
            let (journeys, query) = (journeys.clone(), query.clone());
            Task::spawn("customers", wake.clone(), move |_| {
                compute_list(&journeys, &query)
            })
        });
    }
}

/// The customers whose latest event is at `at` and within the session
/// timeout of the newest event: who is there now, newest first.
fn here_now(journeys: &Journeys, at: &str, conversion: Option<u32>) -> CustomerList {
    let (Some(at), Some((_, now))) = (journeys.touchpoint_id(at), journeys.time_range_us) else {
        return CustomerList {
            rows: Vec::new(),
            conversion: None,
        };
    };
    let timeout = journeys.config.session_timeout_us.unwrap_or(i64::MAX);
    let mut rows: Vec<CustomerRow> = customer_rows(journeys, None, conversion)
        .into_iter()
        .filter(|r| r.last_touchpoint == at && now.saturating_sub(r.last_us) <= timeout)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.last_us));
    CustomerList {
        conversion: conversion.map(|t| journeys.touchpoint_name(t).to_owned()),
        rows,
    }
}

/// The customers `query` asks for, from `journeys`.
pub fn compute_list(journeys: &Journeys, query: &ListQuery) -> CustomerList {
    let selection = query.filter.as_ref().and_then(|f| f.selection(journeys));
    let conversion = match &query.conversion {
        Some(name) => journeys.touchpoint_id(name),
        None => guess_conversion(journeys),
    };
    let group = match &query.filter {
        Some(ListFilter::Path { group, .. }) => group.clone(),
        _ => None,
    };
    let grouped = group.map(|g| journeys.with_segment(Some(g)));
    if let Some(ListFilter::HereNow(at)) = &query.filter {
        let mut here = here_now(journeys, at, conversion);
        if !query.search.is_empty() {
            here.rows.retain(|r| {
                journeys
                    .customer_name(r.customer)
                    .to_lowercase()
                    .contains(&query.search)
            });
        }
        return here;
    }
    let mut rows = match (&grouped, selection) {
        (Some(Err(_)), _) => Vec::new(),
        (_, None) if query.filter.is_some() => Vec::new(),
        (Some(Ok(within)), selection) => customer_rows(within, selection, conversion),
        (None, selection) => customer_rows(journeys, selection, conversion),
    };
    if !query.search.is_empty() {
        rows.retain(|r| {
            journeys
                .customer_name(r.customer)
                .to_lowercase()
                .contains(&query.search)
        });
    }
    match query.sort {
        SortKey::Customer => rows.sort_by(|a, b| {
            journeys
                .customer_name(a.customer)
                .cmp(journeys.customer_name(b.customer))
        }),
        SortKey::Sessions => rows.sort_by_key(|r| (r.sessions, r.events)),
        SortKey::Events => rows.sort_by_key(|r| (r.events, r.sessions)),
        SortKey::LastTouchpoint => rows.sort_by(|a, b| {
            journeys
                .touchpoint_name(a.last_touchpoint)
                .cmp(journeys.touchpoint_name(b.last_touchpoint))
        }),
        SortKey::Converted => rows.sort_by_key(|r| r.converted),
    }
    if !query.ascending {
        rows.reverse();
    }
    CustomerList {
        conversion: conversion.map(|t| journeys.touchpoint_name(t).to_owned()),
        rows,
    }
}
