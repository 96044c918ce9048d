//! Alert rules, evaluated in event time: each rule is checked at every
//! step of event time once the stream has passed it by the allowed
//! lateness, on exactly the kept events up to that point, so a replayed
//! topic fires as it did live whatever its batches. Lag rules, which watch
//! the reader rather than the events, are checked every second of wall
//! time. A rule goes OK → pending → firing → resolved (then OK); every
//! change is one alert.

mod reading;
#[cfg(test)]
mod shared_tests;

use super::conformance::ExpectedJourney;
use serde::Serialize;

use super::kept::KeptEvents;
use super::segment::{Segment, SegmentError};
use reading::{Reading, Shared, read, read_lag};

/// Event time kept beyond the rules' windows (see [`Alerts::keeps_us`]).
const REPLAY_SLACK_US: i64 = 24 * 3600 * 1_000_000;

/// How often (in event time) rules are checked.
pub const CHECK_EVERY_US: i64 = 60 * 1_000_000;

/// The work one check does at most before it hands back (the steps left
/// are checked at the next call), so that catching up on hours of event
/// time never holds ingesting up for long.
pub const CHECK_BUDGET: std::time::Duration = std::time::Duration::from_millis(20);

/// How often (in wall time) lag rules are checked.
pub const LAG_CHECK_EVERY_US: i64 = 1_000_000;

/// At most this many rules are watched: each is read at every minute of
/// event time, so their number bounds the work of a check.
pub const MAX_RULES: usize = 200;

/// A rule's name is at most this many characters (every alert carries it).
pub const MAX_RULE_NAME_CHARS: usize = 200;

/// The event time a rule may read back from the minute checked, its window
/// and its baseline together: the live engine keeps that much (and a day
/// more for replays) for the rules, so a longer one could never be read.
pub const MAX_RULE_SPAN_US: i64 = 7 * 24 * 3600 * 1_000_000;

/// What a lag rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagUnit {
    /// Messages on the brokers not read yet.
    Messages,
    /// Seconds the oldest unread message has waited.
    Seconds,
}

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
    /// The share of the customers reaching funnel step `step - 1` who go
    /// on to step `step` (in order, as the funnel counts them).
    FunnelStep {
        /// The funnel's touchpoints, in order.
        steps: Vec<String>,
        /// The step watched: an index into `steps`, at least 1.
        step: usize,
    },
    /// How far the reader is behind the brokers (fixed `above`).
    Lag {
        /// Messages or seconds.
        unit: LagUnit,
    },
    /// The share of the records in the window that were rejected (fixed
    /// `above`).
    RejectedRate,
    /// The share of the sessions entering an expected journey that keep to
    /// it (see `reading.rs` for which sessions each baseline reads).
    Conformance {
        /// The journey.
        journey: ExpectedJourney,
    },
}

impl AlertKind {
    /// The rule file's name for it.
    pub fn name(&self) -> &'static str {
        match self {
            AlertKind::TransitionShare { .. } => "transition_share",
            AlertKind::ExitShare { .. } => "exit_share",
            AlertKind::Volume { .. } => "volume",
            AlertKind::FunnelStep { .. } => "funnel_step",
            AlertKind::Lag { .. } => "lag",
            AlertKind::RejectedRate => "rejected_rate",
            AlertKind::Conformance { .. } => "conformance",
        }
    }

    /// Every kind's name, as the rule file spells it.
    pub const NAMES: [&'static str; 7] = [
        "transition_share",
        "exit_share",
        "funnel_step",
        "conformance",
        "volume",
        "lag",
        "rejected_rate",
    ];

    /// What it watches, as an alert names it.
    pub fn subject(&self) -> serde_json::Value {
        match self {
            AlertKind::TransitionShare { from, to } => serde_json::json!({"from": from, "to": to}),
            AlertKind::ExitShare { touchpoint } | AlertKind::Volume { touchpoint } => {
                serde_json::json!({"touchpoint": touchpoint})
            }
            AlertKind::FunnelStep { steps, step } => {
                serde_json::json!({"steps": steps, "step": steps.get(*step)})
            }
            AlertKind::Lag { unit } => serde_json::json!({"unit": match unit {
                LagUnit::Messages => "messages",
                LagUnit::Seconds => "seconds",
            }}),
            AlertKind::RejectedRate => serde_json::json!({}),
            AlertKind::Conformance { journey } => {
                serde_json::json!({"journey": journey.name, "steps": journey.to_string()})
            }
        }
    }

    /// True for the rules checked in wall time, on the reader.
    fn is_lag(&self) -> bool {
        matches!(self, AlertKind::Lag { .. })
    }
}

impl AlertRule {
    /// How far back from the minute checked the rule reads: its window,
    /// and its baseline's.
    fn reads_back_us(&self) -> i64 {
        match self.baseline {
            Baseline::Back { back_us, .. } => self.window_us.saturating_add(back_us),
            Baseline::Fixed { .. } => self.window_us,
        }
    }
}

/// How far the reader is behind the brokers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    /// Messages not read yet, every partition together.
    pub messages: u64,
    /// How long the oldest unread message has waited, seconds (0 when
    /// nothing is unread).
    pub seconds: f64,
}

/// What the stream says besides its events, at one check.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamState {
    /// Every partition is read to its end (event-time rules wait for it).
    pub caught_up: bool,
    /// How far behind the reader is.
    pub lag: Lag,
    /// Now, µs since the epoch (wall clock).
    pub wall_us: i64,
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
    /// The window, µs of event time (0 for lag rules).
    pub window_us: i64,
    /// What the value is held against.
    pub baseline: Baseline,
    /// Sessions needed in both windows (or in the window, fixed).
    pub min_sessions: u64,
    /// How long the condition must hold before firing, µs of event time.
    pub for_us: i64,
    /// Where its alerts are sent besides the screen and standard output
    /// (delivering them is the app's; the engine never reads this).
    pub outputs: RuleOutputs,
}

/// Where one rule's alerts are sent, as the rules file names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleOutputs {
    /// A Kafka topic each alert is produced to, keyed by the rule's name.
    pub topic: Option<String>,
    /// The topic's bootstrap servers (None: the watched stream's).
    pub brokers: Option<String>,
    /// A URL each alert's JSON is POSTed to.
    pub webhook: Option<String>,
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
    /// The value in the window (for lag: messages or seconds behind).
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

/// The rules and where each stands.
#[derive(Debug)]
pub struct Alerts {
    rules: Vec<AlertRule>,
    /// The event-time rules in the order they are read: those reading the
    /// same stretch of event time one after the other, to share its work.
    read_order: Vec<usize>,
    /// Per rule: pending since (µs), or firing.
    phase: Vec<Phase>,
    /// The next event time to check.
    next_check_us: Option<i64>,
    /// The next wall time to check lag rules.
    next_lag_check_us: i64,
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
            read_order: read_order(&rules),
            rules,
            next_check_us: None,
            next_lag_check_us: i64::MIN,
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
            .filter(|r| !r.kind.is_lag())
            .map(AlertRule::reads_back_us)
            .max()
            .unwrap_or(0)
            + CHECK_EVERY_US
    }

    /// The rules watched.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// Watches `rules` from now on. A rule of a name watched before keeps
    /// its state (edited while firing, it resolves at the next check its
    /// new condition does not hold); a new one starts at OK.
    pub fn set_rules(&mut self, rules: Vec<AlertRule>) {
        self.phase = rules
            .iter()
            .map(|r| {
                self.rules
                    .iter()
                    .position(|old| old.name == r.name)
                    .map_or(Phase::Ok, |k| self.phase[k])
            })
            .collect();
        self.read_order = read_order(&rules);
        self.rules = rules;
    }

    /// Checks lag rules when a second of wall time has passed, and, once
    /// the stream has caught up, every step of event time it has passed (by
    /// the allowed lateness) since the last call; returns the changes.
    pub fn check(
        &mut self,
        engine: &dyn KeptEvents,
        stream: &StreamState,
    ) -> Result<Vec<Alert>, SegmentError> {
        let mut alerts = self.check_lag(engine, stream);
        if stream.caught_up {
            alerts.extend(self.check_events(engine)?);
        }
        Ok(alerts)
    }

    fn check_lag(&mut self, engine: &dyn KeptEvents, stream: &StreamState) -> Vec<Alert> {
        if stream.wall_us < self.next_lag_check_us {
            return Vec::new();
        }
        self.next_lag_check_us = stream.wall_us + LAG_CHECK_EVERY_US;
        let at = engine.watermark_us().unwrap_or(0);
        let mut alerts = Vec::new();
        for k in 0..self.rules.len() {
            if !self.rules[k].kind.is_lag() {
                continue;
            }
            let reading = read_lag(&self.rules[k], &stream.lag);
            alerts.extend(self.step(k, stream.wall_us, at, reading));
        }
        alerts
    }

    fn check_events(&mut self, engine: &dyn KeptEvents) -> Result<Vec<Alert>, SegmentError> {
        if self.rules.iter().all(|r| r.kind.is_lag()) {
            return Ok(Vec::new());
        }
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
        let started = std::time::Instant::now();
        while at <= settled && started.elapsed() < CHECK_BUDGET {
            alerts.extend(self.check_at(engine, at)?);
            at += CHECK_EVERY_US;
        }
        self.next_check_us = Some(at);
        Ok(alerts)
    }

    /// Checks every event-time rule at `at_us`, the rules reading the same
    /// stretch of event time sharing its work; the changes in rule order.
    fn check_at(
        &mut self,
        engine: &dyn KeptEvents,
        at_us: i64,
    ) -> Result<Vec<Alert>, SegmentError> {
        let mut changes = Vec::new();
        let mut shared = Shared::new(engine, at_us);
        let mut stretch: Option<i64> = None;
        for i in 0..self.read_order.len() {
            let k = self.read_order[i];
            let reads_back_us = self.rules[k].reads_back_us();
            if stretch.is_some_and(|s| s != reads_back_us) {
                // Done with the last stretch: its journeys go.
                shared = Shared::new(engine, at_us);
            }
            stretch = Some(reads_back_us);
            let reading = read(&self.rules[k], &mut shared)?;
            if let Some(alert) = self.step(k, at_us, at_us, reading) {
                changes.push((k, alert));
            }
        }
        changes.sort_by_key(|(k, _)| *k);
        Ok(changes.into_iter().map(|(_, alert)| alert).collect())
    }

    /// True while steps of event time the stream has passed are still to
    /// be checked (a check does at most [`CHECK_BUDGET`] of work).
    pub fn is_behind(&self, engine: &dyn KeptEvents) -> bool {
        let Some(newest) = engine.watermark_us() else {
            return false;
        };
        let has_event_rules = self.rules.iter().any(|r| !r.kind.is_lag());
        has_event_rules
            && match self.next_check_us {
                Some(at) => at <= newest - engine.lateness_us(),
                None => engine.oldest_kept_us().is_some(),
            }
    }

    /// Moves rule `k` on with what was read at `at_us` (event time, or
    /// wall time for lag rules), when the stream stood at `event_us`.
    fn step(
        &mut self,
        k: usize,
        at_us: i64,
        event_us: i64,
        reading: Option<Reading>,
    ) -> Option<Alert> {
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
            subject: rule.kind.subject(),
            segment: rule.segment.as_ref().map(|s| s.text.clone()),
            value: r.value,
            baseline: r.baseline,
            change: r.value - r.baseline,
            sessions: r.sessions,
            baseline_sessions: r.baseline_sessions,
            p_value: r.p_value,
            window_s: rule.window_us as f64 / 1e6,
            event_time: rfc3339(event_us),
            wall_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            source: self.source.clone(),
        })
    }
}

/// The event-time rules, those reading the same stretch of event time
/// together (otherwise in their order).
fn read_order(rules: &[AlertRule]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rules.len())
        .filter(|k| !rules[*k].kind.is_lag())
        .collect();
    order.sort_by_key(|k| rules[*k].reads_back_us());
    order
}

pub(crate) fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::engine::LiveEngine;

    fn lag_rule(unit: LagUnit, above: f64, for_us: i64) -> AlertRule {
        AlertRule {
            name: "behind".into(),
            kind: AlertKind::Lag { unit },
            segment: None,
            window_us: 0,
            baseline: Baseline::Fixed {
                below: None,
                above: Some(above),
            },
            min_sessions: 0,
            for_us,
            outputs: RuleOutputs::default(),
        }
    }

    fn at(seconds: i64, messages: u64, behind_s: f64) -> StreamState {
        StreamState {
            caught_up: false,
            lag: Lag {
                messages,
                seconds: behind_s,
            },
            wall_us: 1_800_000_000_000_000 + seconds * 1_000_000,
        }
    }

    /// Lag rules go pending, firing and resolved in wall time, checked once
    /// a second, while the stream is still catching up.
    #[test]
    fn lag_fires_after_its_hold_and_resolves() {
        let engine = LiveEngine::new(EngineConfig::default(), 0);
        let mut alerts = Alerts::new(
            vec![lag_rule(LagUnit::Messages, 1000.0, 3_000_000)],
            "kafka://t",
        );
        let mut states = Vec::new();
        for (s, behind) in [
            (0, 10),
            (1, 5000),
            (1, 9000),
            (2, 5000),
            (4, 5000),
            (5, 20),
            (6, 20),
        ] {
            for alert in alerts.check(&engine, &at(s, behind, 0.0)).unwrap() {
                states.push((s, alert.state, alert.value));
            }
        }
        assert_eq!(
            states,
            vec![
                (1, AlertState::Pending, 5000.0),
                (4, AlertState::Firing, 5000.0),
                (5, AlertState::Resolved, 20.0)
            ]
        );
        // Seconds behind, on the rule that counts them.
        alerts.set_rules(vec![lag_rule(LagUnit::Seconds, 30.0, 0)]);
        let fired = alerts.check(&engine, &at(10, 5, 45.0)).unwrap();
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].state, fired[0].value), (AlertState::Firing, 45.0));
        assert_eq!(fired[0].subject, serde_json::json!({"unit": "seconds"}));
    }

    /// A rule kept by name keeps its state; a new name starts at OK.
    #[test]
    fn new_rules_keep_the_state_of_their_names() {
        let engine = LiveEngine::new(EngineConfig::default(), 0);
        let mut alerts = Alerts::new(vec![lag_rule(LagUnit::Messages, 10.0, 0)], "t");
        assert_eq!(alerts.check(&engine, &at(0, 50, 0.0)).unwrap().len(), 1);
        let mut renamed = lag_rule(LagUnit::Messages, 10.0, 0);
        renamed.name = "other".into();
        alerts.set_rules(vec![lag_rule(LagUnit::Messages, 100.0, 0), renamed]);
        let changes = alerts.check(&engine, &at(1, 50, 0.0)).unwrap();
        let named: Vec<(&str, AlertState)> =
            changes.iter().map(|a| (a.rule.as_str(), a.state)).collect();
        assert_eq!(
            named,
            vec![
                ("behind", AlertState::Resolved),
                ("other", AlertState::Firing)
            ]
        );
    }
}
