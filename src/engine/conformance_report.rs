//! How the sessions keep to an expected journey, counted and reported:
//! entered, conforming, still open (in a stream), each step's sessions
//! still on it, the first deviations and the periods.

use std::collections::HashMap;

use serde::Serialize;

use super::alerts::rfc3339;
use super::conformance::{DeviationKind, ExpectedJourney, JourneyIds, Walk};
use super::funnel::ratio;
use super::journeys::Journeys;
use super::stats::{interpolated_quantile, sorted_seconds};

/// A step of the journey and the sessions still on it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOnPath {
    /// The step's touchpoint.
    pub step: String,
    /// May be skipped.
    pub optional: bool,
    /// Sessions entered that reach this step, or go past it, without
    /// leaving the journey (those that conform are past every step).
    pub on_path: u64,
}

/// One way sessions leave the journey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviationRow {
    /// The step they were at.
    pub after: String,
    /// How they left.
    pub kind: DeviationKind,
    /// The touchpoint that made them leave (`END` for `left`).
    pub touchpoint: String,
    /// Sessions that left so.
    pub sessions: u64,
    /// Their share of the sessions entered.
    pub share: f64,
}

/// Sessions entered and conforming in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodRow {
    /// The period's start (RFC 3339, UTC).
    pub start: String,
    /// Sessions entering the journey in it.
    pub entered: u64,
    /// Of them, those that conform.
    pub conforming: u64,
    /// `conforming / entered`.
    pub rate: f64,
}

/// How the sessions keep to an expected journey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConformanceReport {
    /// The journey's name.
    pub journey: String,
    /// Its steps, written out.
    pub expected: String,
    /// Steps no touchpoint of the data is called (no session can do them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_steps: Vec<String>,
    /// Each step with the sessions still on the journey there.
    pub steps: Vec<StepOnPath>,
    /// Sessions that do the first step.
    pub entered: u64,
    /// Of them, those that reach the last required step on the journey.
    pub conforming: u64,
    /// In a stream: of those entered, the sessions still open and still on
    /// the journey (they may yet conform or leave: not conforming yet, and
    /// no deviation). A comparison reads both stretches at the same age,
    /// so that each holds as many of them as the other would.
    #[serde(skip_serializing_if = "is_zero")]
    pub open: u64,
    /// `conforming / entered` (0 when none entered).
    pub rate: f64,
    /// Median time from the first step to the last required one, of the
    /// conforming sessions, seconds.
    pub median_duration_s: Option<f64>,
    /// The first deviations, most frequent first.
    pub deviations: Vec<DeviationRow>,
    /// `day`, or `hour` when the data spans under two days.
    pub period: &'static str,
    /// Entered and conforming by the period the session entered in.
    pub by_period: Vec<PeriodRow>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counts of how sessions go on a journey, before they are named.
#[derive(Debug, Clone, Default)]
pub struct ConformanceTally {
    /// Sessions entered.
    pub entered: u64,
    /// Sessions entered, still open and on the journey.
    pub open: u64,
    /// Sessions conforming.
    pub conforming: u64,
    /// Sessions whose furthest step is each step.
    furthest: Vec<u64>,
    /// Durations of conforming sessions, µs.
    durations_us: Vec<i64>,
    /// First deviations by (after, kind, touchpoint).
    pub deviations: HashMap<(usize, DeviationKind, u32), u64>,
    /// (period start µs) → (entered, conforming).
    periods: HashMap<i64, (u64, u64)>,
}

/// The start of the period (UTC day, or hour when `hourly`) holding `us`.
fn period_start(us: i64, hourly: bool) -> i64 {
    let length = if hourly {
        3_600_000_000
    } else {
        86_400_000_000
    };
    us.div_euclid(length) * length
}

impl ConformanceTally {
    /// Counts every session `journeys` selects (whole sessions) on `ids`;
    /// in a stream, a session still on the journey whose last event is
    /// after `open_after_us` is open, not (yet) `left`.
    pub fn of(
        journeys: &Journeys,
        ids: &JourneyIds,
        open_after_us: Option<i64>,
    ) -> ConformanceTally {
        let hourly = hourly(journeys);
        let mut tally = ConformanceTally {
            furthest: vec![0; ids.ids.len()],
            ..ConformanceTally::default()
        };
        journeys.for_each_selected_session(|_, session| {
            let walk = ids.walk_events(session);
            let (entered, conforms) = match walk {
                Walk::NotEntered => return,
                Walk::Conforms { entered, done } => {
                    tally.conforming += 1;
                    tally
                        .durations_us
                        .push(session[done].time_us - session[entered].time_us);
                    (entered, true)
                }
                Walk::Deviates {
                    entered,
                    kind: DeviationKind::Left,
                    ..
                } if open_after_us.is_some_and(|t| session[session.len() - 1].time_us >= t) => {
                    tally.open += 1;
                    (entered, false)
                }
                Walk::Deviates {
                    entered,
                    after,
                    kind,
                    touchpoint,
                    ..
                } => {
                    *tally
                        .deviations
                        .entry((after, kind, touchpoint))
                        .or_default() += 1;
                    (entered, false)
                }
            };
            tally.entered += 1;
            if let Some(f) = walk.furthest(ids.ids.len() - 1) {
                tally.furthest[f] += 1;
            }
            let period = tally
                .periods
                .entry(period_start(session[entered].time_us, hourly))
                .or_default();
            period.0 += 1;
            period.1 += u64::from(conforms);
        });
        tally
    }
}

/// True when `journeys` span under two days: periods are hours.
fn hourly(journeys: &Journeys) -> bool {
    journeys
        .time_range_us
        .is_some_and(|(a, b)| b - a < 2 * 86_400_000_000)
}

/// How the sessions `journeys` selects keep to `journey` (a file's: every
/// session has ended).
pub fn compute_conformance(journeys: &Journeys, journey: &ExpectedJourney) -> ConformanceReport {
    let ids = JourneyIds::of(journey, journeys);
    let mut tally = ConformanceTally::of(journeys, &ids, None);
    report(journeys, journey, &ids, &mut tally)
}

/// When a stream's sessions read at event time `now_us` are still open:
/// their last event is at or after this (a new session needs a gap over
/// the timeout; every one when sessions never time out).
pub fn open_after(journeys: &Journeys, now_us: i64) -> i64 {
    journeys
        .config
        .session_timeout_us
        .map_or(i64::MIN, |t| now_us.saturating_sub(t))
}

/// As [`compute_conformance`] for a stream read at event time `now_us`:
/// sessions still open and on the journey are entered and `open`, neither
/// conforming yet nor `left`.
pub fn compute_conformance_at(
    journeys: &Journeys,
    journey: &ExpectedJourney,
    now_us: i64,
) -> ConformanceReport {
    let ids = JourneyIds::of(journey, journeys);
    let mut tally = ConformanceTally::of(journeys, &ids, Some(open_after(journeys, now_us)));
    report(journeys, journey, &ids, &mut tally)
}

fn report(
    journeys: &Journeys,
    journey: &ExpectedJourney,
    ids: &JourneyIds,
    tally: &mut ConformanceTally,
) -> ConformanceReport {
    let mut still = 0u64;
    let mut on_path = vec![0u64; journey.steps.len()];
    for k in (0..journey.steps.len()).rev() {
        still += tally.furthest[k];
        on_path[k] = still;
    }
    let steps = journey
        .steps
        .iter()
        .zip(on_path)
        .map(|(s, on_path)| StepOnPath {
            step: s.touchpoint.clone(),
            optional: s.optional,
            on_path,
        })
        .collect();
    let mut deviations: Vec<DeviationRow> = tally
        .deviations
        .iter()
        .map(|(&(after, kind, touchpoint), &sessions)| DeviationRow {
            after: journey.steps[after].touchpoint.clone(),
            kind,
            touchpoint: journeys.touchpoint_name(touchpoint).to_owned(),
            sessions,
            share: ratio(sessions, tally.entered),
        })
        .collect();
    deviations.sort_by(|a, b| {
        b.sessions
            .cmp(&a.sessions)
            .then_with(|| (&a.after, a.kind, &a.touchpoint).cmp(&(&b.after, b.kind, &b.touchpoint)))
    });
    let seconds = sorted_seconds(&mut tally.durations_us);
    let mut periods: Vec<(i64, (u64, u64))> = tally.periods.iter().map(|(k, v)| (*k, *v)).collect();
    periods.sort_unstable();
    ConformanceReport {
        journey: journey.name.clone(),
        expected: journey.to_string(),
        missing_steps: journey
            .steps
            .iter()
            .zip(&ids.ids)
            .filter(|(_, ids)| ids.is_empty())
            .map(|(s, _)| s.touchpoint.clone())
            .collect(),
        steps,
        entered: tally.entered,
        conforming: tally.conforming,
        open: tally.open,
        rate: ratio(tally.conforming, tally.entered),
        median_duration_s: (!seconds.is_empty()).then(|| interpolated_quantile(&seconds, 0.5)),
        deviations,
        period: if hourly(journeys) { "hour" } else { "day" },
        by_period: periods
            .into_iter()
            .map(|(start, (entered, conforming))| PeriodRow {
                start: rfc3339(start),
                entered,
                conforming,
                rate: ratio(conforming, entered),
            })
            .collect(),
    }
}
