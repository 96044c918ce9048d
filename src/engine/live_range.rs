//! A fixed range of live event time: the journeys of exactly the events in
//! `[from, to)`, which do not move as events arrive, and that range
//! compared with the same length earlier (the range before it, an hour or
//! a day back), like with like.

use super::ingest::StagedCopy;
use super::kept::KeptEvents;
use super::live_compare::{StretchCopies, time_label};
use super::segment::Segment;

/// The events of `[from_us, to_us)` of event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRange {
    /// The first instant inside, µs since the epoch.
    pub from_us: i64,
    /// The first instant after it, µs since the epoch.
    pub to_us: i64,
}

/// Why a range (or the stretch it is compared with) cannot be shown whole.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeError {
    /// Its end is not after its start.
    Empty,
    /// No event has arrived yet.
    NoEvents,
    /// It starts after the newest event: nothing of it has arrived.
    AfterNewest {
        /// The newest event's time.
        newest_us: i64,
    },
    /// It starts before the kept past (events before it were forgotten).
    BeforeKept {
        /// Where the missing stretch starts.
        from_us: i64,
        /// Where the kept past starts.
        kept_from_us: i64,
        /// How much event time is kept, in seconds.
        kept_s: f64,
        /// True for the earlier stretch of a comparison.
        earlier: bool,
    },
    /// The earlier stretch of a comparison starts before the first event
    /// read: part of it was never seen.
    EarlierNotSeen {
        /// Where the earlier stretch starts.
        from_us: i64,
        /// The oldest event kept.
        first_us: i64,
    },
}

impl RangeError {
    /// What is wrong and what to do, times written by `at`.
    pub fn describe(&self, at: &dyn Fn(i64) -> String) -> String {
        let duration = |s: f64| crate::format::human_duration(s);
        match self {
            RangeError::Empty => {
                "the range ends before it starts: give an end after its start".into()
            }
            RangeError::NoEvents => {
                "no event has arrived yet: the range fills in as they do".into()
            }
            RangeError::AfterNewest { newest_us } => format!(
                "the range starts after the newest event ({}): nothing of it has arrived; \
                 pick an earlier start",
                at(*newest_us)
            ),
            RangeError::BeforeKept {
                from_us,
                kept_from_us,
                kept_s,
                earlier,
            } => format!(
                "{} starts at {}, before the kept past: only the last {} of event time are \
                 kept (from {}); {}",
                if *earlier {
                    "the earlier stretch"
                } else {
                    "the range"
                },
                at(*from_us),
                duration(*kept_s),
                at(*kept_from_us),
                if *earlier {
                    "compare with a nearer stretch, or pick a later range"
                } else {
                    "pick a later start"
                }
            ),
            RangeError::EarlierNotSeen { from_us, first_us } => format!(
                "the earlier stretch starts at {}, before the first event read ({}): it is not \
                 wholly seen, so it is not compared; read the topic from an earlier time, or \
                 compare with a nearer stretch",
                at(*from_us),
                at(*first_us)
            ),
        }
    }
}

impl std::fmt::Display for RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let utc = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default()
        };
        f.write_str(&self.describe(&utc))
    }
}

impl std::error::Error for RangeError {}

impl EventRange {
    /// Its length, µs.
    pub fn len_us(&self) -> i64 {
        self.to_us.saturating_sub(self.from_us)
    }

    /// Whether `engine` holds every event of the range it has seen: the
    /// range is not empty, starts at or before the newest event and inside
    /// the kept past.
    pub fn check(&self, engine: &dyn KeptEvents) -> Result<(), RangeError> {
        self.check_against(
            engine.watermark_us(),
            engine.kept_from_us(),
            engine.kept_s(),
        )
    }

    /// [`EventRange::check`] against an engine's newest event, the start of
    /// its kept past and how much it keeps (as a snapshot reports them).
    pub fn check_against(
        &self,
        newest_us: Option<i64>,
        kept_from_us: i64,
        kept_s: f64,
    ) -> Result<(), RangeError> {
        if self.to_us <= self.from_us {
            return Err(RangeError::Empty);
        }
        let newest_us = newest_us.ok_or(RangeError::NoEvents)?;
        if self.from_us > newest_us {
            return Err(RangeError::AfterNewest { newest_us });
        }
        if self.from_us < kept_from_us {
            return Err(RangeError::BeforeKept {
                from_us: self.from_us,
                kept_from_us,
                kept_s,
                earlier: false,
            });
        }
        Ok(())
    }

    /// A copy of exactly the events of the range, to build on another
    /// thread (its journeys are those of a file holding only them).
    pub fn copy(&self, engine: &dyn KeptEvents) -> Result<StagedCopy, RangeError> {
        self.check(engine)?;
        Ok(engine.recent_between(self.from_us, self.to_us))
    }
}

/// A range against the same length `back_us` earlier. Like is compared
/// with like: when the range goes on past the newest event, both stretches
/// end as far into themselves as the newest event is (so the earlier one
/// has had no more time than the current one), and both are equally long
/// and wholly kept, or there is no comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeComparison {
    /// The range shown.
    pub range: EventRange,
    /// How far back the earlier stretch is, µs (the range's length for
    /// "the range before it").
    pub back_us: i64,
}

impl RangeComparison {
    /// Where the earlier stretch starts: the engine must keep from there.
    pub fn keeps_from_us(&self) -> i64 {
        self.range.from_us.saturating_sub(self.back_us)
    }

    /// The two stretches compared, `[from, end)` each, when the newest
    /// event is at `newest_us`.
    pub fn stretches(&self, newest_us: i64) -> (EventRange, EventRange) {
        let end = self.range.to_us.min(newest_us.saturating_add(1));
        let now = EventRange {
            from_us: self.range.from_us,
            to_us: end,
        };
        let before = EventRange {
            from_us: self.keeps_from_us(),
            to_us: end.saturating_sub(self.back_us),
        };
        (now, before)
    }

    /// Both stretches' events, to be built and compared on another thread;
    /// an error says why they cannot be compared like with like.
    pub fn copy(&self, engine: &dyn KeptEvents) -> Result<StretchCopies, RangeError> {
        self.range.check(engine)?;
        let newest = engine.watermark_us().ok_or(RangeError::NoEvents)?;
        let (now, before) = self.stretches(newest);
        let kept_from_us = engine.kept_from_us();
        if before.from_us < kept_from_us {
            return Err(RangeError::BeforeKept {
                from_us: before.from_us,
                kept_from_us,
                kept_s: engine.kept_s(),
                earlier: true,
            });
        }
        if let Some(first_us) = engine.oldest_kept_us()
            && first_us > before.from_us
        {
            return Err(RangeError::EarlierNotSeen {
                from_us: before.from_us,
                first_us,
            });
        }
        let side = |r: EventRange| {
            Segment::time(
                Some(r.from_us),
                Some(r.to_us),
                time_label(r.from_us, Some(r.to_us)),
            )
        };
        Ok(StretchCopies::new(
            engine.recent_between(now.from_us, now.to_us),
            engine.recent_between(before.from_us, before.to_us),
            (side(now), side(before)),
        ))
    }
}
