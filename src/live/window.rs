//! What part of event time the live screen shows: everything since start,
//! the last minutes (moving as events arrive), or a fixed range typed as
//! "from … to …" or "N minutes before" a moment, in the display time zone.

use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::engine::live_range::EventRange;
use crate::source::TimeParser;

const MINUTE_US: i64 = 60 * 1_000_000;

/// The window the live screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveWindow {
    /// Every event since start (the running totals).
    #[default]
    SinceStart,
    /// The last this many seconds before the newest event: it moves as
    /// events arrive.
    Last(u64),
    /// Exactly the events of a fixed range of event time.
    Range(EventRange),
}

impl LiveWindow {
    /// A window of the last `seconds` (0: since start), as the command line
    /// and the offered windows give it.
    pub fn of_seconds(seconds: u64) -> Self {
        match seconds {
            0 => LiveWindow::SinceStart,
            s => LiveWindow::Last(s),
        }
    }

    /// Its length in seconds (0 since start).
    pub fn seconds(&self) -> u64 {
        match self {
            LiveWindow::SinceStart => 0,
            LiveWindow::Last(s) => *s,
            LiveWindow::Range(r) => (r.len_us().max(0) as u64).div_ceil(1_000_000),
        }
    }

    /// The fixed range, when it is one.
    pub fn range(&self) -> Option<EventRange> {
        match self {
            LiveWindow::Range(r) => Some(*r),
            _ => None,
        }
    }

    /// In words, times in `zone`: "since start", "the last 15 minutes",
    /// "14:04–14:34 (30 minutes)".
    pub fn describe(&self, zone: Tz) -> String {
        match self {
            LiveWindow::SinceStart => "since start".into(),
            LiveWindow::Last(s) => format!("the last {}", crate::format::human_duration(*s as f64)),
            LiveWindow::Range(r) => format!(
                "{} ({})",
                range_text(*r, zone),
                crate::format::human_duration(r.len_us() as f64 / 1e6)
            ),
        }
    }
}

/// "14:04–14:34" in `zone`, with the dates when the range is not within
/// one day, and seconds when a bound has them.
pub fn range_text(range: EventRange, zone: Tz) -> String {
    let local =
        |us: i64| chrono::DateTime::from_timestamp_micros(us).map(|t| t.with_timezone(&zone));
    let (Some(from), Some(to)) = (local(range.from_us), local(range.to_us)) else {
        return String::new();
    };
    let whole_minutes = range.from_us % MINUTE_US == 0 && range.to_us % MINUTE_US == 0;
    let clock = if whole_minutes { "%H:%M" } else { "%H:%M:%S" };
    if from.date_naive() == to.date_naive() {
        format!("{}–{}", from.format(clock), to.format(clock))
    } else {
        let with_date = format!("%-d %b {clock}");
        format!("{}–{}", from.format(&with_date), to.format(&with_date))
    }
}

/// A moment typed in `zone`: `14:05` or `14:05:30` (the one nearest the
/// newest event, at `newest_us`), `2026-12-05 14:05`, or ISO 8601 with or
/// without a zone.
pub fn read_moment(text: &str, zone: Tz, newest_us: i64) -> Result<i64, String> {
    let text = text.trim();
    let not_a_time = || {
        format!(
            "`{text}` is not a time: write 14:05, 2026-12-05 14:05 or \
             2026-12-05T14:05:00Z (times without a zone are in {})",
            zone.name()
        )
    };
    if text.is_empty() {
        return Err("a time is missing: write 14:05 or 2026-12-05 14:05".into());
    }
    if let Ok(clock) = NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
    {
        let newest = chrono::DateTime::from_timestamp_micros(newest_us)
            .ok_or_else(not_a_time)?
            .with_timezone(&zone)
            .date_naive();
        // The same clock time on the newest event's day, the day before or
        // after: the one nearest the newest event.
        return [-1, 0, 1]
            .into_iter()
            .filter_map(|days| {
                let day = newest.checked_add_signed(chrono::Duration::days(days))?;
                let at = zone.from_local_datetime(&day.and_time(clock)).earliest()?;
                Some(at.timestamp_micros())
            })
            .min_by_key(|us| us.abs_diff(newest_us))
            .ok_or_else(not_a_time);
    }
    // Only calendar forms: a bare number would read as epoch seconds.
    let calendar = text.len() >= 8 && matches!(text.as_bytes()[4], b'-' | b'/');
    calendar
        .then(|| TimeParser::new(Some(zone)).parse_str(text))
        .flatten()
        .ok_or_else(not_a_time)
}

/// The range "from … to …", both typed in `zone` (see [`read_moment`]).
pub fn range_from_to(from: &str, to: &str, zone: Tz, newest_us: i64) -> Result<EventRange, String> {
    let from_us = read_moment(from, zone, newest_us).map_err(|e| format!("From: {e}"))?;
    let to_us = read_moment(to, zone, newest_us).map_err(|e| format!("To: {e}"))?;
    if to_us <= from_us {
        return Err("To must be after From".into());
    }
    Ok(EventRange { from_us, to_us })
}

/// The `minutes` before a moment typed in `zone` (see [`read_moment`]),
/// or, when `moment` is empty, up to and with the newest event.
pub fn range_before(
    minutes: &str,
    moment: &str,
    zone: Tz,
    newest_us: i64,
) -> Result<EventRange, String> {
    let minutes: f64 = minutes
        .trim()
        .parse()
        .ok()
        .filter(|m: &f64| m.is_finite() && *m > 0.0 && *m <= 1e7)
        .ok_or_else(|| format!("`{}` is not a number of minutes: write 30", minutes.trim()))?;
    let to_us = match moment.trim() {
        "" => newest_us.saturating_add(1),
        text => read_moment(text, zone, newest_us).map_err(|e| format!("Before: {e}"))?,
    };
    Ok(EventRange {
        from_us: to_us - (minutes * MINUTE_US as f64).round() as i64,
        to_us,
    })
}
