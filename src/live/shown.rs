//! What a live window shows, decided in one place: since start (the
//! running totals over the recent past), the last minutes before the
//! newest event, or exactly the events of a fixed range; and the two
//! stretches it is compared with. Copies are taken on the loop's thread and
//! built wherever the caller likes (the window builds them on a thread of
//! their own, so that ingesting never waits for a snapshot).

use crate::engine::kept::KeptEvents;
use crate::engine::live_compare::{LiveComparison, StretchCopies};
use crate::engine::live_range::{RangeComparison, RangeError};
use crate::engine::{Journeys, RunningTotals, StagedCopy, active_sessions};

use super::LiveWindow;

/// The comparison asked for: of the last minutes, or of a fixed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The window against the same length earlier.
    Last(LiveComparison),
    /// A fixed range against the same length earlier.
    Range(RangeComparison),
}

/// The events of a window, copied from the engine, to build later.
pub struct ShownCopy {
    /// The events to build journeys from.
    staged: StagedCopy,
    /// Since start: the running totals to lay over them.
    running: Option<RunningTotals>,
    /// The moment open sessions are counted at (the newest event, or a
    /// range's end when that is earlier).
    open_at_us: Option<i64>,
    /// Why a fixed range cannot be shown (its journeys are then empty).
    pub window_problem: Option<RangeError>,
}

/// Copies what `window` shows. Since start, the customers and events of
/// the recent past come only `with_events` (a funnel or a customer list
/// needs them); a window or a range always has them.
pub fn copy_shown(engine: &dyn KeptEvents, window: LiveWindow, with_events: bool) -> ShownCopy {
    let newest = engine.watermark_us();
    let without = |window_problem| ShownCopy {
        staged: engine.without_events(),
        running: None,
        open_at_us: newest,
        window_problem,
    };
    match window {
        LiveWindow::Range(range) => match range.copy(engine) {
            Ok(staged) => ShownCopy {
                staged,
                running: None,
                open_at_us: newest.map(|n| n.min(range.to_us.saturating_sub(1))),
                window_problem: None,
            },
            Err(problem) => without(Some(problem)),
        },
        LiveWindow::Last(seconds) => match newest {
            Some(now) => ShownCopy {
                staged: engine.recent(Some(now - seconds as i64 * 1_000_000)),
                running: None,
                open_at_us: newest,
                window_problem: None,
            },
            None => without(None),
        },
        LiveWindow::SinceStart => ShownCopy {
            staged: match with_events {
                true => engine.recent(None),
                false => engine.without_events(),
            },
            running: Some(engine.running_totals()),
            open_at_us: newest,
            window_problem: None,
        },
    }
}

impl ShownCopy {
    /// The journeys and the open sessions by touchpoint id (last event
    /// within the session timeout), busiest first.
    pub fn build(self) -> (Journeys, Vec<(u32, u64)>) {
        let recent = self.staged.build();
        match self.running {
            Some(totals) => {
                let since_start = totals.over(recent);
                (since_start.journeys, since_start.active)
            }
            None => {
                let open = self
                    .open_at_us
                    .map_or_else(Vec::new, |now| active_sessions(&recent, now));
                (recent, open)
            }
        }
    }
}

/// Copies both stretches of `compared`: None before any event arrived; a
/// fixed range whose earlier stretch is not wholly kept says why.
pub fn copy_compared(
    engine: &dyn KeptEvents,
    compared: Compared,
) -> Result<Option<StretchCopies>, RangeError> {
    match compared {
        Compared::Last(c) => Ok(engine.watermark_us().map(|now| c.copy(engine, now))),
        Compared::Range(c) => c.copy(engine).map(Some),
    }
}
