//! Alert rules, evaluated in event time: each rule is checked at every
//! step of event time once the stream has passed it by the allowed
//! lateness, on exactly the kept events up to that point, so a replayed
//! topic fires as it did live whatever its batches. A rule goes OK →
//! pending → firing → resolved (then OK); every change is one alert.

use serde::Serialize;

use super::compare::{CompareReport, CompareSpec, compare};
use super::journeys::Journeys;
use super::live::LiveEngine;
use super::segment::{Segment, SegmentError};

/// Event time kept beyond the rules' windows (see [`Alerts::keeps_us`]).
const REPLAY_SLACK_US: i64 = 24 * 3600 * 1_000_000;

/// How often (in event time) rules are checked.
pub const CHECK_EVERY_US: i64 = 60 * 1_000_000;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertKind {
    /// The share of the steps leaving `from` that go to `to`.
    TransitionShare {
        /// The touchpoint left.
        from: String,
        /// The touchpoint reached.
        to: String,
    },
    /// The share of the sessions visiting `touchpoint` that end there.
    ExitShare {
        /// The touchpoint.
        touchpoint: String,
    },
    /// Events per minute at `touchpoint`.
    Volume {
        /// The touchpoint.
        touchpoint: String,
    },
}

impl AlertKind {
    /// The rule file's name for it.
    pub fn name(&self) -> &'static str {
        match self {
            AlertKind::TransitionShare { .. } => "transition_share",
            AlertKind::ExitShare { .. } => "exit_share",
            AlertKind::Volume { .. } => "volume",
        }
    }
}

/// What a value is held against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// The same stretch this far back (the window itself: the previous
    /// window), with a relative `drop` or `rise` that must be significant.
    Back {
        /// µs back.
        back_us: i64,
        /// Fires when the value falls below baseline × (1 − drop).
        drop: Option<f64>,
        /// Fires when the value rises above baseline × (1 + rise).
        rise: Option<f64>,
    },
    /// Fixed bounds.
    Fixed {
        /// Fires below this.
        below: Option<f64>,
        /// Fires above this.
        above: Option<f64>,
    },
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Its name (alerts are keyed by it).
    pub name: String,
    /// What it watches.
    pub kind: AlertKind,
    /// Only these sessions.
    pub segment: Option<Segment>,
    /// The window, µs of event time.
    pub window_us: i64,
    /// What the value is held against.
    pub baseline: Baseline,
    /// Sessions needed in both windows (or in the window, fixed).
    pub min_sessions: u64,
    /// How long the condition must hold before firing, µs of event time.
    pub for_us: i64,
}

/// The state of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Its condition holds, not yet for long enough.
    Pending,
    /// Its condition has held for long enough.
    Firing,
    /// It was firing and its condition no longer holds.
    Resolved,
}

/// One change of a rule's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// The new state.
    pub state: AlertState,
    /// The rule's kind.
    pub kind: &'static str,
    /// What it watches: `from`/`to` or `touchpoint`.
    pub subject: serde_json::Value,
    /// The rule's segment expression, when it has one.
    pub segment: Option<String>,
    /// The value in the window.
    pub value: f64,
    /// What it was held against (the earlier window's value, or the bound).
    pub baseline: f64,
    /// value − baseline.
    pub change: f64,
    /// Sessions behind the value.
    pub sessions: u64,
    /// Sessions behind the baseline (0 for fixed bounds).
    pub baseline_sessions: u64,
    /// Two-proportion p-value of the change, when compared.
    pub p_value: Option<f64>,
    /// The window, seconds.
    pub window_s: f64,
    /// The event time checked (RFC 3339).
    pub event_time: String,
    /// When it was raised (RFC 3339, wall clock).
    pub wall_time: String,
    /// Where the events come from.
    pub source: String,
}

/// What one check of a rule found.
struct Reading {
    value: f64,
    baseline: f64,
    sessions: u64,
    baseline_sessions: u64,
    p_value: Option<f64>,
    holds: bool,
}

/// The rules and where each stands.
#[derive(Debug)]
pub struct Alerts {
    rules: Vec<AlertRule>,
    /// Per rule: pending since (µs), or firing.
    phase: Vec<Phase>,
    /// The next event time to check.
    next_check_us: Option<i64>,
    source: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Ok,
    Pending { since_us: i64 },
    Firing,
}

impl Alerts {
    /// Watches `rules` on events from `source`.
    pub fn new(rules: Vec<AlertRule>, source: &str) -> Alerts {
        Alerts {
            phase: vec![Phase::Ok; rules.len()],
            rules,
            next_check_us: None,
            source: source.to_owned(),
        }
    }

    /// The event time the engine must keep for the rules: their windows,
    /// and a day more, since rules are checked behind the newest event
    /// once a replay has caught up (its batches can span hours).
    pub fn keeps_us(&self) -> i64 {
        self.rules_keep_us() + REPLAY_SLACK_US
    }

    fn rules_keep_us(&self) -> i64 {
        self.rules
            .iter()
            .map(|r| match r.baseline {
                Baseline::Back { back_us, .. } => r.window_us + back_us,
                Baseline::Fixed { .. } => r.window_us,
            })
            .max()
            .unwrap_or(0)
            + CHECK_EVERY_US
    }

    /// Checks every step of event time the stream has passed (by the
    /// allowed lateness) since the last call; returns the changes.
    pub fn check(&mut self, engine: &LiveEngine) -> Result<Vec<Alert>, SegmentError> {
        let Some(newest) = engine.watermark_us() else {
            return Ok(Vec::new());
        };
        let settled = newest - engine.lateness_us();
        // The first check is the first step whose windows hold only kept
        // events.
        let Some(mut at) = self.next_check_us.or_else(|| {
            let oldest = engine.oldest_kept_us()?.max(engine.kept_from_us());
            let first = oldest + self.rules_keep_us();
            Some(first + (CHECK_EVERY_US - first.rem_euclid(CHECK_EVERY_US)) % CHECK_EVERY_US)
        }) else {
            return Ok(Vec::new());
        };
        let mut alerts = Vec::new();
        while at <= settled {
            for k in 0..self.rules.len() {
                let reading = read(&self.rules[k], engine, at)?;
                if let Some(alert) = self.step(k, at, reading) {
                    alerts.push(alert);
                }
            }
            at += CHECK_EVERY_US;
        }
        self.next_check_us = Some(at);
        Ok(alerts)
    }

    /// Moves rule `k` on with what was read at `at_us`.
    fn step(&mut self, k: usize, at_us: i64, reading: Option<Reading>) -> Option<Alert> {
        let rule = &self.rules[k];
        let holds = reading.as_ref().is_some_and(|r| r.holds);
        let (phase, state) = match (self.phase[k], holds) {
            (Phase::Ok, true) if rule.for_us == 0 => (Phase::Firing, Some(AlertState::Firing)),
            (Phase::Ok, true) => (
                Phase::Pending { since_us: at_us },
                Some(AlertState::Pending),
            ),
            (Phase::Pending { since_us }, true) if at_us - since_us >= rule.for_us => {
                (Phase::Firing, Some(AlertState::Firing))
            }
            (Phase::Firing, false) => (Phase::Ok, Some(AlertState::Resolved)),
            (Phase::Pending { .. }, false) => (Phase::Ok, None),
            (same, _) => (same, None),
        };
        self.phase[k] = phase;
        let (state, r) = (state?, reading?);
        Some(Alert {
            rule: rule.name.clone(),
            state,
            kind: rule.kind.name(),
            subject: match &rule.kind {
                AlertKind::TransitionShare { from, to } => {
                    serde_json::json!({"from": from, "to": to})
                }
                AlertKind::ExitShare { touchpoint } | AlertKind::Volume { touchpoint } => {
                    serde_json::json!({"touchpoint": touchpoint})
                }
            },
            segment: rule.segment.as_ref().map(|s| s.text.clone()),
            value: r.value,
            baseline: r.baseline,
            change: r.value - r.baseline,
            sessions: r.sessions,
            baseline_sessions: r.baseline_sessions,
            p_value: r.p_value,
            window_s: rule.window_us as f64 / 1e6,
            event_time: rfc3339(at_us),
            wall_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            source: self.source.clone(),
        })
    }
}

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Reads `rule` at event time `at_us` from the kept events before it; None
/// when too few sessions (or no such touchpoint) to say anything.
fn read(
    rule: &AlertRule,
    engine: &LiveEngine,
    at_us: i64,
) -> Result<Option<Reading>, SegmentError> {
    let start = at_us - rule.window_us;
    match rule.baseline {
        Baseline::Back {
            back_us,
            drop,
            rise,
        } => {
            let journeys = engine.recent_between(start - back_us, at_us).build();
            let a = within(rule, Segment::time(Some(start), None, String::new()));
            let b = within(
                rule,
                Segment::time(Some(start - back_us), Some(at_us - back_us), String::new()),
            );
            let report = compare(
                &journeys,
                &CompareSpec::Segments { a, b: Some(b) },
                None,
                None,
            )?;
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
        AlertKind::Volume { .. } => return None,
    };
    let enough = sessions >= rule.min_sessions && baseline_sessions >= rule.min_sessions;
    let significant = difference
        .q_value
        .is_some_and(|q| q < super::compare::SIGNIFICANCE);
    let fell = drop.is_some_and(|d| value < baseline * (1.0 - d));
    let rose = rise.is_some_and(|r| value > baseline * (1.0 + r));
    Some(Reading {
        value,
        baseline,
        sessions,
        baseline_sessions,
        p_value: difference.p_value,
        holds: enough && significant && (fell || rose),
    })
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
    let bound = below.or(above).unwrap_or(0.0);
    let holds = sessions >= rule.min_sessions
        && (below.is_some_and(|b| value < b) || above.is_some_and(|a| value > a));
    Some(Reading {
        value,
        baseline: bound,
        sessions,
        baseline_sessions: 0,
        p_value: None,
        holds,
    })
}
