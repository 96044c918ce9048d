//! Now against before, live: the last stretch of event time compared with
//! the same stretch earlier (the window before it, an hour or a day back),
//! on the recent events the live engine keeps, with the comparison of the
//! insight views (shares of every step and exit, pooled z-test, q-values).

use super::compare::{CompareReport, CompareSpec, compare};
use super::journeys::Journeys;
use super::live::LiveEngine;
use super::segment::{Segment, SegmentError};

/// The two stretches compared: sessions starting in `[now − window, now]`
/// against those starting in `[now − back − window, now − back)`, where
/// now is the newest event time.
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

    /// The two groups when the newest event is at `now_us`.
    pub fn sides(&self, now_us: i64) -> (Segment, Segment) {
        let start = now_us - self.window_us;
        let (b_from, b_to) = (start - self.back_us, now_us - self.back_us);
        let text = |from: i64, to: Option<i64>| {
            let at = |us: i64| {
                chrono::DateTime::from_timestamp_micros(us)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    .unwrap_or_default()
            };
            format!("time:{}..{}", at(from), to.map(at).unwrap_or_default())
        };
        (
            Segment::time(Some(start), None, text(start, None)),
            Segment::time(Some(b_from), Some(b_to), text(b_from, Some(b_to))),
        )
    }
}

/// Compares the two stretches of `spec` on the events `engine` keeps from
/// the earlier one's start (exactly the journeys of those events); None
/// before any event.
pub fn compare_windows(
    engine: &LiveEngine,
    spec: &LiveComparison,
) -> Option<Result<CompareReport, SegmentError>> {
    let now = engine.watermark_us()?;
    let journeys = engine.recent(Some(now - spec.keeps_us())).build();
    Some(compare_journeys(&journeys, spec, now))
}

/// Compares the two stretches of `spec`, the newest event at `now_us`, in
/// `journeys` (built from the events since the earlier one's start).
pub fn compare_journeys(
    journeys: &Journeys,
    spec: &LiveComparison,
    now_us: i64,
) -> Result<CompareReport, SegmentError> {
    let (a, b) = spec.sides(now_us);
    compare(
        journeys,
        &CompareSpec::Segments { a, b: Some(b) },
        None,
        None,
    )
}
