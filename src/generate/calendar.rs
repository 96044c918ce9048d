//! Time range of the sample (November 2026), traffic shape over days and
//! hours, and timestamp formatting.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One second in microseconds.
pub(crate) const SECOND_US: i64 = 1_000_000;
/// One minute in microseconds.
pub(crate) const MINUTE_US: i64 = 60 * SECOND_US;
/// One hour in microseconds.
pub(crate) const HOUR_US: i64 = 60 * MINUTE_US;
/// One day in microseconds.
pub(crate) const DAY_US: i64 = 24 * HOUR_US;
/// 2026-11-01T00:00:00Z in epoch microseconds.
pub(crate) const MONTH_START_US: i64 = 1_793_491_200 * SECOND_US;
/// 2026-12-01T00:00:00Z in epoch microseconds (exclusive end of the sample).
pub(crate) const MONTH_END_US: i64 = MONTH_START_US + 30 * DAY_US;

/// Relative traffic per day, 1 November (a Sunday) to 30 November.
/// Black Friday (27th) is several times a normal day; the week before builds
/// up and Cyber Monday (30th) is the second peak.
const DAY_WEIGHTS: [f64; 30] = [
    1.10, 0.95, 0.95, 1.00, 1.00, 1.05, 1.10, // 1-7
    1.10, 0.95, 1.00, 1.00, 1.00, 1.05, 1.10, // 8-14
    1.10, 1.00, 1.00, 1.05, 1.05, 1.25, 1.35, // 15-21
    1.35, 1.40, 1.50, 1.60, 1.90, 4.50, 2.60, // 22-28
    2.20, 3.20, // 29-30
];

/// Relative traffic per hour of the day (UTC): quiet at night.
const HOUR_WEIGHTS: [f64; 24] = [
    0.35, 0.25, 0.18, 0.15, 0.15, 0.20, 0.35, 0.60, 0.85, 1.00, 1.10, 1.15, //
    1.20, 1.20, 1.15, 1.10, 1.10, 1.20, 1.35, 1.45, 1.40, 1.20, 0.90, 0.60,
];

/// Samples session start times following the daily and hourly traffic shape.
pub(crate) struct Calendar {
    /// Cumulative weight of every hour of the month.
    cumulative: Vec<f64>,
}

impl Calendar {
    /// Builds the cumulative hour-of-month distribution.
    pub(crate) fn new() -> Self {
        let mut cumulative = Vec::with_capacity(30 * 24);
        let mut total = 0.0;
        for day in DAY_WEIGHTS {
            for hour in HOUR_WEIGHTS {
                total += day * hour;
                cumulative.push(total);
            }
        }
        Self { cumulative }
    }

    /// A random instant of the month (millisecond precision).
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> i64 {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let u = rng.random::<f64>() * total;
        let slot = self
            .cumulative
            .partition_point(|c| *c <= u)
            .min(self.cumulative.len() - 1);
        let ms_in_hour = rng.random_range(0..HOUR_US / 1000);
        MONTH_START_US + slot as i64 * HOUR_US + ms_in_hour * 1000
    }
}

/// True with a probability following the hourly traffic shape at `ts`, so
/// that times drawn relative to another time avoid the quiet night hours.
pub(crate) fn accept_hour(rng: &mut ChaCha8Rng, ts: i64) -> bool {
    rng.random::<f64>() * 1.45 < HOUR_WEIGHTS[hour_of(ts) as usize]
}

/// Hour of the day (UTC) of an instant.
pub(crate) fn hour_of(ts: i64) -> i64 {
    ts.rem_euclid(DAY_US) / HOUR_US
}

/// Day of the month (0 = 1 November) of an instant inside the sample.
pub(crate) fn day_index(ts_us: i64) -> i64 {
    (ts_us - MONTH_START_US).div_euclid(DAY_US)
}

/// Appends `ts_us` as RFC 3339 UTC with milliseconds, e.g.
/// `2026-11-27T10:15:00.123Z`.
pub(crate) fn push_rfc3339_ms(out: &mut String, ts_us: i64) {
    let secs = ts_us.div_euclid(SECOND_US);
    let millis = ts_us.rem_euclid(SECOND_US) / 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod / 60) % 60, sod % 60);
    push_padded(out, y, 4);
    out.push('-');
    push_padded(out, m, 2);
    out.push('-');
    push_padded(out, d, 2);
    out.push('T');
    push_padded(out, hh, 2);
    out.push(':');
    push_padded(out, mm, 2);
    out.push(':');
    push_padded(out, ss, 2);
    out.push('.');
    push_padded(out, millis, 3);
    out.push('Z');
}

/// Appends a non-negative number left-padded with zeros to `width` digits.
fn push_padded(out: &mut String, value: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut n = 0;
    while v > 0 || n == 0 {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    if value < 0 {
        out.push('-');
    }
    for _ in n..width {
        out.push('0');
    }
    for i in (0..n).rev() {
        out.push(digits[i] as char);
    }
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
