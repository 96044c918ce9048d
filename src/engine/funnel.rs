//! Funnels: how many customers reach each of an ordered list of touchpoints,
//! within an optional conversion window that starts at the first step.

use serde::Serialize;

use super::event::Event;
use super::journeys::Journeys;
use super::stats::DurationStats;

/// The steps of a funnel and its conversion window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelSpec {
    /// Touchpoint names, in order. A touchpoint split by a property
    /// (`purchase: app`, `purchase: web`) is still reached as a whole by
    /// its name before the split (`purchase`).
    pub steps: Vec<String>,
    /// All steps must happen within this long after the first; None = no limit.
    pub within_us: Option<i64>,
}

/// One step of a computed funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    /// Touchpoint name.
    pub touchpoint: String,
    /// Customers who reached this step (in order, within the window).
    pub customers: u64,
    /// Share of the previous step's customers who reached this one (1 for the first step).
    pub conversion_from_previous: f64,
    /// Share of the first step's customers who reached this one.
    pub conversion_from_first: f64,
    /// Customers of the previous step who did not reach this one.
    pub drop_off: u64,
    /// Median time from the previous step, in seconds (null for the first step).
    pub median_time_s: Option<f64>,
    /// 90th percentile of the time from the previous step, in seconds.
    pub p90_time_s: Option<f64>,
}

/// A computed funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelReport {
    /// Conversion window in seconds; null when unlimited.
    pub within_s: Option<f64>,
    /// One entry per step.
    pub steps: Vec<FunnelStep>,
}

/// Computes `spec` over every customer's ordered events (those of the
/// segment's sessions when there is one).
pub fn compute_funnel(journeys: &Journeys, spec: &FunnelSpec) -> FunnelReport {
    let ids = step_ids(journeys, spec);
    let mut reached = vec![0u64; ids.len()];
    let mut times: Vec<DurationStats> = vec![DurationStats::default(); ids.len()];
    let mut step_times = Vec::with_capacity(ids.len());
    journeys.for_each_selected_customer(|_, events| {
        best_attempt(events, &ids, spec.within_us, &mut step_times);
        for (level, time) in step_times.iter().enumerate() {
            reached[level] += 1;
            if level > 0 {
                times[level].add_us(time - step_times[level - 1]);
            }
        }
    });
    let first = reached.first().copied().unwrap_or(0);
    let steps = spec
        .steps
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let previous = if i == 0 { reached[0] } else { reached[i - 1] };
            FunnelStep {
                touchpoint: name.clone(),
                customers: reached[i],
                conversion_from_previous: ratio(reached[i], previous),
                conversion_from_first: ratio(reached[i], first),
                drop_off: previous - reached[i],
                median_time_s: times[i].quantiles([0.5]).map(|[m]| m),
                p90_time_s: times[i].quantiles([0.9]).map(|[p]| p),
            }
        })
        .collect();
    FunnelReport {
        within_s: spec.within_us.map(|w| w as f64 / 1e6),
        steps,
    }
}

/// The touchpoints each step of `spec` is reached at.
pub(super) fn step_ids(journeys: &Journeys, spec: &FunnelSpec) -> Vec<Vec<u32>> {
    spec.steps
        .iter()
        .map(|s| journeys.touchpoints_matching(s))
        .collect()
}

/// `part / whole`, 0 when `whole` is 0.
pub(super) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Finds the attempt (starting at some occurrence of the first step) that
/// reaches the most steps, the earliest such attempt on ties; fills `out`
/// with the time of each step it reached.
pub(super) fn best_attempt(
    events: &[Event],
    steps: &[Vec<u32>],
    within_us: Option<i64>,
    out: &mut Vec<i64>,
) {
    out.clear();
    let Some(first) = steps.first() else {
        return;
    };
    let mut attempt = Vec::with_capacity(steps.len());
    for (start, e) in events.iter().enumerate() {
        if !first.contains(&e.touchpoint) {
            continue;
        }
        attempt.clear();
        attempt.push(e.time_us);
        for later in &events[start + 1..] {
            if attempt.len() == steps.len() {
                break;
            }
            if within_us.is_some_and(|w| later.time_us - e.time_us > w) {
                break;
            }
            if steps[attempt.len()].contains(&later.touchpoint) {
                attempt.push(later.time_us);
            }
        }
        if attempt.len() > out.len() {
            out.clone_from(&attempt);
        }
        // Without a window the earliest start can only do best.
        if out.len() == steps.len() || within_us.is_none() {
            return;
        }
    }
}
