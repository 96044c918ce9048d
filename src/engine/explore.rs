//! Questions the user asks of loaded journeys: which customers passed
//! through a touchpoint or a transition, and how each customer did.

use super::conformance::{DeviationKind, JourneyIds, Walk};
use super::event::{END, Event, START};
use super::journeys::Journeys;
use super::paths::{AnchorKind, path_view};
use super::walk::is_step;

/// A touchpoint or transition picked on the map (touchpoint ids as in
/// [`Journeys::touchpoint_id`]; [`START`] and [`END`] included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Sessions that visit this touchpoint.
    Touchpoint(u32),
    /// Sessions that take this step, START → first and last → END included.
    Transition(u32, u32),
    /// Sessions at `touchpoint` at `step` (1 = the first) of the paths
    /// view read from `anchor`, and then at `next` when it is given.
    PathStep {
        /// How the view reads a session.
        kind: AnchorKind,
        /// The anchor's touchpoint (for `From` and `To`).
        anchor: Option<u32>,
        /// The step, from 1.
        step: usize,
        /// The touchpoint at that step.
        touchpoint: u32,
        /// The touchpoint at the next step, for a link.
        next: Option<u32>,
    },
    /// Sessions that first leave an expected journey this way.
    Deviation {
        /// The journey.
        journey: JourneyIds,
        /// The step they were at.
        after: usize,
        /// How they left.
        kind: DeviationKind,
        /// The touchpoint that made them leave (END when they left).
        touchpoint: u32,
        /// In a stream: a session whose last event is at or after this is
        /// still open, so not (yet) `left`.
        open_after: Option<i64>,
    },
}

/// The steps of a session as the graph walks it: START, its events (repeats
/// merged when `collapse_repeats`), END.
pub fn session_steps(events: &[Event], collapse_repeats: bool) -> impl Iterator<Item = u32> + '_ {
    let mut previous = None;
    let middle = events.iter().filter_map(move |e| {
        if previous.is_some_and(|p| !is_step(p, e.touchpoint, collapse_repeats)) {
            return None;
        }
        previous = Some(e.touchpoint);
        Some(e.touchpoint)
    });
    std::iter::once(START)
        .chain(middle)
        .chain(std::iter::once(END))
}

impl Selection {
    /// True when the session part `events` passes through the selection.
    pub fn matches(&self, events: &[Event], collapse_repeats: bool) -> bool {
        match *self {
            Selection::Deviation {
                ref journey,
                after,
                kind,
                touchpoint,
                open_after,
            } => {
                let still_open = kind == DeviationKind::Left
                    && open_after.is_some_and(|t| events[events.len() - 1].time_us >= t);
                !still_open
                    && matches!(
                        journey.walk_events(events),
                        Walk::Deviates { after: a, kind: k, touchpoint: t, .. }
                            if a == after && k == kind && t == touchpoint
                    )
            }
            Selection::Touchpoint(t) => session_steps(events, collapse_repeats).any(|s| s == t),
            Selection::Transition(a, b) => {
                let mut previous = None;
                session_steps(events, collapse_repeats).any(|s| {
                    let hit = previous == Some(a) && s == b;
                    previous = Some(s);
                    hit
                })
            }
            Selection::PathStep {
                kind,
                anchor,
                step,
                touchpoint,
                next,
            } => path_view(events, kind, anchor, collapse_repeats).is_some_and(|view| {
                let at = |s: usize| s.checked_sub(1).and_then(|i| view.get(i)).map(|(t, _)| *t);
                at(step) == Some(touchpoint) && next.is_none_or(|n| at(step + 1) == Some(n))
            }),
        }
    }
}

/// One row of the customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerRow {
    /// Customer id (see [`Journeys::customer_name`]).
    pub customer: u32,
    /// Sessions in the graph (or, with a selection, through it).
    pub sessions: u32,
    /// Events in those sessions.
    pub events: u32,
    /// Touchpoint of the customer's latest event in the graph.
    pub last_touchpoint: u32,
    /// Time of that event (µs since the epoch).
    pub last_us: i64,
    /// Whether any of the customer's events is at the conversion touchpoint.
    pub converted: bool,
}

/// Customers with at least one session in the graph that passes through
/// `selection` (all of them when None); `conversion` is the touchpoint that
/// counts as converting.
pub fn customer_rows(
    journeys: &Journeys,
    selection: Option<Selection>,
    conversion: Option<u32>,
) -> Vec<CustomerRow> {
    let collapse = journeys.config.collapse_repeats;
    let mut rows: Vec<CustomerRow> = Vec::new();
    // The paths view reads whole sessions (it has its own anchors); the
    // map reads them cut at its anchors.
    let whole = matches!(
        selection,
        Some(Selection::PathStep { .. } | Selection::Deviation { .. })
    );
    let each = |f: &mut dyn FnMut(u32, &[Event])| {
        if whole {
            journeys.for_each_selected_session(f);
        } else {
            journeys.for_each_mapped_session(f);
        }
    };
    each(&mut |customer, part| {
        if selection
            .as_ref()
            .is_some_and(|s| !s.matches(part, collapse))
        {
            return;
        }
        let converted = conversion.is_some_and(|t| part.iter().any(|e| e.touchpoint == t));
        let (last, last_us) = (
            part[part.len() - 1].touchpoint,
            part[part.len() - 1].time_us,
        );
        match rows.last_mut() {
            Some(row) if row.customer == customer => {
                row.sessions += 1;
                row.events += part.len() as u32;
                row.last_touchpoint = last;
                row.last_us = last_us;
                row.converted |= converted;
            }
            _ => rows.push(CustomerRow {
                customer,
                sessions: 1,
                events: part.len() as u32,
                last_touchpoint: last,
                last_us,
                converted,
            }),
        }
    });
    rows
}

/// Open sessions by their current touchpoint: sessions whose last event is
/// within the session timeout before `now_us`, counted at that event's
/// touchpoint, busiest first.
pub fn active_sessions(journeys: &Journeys, now_us: i64) -> Vec<(u32, u64)> {
    let timeout = journeys.config.session_timeout_us.unwrap_or(i64::MAX);
    let mut counts = vec![0u64; journeys.touchpoint_count()];
    for (_, events) in journeys.customer_events() {
        let last = events[events.len() - 1];
        if now_us.saturating_sub(last.time_us) <= timeout {
            counts[last.touchpoint as usize] += 1;
        }
    }
    busiest_first(&counts)
}

/// Non-zero counts by touchpoint id as (id, count), largest first, then
/// by id.
pub(super) fn busiest_first(counts: &[u64]) -> Vec<(u32, u64)> {
    let mut busiest: Vec<(u32, u64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (t as u32, *n))
        .collect();
    busiest.sort_by_key(|(t, n)| (std::cmp::Reverse(*n), *t));
    busiest
}

/// Names that usually mean a customer converted, most telling first.
const CONVERSION_NAMES: &[&str] = &[
    "purchase",
    "order_completed",
    "order completed",
    "checkout_completed",
    "checkout completed",
    "conversion",
    "converted",
    "order",
    "sign_up",
    "signup",
];

/// The touchpoint that most likely means "converted" (a purchase, a
/// completed order…), if the data has one.
pub fn guess_conversion(journeys: &Journeys) -> Option<u32> {
    let names: Vec<(u32, String)> = (0..journeys.touchpoint_count() as u32)
        .filter(|&t| t != START && t != END)
        .map(|t| (t, journeys.touchpoint_name(t).to_lowercase()))
        .collect();
    CONVERSION_NAMES.iter().find_map(|wanted| {
        names
            .iter()
            .find(|(_, n)| n == wanted)
            .or_else(|| names.iter().find(|(_, n)| n.contains(wanted)))
            .map(|(t, _)| *t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Anchors, EngineConfig, EventBatch, JourneyBuilder, NewEvent};

    fn journeys(rows: &[(&str, &str, i64)], collapse: bool) -> Journeys {
        builder_with(rows, 10_000_000, collapse).finish()
    }

    const ROWS: &[(&str, &str, i64)] = &[
        ("a", "home", 0),
        ("a", "cart", 1),
        ("a", "purchase", 2),
        ("a", "home", 100),
        ("b", "home", 0),
        ("b", "search", 1),
        ("b", "search", 2),
        ("c", "search", 0),
        ("c", "cart", 3),
    ];

    /// The filtered list must hold exactly the customers the graph counts
    /// for every node and edge.
    #[test]
    fn filtered_customers_match_graph_counts() {
        for collapse in [false, true] {
            let j = journeys(ROWS, collapse);
            let id = |n: &str| j.touchpoint_id(n).unwrap();
            for node in j.graph.node_reports() {
                let rows = customer_rows(&j, Some(Selection::Touchpoint(id(&node.name))), None);
                assert_eq!(rows.len() as u64, node.customers, "{}", node.name);
                let sessions: u32 = rows.iter().map(|r| r.sessions).sum();
                assert_eq!(sessions as u64, node.sessions, "{}", node.name);
            }
            for edge in j.graph.edge_reports() {
                let sel = Selection::Transition(id(&edge.from), id(&edge.to));
                let rows = customer_rows(&j, Some(sel), None);
                assert_eq!(rows.len() as u64, edge.customers);
            }
        }
    }

    #[test]
    fn rows_count_sessions_events_and_conversion() {
        let j = journeys(ROWS, false);
        let conversion = guess_conversion(&j);
        assert_eq!(conversion, j.touchpoint_id("purchase"));
        let rows = customer_rows(&j, None, conversion);
        let a = rows
            .iter()
            .find(|r| j.customer_name(r.customer) == "a")
            .unwrap();
        assert_eq!((a.sessions, a.events, a.converted), (2, 4, true));
        assert_eq!(j.touchpoint_name(a.last_touchpoint), "home");
        let b = rows
            .iter()
            .find(|r| j.customer_name(r.customer) == "b")
            .unwrap();
        assert_eq!((b.sessions, b.events, b.converted), (1, 3, false));
    }

    fn builder(rows: &[(&str, &str, i64)]) -> JourneyBuilder {
        builder_with(rows, 10_000_000, false)
    }

    fn builder_with(
        rows: &[(&str, &str, i64)],
        lateness_us: i64,
        collapse_repeats: bool,
    ) -> JourneyBuilder {
        let mut batch = EventBatch::with_capacity(rows.len());
        for (customer, event, minute) in rows {
            batch.push(
                NewEvent {
                    customer,
                    event,
                    time_us: minute * 60_000_000,
                    event_id: None,
                    session_id: None,
                },
                Vec::new(),
            );
        }
        let mut builder = JourneyBuilder::new(EngineConfig {
            collapse_repeats,
            ..EngineConfig::default()
        });
        builder.set_lateness_us(lateness_us);
        builder.ingest_each(&batch, |_| true);
        builder
    }

    /// A window is exactly the journeys of the events inside it, and a
    /// snapshot leaves the builder able to go on.
    #[test]
    fn window_snapshots_equal_the_events_in_the_window() {
        let all = builder(ROWS);
        for from in [0, 1, 2, 3, 50, 200] {
            let inside: Vec<(&str, &str, i64)> =
                ROWS.iter().copied().filter(|r| r.2 >= from).collect();
            let window = all.copy_staged(Some(from * 60_000_000)).build();
            let reference = builder(&inside).finish();
            assert_eq!(window.graph.node_reports(), reference.graph.node_reports());
            assert_eq!(window.graph.edge_reports(), reference.graph.edge_reports());
            assert_eq!(
                (window.events, window.sessions, window.customers),
                (reference.events, reference.sessions, reference.customers)
            );
        }
        let whole = all.copy_staged(None).build();
        assert_eq!(
            whole.graph.edge_reports(),
            all.finish().graph.edge_reports()
        );
    }

    #[test]
    fn arrivals_out_of_order_are_counted() {
        // a's cart (minute 0) arrives after minute 100, b's home (minute 1)
        // after minute 2; c's events arrive in order.
        let rows = [
            ("a", "home", 100),
            ("a", "cart", 0),
            ("b", "search", 2),
            ("b", "home", 1),
            ("c", "cart", 3),
        ];
        // With 10 s of lateness both are late; with 5 minutes only a's is.
        assert_eq!(builder(&rows).out_of_order(), (2, 2));
        let tolerant = builder_with(&rows, 5 * 60_000_000, false);
        assert_eq!(tolerant.out_of_order(), (2, 1));
        // Either way every event is placed in order.
        assert_eq!(tolerant.finish().events, 5);
    }

    #[test]
    fn active_sessions_are_the_recent_last_events() {
        let j = journeys(ROWS, false);
        // At minute 101: a's last event (home, minute 100) is within 30
        // minutes; b (minute 2) and c (minute 3) are not.
        let active = active_sessions(&j, 101 * 60_000_000);
        assert_eq!(active, vec![(j.touchpoint_id("home").unwrap(), 1)]);
        // At minute 20 b (minute 2) and c (minute 3) are within 30 minutes,
        // and a's last event (minute 100) is not in the past at all.
        let early = active_sessions(&j, 20 * 60_000_000);
        let total: u64 = early.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn anchors_cut_sessions_and_rewalk_shares_events() {
        let j = journeys(ROWS, false);
        let search = j.touchpoint_id("search");
        let from = j.rewalk(
            j.config.session_timeout_us,
            false,
            Anchors {
                from: search,
                to: None,
            },
        );
        // Sessions with a search: b's and c's; both start at search.
        assert_eq!(from.sessions, 2);
        let start_edges: Vec<_> = from
            .graph
            .edge_reports()
            .into_iter()
            .filter(|e| e.from == "START")
            .collect();
        assert_eq!(start_edges.len(), 1);
        assert_eq!(start_edges[0].to, "search");
        let to_cart = j.rewalk(
            None,
            false,
            Anchors {
                from: None,
                to: j.touchpoint_id("cart"),
            },
        );
        // One session per customer; a and c reach the cart.
        assert_eq!((to_cart.sessions, to_cart.events), (2, 4));
        let one_session = j.rewalk(None, false, Anchors::default());
        assert_eq!(one_session.sessions, 3);
        assert_eq!(one_session.events, j.events);
    }

    #[test]
    fn a_session_still_open_has_not_left_yet() {
        // Minutes: a leaves the journey at home long ago, b is at home now.
        let j = journeys(
            &[("a", "home", 0), ("b", "home", 100), ("b", "home", 101)],
            false,
        );
        let journey = crate::engine::ExpectedJourney::parse(None, "home > cart").unwrap();
        let left = |open_after| Selection::Deviation {
            journey: JourneyIds::of(&journey, &j),
            after: 0,
            kind: DeviationKind::Left,
            touchpoint: END,
            open_after,
        };
        let listed = |s: Selection| customer_rows(&j, Some(s), None).len();
        assert_eq!(listed(left(None)), 2, "a file: both sessions ended");
        let now = 101 * 60_000_000;
        let open_after = crate::engine::conformance_report::open_after(&j, now);
        assert_eq!(listed(left(Some(open_after))), 1, "b is still on its way");
    }
}
