//! What a rule reads at one check: its value, what that is held against,
//! and whether its condition holds.

use crate::engine::compare::{CompareReport, Difference, compare_apart};
use crate::engine::funnel::{FunnelSpec, compute_funnel};
use crate::engine::journeys::Journeys;
use crate::engine::live::LiveEngine;
use crate::engine::segment::{Segment, SegmentError};

use super::{AlertKind, AlertRule, Baseline, Lag, LagUnit};

/// What one check of a rule found.
pub(super) struct Reading {
    pub value: f64,
    pub baseline: f64,
    pub sessions: u64,
    pub baseline_sessions: u64,
    pub p_value: Option<f64>,
    pub holds: bool,
}

/// Reads `rule` at event time `at_us` from the kept events before it; None
/// when too few sessions (or no such touchpoint) to say anything.
pub(super) fn read(
    rule: &AlertRule,
    engine: &LiveEngine,
    at_us: i64,
) -> Result<Option<Reading>, SegmentError> {
    let start = at_us - rule.window_us;
    if rule.kind == AlertKind::RejectedRate {
        return Ok(rejected_rate(rule, engine, start, at_us));
    }
    match rule.baseline {
        Baseline::Back {
            back_us,
            drop,
            rise,
        } => {
            // Each window as it stood at the same age: the earlier one
            // without the events after its own end, as the current one.
            let now = engine.recent_between(start, at_us).build();
            let before = engine
                .recent_between(start - back_us, at_us - back_us)
                .build();
            let a = within(rule, Segment::time(Some(start), None, String::new()));
            let b = within(
                rule,
                Segment::time(Some(start - back_us), Some(at_us - back_us), String::new()),
            );
            let funnel = funnel_of(&rule.kind);
            let report = compare_apart((&now, a), (&before, b), funnel.as_ref(), None)?;
            Ok(compared(rule, &report, drop, rise))
        }
        Baseline::Fixed { below, above } => {
            let journeys = engine.recent_between(start, at_us).build();
            let journeys = journeys.with_segment(rule.segment.clone())?;
            Ok(fixed(rule, &journeys, below, above))
        }
    }
}

/// `time` within the rule's segment: both must hold.
fn within(rule: &AlertRule, mut time: Segment) -> Segment {
    if let Some(segment) = &rule.segment {
        time.conditions.extend(segment.conditions.iter().cloned());
    }
    time
}

/// A reading against the earlier window: the row of the rule's subject.
fn compared(
    rule: &AlertRule,
    report: &CompareReport,
    drop: Option<f64>,
    rise: Option<f64>,
) -> Option<Reading> {
    let (value, baseline, sessions, baseline_sessions, difference) = match &rule.kind {
        AlertKind::TransitionShare { from, to } => {
            let row = report
                .edges
                .iter()
                .find(|e| e.from == *from && e.to == *to)?;
            (
                row.a.share,
                row.b.share,
                row.a.outflow,
                row.b.outflow,
                &row.difference,
            )
        }
        AlertKind::ExitShare { touchpoint } => {
            let row = report.nodes.iter().find(|n| n.name == *touchpoint)?;
            (
                row.a.exit_share,
                row.b.exit_share,
                row.a.sessions,
                row.b.sessions,
                &row.difference,
            )
        }
        AlertKind::FunnelStep { steps, step } => {
            let name = steps.get(*step)?;
            let row = report
                .funnel
                .as_ref()?
                .iter()
                .find(|s| s.touchpoint == *name)?;
            (
                row.a.conversion,
                row.b.conversion,
                row.a.previous,
                row.b.previous,
                &row.difference,
            )
        }
        AlertKind::Volume { .. } | AlertKind::Lag { .. } | AlertKind::RejectedRate => {
            return None;
        }
    };
    Some(against_before(
        rule,
        (value, baseline),
        (sessions, baseline_sessions),
        difference,
        (drop, rise),
    ))
}

/// A value against the earlier window's: the condition holds when both
/// windows have enough sessions, the change is significant and as large
/// as the rule asks.
fn against_before(
    rule: &AlertRule,
    (value, baseline): (f64, f64),
    (sessions, baseline_sessions): (u64, u64),
    difference: &Difference,
    (drop, rise): (Option<f64>, Option<f64>),
) -> Reading {
    let enough = sessions >= rule.min_sessions && baseline_sessions >= rule.min_sessions;
    let significant = difference
        .q_value
        .is_some_and(|q| q < crate::engine::compare::SIGNIFICANCE);
    let fell = drop.is_some_and(|d| value < baseline * (1.0 - d));
    let rose = rise.is_some_and(|r| value > baseline * (1.0 + r));
    Reading {
        value,
        baseline,
        sessions,
        baseline_sessions,
        p_value: difference.p_value,
        holds: enough && significant && (fell || rose),
    }
}

/// The funnel a funnel-step rule follows (None for other kinds).
fn funnel_of(kind: &AlertKind) -> Option<FunnelSpec> {
    match kind {
        AlertKind::FunnelStep { steps, .. } => Some(FunnelSpec {
            steps: steps.clone(),
            within_us: None,
        }),
        _ => None,
    }
}

/// A reading against fixed bounds, in the window alone.
fn fixed(
    rule: &AlertRule,
    journeys: &Journeys,
    below: Option<f64>,
    above: Option<f64>,
) -> Option<Reading> {
    let graph = &journeys.graph;
    let (value, sessions) = match &rule.kind {
        AlertKind::TransitionShare { from, to } => {
            let edges = graph.edge_reports();
            let edge = edges.iter().find(|e| e.from == *from && e.to == *to);
            let outflow: u64 = edges
                .iter()
                .filter(|e| e.from == *from)
                .map(|e| e.transitions)
                .sum();
            let taken = edge.map_or(0, |e| e.transitions);
            (taken as f64 / outflow.max(1) as f64, outflow)
        }
        AlertKind::ExitShare { touchpoint } => {
            let node = graph
                .node_reports()
                .into_iter()
                .find(|n| n.name == *touchpoint)?;
            (
                node.exits as f64 / node.sessions.max(1) as f64,
                node.sessions,
            )
        }
        AlertKind::FunnelStep { step, .. } => {
            let spec = funnel_of(&rule.kind)?;
            let report = compute_funnel(journeys, &spec);
            let previous = report.steps.get(step.checked_sub(1)?)?.customers;
            let reached = report.steps.get(*step)?;
            (reached.conversion_from_previous, previous)
        }
        AlertKind::Lag { .. } | AlertKind::RejectedRate => return None,
        AlertKind::Volume { touchpoint } => {
            let events = graph
                .node_reports()
                .into_iter()
                .find(|n| n.name == *touchpoint)
                .map_or(0, |n| n.events);
            (
                events as f64 / (rule.window_us as f64 / 60e6),
                journeys.sessions,
            )
        }
    };
    Some(against_bounds(
        value,
        sessions >= rule.min_sessions,
        sessions,
        (below, above),
    ))
}

/// A value against fixed bounds; the condition holds only when `enough`.
fn against_bounds(
    value: f64,
    enough: bool,
    sessions: u64,
    (below, above): (Option<f64>, Option<f64>),
) -> Reading {
    let outside = below.is_some_and(|b| value < b) || above.is_some_and(|a| value > a);
    Reading {
        value,
        baseline: below.or(above).unwrap_or(0.0),
        sessions,
        baseline_sessions: 0,
        p_value: None,
        holds: enough && outside,
    }
}

/// The share of the records of `[from_us, to_us)` that were rejected (a
/// rejected record has the event time of the event before it on its
/// partition); `min_sessions` counts records here.
fn rejected_rate(
    rule: &AlertRule,
    engine: &LiveEngine,
    from_us: i64,
    to_us: i64,
) -> Option<Reading> {
    let Baseline::Fixed { below, above } = rule.baseline else {
        return None;
    };
    let rejected = engine.rejected_between(from_us, to_us);
    let records = rejected + engine.recent_between(from_us, to_us).events() as u64;
    let share = rejected as f64 / records.max(1) as f64;
    Some(against_bounds(
        share,
        records >= rule.min_sessions.max(1),
        records,
        (below, above),
    ))
}

/// A lag rule's reading of how far behind the reader is.
pub(super) fn read_lag(rule: &AlertRule, lag: &Lag) -> Option<Reading> {
    let (AlertKind::Lag { unit }, Baseline::Fixed { below, above }) = (&rule.kind, rule.baseline)
    else {
        return None;
    };
    let value = match unit {
        LagUnit::Messages => lag.messages as f64,
        LagUnit::Seconds => lag.seconds,
    };
    Some(against_bounds(value, true, 0, (below, above)))
}
