//! Variants: the whole journeys customers take. A session's variant is its
//! sequence of touchpoints from START to END (consecutive repeats merged
//! when the journeys merge them), and variants are ranked by sessions.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::event::Event;
use super::explore::guess_conversion;
use super::funnel::{FunnelSpec, ratio};
use super::journeys::Journeys;
use super::stats::{interpolated_quantile, sorted_seconds};
use super::walk::is_step;

/// What a variants report asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantsSpec {
    /// Variants listed one by one; the rest are added up as "other".
    pub top: usize,
    /// The touchpoint a session converts at (None: the funnel's last step,
    /// else a guess from names such as purchase or order).
    pub goal: Option<String>,
}

impl Default for VariantsSpec {
    fn default() -> Self {
        VariantsSpec {
            top: 10,
            goal: None,
        }
    }
}

/// One variant and its sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRow {
    /// Its touchpoints in order, without START and END.
    pub steps: Vec<String>,
    /// Sessions that take it.
    pub sessions: u64,
    /// Its share of all sessions.
    pub share: f64,
    /// The share of all sessions taken by it and every busier variant.
    pub cumulative_share: f64,
    /// Median of its sessions' durations (last event less first), seconds.
    pub duration_median_s: f64,
    /// 90th percentile of the same, seconds.
    pub duration_p90_s: f64,
    /// Its sessions that reach the goal touchpoint.
    pub converted: u64,
    /// `converted / sessions`.
    pub conversion: f64,
}

/// Variants beyond the top ones, added up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct OtherVariants {
    /// How many distinct variants.
    pub variants: u64,
    /// Their sessions.
    pub sessions: u64,
    /// Their sessions that reach the goal touchpoint.
    pub converted: u64,
}

/// The variants of a set of sessions, busiest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantsReport {
    /// The touchpoint conversion is counted at (None: none could be found).
    pub goal: Option<String>,
    /// The goal asked for when no touchpoint is called so (no session can
    /// convert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_goal: Option<String>,
    /// Sessions in all (the top and the other variants add up to it).
    pub sessions: u64,
    /// Distinct variants in all.
    pub variants: u64,
    /// The busiest variants, by sessions, then by their steps' names.
    pub top: Vec<VariantRow>,
    /// The rest.
    pub other: OtherVariants,
}

/// The touchpoints of `session` as its variant reads them, into `out`
/// (cleared first): each event's touchpoint, a repeat merged when
/// `collapse_repeats`.
pub fn variant_of(session: &[Event], collapse_repeats: bool, out: &mut Vec<u32>) {
    out.clear();
    for event in session {
        if out
            .last()
            .is_none_or(|&p| is_step(p, event.touchpoint, collapse_repeats))
        {
            out.push(event.touchpoint);
        }
    }
}

/// Sessions of one variant, while counting.
#[derive(Default)]
struct Tally {
    durations_us: Vec<i64>,
    converted: u64,
}

/// The goal a variants report counts conversion at: the one asked for,
/// else the funnel's last step, else a touchpoint named like a purchase;
/// its name and its touchpoints (a name split by a property is reached as
/// a whole, as in a funnel).
pub fn goal_of(
    journeys: &Journeys,
    asked: Option<&str>,
    funnel: Option<&FunnelSpec>,
) -> Option<(String, Vec<u32>)> {
    let name = asked
        .map(str::to_owned)
        .or_else(|| funnel.and_then(|f| f.steps.last().cloned()))
        .or_else(|| guess_conversion(journeys).map(|t| journeys.touchpoint_name(t).to_owned()))?;
    let touchpoints = journeys.touchpoints_matching(&name);
    Some((name, touchpoints))
}

/// The variants of the sessions `journeys` selects (whole sessions: its
/// anchors are not applied), ranked; conversion at `goal` (see
/// [`goal_of`]).
pub fn compute_variants(
    journeys: &Journeys,
    spec: &VariantsSpec,
    goal: Option<&(String, Vec<u32>)>,
) -> VariantsReport {
    variants_of(journeys, spec, goal, false)
}

/// As [`compute_variants`], of every session whether the segment selects
/// it or not: what a picker of variants lists while some are picked.
pub fn compute_all_variants(
    journeys: &Journeys,
    spec: &VariantsSpec,
    goal: Option<&(String, Vec<u32>)>,
) -> VariantsReport {
    variants_of(journeys, spec, goal, true)
}

fn variants_of(
    journeys: &Journeys,
    spec: &VariantsSpec,
    goal: Option<&(String, Vec<u32>)>,
    all: bool,
) -> VariantsReport {
    let goal_touchpoints: &[u32] = goal.map_or(&[], |(_, t)| t.as_slice());
    let collapse = journeys.config.collapse_repeats;
    let mut variants: FxHashMap<Box<[u32]>, Tally> = FxHashMap::default();
    let mut steps = Vec::new();
    let mut sessions = 0u64;
    let mut each = |_, session: &[Event]| {
        sessions += 1;
        variant_of(session, collapse, &mut steps);
        let tally = match variants.get_mut(steps.as_slice()) {
            Some(tally) => tally,
            None => variants
                .entry(steps.clone().into_boxed_slice())
                .or_default(),
        };
        let duration = session[session.len() - 1].time_us - session[0].time_us;
        tally.durations_us.push(duration);
        if session
            .iter()
            .any(|e| goal_touchpoints.contains(&e.touchpoint))
        {
            tally.converted += 1;
        }
    };
    if all {
        journeys.for_each_session(&mut each);
    } else {
        journeys.for_each_selected_session(&mut each);
    }
    let name = |t: &u32| journeys.touchpoint_name(*t).to_owned();
    let mut ranked: Vec<(Vec<String>, Tally)> = variants
        .into_iter()
        .map(|(steps, tally)| (steps.iter().map(name).collect(), tally))
        .collect();
    ranked.sort_by(|(a, ta), (b, tb)| {
        tb.durations_us
            .len()
            .cmp(&ta.durations_us.len())
            .then_with(|| a.cmp(b))
    });
    let distinct = ranked.len() as u64;
    let share = |n: u64| ratio(n, sessions);
    let mut other = OtherVariants::default();
    let mut top = Vec::new();
    let mut cumulative = 0u64;
    for (k, (steps, mut tally)) in ranked.into_iter().enumerate() {
        let n = tally.durations_us.len() as u64;
        if k >= spec.top {
            other.variants += 1;
            other.sessions += n;
            other.converted += tally.converted;
            continue;
        }
        cumulative += n;
        let seconds = sorted_seconds(&mut tally.durations_us);
        top.push(VariantRow {
            steps,
            sessions: n,
            share: share(n),
            cumulative_share: share(cumulative),
            duration_median_s: interpolated_quantile(&seconds, 0.5),
            duration_p90_s: interpolated_quantile(&seconds, 0.9),
            converted: tally.converted,
            conversion: tally.converted as f64 / n as f64,
        });
    }
    VariantsReport {
        goal: goal.map(|(name, _)| name.clone()),
        missing_goal: goal
            .filter(|(_, touchpoints)| touchpoints.is_empty())
            .map(|(name, _)| name.clone()),
        sessions,
        variants: distinct,
        top,
        other,
    }
}

/// The segment expression that selects exactly these variants (each a
/// list of touchpoints without START and END).
pub fn variant_segment(variants: &[Vec<String>]) -> String {
    let each: Vec<String> = variants.iter().map(|v| v.join(">")).collect();
    format!("variant:{}", each.join(","))
}
