//! What a rule reads at one check: its value, what that is held against,
//! and whether its condition holds. Rules checked at the same minute share
//! the work ([`Shared`]): the journeys of a stretch of event time are built
//! once for every rule reading that stretch, and a segment of them, a
//! comparison or a funnel is computed once for every rule asking for it.

use crate::engine::compare::{CompareReport, Difference, compare_apart};
use crate::engine::conformance::ExpectedJourney;
use crate::engine::conformance_compare::compare_conformance_at;
use crate::engine::conformance_report::compute_conformance_at;
use crate::engine::funnel::{FunnelReport, FunnelSpec, compute_funnel};
use crate::engine::graph::{EdgeReport, NodeReport};
use crate::engine::journeys::Journeys;
use crate::engine::kept::KeptEvents;
use crate::engine::segment::{Segment, SegmentError};

use super::{AlertKind, AlertRule, Baseline, Lag, LagUnit};

/// What one check of a rule found.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reading {
    pub value: f64,
    pub baseline: f64,
    pub sessions: u64,
    pub baseline_sessions: u64,
    pub p_value: Option<f64>,
    pub holds: bool,
}

/// What the rules checked at one minute of event time share. Each rule
/// reads the journeys of the kept events of a stretch `[from, at)`; keep
/// one `Shared` for the rules reading the same stretch (what it holds is
/// as large as that stretch's events).
pub(super) struct Shared<'a> {
    engine: &'a dyn KeptEvents,
    at_us: i64,
    /// The journeys of `[from, to)`, by `(from, to)`.
    built: Vec<((i64, i64), Journeys)>,
    /// Those journeys within a segment, by `from` and segment.
    segmented: Vec<(i64, Option<Segment>, Segmented)>,
    /// Comparisons of a window against an earlier one.
    compared: Vec<(CompareKey, CompareReport)>,
    /// Events kept in `[from, at)`, by `from`.
    events: Vec<(i64, u64)>,
}

/// Journeys within a segment, and what rules read from them.
struct Segmented {
    journeys: Journeys,
    edges: Option<Vec<EdgeReport>>,
    nodes: Option<Vec<NodeReport>>,
    funnels: Vec<(Vec<String>, FunnelReport)>,
}

impl Segmented {
    fn edges(&mut self) -> &[EdgeReport] {
        let graph = &self.journeys.graph;
        self.edges.get_or_insert_with(|| graph.edge_reports())
    }

    fn nodes(&mut self) -> &[NodeReport] {
        let graph = &self.journeys.graph;
        self.nodes.get_or_insert_with(|| graph.node_reports())
    }

    fn funnel(&mut self, steps: &[String]) -> &FunnelReport {
        let k = match self.funnels.iter().position(|(s, _)| s == steps) {
            Some(k) => k,
            None => {
                let spec = FunnelSpec {
                    steps: steps.to_vec(),
                    within_us: None,
                };
                let report = compute_funnel(&self.journeys, &spec);
                self.funnels.push((steps.to_vec(), report));
                self.funnels.len() - 1
            }
        };
        &self.funnels[k].1
    }
}

/// What makes two rules' comparisons the same one.
struct CompareKey {
    window_us: i64,
    back_us: i64,
    segment: Option<Segment>,
    funnel: Option<Vec<String>>,
}

impl CompareKey {
    fn of(rule: &AlertRule, back_us: i64) -> CompareKey {
        CompareKey {
            window_us: rule.window_us,
            back_us,
            segment: rule.segment.clone(),
            funnel: funnel_of(&rule.kind).map(|f| f.steps),
        }
    }

    fn is(&self, rule: &AlertRule, back_us: i64) -> bool {
        self.window_us == rule.window_us
            && self.back_us == back_us
            && self.segment == rule.segment
            && match (&self.funnel, &rule.kind) {
                (Some(steps), AlertKind::FunnelStep { steps: theirs, .. }) => steps == theirs,
                (None, kind) => !matches!(kind, AlertKind::FunnelStep { .. }),
                (Some(_), _) => false,
            }
    }
}

impl<'a> Shared<'a> {
    /// Nothing read yet at event time `at_us`.
    pub fn new(engine: &'a dyn KeptEvents, at_us: i64) -> Shared<'a> {
        Shared {
            engine,
            at_us,
            built: Vec::new(),
            segmented: Vec::new(),
            compared: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The journeys of the kept events in `[from_us, at)`.
    fn built(&mut self, from_us: i64) -> &Journeys {
        let k = self.build(from_us, self.at_us);
        &self.built[k].1
    }

    /// Where the journeys of the kept events in `[from_us, to_us)` are,
    /// built when not yet.
    fn build(&mut self, from_us: i64, to_us: i64) -> usize {
        match self.built.iter().position(|(f, _)| *f == (from_us, to_us)) {
            Some(k) => k,
            None => {
                let journeys = self.engine.recent_between(from_us, to_us).build();
                self.built.push(((from_us, to_us), journeys));
                self.built.len() - 1
            }
        }
    }

    /// Those journeys within `segment`.
    fn segmented(
        &mut self,
        from_us: i64,
        segment: Option<&Segment>,
    ) -> Result<&mut Segmented, SegmentError> {
        let found = self
            .segmented
            .iter()
            .position(|(f, s, _)| *f == from_us && s.as_ref() == segment);
        let k = match found {
            Some(k) => k,
            None => {
                let journeys = self.built(from_us).with_segment(segment.cloned())?;
                let segmented = Segmented {
                    journeys,
                    edges: None,
                    nodes: None,
                    funnels: Vec::new(),
                };
                self.segmented.push((from_us, segment.cloned(), segmented));
                self.segmented.len() - 1
            }
        };
        Ok(&mut self.segmented[k].2)
    }

    /// The rule's window against the same stretch `back_us` earlier.
    fn compared(&mut self, rule: &AlertRule, back_us: i64) -> Result<&CompareReport, SegmentError> {
        let k = match self.compared.iter().position(|(c, _)| c.is(rule, back_us)) {
            Some(k) => k,
            None => {
                let (at, start) = (self.at_us, self.at_us - rule.window_us);
                let a = within(rule, Segment::time(Some(start), None, String::new()));
                let b = within(
                    rule,
                    Segment::time(Some(start - back_us), Some(at - back_us), String::new()),
                );
                let funnel = funnel_of(&rule.kind);
                // Each window as it stood at the same age: the earlier one
                // without the events after its own end, as the current one.
                let now = self.build(start, at);
                let before = self.build(start - back_us, at - back_us);
                let report = compare_apart(
                    (&self.built[now].1, a),
                    (&self.built[before].1, b),
                    funnel.as_ref(),
                    None,
                    false,
                )?;
                self.compared.push((CompareKey::of(rule, back_us), report));
                self.compared.len() - 1
            }
        };
        Ok(&self.compared[k].1)
    }

    /// Events kept in `[from_us, at)`.
    fn events(&mut self, from_us: i64) -> u64 {
        if let Some((_, n)) = self.events.iter().find(|(f, _)| *f == from_us) {
            return *n;
        }
        let n = self.engine.recent_between(from_us, self.at_us).events() as u64;
        self.events.push((from_us, n));
        n
    }
}

/// Reads `rule` at the event time `shared` stands at, from the kept
/// events before it; None when too few sessions (or no such touchpoint)
/// to say anything.
pub(super) fn read(
    rule: &AlertRule,
    shared: &mut Shared<'_>,
) -> Result<Option<Reading>, SegmentError> {
    let start = shared.at_us - rule.window_us;
    if rule.kind == AlertKind::RejectedRate {
        return Ok(rejected_rate(rule, shared, start));
    }
    if let AlertKind::Conformance { journey } = &rule.kind {
        return conformance(rule, journey, shared, start);
    }
    match rule.baseline {
        Baseline::Back {
            back_us,
            drop,
            rise,
        } => {
            let report = shared.compared(rule, back_us)?;
            Ok(compared(rule, report, drop, rise))
        }
        Baseline::Fixed { below, above } => {
            let segmented = shared.segmented(start, rule.segment.as_ref())?;
            Ok(fixed(rule, segmented, below, above))
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
        AlertKind::Volume { .. }
        | AlertKind::Lag { .. }
        | AlertKind::RejectedRate
        | AlertKind::Conformance { .. } => {
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
    window: &mut Segmented,
    below: Option<f64>,
    above: Option<f64>,
) -> Option<Reading> {
    let (value, sessions) = match &rule.kind {
        AlertKind::TransitionShare { from, to } => {
            let edges = window.edges();
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
            let node = window.nodes().iter().find(|n| n.name == *touchpoint)?;
            (
                node.exits as f64 / node.sessions.max(1) as f64,
                node.sessions,
            )
        }
        AlertKind::FunnelStep { steps, step } => {
            let report = window.funnel(steps);
            let previous = report.steps.get(step.checked_sub(1)?)?.customers;
            let reached = report.steps.get(*step)?;
            (reached.conversion_from_previous, previous)
        }
        AlertKind::Lag { .. } | AlertKind::RejectedRate | AlertKind::Conformance { .. } => {
            return None;
        }
        AlertKind::Volume { touchpoint } => {
            let events = window
                .nodes()
                .iter()
                .find(|n| n.name == *touchpoint)
                .map_or(0, |n| n.events);
            (
                events as f64 / (rule.window_us as f64 / 60e6),
                window.journeys.sessions,
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

/// The share of the sessions entering `journey` that keep to it. Against
/// the same stretch earlier: the window's sessions and the earlier ones,
/// each read at its own end (a session still open and on the journey is
/// entered and not conforming yet, in both alike). Against fixed bounds:
/// the sessions that started in a window as long, one session timeout
/// earlier, as they stand now (all but the longest have ended: a share of
/// sessions still going on would read low). `min_sessions` counts sessions
/// entered.
fn conformance(
    rule: &AlertRule,
    journey: &ExpectedJourney,
    shared: &mut Shared<'_>,
    start: i64,
) -> Result<Option<Reading>, SegmentError> {
    let at = shared.at_us;
    match rule.baseline {
        Baseline::Fixed { below, above } => {
            let now = shared.build(start, at);
            let timeout = shared.built[now].1.config.session_timeout_us.unwrap_or(0);
            let (from, to) = (start - timeout, at - timeout);
            let settled = shared.build(from, at);
            let sessions = within(rule, Segment::time(Some(from), Some(to), String::new()));
            let journeys = shared.built[settled].1.with_segment(Some(sessions))?;
            let report = compute_conformance_at(&journeys, journey, at);
            Ok(Some(against_bounds(
                report.rate,
                report.entered >= rule.min_sessions,
                report.entered,
                (below, above),
            )))
        }
        Baseline::Back {
            back_us,
            drop,
            rise,
        } => {
            let a = within(rule, Segment::time(Some(start), None, String::new()));
            let b = within(
                rule,
                Segment::time(Some(start - back_us), Some(at - back_us), String::new()),
            );
            let now = shared.build(start, at);
            let before = shared.build(start - back_us, at - back_us);
            let compared = compare_conformance_at(
                (&shared.built[now].1, a),
                (&shared.built[before].1, b),
                journey,
                (Some(at), Some(at - back_us)),
            )?;
            Ok(Some(against_before(
                rule,
                (compared.a.rate, compared.b.rate),
                (compared.a.entered, compared.b.entered),
                &compared.difference,
                (drop, rise),
            )))
        }
    }
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

/// The share of the records of `[from_us, at)` that were rejected (a
/// rejected record has the event time of the event before it on its
/// partition); `min_sessions` counts records here.
fn rejected_rate(rule: &AlertRule, shared: &mut Shared<'_>, from_us: i64) -> Option<Reading> {
    let Baseline::Fixed { below, above } = rule.baseline else {
        return None;
    };
    let rejected = shared.engine.rejected_between(from_us, shared.at_us);
    let records = rejected + shared.events(from_us);
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
