//! Mergeable statistics of durations between two events.
//!
//! Durations are added in whole microseconds, so counts, sums, minima and
//! maxima merge exactly in any order; reports show seconds.
//!
//! Small samples are kept exactly, so quantiles of small edges are exact
//! (linearly interpolated, like DuckDB's `median`); past
//! [`EXACT_LIMIT`] values they move into a DDSketch whose quantiles are within
//! 1 % relative error.

use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

/// Up to this many values are kept exactly.
pub const EXACT_LIMIT: usize = 512;

/// Relative accuracy of the sketch once a sample is too large to keep exactly.
pub const SKETCH_RELATIVE_ERROR: f64 = 0.005;

fn new_sketch() -> DDSketch {
    DDSketch::new(Config::new(SKETCH_RELATIVE_ERROR, 4096, 1e-7))
}

#[derive(Clone, Serialize, Deserialize)]
enum Sample {
    Exact(Vec<i64>),
    Sketch(#[serde(deserialize_with = "checked_sketch")] Box<DDSketch>),
}

/// A DDSketch's fields, as its serde derive lays them out (sketches-ddsketch
/// 0.4), to check a sketch read from a saved state before it is used: the
/// crate trusts its fields, and a damaged one allocates or overflows.
#[derive(Serialize, Deserialize, PartialEq)]
struct SketchFields {
    config: (u32, f64, f64, f64, i32),
    store: StoreFields,
    negative_store: StoreFields,
    min: f64,
    max: f64,
    sum: f64,
    zero_count: u64,
}

/// A sketch store's fields.
#[derive(Serialize, Deserialize, PartialEq)]
struct StoreFields {
    bins: Vec<u64>,
    count: u64,
    min_key: i32,
    max_key: i32,
    offset: i32,
    bin_limit: usize,
    is_collapsed: bool,
}

impl StoreFields {
    /// The store's bins lie within its limit, its keys within its bins, and
    /// its count is theirs.
    fn is_sound(&self, bin_limit: usize) -> bool {
        let total = self
            .bins
            .iter()
            .try_fold(0u64, |sum, n| sum.checked_add(*n));
        let keys_in_bins = self.count == 0
            || (self.offset <= self.min_key
                && self.min_key <= self.max_key
                && (self.max_key as i64) < self.offset as i64 + self.bins.len() as i64);
        self.bin_limit == bin_limit
            && self.bins.len() <= bin_limit
            && total == Some(self.count)
            && keys_in_bins
    }
}

/// Reads a sketch, refusing one that is not a sound sketch of the
/// configuration Journeyscope uses.
fn checked_sketch<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Box<DDSketch>, D::Error> {
    use serde::de::Error;
    let fields = SketchFields::deserialize(deserializer)?;
    let expected = sketch_fields(&new_sketch()).map_err(D::Error::custom)?;
    let bin_limit = expected.store.bin_limit;
    let sound = fields.config == expected.config
        && fields.store.is_sound(bin_limit)
        && fields.negative_store.is_sound(bin_limit)
        && fields.zero_count <= 1 << 48;
    if !sound {
        return Err(D::Error::custom("a damaged duration sketch"));
    }
    let bytes = postcard::to_stdvec(&fields).map_err(D::Error::custom)?;
    postcard::from_bytes(&bytes)
        .map(Box::new)
        .map_err(D::Error::custom)
}

/// A sketch's fields, read through its own serde form.
fn sketch_fields(sketch: &DDSketch) -> Result<SketchFields, postcard::Error> {
    postcard::from_bytes(&postcard::to_stdvec(sketch)?)
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sample::Exact(values) => write!(f, "Exact({} values)", values.len()),
            Sample::Sketch(sketch) => write!(f, "Sketch({} values)", sketch.count()),
        }
    }
}

/// Count, mean, min, max and quantiles of a set of durations in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DurationStats {
    count: u64,
    sum_us: i128,
    min_us: i64,
    max_us: i64,
    sample: Sample,
}

impl Default for DurationStats {
    fn default() -> Self {
        DurationStats {
            count: 0,
            sum_us: 0,
            min_us: i64::MAX,
            max_us: i64::MIN,
            sample: Sample::Exact(Vec::new()),
        }
    }
}

/// A summary of [`DurationStats`] as it appears in reports (`time_s`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DurationSummary {
    /// Number of durations.
    pub count: u64,
    /// Mean in seconds.
    pub mean: f64,
    /// Shortest.
    pub min: f64,
    /// Longest.
    pub max: f64,
    /// 50th percentile.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl DurationStats {
    /// Adds one duration in microseconds.
    pub fn add_us(&mut self, duration_us: i64) {
        self.count += 1;
        self.sum_us += duration_us as i128;
        self.min_us = self.min_us.min(duration_us);
        self.max_us = self.max_us.max(duration_us);
        match &mut self.sample {
            Sample::Exact(values) => {
                values.push(duration_us);
                if values.len() > EXACT_LIMIT {
                    self.sample = Sample::Sketch(Box::new(sketch_of(values)));
                }
            }
            Sample::Sketch(sketch) => sketch.add(seconds(duration_us)),
        }
    }

    /// Adds everything in `other`, as if its values had been added here.
    pub fn merge(&mut self, other: &DurationStats) {
        if other.count == 0 {
            return;
        }
        self.count += other.count;
        self.sum_us += other.sum_us;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
        let merged = match (&mut self.sample, &other.sample) {
            (Sample::Exact(mine), Sample::Exact(theirs)) => {
                mine.extend_from_slice(theirs);
                if mine.len() <= EXACT_LIMIT {
                    return;
                }
                sketch_of(mine)
            }
            (Sample::Sketch(mine), Sample::Exact(theirs)) => {
                theirs.iter().for_each(|v| mine.add(seconds(*v)));
                return;
            }
            (Sample::Exact(mine), Sample::Sketch(theirs)) => {
                let mut sketch = (**theirs).clone();
                mine.iter().for_each(|v| sketch.add(seconds(*v)));
                sketch
            }
            (Sample::Sketch(mine), Sample::Sketch(theirs)) => {
                // Both sketches share one configuration, so merging cannot fail.
                let _ = mine.merge(theirs);
                return;
            }
        };
        self.sample = Sample::Sketch(Box::new(merged));
    }

    /// Number of durations added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True while quantiles are computed from every value.
    pub fn is_exact(&self) -> bool {
        matches!(self.sample, Sample::Exact(_))
    }

    /// The q-quantiles (each 0 ≤ q ≤ 1) in seconds, or None when empty.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[f64; N]> {
        if self.count == 0 {
            return None;
        }
        Some(match &self.sample {
            Sample::Exact(values) => {
                let mut sorted: Vec<f64> = values.iter().map(|v| seconds(*v)).collect();
                sorted.sort_by(f64::total_cmp);
                qs.map(|q| interpolated_quantile(&sorted, q))
            }
            Sample::Sketch(sketch) => qs.map(|q| {
                let value = sketch.quantile(q).ok().flatten().unwrap_or(0.0);
                value.clamp(seconds(self.min_us), seconds(self.max_us))
            }),
        })
    }

    /// The summary shown in reports, or None when empty.
    pub fn summary(&self) -> Option<DurationSummary> {
        let [median, p90, p99] = self.quantiles([0.5, 0.9, 0.99])?;
        Some(DurationSummary {
            count: self.count,
            mean: self.sum_us as f64 / self.count as f64 / 1e6,
            min: seconds(self.min_us),
            max: seconds(self.max_us),
            median,
            p90,
            p99,
        })
    }
}

fn seconds(duration_us: i64) -> f64 {
    duration_us as f64 / 1e6
}

fn sketch_of(values: &[i64]) -> DDSketch {
    let mut sketch = new_sketch();
    values.iter().for_each(|v| sketch.add(seconds(*v)));
    sketch
}

/// Durations in µs, sorted in place, as seconds (for
/// [`interpolated_quantile`]).
pub fn sorted_seconds(durations_us: &mut [i64]) -> Vec<f64> {
    durations_us.sort_unstable();
    durations_us.iter().map(|&us| us as f64 / 1e6).collect()
}

/// The q-quantile of sorted values with linear interpolation between the two
/// nearest ranks (the definition of numpy's default and DuckDB's
/// `quantile_cont`).
pub fn interpolated_quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_sketch_reads_back_and_a_damaged_one_is_refused() {
        let mut stats = DurationStats::default();
        for us in 0..5_000 {
            stats.add_us(us * 997 % 100_000);
        }
        let bytes = postcard::to_stdvec(&stats).unwrap();
        let back: DurationStats = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.summary(), stats.summary());
        // The fields as read are the sketch's own (the layout is the crate's).
        let Sample::Sketch(sketch) = &stats.sample else {
            panic!("a sketch past the exact limit")
        };
        let fields = sketch_fields(sketch).unwrap();
        assert_eq!(
            postcard::to_stdvec(&fields).unwrap(),
            postcard::to_stdvec(&**sketch).unwrap()
        );
        let mut damaged = fields;
        damaged.store.bin_limit = 1 << 40;
        let mut wrong =
            bytes[..bytes.len() - postcard::to_stdvec(&**sketch).unwrap().len()].to_vec();
        wrong.extend(postcard::to_stdvec(&damaged).unwrap());
        assert!(postcard::from_bytes::<DurationStats>(&wrong).is_err());
    }

    #[test]
    fn small_samples_are_exact() {
        let mut stats = DurationStats::default();
        for v in [4_000_000, 1_000_000, 3_000_000, 2_000_000] {
            stats.add_us(v);
        }
        let s = stats.summary().unwrap();
        assert_eq!((s.count, s.min, s.max, s.mean), (4, 1.0, 4.0, 2.5));
        assert_eq!(s.median, 2.5);
        assert!(stats.is_exact());
    }

    #[test]
    fn large_samples_stay_within_relative_error() {
        let values: Vec<i64> = (1..=20_000)
            .map(|i| ((i as f64 * 0.37).powf(1.3) * 1e6) as i64)
            .collect();
        let mut stats = DurationStats::default();
        values.iter().for_each(|v| stats.add_us(*v));
        assert!(!stats.is_exact());
        let mut sorted: Vec<f64> = values.iter().map(|v| *v as f64 / 1e6).collect();
        sorted.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99] {
            let exact = interpolated_quantile(&sorted, q);
            let [got] = stats.quantiles([q]).unwrap();
            assert!(
                (got - exact).abs() / exact < 0.01,
                "q={q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn merge_equals_adding_everything() {
        let mut a = DurationStats::default();
        let mut b = DurationStats::default();
        let mut whole = DurationStats::default();
        for i in 0..2000 {
            let v = (i % 97) * 1_000_000 + 500_000;
            if i % 3 == 0 {
                a.add_us(v)
            } else {
                b.add_us(v)
            }
            whole.add_us(v);
        }
        a.merge(&b);
        let (m, w) = (a.summary().unwrap(), whole.summary().unwrap());
        assert_eq!(m, w);
    }
}
