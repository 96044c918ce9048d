//! Reading timestamps as they appear in real exports.
//!
//! Accepted: RFC 3339 / ISO 8601 with `T` or a space, with or without
//! fractional seconds (to the nanosecond) and zone (`Z`, `+01:00`,
//! `+0100`, `+01`); `YYYY/MM/DD HH:MM:SS[.fff]`; a bare date; and epoch
//! numbers in the unit of their column (see [`super::epoch`]). A time
//! without zone is UTC unless a time zone is given.
//!
//! Times are read to the nanosecond: the engine keeps microseconds, and the
//! nanoseconds past them order the events of a customer within one.
//!
//! A local time the zone's clock skipped (a daylight-saving gap: 02:30 on
//! a night whose clocks jump from 02:00 to 03:00) is read as the instant of
//! the jump, and one it showed twice (an overlap: 02:30 on a night whose
//! clocks go back from 03:00 to 02:00) as the earlier of its instants;
//! each such time is counted ([`TimeAdjustment`]). Why the jump: a gap time
//! lies between the last time before the gap and the first after it, and
//! the jump is the one instant that lies between them too, so the order of
//! wall-clock times is kept (02:30 read with the offset before the jump
//! would land after 03:10, and with the offset after it before 01:50).
//! Several times in one gap all land on the jump, in source order.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::epoch::EpochUnit;
use crate::engine::TimeAdjustment;

/// Parses timestamps into microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeParser {
    /// Zone of times written without one; None = UTC.
    pub timezone: Option<Tz>,
    /// The unit of epoch numbers, decided for the time column; None = each
    /// number by its size (where no column was sampled).
    pub epoch_unit: Option<EpochUnit>,
}

/// A time as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTime {
    /// Microseconds since the Unix epoch.
    pub us: i64,
    /// Nanoseconds past `us` (0..=999).
    pub sub_us_ns: u16,
    /// Set when a local time had no single instant and was read by a rule.
    pub adjusted: Option<TimeAdjustment>,
}

impl ReadTime {
    fn exact((us, sub_us_ns): (i64, u16)) -> Self {
        ReadTime {
            us,
            sub_us_ns,
            adjusted: None,
        }
    }
}

/// Why a value is not a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// It does not read as a time at all.
    NotATime,
    /// An epoch number that, in `unit`, falls outside the years 1 to 9999;
    /// `of_column` when the unit is the column's, not the number's own.
    OutOfRange {
        /// The unit it was read in.
        unit: EpochUnit,
        /// True when the unit was decided for the column.
        of_column: bool,
    },
}

impl TimeError {
    /// Why `value` is not a time, for the rejected records.
    pub fn detail(self, value: &str) -> String {
        let value = crate::format::excerpt(value, 80);
        match self {
            TimeError::NotATime => format!("`{value}` is not a timestamp"),
            TimeError::OutOfRange {
                unit,
                of_column: true,
            } => format!(
                "`{value}` in {}, the unit of the time column, is outside the years 1 to 9999",
                unit.describe()
            ),
            TimeError::OutOfRange { unit, .. } => format!(
                "`{value}` read as {} is outside the years 1 to 9999",
                unit.describe()
            ),
        }
    }
}

impl TimeParser {
    /// A parser that reads zoneless times in `timezone` (UTC if None) and
    /// each epoch number by its size.
    pub fn new(timezone: Option<Tz>) -> Self {
        TimeParser {
            timezone,
            epoch_unit: None,
        }
    }

    /// The same parser reading epoch numbers in `unit` (None: by size).
    pub fn with_epoch_unit(self, unit: Option<EpochUnit>) -> Self {
        TimeParser {
            epoch_unit: unit,
            ..self
        }
    }

    /// Parses text to µs since the epoch; None when it is not a timestamp.
    pub fn parse_str(&self, text: &str) -> Option<i64> {
        self.read_str(text).ok().map(|t| t.us)
    }

    /// Reads text as a time, to the nanosecond.
    pub fn read_str(&self, text: &str) -> Result<ReadTime, TimeError> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(TimeError::NotATime);
        }
        if bytes.len() >= 8 && (bytes[4] == b'-' || bytes[4] == b'/') {
            return self.parse_calendar(bytes).ok_or(TimeError::NotATime);
        }
        let approximate: f64 = text.parse().map_err(|_| TimeError::NotATime)?;
        if !approximate.is_finite() {
            return Err(TimeError::NotATime);
        }
        let unit = self.unit_of(approximate);
        match unit.read_decimal(text) {
            Some(read) => Ok(ReadTime::exact(read)),
            // An exponent form (`1.7e9`): as the number it is.
            None => unit
                .read_float(approximate)
                .map(ReadTime::exact)
                .ok_or(self.out_of_range(unit)),
        }
    }

    /// Reads an epoch number in the column's unit (or by its size).
    pub fn read_number(&self, number: f64) -> Result<ReadTime, TimeError> {
        if !number.is_finite() {
            return Err(TimeError::NotATime);
        }
        let unit = self.unit_of(number);
        unit.read_float(number)
            .map(ReadTime::exact)
            .ok_or(self.out_of_range(unit))
    }

    /// Reads a whole epoch number exactly, in the column's unit (or by its
    /// size).
    pub fn read_integer(&self, number: i64) -> Result<ReadTime, TimeError> {
        let unit = self.unit_of(number as f64);
        unit.read_integer(i128::from(number))
            .map(ReadTime::exact)
            .ok_or(self.out_of_range(unit))
    }

    /// Reads a number as epoch seconds, ms, µs or ns (in the column's unit,
    /// or by its magnitude), to the µs.
    pub fn from_number(&self, number: f64) -> Option<i64> {
        self.read_number(number).ok().map(|t| t.us)
    }

    /// Converts a zoneless date-time (µs since the epoch read as if UTC,
    /// and nanoseconds past them) to a real instant in the configured zone.
    pub fn localize(&self, naive_us: i64, sub_us_ns: u16) -> Option<ReadTime> {
        let Some(tz) = self.timezone else {
            return Some(ReadTime::exact((naive_us, sub_us_ns)));
        };
        let naive = chrono::DateTime::from_timestamp_micros(naive_us)?.naive_utc();
        let (us, adjusted) = local_to_utc_us(tz, naive)?;
        Some(ReadTime {
            us,
            sub_us_ns: if adjusted == Some(TimeAdjustment::Gap) {
                0
            } else {
                sub_us_ns
            },
            adjusted,
        })
    }

    fn unit_of(&self, number: f64) -> EpochUnit {
        self.epoch_unit
            .unwrap_or_else(|| EpochUnit::by_size(number))
    }

    fn out_of_range(&self, unit: EpochUnit) -> TimeError {
        TimeError::OutOfRange {
            unit,
            of_column: self.epoch_unit.is_some(),
        }
    }

    fn parse_calendar(&self, b: &[u8]) -> Option<ReadTime> {
        let mut p = Cursor { b, i: 0 };
        let year = p.digits(4)? as i32;
        let sep = p.byte()?;
        let month = p.digits(2)?;
        if p.byte()? != sep {
            return None;
        }
        let day = p.digits(2)?;
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
        if p.peek()
            .is_some_and(|c| c == b'T' || c == b't' || c == b' ')
        {
            p.i += 1;
            hour = p.digits(2)?;
            if p.byte()? != b':' {
                return None;
            }
            minute = p.digits(2)?;
            if p.peek() == Some(b':') {
                p.i += 1;
                second = p.digits(2)?;
                if p.peek().is_some_and(|c| c == b'.' || c == b',') {
                    p.i += 1;
                    nanos = p.fraction_ns()?;
                }
            }
        }
        let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second.min(59), nanos)?;
        let naive = NaiveDateTime::new(date, time);
        let sub_us_ns = (nanos % 1000) as u16;
        let leap_us = if second == 60 { 1_000_000 } else { 0 };
        while p.peek() == Some(b' ') {
            p.i += 1;
        }
        let (us, adjusted) = match p.peek() {
            None => local_to_utc_us(self.timezone.unwrap_or(Tz::UTC), naive)?,
            Some(b'Z' | b'z') if p.i + 1 == b.len() => (naive.and_utc().timestamp_micros(), None),
            Some(sign @ (b'+' | b'-')) => {
                p.i += 1;
                let hours = p.digits(2)? as i64;
                let minutes = match p.peek() {
                    None => 0,
                    Some(b':') => {
                        p.i += 1;
                        p.digits(2)? as i64
                    }
                    Some(_) => p.digits(2)? as i64,
                };
                if p.i != b.len() || hours > 23 || minutes > 59 {
                    return None;
                }
                let offset_us = (hours * 3600 + minutes * 60) * 1_000_000;
                let utc = naive.and_utc().timestamp_micros();
                let us = if sign == b'+' {
                    utc - offset_us
                } else {
                    utc + offset_us
                };
                (us, None)
            }
            Some(_) => return None,
        };
        Some(ReadTime {
            us: us + leap_us,
            // Every time of a gap lands on the jump: nanoseconds would
            // order them by a part of their time and not by the rest.
            sub_us_ns: if adjusted == Some(TimeAdjustment::Gap) {
                0
            } else {
                sub_us_ns
            },
            adjusted,
        })
    }
}

/// A wall-clock time in `tz` as µs since the epoch, and the rule it was
/// read by when the clock skipped it or showed it twice (see the module's
/// documentation).
fn local_to_utc_us(tz: Tz, naive: NaiveDateTime) -> Option<(i64, Option<TimeAdjustment>)> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some((t.timestamp_micros(), None)),
        LocalResult::Ambiguous(earlier, _) => {
            Some((earlier.timestamp_micros(), Some(TimeAdjustment::Overlap)))
        }
        LocalResult::None => Some((jump_after(tz, naive)?, Some(TimeAdjustment::Gap))),
    }
}

/// The instant (µs) at which `tz`'s clock jumped over the local time
/// `naive`: the first whose wall-clock time is later than it.
fn jump_after(tz: Tz, naive: NaiveDateTime) -> Option<i64> {
    let target_us = naive.and_utc().timestamp_micros();
    let target_s = naive.and_utc().timestamp();
    // The wall-clock time of instant `s` (whole seconds), in µs.
    let wall_us = |s: i64| -> Option<i64> {
        let utc = chrono::DateTime::from_timestamp(s, 0)?.naive_utc();
        let offset_s = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
        Some((s + i64::from(offset_s)) * 1_000_000)
    };
    // No zone is more than 15 hours from UTC, nor jumps by more than a
    // day: the jump lies within a day and a bit on either side.
    let (mut before, mut after) = (target_s - 26 * 3600, target_s + 26 * 3600);
    if wall_us(before)? > target_us || wall_us(after)? <= target_us {
        return None;
    }
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if wall_us(middle)? > target_us {
            after = middle;
        } else {
            before = middle;
        }
    }
    Some(after * 1_000_000)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let c = self.byte()?;
            if !c.is_ascii_digit() {
                return None;
            }
            value = value * 10 + (c - b'0') as u32;
        }
        Some(value)
    }

    /// Fractional seconds with one digit or more, as nanoseconds (digits
    /// past the ninth are cut).
    fn fraction_ns(&mut self) -> Option<u32> {
        let start = self.i;
        let mut value = 0u32;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.i - start < 9 {
                value = value * 10 + (c - b'0') as u32;
            }
            self.i += 1;
        }
        let digits = self.i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            value *= 10;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Option<i64> {
        TimeParser::default().parse_str(s)
    }

    fn us(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micro: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, micro)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    #[test]
    fn iso_forms_with_and_without_zone() {
        let t = us(2010, 12, 30, 13, 32, 0, 0);
        assert_eq!(utc("2010-12-30 14:32:00+01:00"), Some(t));
        assert_eq!(utc("2010-12-30T14:32:00+0100"), Some(t));
        assert_eq!(utc("2010-12-30T14:32:00+01"), Some(t));
        assert_eq!(utc("2010-12-30T13:32:00Z"), Some(t));
        assert_eq!(utc("2010-12-30 13:32:00"), Some(t));
        assert_eq!(utc("2010-12-30T13:32"), Some(t));
        assert_eq!(
            utc("2011-10-11 13:45:40.276000+02:00"),
            Some(us(2011, 10, 11, 11, 45, 40, 276_000))
        );
    }

    #[test]
    fn slashed_dates_and_fractions() {
        assert_eq!(
            utc("2014/10/22 11:15:41.000"),
            Some(us(2014, 10, 22, 11, 15, 41, 0))
        );
        assert_eq!(
            utc("2026-11-27T10:15:00.123456789Z"),
            Some(us(2026, 11, 27, 10, 15, 0, 123_456))
        );
        assert_eq!(utc("2026-11-27"), Some(us(2026, 11, 27, 0, 0, 0, 0)));
    }

    #[test]
    fn epoch_units_by_magnitude() {
        let t = 1_396_437_466_940_000;
        assert_eq!(utc("1396437466.94"), Some(t));
        assert_eq!(utc("1396437466940"), Some(t));
        assert_eq!(utc("1396437466940000"), Some(t));
        assert_eq!(utc("1396437466940000000"), Some(t));
        assert_eq!(
            TimeParser::default().from_number(1659304800025.0),
            Some(1_659_304_800_025_000)
        );
    }

    #[test]
    fn zoneless_times_follow_the_given_zone() {
        let parser = TimeParser::new(Some(chrono_tz::Europe::Amsterdam));
        assert_eq!(
            parser.parse_str("2014/10/22 11:15:41.000"),
            Some(us(2014, 10, 22, 9, 15, 41, 0))
        );
        assert_eq!(
            parser.parse_str("2014-10-22T11:15:41Z"),
            Some(us(2014, 10, 22, 11, 15, 41, 0))
        );
    }

    #[test]
    fn fractions_are_read_to_the_nanosecond() {
        let read = |s: &str| TimeParser::default().read_str(s).unwrap();
        let t = read("2026-11-27T10:15:00.123456789Z");
        assert_eq!(
            (t.us, t.sub_us_ns),
            (us(2026, 11, 27, 10, 15, 0, 123_456), 789)
        );
        // Before 1970 too, a later nanosecond is a later time.
        let t = read("1969-12-31T23:59:59.9999995Z");
        assert_eq!((t.us, t.sub_us_ns), (-1, 500));
        let t = read("1790000000.000000002");
        assert_eq!((t.us, t.sub_us_ns), (1_790_000_000_000_000, 2));
        let t = TimeParser::default().read_integer(1_790_000_000_000_000_001);
        assert_eq!(t.map(|t| t.sub_us_ns), Ok(1));
    }

    #[test]
    fn epoch_numbers_follow_their_columns_unit() {
        let seconds = TimeParser::default().with_epoch_unit(Some(EpochUnit::Seconds));
        let end_of_9999 = us(9999, 12, 31, 23, 59, 59, 0);
        assert_eq!(seconds.parse_str("253402300799"), Some(end_of_9999));
        assert_eq!(seconds.from_number(253_402_300_799.0), Some(end_of_9999));
        // By its size alone, it is a millisecond of 1978.
        assert_eq!(
            TimeParser::default().parse_str("253402300799"),
            Some(253_402_300_799_000)
        );
        let error = seconds.read_str("1790000000000").unwrap_err();
        assert_eq!(
            error,
            TimeError::OutOfRange {
                unit: EpochUnit::Seconds,
                of_column: true
            }
        );
        assert!(
            error
                .detail("1790000000000")
                .contains("the unit of the time column")
        );
    }

    #[test]
    fn a_skipped_local_time_is_the_jump_and_an_ambiguous_one_the_earlier() {
        let berlin = TimeParser::new(Some(chrono_tz::Europe::Berlin));
        let read = |s: &str| berlin.read_str(s).unwrap();
        let exact = |us| ReadTime {
            us,
            sub_us_ns: 0,
            adjusted: None,
        };
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST, at 01:00 UTC.
        let jump = us(2026, 3, 29, 1, 0, 0, 0);
        assert_eq!(
            read("2026-03-29 02:30:00.000000007"),
            ReadTime {
                us: jump,
                sub_us_ns: 0,
                adjusted: Some(TimeAdjustment::Gap)
            }
        );
        assert_eq!(
            read("2026-03-29 02:00:00").adjusted,
            Some(TimeAdjustment::Gap)
        );
        assert_eq!(read("2026-03-29 01:59:59.999999"), exact(jump - 1));
        assert_eq!(read("2026-03-29 03:00:00"), exact(jump));
        // 2026-10-25: 03:00 CEST goes back to 02:00 CET, at 01:00 UTC.
        assert_eq!(
            read("2026-10-25T02:30:00"),
            ReadTime {
                us: us(2026, 10, 25, 0, 30, 0, 0),
                sub_us_ns: 0,
                adjusted: Some(TimeAdjustment::Overlap)
            }
        );
        assert_eq!(
            read("2026-10-25T03:00:00"),
            exact(us(2026, 10, 25, 2, 0, 0, 0))
        );
        // Native zoneless times (DuckDB's TIMESTAMP) follow the same rules.
        let naive = us(2026, 3, 29, 2, 30, 0, 0);
        assert_eq!(berlin.localize(naive, 5).map(|t| t.us), Some(jump));
        // A time with its own offset is never adjusted.
        assert_eq!(
            read("2026-03-29T02:30:00+01:00"),
            exact(us(2026, 3, 29, 1, 30, 0, 0))
        );
        // Samoa skipped a whole day: 2011-12-29 24:00 at -10 became
        // 2011-12-31 00:00 at +14, both 2011-12-30T10:00Z.
        let apia = TimeParser::new(Some(chrono_tz::Pacific::Apia));
        assert_eq!(
            apia.read_str("2011-12-30 12:00").unwrap(),
            ReadTime {
                us: us(2011, 12, 30, 10, 0, 0, 0),
                sub_us_ns: 0,
                adjusted: Some(TimeAdjustment::Gap)
            }
        );
    }

    #[test]
    fn garbage_is_not_a_time() {
        for s in [
            "",
            "not-a-time",
            "2014-13-01",
            "2014-02-30",
            "2014-10-22X",
            "12:00",
            "NaN",
            "2014-10-22 25:00",
        ] {
            assert_eq!(utc(s), None, "{s}");
        }
    }
}
