//! What a live window, a comparison and the alert rules read of a stream:
//! its newest event, its kept past, and copies of the events of any
//! stretch of it with the running totals since start. One engine reading
//! a topic ([`LiveEngine`]) and the parts of a topic read by workers, put
//! together ([`super::merge::MergedEngine`]), are read alike.

use super::ingest::StagedCopy;
use super::live::{LiveEngine, RunningTotals};

/// A stream's kept events and totals, as the views and rules read them.
pub trait KeptEvents {
    /// The newest event time seen (µs since the epoch).
    fn watermark_us(&self) -> Option<i64>;
    /// The allowed lateness, in µs.
    fn lateness_us(&self) -> i64;
    /// Where the kept past starts.
    fn kept_from_us(&self) -> i64;
    /// Seconds of event time kept before the newest event.
    fn kept_s(&self) -> f64;
    /// The time of the oldest event kept (None when none is).
    fn oldest_kept_us(&self) -> Option<i64>;
    /// A copy of the kept events at or after `from_us` (the last hour when
    /// None).
    fn recent(&self, from_us: Option<i64>) -> StagedCopy;
    /// A copy of the kept events in `[from_us, to_us)`.
    fn recent_between(&self, from_us: i64, to_us: i64) -> StagedCopy;
    /// The names and counts without any event.
    fn without_events(&self) -> StagedCopy;
    /// The running totals as if the stream ended now.
    fn running_totals(&self) -> RunningTotals;
    /// Records rejected at event times in `[from_us, to_us)`.
    fn rejected_between(&self, from_us: i64, to_us: i64) -> u64;
}

impl KeptEvents for LiveEngine {
    fn watermark_us(&self) -> Option<i64> {
        LiveEngine::watermark_us(self)
    }
    fn lateness_us(&self) -> i64 {
        LiveEngine::lateness_us(self)
    }
    fn kept_from_us(&self) -> i64 {
        LiveEngine::kept_from_us(self)
    }
    fn kept_s(&self) -> f64 {
        LiveEngine::kept_s(self)
    }
    fn oldest_kept_us(&self) -> Option<i64> {
        LiveEngine::oldest_kept_us(self)
    }
    fn recent(&self, from_us: Option<i64>) -> StagedCopy {
        LiveEngine::recent(self, from_us)
    }
    fn recent_between(&self, from_us: i64, to_us: i64) -> StagedCopy {
        LiveEngine::recent_between(self, from_us, to_us)
    }
    fn without_events(&self) -> StagedCopy {
        LiveEngine::without_events(self)
    }
    fn running_totals(&self) -> RunningTotals {
        LiveEngine::running_totals(self)
    }
    fn rejected_between(&self, from_us: i64, to_us: i64) -> u64 {
        LiveEngine::rejected_between(self, from_us, to_us)
    }
}
