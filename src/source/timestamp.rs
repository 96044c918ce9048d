//! Reading timestamps as they appear in real exports.
//!
//! Accepted: RFC 3339 / ISO 8601 with `T` or a space, with or without
//! fractional seconds and zone (`Z`, `+01:00`, `+0100`, `+01`);
//! `YYYY/MM/DD HH:MM:SS[.fff]`; a bare date; and epoch seconds (with a
//! fraction), milliseconds, microseconds or nanoseconds told apart by
//! magnitude. A time without zone is UTC unless a time zone is given.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// Parses timestamps into microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeParser {
    /// Zone of times written without one; None = UTC.
    pub timezone: Option<Tz>,
}

impl TimeParser {
    /// A parser that reads zoneless times in `timezone` (UTC if None).
    pub fn new(timezone: Option<Tz>) -> Self {
        TimeParser { timezone }
    }

    /// Parses text; None when it is not a timestamp.
    pub fn parse_str(&self, text: &str) -> Option<i64> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return None;
        }
        if bytes.len() >= 8 && bytes[4] == b'-' || bytes.len() >= 8 && bytes[4] == b'/' {
            return self.parse_calendar(bytes);
        }
        let number: f64 = text.parse().ok()?;
        epoch_to_us(number)
    }

    /// Reads a number as epoch seconds, ms, µs or ns by its magnitude.
    pub fn from_number(&self, number: f64) -> Option<i64> {
        epoch_to_us(number)
    }

    /// Converts a zoneless date-time (as µs since the epoch, read as if UTC)
    /// to a real instant using the configured zone.
    pub fn localize_us(&self, naive_us: i64) -> Option<i64> {
        let Some(tz) = self.timezone else {
            return Some(naive_us);
        };
        let naive = chrono::DateTime::from_timestamp_micros(naive_us)?.naive_utc();
        local_to_utc_us(tz, naive)
    }

    fn parse_calendar(&self, b: &[u8]) -> Option<i64> {
        let mut p = Cursor { b, i: 0 };
        let year = p.digits(4)? as i32;
        let sep = p.byte()?;
        let month = p.digits(2)?;
        if p.byte()? != sep {
            return None;
        }
        let day = p.digits(2)?;
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0);
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
                    micros = p.fraction_us()?;
                }
            }
        }
        let time = chrono::NaiveTime::from_hms_micro_opt(hour, minute, second.min(59), micros)?;
        let naive = NaiveDateTime::new(date, time);
        let leap_us = if second == 60 { 1_000_000 } else { 0 };
        while p.peek() == Some(b' ') {
            p.i += 1;
        }
        let us = match p.peek() {
            None => local_to_utc_us(self.timezone.unwrap_or(Tz::UTC), naive)?,
            Some(b'Z' | b'z') if p.i + 1 == b.len() => naive.and_utc().timestamp_micros(),
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
                if sign == b'+' {
                    utc - offset_us
                } else {
                    utc + offset_us
                }
            }
            Some(_) => return None,
        };
        Some(us + leap_us)
    }
}

fn local_to_utc_us(tz: Tz, naive: NaiveDateTime) -> Option<i64> {
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|dt| dt.timestamp_micros())
}

/// Epoch seconds below 10^11 (until the year 5138), milliseconds below
/// 10^14, microseconds below 10^17, nanoseconds beyond.
fn epoch_to_us(number: f64) -> Option<i64> {
    if !number.is_finite() {
        return None;
    }
    let magnitude = number.abs();
    let us = if magnitude < 1e11 {
        number * 1e6
    } else if magnitude < 1e14 {
        number * 1e3
    } else if magnitude < 1e17 {
        number
    } else {
        number / 1e3
    };
    Some(us.round() as i64)
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

    /// Fractional seconds with 1 to 9 digits, as microseconds (truncated).
    fn fraction_us(&mut self) -> Option<u32> {
        let start = self.i;
        let mut value = 0u64;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.i - start < 6 {
                value = value * 10 + (c - b'0') as u64;
            }
            self.i += 1;
        }
        let digits = self.i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..6 {
            value *= 10;
        }
        Some(value as u32)
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
