//! What every part of the engine shares: an event as it is kept, the
//! synthetic START and END of every session, and how events become
//! sessions and touchpoints. A leaf of the engine: it imports only the
//! touchpoint rules.

use super::rules::TouchpointRules;

/// Touchpoint id of the synthetic start of every session.
pub const START: u32 = 0;
/// Touchpoint id of the synthetic end (exit) of every session.
pub const END: u32 = 1;
/// Name of [`START`].
pub const START_NAME: &str = "START";
/// Name of [`END`].
pub const END_NAME: &str = "END";

/// True for the names of the synthetic START and END.
pub fn is_terminal_name(name: &str) -> bool {
    name == START_NAME || name == END_NAME
}

/// How events become sessions and touchpoints.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Idle gap after which a new session starts; None = one session per
    /// customer. Ignored when events carry a session id.
    pub session_timeout_us: Option<i64>,
    /// Rename, split and exclude rules.
    pub rules: TouchpointRules,
    /// Merge consecutive events of the same touchpoint into one step.
    pub collapse_repeats: bool,
    /// Properties whose value at each session's first event is kept, for
    /// segments (`channel` and every `--keep-property`).
    pub kept_properties: Vec<String>,
    /// Rejected records whose customer id could not be replaced by its
    /// pseudonym (a line that is not JSON, a row of the wrong width) keep
    /// no text in the sample (`--pseudonymize`).
    pub withhold_unmasked_records: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            session_timeout_us: Some(30 * 60 * 1_000_000),
            rules: TouchpointRules::default(),
            collapse_repeats: false,
            kept_properties: Vec::new(),
            withhold_unmasked_records: false,
        }
    }
}

/// One retained event: 16 bytes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    bytemuck::Zeroable,
)]
pub struct Event {
    /// When, in microseconds since the Unix epoch. Nanoseconds a source
    /// gives order a customer's events within a microsecond while they are
    /// staged, and are not kept: durations below a microsecond are below
    /// what is reported.
    pub time_us: i64,
    /// Customer id (see [`super::Journeys::customer_name`]).
    pub customer: u32,
    /// Touchpoint id (see [`super::Journeys::touchpoint_name`]).
    pub touchpoint: u32,
}
