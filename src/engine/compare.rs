//! Comparing two groups of sessions: per transition the share of its
//! source's outflow, per touchpoint the share of its sessions that leave
//! there, per funnel step the conversion from the previous step; each with
//! the difference in percentage points, a pooled two-proportion z-test
//! (two-sided) and a Benjamini–Hochberg q-value.

use std::collections::BTreeMap;

use serde::Serialize;

use super::event::is_terminal_name;
use super::explain::{Explainer, Explanation};
use super::funnel::{FunnelReport, FunnelSpec, compute_funnel, ratio};
use super::journeys::Journeys;
use super::paths::{PathsReport, PathsSpec, compute_paths};
pub use super::proportions::two_proportion_p;
use super::segment::{Condition, Segment, SegmentError};

/// What the test column of a comparison says.
pub const TEST_NAME: &str =
    "two-proportion z-test, two-sided; q = Benjamini-Hochberg over all rows";

/// A row is significant when its q-value is below this…
pub const SIGNIFICANCE: f64 = 0.01;
/// …and both of its groups have at least this many sessions (or customers).
pub const MIN_VOLUME: u64 = 30;

/// Which sessions are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareSpec {
    /// Segment A against segment B, or against every other session.
    Segments {
        /// Group A.
        a: Segment,
        /// Group B; None: the sessions not in A.
        b: Option<Segment>,
    },
    /// The second half of the data's time span against the first.
    PreviousPeriod,
}

/// One group of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// The segment's expression.
    pub segment: String,
    /// Its conditions, to be said in words (not in the JSON, which has the
    /// expression).
    #[serde(skip)]
    pub conditions: Vec<Condition>,
    /// Its sessions.
    pub sessions: u64,
    /// Its customers.
    pub customers: u64,
}

impl Side {
    /// The group `segment` whose sessions `journeys` walked.
    fn of(segment: Segment, journeys: &Journeys) -> Side {
        Side {
            segment: segment.text,
            conditions: segment.conditions,
            sessions: journeys.sessions,
            customers: journeys.customers,
        }
    }
}

/// A transition in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeSide {
    /// Times taken.
    pub transitions: u64,
    /// Every transition leaving its source touchpoint.
    pub outflow: u64,
    /// transitions / outflow (0 when there is no outflow).
    pub share: f64,
    /// Median time between the two events, in seconds (null from START,
    /// to END, or when never taken).
    pub median_s: Option<f64>,
}

/// A touchpoint in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSide {
    /// Sessions visiting it.
    pub sessions: u64,
    /// Sessions ending at it.
    pub exits: u64,
    /// exits / sessions.
    pub exit_share: f64,
}

/// A funnel step in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepSide {
    /// Customers reaching the step.
    pub customers: u64,
    /// Customers reaching the previous step (this one for the first).
    pub previous: u64,
    /// customers / previous.
    pub conversion: f64,
}

/// The test of one row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    /// (share in A − share in B) × 100.
    pub diff_pp: f64,
    /// Two-sided p-value; null when a group has no volume.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg q-value; null without a p-value.
    pub q_value: Option<f64>,
    /// q below [`SIGNIFICANCE`] and both volumes at least [`MIN_VOLUME`].
    pub significant: bool,
}

/// A transition compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeRow {
    /// Source touchpoint.
    pub from: String,
    /// Target touchpoint.
    pub to: String,
    /// In A.
    pub a: EdgeSide,
    /// In B.
    pub b: EdgeSide,
    /// The test.
    #[serde(flatten)]
    pub difference: Difference,
    /// The change broken down by each kept property's values, when asked
    /// for (`--explain`) and the row is significant.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// A touchpoint's exits compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    /// Touchpoint.
    pub name: String,
    /// In A.
    pub a: NodeSide,
    /// In B.
    pub b: NodeSide,
    /// The test.
    #[serde(flatten)]
    pub difference: Difference,
    /// The change broken down by each kept property's values, when asked
    /// for (`--explain`) and the row is significant.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// A funnel step's conversion from the previous step compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    /// Touchpoint.
    pub touchpoint: String,
    /// In A.
    pub a: StepSide,
    /// In B.
    pub b: StepSide,
    /// The test (q over the funnel's steps).
    #[serde(flatten)]
    pub difference: Difference,
    /// The change broken down by each kept property's values, when asked
    /// for (`--explain`) and the row is significant.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// Two groups of sessions compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    /// Group A.
    pub a: Side,
    /// Group B.
    pub b: Side,
    /// The test used.
    pub test: &'static str,
    /// Every transition of either group, most significant first.
    pub edges: Vec<EdgeRow>,
    /// Every touchpoint of either group, most significant first.
    pub nodes: Vec<NodeRow>,
    /// The funnel's steps after the first, when a funnel was asked for.
    pub funnel: Option<Vec<StepRow>>,
    /// Each group's paths by step, when paths were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<ComparedPaths>,
    /// The segments of A and B, to select their sessions again.
    #[serde(skip)]
    pub groups: (Segment, Segment),
}

/// The paths by step of each group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedPaths {
    /// Group A's.
    pub a: PathsReport,
    /// Group B's.
    pub b: PathsReport,
}

impl CompareReport {
    /// The rows of edges and nodes that are significant, by q-value then
    /// size of the difference: (from, to) for an edge, (name, None) for a
    /// touchpoint's exits.
    pub fn biggest(&self) -> Vec<(&str, Option<&str>, &Difference)> {
        let mut rows: Vec<(&str, Option<&str>, &Difference)> = self
            .edges
            .iter()
            .map(|e| (e.from.as_str(), Some(e.to.as_str()), &e.difference))
            .chain(
                self.nodes
                    .iter()
                    .map(|n| (n.name.as_str(), None, &n.difference)),
            )
            .filter(|(_, _, d)| d.significant)
            .collect();
        rows.sort_by(|x, y| order(x.2, y.2));
        rows
    }

    /// The shares a row compares, in A and in B: a transition's share of
    /// its source's outflow, or (with `to` None) a touchpoint's exit share.
    pub fn shares(&self, from: &str, to: Option<&str>) -> Option<(f64, f64)> {
        match to {
            Some(to) => self
                .edges
                .iter()
                .find(|e| e.from == from && e.to == to)
                .map(|e| (e.a.share, e.b.share)),
            None => self
                .nodes
                .iter()
                .find(|n| n.name == from)
                .map(|n| (n.a.exit_share, n.b.exit_share)),
        }
    }
}

/// The two groups of `spec` as segments of `journeys`, each within the
/// segment `journeys` is restricted to, when it is.
pub fn sides(journeys: &Journeys, spec: &CompareSpec) -> (Segment, Segment) {
    let (a, b) = groups(journeys, spec);
    let Some(within) = &journeys.segment else {
        return (a, b);
    };
    let and = |s: Segment| Segment {
        text: format!("{} & {}", within.text, s.text),
        conditions: within
            .conditions
            .iter()
            .chain(&s.conditions)
            .cloned()
            .collect(),
    };
    (and(a), and(b))
}

fn groups(journeys: &Journeys, spec: &CompareSpec) -> (Segment, Segment) {
    match spec {
        CompareSpec::Segments { a, b: Some(b) } => (a.clone(), b.clone()),
        CompareSpec::Segments { a, b: None } => (a.clone(), rest_of(a)),
        CompareSpec::PreviousPeriod => {
            let (first, last) = journeys.time_range_us.unwrap_or((0, 0));
            let middle = first + (last - first) / 2;
            let day = |us: i64| {
                chrono::DateTime::from_timestamp_micros(us)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    .unwrap_or_default()
            };
            (
                Segment::time(Some(middle), None, format!("time:{}..", day(middle))),
                Segment::time(None, Some(middle), format!("time:..{}", day(middle))),
            )
        }
    }
}

/// The sessions not in `a`: a segment of its own, since a segment is an
/// `&` of conditions and "not (x & y)" is not one.
pub fn rest_of(a: &Segment) -> Segment {
    Segment {
        text: format!("not {}", a.text),
        conditions: vec![Condition::Not(a.conditions.clone())],
    }
}

/// Compares the two groups of `spec` in `journeys` (its anchors and
/// session rules apply to both), with the funnel's steps when `funnel` is
/// given, each group's paths when `paths` is, and each significant row
/// explained by the kept properties' values when `explain` is true.
pub fn compare(
    journeys: &Journeys,
    spec: &CompareSpec,
    funnel: Option<&FunnelSpec>,
    paths: Option<&PathsSpec>,
    explain: bool,
) -> Result<CompareReport, SegmentError> {
    let (a, b) = sides(journeys, spec);
    compare_apart((journeys, a), (journeys, b), funnel, paths, explain)
}

/// Compares group `a` of its journeys with group `b` of its own: the
/// groups of [`compare`] when both come from one set of journeys, or two
/// stretches of a stream built apart (each as it stood at the same age).
pub fn compare_apart(
    (in_a, a): (&Journeys, Segment),
    (in_b, b): (&Journeys, Segment),
    funnel: Option<&FunnelSpec>,
    paths: Option<&PathsSpec>,
    explain: bool,
) -> Result<CompareReport, SegmentError> {
    let (ja, jb) = (
        in_a.with_segment(Some(a.clone()))?,
        in_b.with_segment(Some(b.clone()))?,
    );
    let groups = (a.clone(), b.clone());
    let mut edges = edge_rows(&ja, &jb);
    let mut nodes = node_rows(&ja, &jb);
    let mut tests: Vec<&mut Difference> = edges
        .iter_mut()
        .map(|e| &mut e.difference)
        .chain(nodes.iter_mut().map(|n| &mut n.difference))
        .collect();
    benjamini_hochberg(&mut tests);
    edges.sort_by(|x, y| order(&x.difference, &y.difference));
    nodes.sort_by(|x, y| order(&x.difference, &y.difference));
    let mut steps =
        funnel.map(|spec| tested_steps(&compute_funnel(&ja, spec), &compute_funnel(&jb, spec)));
    if explain {
        explain_significant(
            &ja,
            &jb,
            funnel,
            &mut edges,
            &mut nodes,
            steps.as_deref_mut(),
        );
    }
    let paths = paths.map(|spec| ComparedPaths {
        a: compute_paths(&ja, spec),
        b: compute_paths(&jb, spec),
    });
    Ok(CompareReport {
        a: Side::of(a, &ja),
        b: Side::of(b, &jb),
        test: TEST_NAME,
        edges,
        nodes,
        funnel: steps,
        paths,
        groups,
    })
}

/// Explains every significant row (the counts are taken only when there
/// is one).
fn explain_significant(
    ja: &Journeys,
    jb: &Journeys,
    funnel: Option<&FunnelSpec>,
    edges: &mut [EdgeRow],
    nodes: &mut [NodeRow],
    steps: Option<&mut [StepRow]>,
) {
    let steps = steps.unwrap_or_default();
    let any = edges.iter().map(|e| &e.difference);
    let any = any.chain(nodes.iter().map(|n| &n.difference));
    if !any
        .chain(steps.iter().map(|s| &s.difference))
        .any(|d| d.significant)
    {
        return;
    }
    let explainer = Explainer::new(ja, jb, funnel);
    for e in edges.iter_mut().filter(|e| e.difference.significant) {
        e.explanation = Some(explainer.transition(&e.from, &e.to));
    }
    for n in nodes.iter_mut().filter(|n| n.difference.significant) {
        n.explanation = Some(explainer.exit(&n.name));
    }
    for (i, s) in steps.iter_mut().enumerate() {
        if s.difference.significant {
            s.explanation = Some(explainer.step(i + 1, &s.touchpoint));
        }
    }
}

/// A funnel in both groups of a comparison, step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedFunnel {
    /// Group A.
    pub a: Side,
    /// Group B.
    pub b: Side,
    /// The funnel of A's sessions.
    pub funnel_a: FunnelReport,
    /// The funnel of B's sessions.
    pub funnel_b: FunnelReport,
    /// The steps after the first, tested (q over the funnel's steps).
    pub rows: Vec<StepRow>,
}

/// The funnel `funnel` in each group of `spec`, with each step's
/// conversion tested as `--compare --funnel` tests it, and each
/// significant step explained by the kept properties' values when
/// `explain` is true.
pub fn compare_funnel(
    journeys: &Journeys,
    spec: &CompareSpec,
    funnel: &FunnelSpec,
    explain: bool,
) -> Result<ComparedFunnel, SegmentError> {
    let (a, b) = sides(journeys, spec);
    let (ja, jb) = (
        journeys.with_segment(Some(a.clone()))?,
        journeys.with_segment(Some(b.clone()))?,
    );
    let (funnel_a, funnel_b) = (compute_funnel(&ja, funnel), compute_funnel(&jb, funnel));
    let mut rows = tested_steps(&funnel_a, &funnel_b);
    if explain {
        explain_significant(&ja, &jb, Some(funnel), &mut [], &mut [], Some(&mut rows));
    }
    Ok(ComparedFunnel {
        a: Side::of(a, &ja),
        b: Side::of(b, &jb),
        funnel_a,
        funnel_b,
        rows,
    })
}

/// Most significant first: by q-value (rows without one last), then by the
/// size of the difference.
pub(super) fn order(x: &Difference, y: &Difference) -> std::cmp::Ordering {
    let q = |d: &Difference| d.q_value.unwrap_or(f64::INFINITY);
    q(x).total_cmp(&q(y))
        .then(y.diff_pp.abs().total_cmp(&x.diff_pp.abs()))
}

fn edge_rows(a: &Journeys, b: &Journeys) -> Vec<EdgeRow> {
    #[derive(Default)]
    struct Pair {
        a: Option<(u64, Option<f64>)>,
        b: Option<(u64, Option<f64>)>,
    }
    let mut pairs: BTreeMap<(String, String), Pair> = BTreeMap::new();
    let mut outflow: [BTreeMap<String, u64>; 2] = Default::default();
    for (side, journeys) in [a, b].into_iter().enumerate() {
        for e in journeys.graph.edge_reports() {
            *outflow[side].entry(e.from.clone()).or_default() += e.transitions;
            let pair = pairs.entry((e.from, e.to)).or_default();
            let value = Some((e.transitions, e.time_s.map(|t| t.median)));
            if side == 0 {
                pair.a = value;
            } else {
                pair.b = value;
            }
        }
    }
    pairs
        .into_iter()
        .map(|((from, to), pair)| {
            let side = |s: usize, v: Option<(u64, Option<f64>)>| {
                let (transitions, median_s) = v.unwrap_or((0, None));
                let outflow = outflow[s].get(&from).copied().unwrap_or(0);
                EdgeSide {
                    transitions,
                    outflow,
                    share: ratio(transitions, outflow),
                    median_s,
                }
            };
            let (a, b) = (side(0, pair.a), side(1, pair.b));
            let difference = test((a.transitions, a.outflow), (b.transitions, b.outflow));
            EdgeRow {
                from,
                to,
                a,
                b,
                difference,
                explanation: None,
            }
        })
        .collect()
}

fn node_rows(a: &Journeys, b: &Journeys) -> Vec<NodeRow> {
    let mut names: Vec<String> = a
        .graph
        .node_reports()
        .into_iter()
        .chain(b.graph.node_reports())
        .map(|n| n.name)
        .filter(|n| !is_terminal_name(n))
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let side = |j: &Journeys| {
                let (sessions, exits) = j
                    .graph
                    .node(&name)
                    .map_or((0, 0), |n| (n.sessions, n.exits));
                NodeSide {
                    sessions,
                    exits,
                    exit_share: ratio(exits, sessions),
                }
            };
            let (sa, sb) = (side(a), side(b));
            let difference = test((sa.exits, sa.sessions), (sb.exits, sb.sessions));
            NodeRow {
                name,
                a: sa,
                b: sb,
                difference,
                explanation: None,
            }
        })
        .collect()
}

/// The funnel's steps after the first in A and B, with q-values over them.
fn tested_steps(fa: &FunnelReport, fb: &FunnelReport) -> Vec<StepRow> {
    let mut rows = step_rows(fa, fb);
    let mut tests: Vec<&mut Difference> = rows.iter_mut().map(|r| &mut r.difference).collect();
    benjamini_hochberg(&mut tests);
    rows
}

fn step_rows(fa: &FunnelReport, fb: &FunnelReport) -> Vec<StepRow> {
    let side = |steps: &[super::funnel::FunnelStep], i: usize| {
        let previous = steps[i.saturating_sub(1)].customers;
        StepSide {
            customers: steps[i].customers,
            previous,
            conversion: ratio(steps[i].customers, previous),
        }
    };
    (1..fa.steps.len())
        .map(|i| {
            let (sa, sb) = (side(&fa.steps, i), side(&fb.steps, i));
            let difference = test((sa.customers, sa.previous), (sb.customers, sb.previous));
            StepRow {
                touchpoint: fa.steps[i].touchpoint.clone(),
                a: sa,
                b: sb,
                difference,
                explanation: None,
            }
        })
        .collect()
}

/// The difference of `x1 / n1` and `x2 / n2` with its p-value (no q yet).
pub(super) fn test((x1, n1): (u64, u64), (x2, n2): (u64, u64)) -> Difference {
    let diff_pp = (ratio(x1, n1) - ratio(x2, n2)) * 100.0;
    let p_value = (n1 > 0 && n2 > 0).then(|| two_proportion_p(x1, n1, x2, n2));
    Difference {
        diff_pp,
        p_value,
        q_value: None,
        significant: n1.min(n2) >= MIN_VOLUME,
    }
}

/// Sets the q-values of the rows with a p-value (Benjamini–Hochberg: the
/// smallest `p(j) · m / j` over ranks j ≥ the row's, at most 1) and
/// decides significance, which [`test`] left as "volume enough".
pub(super) fn benjamini_hochberg(rows: &mut [&mut Difference]) {
    let mut ranked: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].p_value.is_some())
        .collect();
    ranked.sort_by(|&i, &j| {
        rows[i]
            .p_value
            .unwrap_or(1.0)
            .total_cmp(&rows[j].p_value.unwrap_or(1.0))
    });
    let m = ranked.len() as f64;
    let mut smallest = 1.0f64;
    for (rank, &i) in ranked.iter().enumerate().rev() {
        let p = rows[i].p_value.unwrap_or(1.0);
        smallest = smallest.min(p * m / (rank + 1) as f64);
        rows[i].q_value = Some(smallest);
    }
    for row in rows.iter_mut() {
        row.significant &= row.q_value.is_some_and(|q| q < SIGNIFICANCE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_follow_benjamini_hochberg() {
        let ps = [0.01, 0.04, 0.03, 0.5];
        let mut rows: Vec<Difference> = ps
            .iter()
            .map(|&p| Difference {
                diff_pp: 0.0,
                p_value: Some(p),
                q_value: None,
                significant: true,
            })
            .collect();
        let mut refs: Vec<&mut Difference> = rows.iter_mut().collect();
        benjamini_hochberg(&mut refs);
        let q: Vec<f64> = rows.iter().map(|r| r.q_value.unwrap()).collect();
        // Sorted: 0.01→0.04, 0.03→0.04·… min(0.03·4/2, 0.04·4/3) = 0.0533.
        let want = [0.04, 0.053_333_333, 0.053_333_333, 0.5];
        for (g, w) in q.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{q:?}");
        }
    }
}
