//! Per-customer triggers: rules that act on one customer in event time
//! (`stall`, `abandon`, `sequence`, `off_path`), each firing at most once
//! per rule, customer and session, with a stable id.
//!
//! One state machine per customer ([`state`]) applies the customer's
//! events in order and fires the rules as event time passes: a file's
//! backtest ([`backtest`]) feeds it each customer's sessions with the
//! file's last event time as the watermark, and a stream ([`runner`])
//! feeds it arrivals once its partition's watermark (the newest event time
//! read on the partition, less the allowed lateness) has passed them. So a
//! file and a topic holding the same events fire the same actions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::conformance::ExpectedJourney;
use super::segment::Segment;

pub mod backtest;
pub mod compiled;
mod fired;
mod props;
pub mod runner;
mod state;

pub use backtest::{Backtest, Keep, RuleBacktest, backtest};
pub use runner::{TriggerRunner, TriggerStats};

/// The most trigger rules one run watches (each session keeps a bit per
/// rule).
pub const MAX_TRIGGERS: usize = 64;

/// At most this many of a session's touchpoints are listed in an action's
/// path (the latest).
pub const PATH_LISTED: usize = 50;

/// What a trigger rule waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    /// The customer's latest event is at `at` and nothing follows within
    /// `after_us`.
    Stall {
        /// The touchpoint.
        at: String,
        /// How long nothing may follow.
        after_us: i64,
    },
    /// The session ended (an idle gap, or another session id) having done
    /// every one of `did`.
    Abandon {
        /// Touchpoints the session visited.
        did: Vec<String>,
    },
    /// `steps` in this order in one session (not necessarily adjacent),
    /// the first to the last within `within_us`.
    Sequence {
        /// The touchpoints, in order.
        steps: Vec<String>,
        /// At most this long from the (latest) first step to the last.
        within_us: Option<i64>,
    },
    /// The first deviation from an expected journey (or, when the session
    /// leaves it unfinished, its end).
    OffPath {
        /// The journey.
        journey: ExpectedJourney,
    },
}

impl TriggerKind {
    /// The kind's name in a rules file and an action.
    pub fn name(&self) -> &'static str {
        match self {
            TriggerKind::Stall { .. } => "stall",
            TriggerKind::Abandon { .. } => "abandon",
            TriggerKind::Sequence { .. } => "sequence",
            TriggerKind::OffPath { .. } => "off_path",
        }
    }

    /// Every kind's name, as a rules file writes them.
    pub const NAMES: [&'static str; 4] = ["stall", "abandon", "sequence", "off_path"];
}

/// A per-customer trigger rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRule {
    /// Its name: actions are keyed by it.
    pub name: String,
    /// What it waits for.
    pub kind: TriggerKind,
    /// It does not fire for a session that has visited any of these so
    /// far.
    pub unless: Vec<String>,
    /// Only sessions of this segment (read on the session so far).
    pub segment: Option<Segment>,
}

/// One action a trigger fired: what goes to a topic or a webhook, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Stable: the same rule, customer and session start give the same id
    /// in every run, so a consumer can drop a repeat.
    pub id: String,
    /// The rule's name.
    pub trigger: String,
    /// The rule's kind.
    pub kind: String,
    /// The customer (the pseudonym under `--pseudonymize`).
    pub customer: String,
    /// When the session began (RFC 3339, UTC).
    pub session_start: String,
    /// When, in event time, the rule fired.
    pub event_time: String,
    /// Where the customer was.
    pub at: String,
    /// The session's touchpoints so far (the latest [`PATH_LISTED`]).
    pub path: Vec<String>,
    /// The kept properties of the session's first event.
    pub properties: BTreeMap<String, String>,
    /// When the action was made (wall clock; a backtest leaves it empty).
    #[serde(default)]
    pub wall_time: String,
    /// Where the events came from.
    #[serde(default)]
    pub source: String,
    /// [`Action::event_time`] in µs, to count by day and minute.
    #[serde(skip)]
    pub event_us: i64,
}

/// The stable id of rule `rule`'s action for `customer`'s session begun
/// at `session_start_us`: the first 8 bytes of a SHA-256, in hex.
pub fn action_id(rule: &str, customer: &str, session_start_us: i64) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(rule.as_bytes());
    hash.update([0]);
    hash.update(customer.as_bytes());
    hash.update([0]);
    hash.update(session_start_us.to_le_bytes());
    let digest = hash.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_tell_rules_customers_and_sessions_apart() {
        let id = action_id("pricing stall", "c00042", 1_700_000_000_000_000);
        assert_eq!(id.len(), 16);
        assert_eq!(
            id,
            action_id("pricing stall", "c00042", 1_700_000_000_000_000)
        );
        assert_ne!(id, action_id("pricing stall", "c00042", 1));
        assert_ne!(
            id,
            action_id("pricing stal", "lc00042", 1_700_000_000_000_000)
        );
    }
}
