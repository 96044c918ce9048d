//! Epoch numbers: seconds, milliseconds, microseconds or nanoseconds since
//! 1970, and which of them a time column holds.
//!
//! One value cannot say its unit: `253402300799` is the last second of the
//! year 9999, or a millisecond of 1978. A column can: its unit is decided
//! once from the values detection samples (see [`EpochUnit::of_column`])
//! and every value of the column is read in it. Only where no column was
//! sampled (a stream whose columns were all given before any message came)
//! is each number read by its own size ([`EpochUnit::by_size`]).

use serde::{Deserialize, Serialize};

use crate::engine::{EARLIEST_US, LATEST_US};

/// The unit of a column of epoch numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochUnit {
    /// Seconds since 1970 (with a fraction or not).
    Seconds,
    /// Milliseconds since 1970.
    Milliseconds,
    /// Microseconds since 1970.
    Microseconds,
    /// Nanoseconds since 1970.
    Nanoseconds,
}

/// 1970-01-01 and 2100-01-01 in seconds: the years real event times fall in.
const RECENT_S: std::ops::Range<f64> = 0.0..4_102_444_800.0;

impl EpochUnit {
    /// Every unit, coarsest first.
    pub const ALL: [EpochUnit; 4] = [
        EpochUnit::Seconds,
        EpochUnit::Milliseconds,
        EpochUnit::Microseconds,
        EpochUnit::Nanoseconds,
    ];

    /// Nanoseconds in one unit.
    fn ns(self) -> i128 {
        match self {
            EpochUnit::Seconds => 1_000_000_000,
            EpochUnit::Milliseconds => 1_000_000,
            EpochUnit::Microseconds => 1_000,
            EpochUnit::Nanoseconds => 1,
        }
    }

    /// "epoch seconds", for people.
    pub fn describe(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "epoch seconds",
            EpochUnit::Milliseconds => "epoch milliseconds",
            EpochUnit::Microseconds => "epoch microseconds",
            EpochUnit::Nanoseconds => "epoch nanoseconds",
        }
    }

    /// The unit one number suggests by its size alone: seconds below 10^11
    /// (until the year 5138), milliseconds below 10^14, microseconds below
    /// 10^17, nanoseconds beyond. Used only where no column was sampled.
    pub fn by_size(number: f64) -> EpochUnit {
        match number.abs() {
            m if m < 1e11 => EpochUnit::Seconds,
            m if m < 1e14 => EpochUnit::Milliseconds,
            m if m < 1e17 => EpochUnit::Microseconds,
            _ => EpochUnit::Nanoseconds,
        }
    }

    /// The coarsest unit under which `number` falls between 1970 and 2100,
    /// if any.
    fn coarsest_recent(number: f64) -> Option<EpochUnit> {
        EpochUnit::ALL
            .into_iter()
            .find(|u| RECENT_S.contains(&(number * u.ns() as f64 / 1e9)))
    }

    /// The unit of a column of times, from the values sampled from it
    /// (text; those that are not plain numbers, such as ISO times, are left
    /// out); None when none is a number.
    ///
    /// Each number counts for the coarsest unit under which it falls
    /// between 1970 and 2100 (a number that does in seconds also does in
    /// milliseconds, in January 1970: seconds are what it most likely is).
    /// The unit with the most numbers wins, the coarser on a tie: numbers
    /// of a finer unit then fall after the year 9999 and are rejected,
    /// where the other way round they would pass as days of 1970. So a
    /// column of epoch seconds that holds `253402300799` (the end of 9999,
    /// which counts for milliseconds) is seconds, all of it. When no
    /// number falls between 1970 and 2100 in any unit, each counts for the
    /// unit its size suggests ([`EpochUnit::by_size`]).
    pub fn of_column<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<EpochUnit> {
        let numbers: Vec<f64> = values
            .into_iter()
            .filter_map(|v| plain_number(v.trim()))
            .collect();
        if numbers.is_empty() {
            return None;
        }
        let mut votes = [0usize; 4];
        for unit in numbers
            .iter()
            .filter_map(|n| EpochUnit::coarsest_recent(*n))
        {
            votes[unit as usize] += 1;
        }
        if votes.iter().all(|v| *v == 0) {
            for n in &numbers {
                votes[EpochUnit::by_size(*n) as usize] += 1;
            }
        }
        // `max_by_key` keeps the last of equals: walk finest first so that
        // the coarser unit wins a tie.
        EpochUnit::ALL
            .into_iter()
            .rev()
            .max_by_key(|u| votes[*u as usize])
    }

    /// An integer in this unit as µs and the nanoseconds past them; None
    /// outside the years 1 to 9999.
    pub fn read_integer(self, n: i128) -> Option<(i64, u16)> {
        split_ns(n.checked_mul(self.ns())?)
    }

    /// A number in this unit as µs and the nanoseconds past them; None
    /// when it is not finite or outside the years 1 to 9999. Nanoseconds
    /// are kept where the number holds them exactly (whole numbers, and
    /// fractions up to 2^53 ns); otherwise the time is rounded to the µs.
    pub fn read_float(self, number: f64) -> Option<(i64, u16)> {
        if !number.is_finite() {
            return None;
        }
        if number.fract() == 0.0 && number.abs() < 1e20 {
            return self.read_integer(number as i128);
        }
        let ns = number * self.ns() as f64;
        if ns.abs() < 9_007_199_254_740_992.0 {
            return split_ns(ns.round() as i128);
        }
        let us = (number * self.ns() as f64 / 1e3).round();
        if !(EARLIEST_US as f64..=LATEST_US as f64).contains(&us) {
            return None;
        }
        Some((us as i64, 0))
    }

    /// A number written as text (`-12`, `1396437466.940000123`) in this
    /// unit, exactly to the nanosecond; None when it is not a plain
    /// decimal number, or outside the years 1 to 9999.
    pub fn read_decimal(self, text: &str) -> Option<(i64, u16)> {
        let (negative, digits) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 30 || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let unit_ns = self.ns();
        let mut ns = whole.parse::<i128>().ok()?.checked_mul(unit_ns)?;
        // The fraction's digits that still name a nanosecond.
        let mut scale = unit_ns;
        for digit in fraction.bytes() {
            if scale < 10 {
                break;
            }
            scale /= 10;
            ns += i128::from(digit - b'0') * scale;
        }
        split_ns(if negative { -ns } else { ns })
    }
}

/// Nanoseconds since the epoch as µs and the nanoseconds past them
/// (floored, so that earlier stays earlier before 1970 too); None outside
/// the years 1 to 9999.
fn split_ns(ns: i128) -> Option<(i64, u16)> {
    let us = i64::try_from(ns.div_euclid(1000)).ok()?;
    if !(EARLIEST_US..=LATEST_US).contains(&us) {
        return None;
    }
    Some((us, ns.rem_euclid(1000) as u16))
}

/// A plain decimal number (`1700000000`, `-3.5`), not a date or an
/// exponent form.
fn plain_number(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_of(values: &[&str]) -> Option<EpochUnit> {
        EpochUnit::of_column(values.iter().copied())
    }

    #[test]
    fn a_column_of_seconds_with_the_year_9999_is_seconds() {
        let values = ["1790000000", "1790000060", "253402300799", "1790000120"];
        assert_eq!(unit_of(&values), Some(EpochUnit::Seconds));
        // Read alone by its size, the last second of 9999 is a time of 1978.
        assert_eq!(
            EpochUnit::by_size(253_402_300_799.0),
            EpochUnit::Milliseconds
        );
        assert_eq!(
            EpochUnit::Seconds.read_decimal("253402300799"),
            Some((LATEST_US - 999_999, 0))
        );
    }

    #[test]
    fn columns_of_each_unit_are_told_apart() {
        assert_eq!(
            unit_of(&["1790000000000", "1790000060000"]),
            Some(EpochUnit::Milliseconds)
        );
        assert_eq!(
            unit_of(&["1790000000000000", "1790000060000000"]),
            Some(EpochUnit::Microseconds)
        );
        assert_eq!(
            unit_of(&["1790000000000000001", "1790000000000000002"]),
            Some(EpochUnit::Nanoseconds)
        );
        assert_eq!(unit_of(&["0", "60", "120.5"]), Some(EpochUnit::Seconds));
        assert_eq!(unit_of(&["2026-03-29T02:30:00Z", "x"]), None);
        assert_eq!(unit_of(&["1e9"]), None);
    }

    #[test]
    fn a_column_that_mixes_units_takes_the_most_common_the_coarser_on_a_tie() {
        let mixed = ["1790000000", "1790000000000"];
        assert_eq!(unit_of(&mixed), Some(EpochUnit::Seconds));
        // The milliseconds are then after the year 9999: rejected, not
        // read as seconds of another unit.
        assert_eq!(EpochUnit::Seconds.read_decimal("1790000000000"), None);
        let mostly_ms = ["1790000000000", "1790000060000", "1790000000"];
        assert_eq!(unit_of(&mostly_ms), Some(EpochUnit::Milliseconds));
    }

    #[test]
    fn numbers_keep_their_nanoseconds() {
        let ns = EpochUnit::Nanoseconds;
        assert_eq!(
            ns.read_decimal("1790000000000000002"),
            Some((1_790_000_000_000_000, 2))
        );
        assert_eq!(
            ns.read_integer(1_790_000_000_000_000_001),
            Some((1_790_000_000_000_000, 1))
        );
        assert_eq!(
            EpochUnit::Seconds.read_decimal("1790000000.000000002"),
            Some((1_790_000_000_000_000, 2))
        );
        assert_eq!(
            EpochUnit::Seconds.read_decimal("-0.0000015"),
            Some((-2, 500))
        );
        assert_eq!(
            EpochUnit::Seconds.read_float(1_396_437_466.94),
            Some((1_396_437_466_940_000, 0))
        );
        assert_eq!(EpochUnit::Milliseconds.read_float(1.5), Some((1_500, 0)));
        assert_eq!(EpochUnit::Seconds.read_float(f64::NAN), None);
        assert_eq!(EpochUnit::Seconds.read_decimal("1.2.3"), None);
        assert_eq!(EpochUnit::Seconds.read_decimal("-"), None);
    }
}
