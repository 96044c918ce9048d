//! An expected journey compared between two groups: the conformance rate
//! and each first deviation's share of the sessions entered, each tested
//! (pooled two-proportion z-test, Benjamini–Hochberg over them all), like
//! every other comparison.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compare::{Difference, benjamini_hochberg, order, test};
use super::conformance::{DeviationKind, ExpectedJourney, JourneyIds};
use super::conformance_report::{ConformanceTally, open_after};
use super::funnel::ratio;
use super::journeys::Journeys;
use super::segment::{Segment, SegmentError};

/// One group's sessions on the journey.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConformanceSide {
    /// Sessions entered.
    pub entered: u64,
    /// Of them, conforming.
    pub conforming: u64,
    /// `conforming / entered`.
    pub rate: f64,
}

/// One group's sessions that left one way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeviationSide {
    /// Sessions that left so.
    pub sessions: u64,
    /// Their share of the sessions entered.
    pub share: f64,
}

/// A first deviation compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviationCompared {
    /// The step they were at.
    pub after: String,
    /// How they left.
    pub kind: DeviationKind,
    /// The touchpoint that made them leave.
    pub touchpoint: String,
    /// In A.
    pub a: DeviationSide,
    /// In B.
    pub b: DeviationSide,
    /// The test of the shares.
    #[serde(flatten)]
    pub difference: Difference,
}

/// The journey in A against B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedConformance {
    /// The journey's name.
    pub journey: String,
    /// Group A.
    pub a: ConformanceSide,
    /// Group B.
    pub b: ConformanceSide,
    /// The test of the conformance rates.
    #[serde(flatten)]
    pub difference: Difference,
    /// Every first deviation of either group, most significant first.
    pub deviations: Vec<DeviationCompared>,
}

/// `journey` in group `a` of its journeys against group `b` of its own.
pub fn compare_conformance(
    a: (&Journeys, Segment),
    b: (&Journeys, Segment),
    journey: &ExpectedJourney,
) -> Result<ComparedConformance, SegmentError> {
    compare_conformance_at(a, b, journey, (None, None))
}

/// As [`compare_conformance`] for two stretches of a stream, each read at
/// its own event time (`now_us`: a session still open and on the journey
/// then is entered and not conforming yet, in both alike).
pub fn compare_conformance_at(
    (in_a, a): (&Journeys, Segment),
    (in_b, b): (&Journeys, Segment),
    journey: &ExpectedJourney,
    (now_a, now_b): (Option<i64>, Option<i64>),
) -> Result<ComparedConformance, SegmentError> {
    let (ja, jb) = (in_a.with_segment(Some(a))?, in_b.with_segment(Some(b))?);
    let tally = |j: &Journeys, now: Option<i64>| {
        let ids = JourneyIds::of(journey, j);
        ConformanceTally::of(j, &ids, now.map(|t| open_after(j, t)))
    };
    let (ta, tb) = (tally(&ja, now_a), tally(&jb, now_b));
    let side = |t: &ConformanceTally| ConformanceSide {
        entered: t.entered,
        conforming: t.conforming,
        rate: ratio(t.conforming, t.entered),
    };
    // Deviations by name: the two groups may be built apart (other ids).
    let mut pairs: BTreeMap<(String, DeviationKind, String), (u64, u64)> = BTreeMap::new();
    for (t, j, first) in [(&ta, &ja, true), (&tb, &jb, false)] {
        for (&(after, kind, touchpoint), &n) in &t.deviations {
            let key = (
                journey.steps[after].touchpoint.clone(),
                kind,
                j.touchpoint_name(touchpoint).to_owned(),
            );
            let pair = pairs.entry(key).or_default();
            if first {
                pair.0 = n;
            } else {
                pair.1 = n;
            }
        }
    }
    let mut deviations: Vec<DeviationCompared> = pairs
        .into_iter()
        .map(|((after, kind, touchpoint), (na, nb))| DeviationCompared {
            after,
            kind,
            touchpoint,
            a: DeviationSide {
                sessions: na,
                share: ratio(na, ta.entered),
            },
            b: DeviationSide {
                sessions: nb,
                share: ratio(nb, tb.entered),
            },
            difference: test((na, ta.entered), (nb, tb.entered)),
        })
        .collect();
    let mut difference = test((ta.conforming, ta.entered), (tb.conforming, tb.entered));
    let mut tests: Vec<&mut Difference> =
        deviations.iter_mut().map(|d| &mut d.difference).collect();
    tests.push(&mut difference);
    benjamini_hochberg(&mut tests);
    deviations.sort_by(|x, y| order(&x.difference, &y.difference));
    Ok(ComparedConformance {
        journey: journey.name.clone(),
        a: side(&ta),
        b: side(&tb),
        difference,
        deviations,
    })
}
