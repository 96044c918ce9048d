//! Now against before, live: the last stretch of event time compared with
//! the same stretch earlier (the window before it, an hour or a day back),
//! on the recent events the live engine keeps, with the comparison of the
//! insight views (shares of every step and exit, pooled z-test, q-values).

use super::compare::{CompareReport, compare_apart};
use super::ingest::StagedCopy;
use super::kept::KeptEvents;
use super::segment::{Segment, SegmentError};

/// The two stretches compared: the events of `[now − window, now]` against
/// those of `[now − back − window, now − back]`, where now is the newest
/// event time: each stretch as it stood at the same age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveComparison {
    /// The window, µs.
    pub window_us: i64,
    /// How far back the other window is, µs (the window itself for "the
    /// previous window").
    pub back_us: i64,
}

impl LiveComparison {
    /// How much event time the engine must keep for it.
    pub fn keeps_us(&self) -> i64 {
        self.window_us + self.back_us
    }

    /// The two groups when the newest event is at `now_us` (as labels: each
    /// stretch's journeys hold only its own events).
    pub fn sides(&self, now_us: i64) -> (Segment, Segment) {
        let start = now_us - self.window_us;
        let (b_from, b_to) = (start - self.back_us, now_us - self.back_us);
        let text = time_label;
        (
            Segment::time(Some(start), None, text(start, None)),
            // Up to and with its own "now", as the current stretch.
            Segment::time(Some(b_from), Some(b_to + 1), text(b_from, Some(b_to))),
        )
    }
}

/// A stretch's label: `time:FROM..TO` in UTC (TO empty when open).
pub(super) fn time_label(from_us: i64, to_us: Option<i64>) -> String {
    let at = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default()
    };
    format!(
        "time:{}..{}",
        at(from_us),
        to_us.map(at).unwrap_or_default()
    )
}

/// The events of both stretches of a comparison, copied from the engine
/// to be built and compared on another thread.
pub struct StretchCopies {
    /// The stretch ending at the newest event (or a range's end).
    now: StagedCopy,
    /// The earlier stretch, as it stood when it was as old.
    before: StagedCopy,
    /// Both stretches as labels (each one's journeys hold only its own
    /// events).
    sides: (Segment, Segment),
}

impl StretchCopies {
    /// Both stretches' copies with their labels.
    pub(super) fn new(now: StagedCopy, before: StagedCopy, sides: (Segment, Segment)) -> Self {
        StretchCopies { now, before, sides }
    }
}

impl LiveComparison {
    /// Both stretches' events as `engine` keeps them, the newest event at
    /// `now_us`. Like is compared with like: the earlier stretch holds only
    /// the events up to its own "now" (`now_us` less the step back), so its
    /// sessions have had exactly as long to go on as the current ones, and
    /// a steady stream shows no change.
    pub fn copy(&self, engine: &dyn KeptEvents, now_us: i64) -> StretchCopies {
        let start = now_us - self.window_us;
        StretchCopies {
            now: engine.recent_between(start, now_us + 1),
            before: engine.recent_between(start - self.back_us, now_us - self.back_us + 1),
            sides: self.sides(now_us),
        }
    }
}

impl StretchCopies {
    /// Builds both stretches' journeys and compares them, each significant
    /// row explained by the kept properties' values when `explain` is true.
    pub fn compare(self, explain: bool) -> Result<CompareReport, SegmentError> {
        let (a, b) = self.sides;
        compare_apart(
            (&self.now.build(), a),
            (&self.before.build(), b),
            None,
            None,
            explain,
        )
    }
}

/// Compares the two stretches of `spec` on the events `engine` keeps (see
/// [`LiveComparison::copy`]), significant rows explained when `explain` is
/// true; None before any event.
pub fn compare_windows(
    engine: &dyn KeptEvents,
    spec: &LiveComparison,
    explain: bool,
) -> Option<Result<CompareReport, SegmentError>> {
    let now = engine.watermark_us()?;
    Some(spec.copy(engine, now).compare(explain))
}
