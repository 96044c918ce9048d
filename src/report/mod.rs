//! The summary of a data set: what `summarize` prints and what tests,
//! scripts and the app compare. Its JSON field names are a contract.

pub mod synthetic;
mod text;
pub mod words;

use serde::Serialize;

use crate::engine::triggers::{Action, Keep, RuleBacktest, TriggerRule, backtest};
use crate::engine::variants::goal_of;
use crate::engine::{
    CompareReport, CompareSpec, ComparedConformance, ConformanceReport, EdgeReport,
    ExpectedJourney, FunnelReport, FunnelSpec, Journeys, NodeReport, PathsReport, PathsSpec,
    RejectedLog, Segment, SegmentError, VariantsReport, VariantsSpec, compare, compare_conformance,
    compute_conformance, compute_funnel, compute_paths, compute_variants,
};
use crate::source::Mapping;

pub use text::{csv_text, to_csv, to_dot, to_table};

/// Everything `summarize` reports about a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// What was read.
    pub source: String,
    /// Which column played which role.
    pub mapping: Mapping,
    /// Accepted, de-duplicated events in the graph.
    pub events: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Sessions.
    pub sessions: u64,
    /// Events dropped as duplicates of an earlier event id.
    pub duplicates: u64,
    /// Events left out by exclude rules.
    pub excluded: u64,
    /// Rejected records: total, by reason, and a sample with positions.
    pub rejected: RejectedLog,
    /// Idle gap that separates sessions, in seconds; null = one session per
    /// customer (or explicit session ids).
    pub session_timeout_s: Option<f64>,
    /// Earliest event (RFC 3339, UTC).
    pub first_event: Option<String>,
    /// Latest event (RFC 3339, UTC).
    pub last_event: Option<String>,
    /// Touchpoints with START first and END last.
    pub nodes: Vec<NodeReport>,
    /// Transitions, most frequent first.
    pub edges: Vec<EdgeReport>,
    /// The funnel, when one was asked for.
    pub funnel: Option<FunnelReport>,
    /// The segment the summary is restricted to, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// The comparison, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareReport>,
    /// Paths by step, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathsReport>,
    /// The variants, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<VariantsReport>,
    /// How sessions keep to the expected journey, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conformance: Option<ConformanceReport>,
    /// The expected journey in the compared groups, when both were asked
    /// for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_conformance: Option<ComparedConformance>,
    /// What the trigger rules would have sent over the source (`--rules`
    /// with `[[trigger]]` tables), per rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<RuleBacktest>>,
    /// The actions the trigger rules would have sent, by event time: all
    /// with `--actions`, else the latest of each rule.
    #[serde(skip)]
    pub trigger_actions: Vec<Action>,
}

/// What a summary answers besides the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Questions {
    /// The funnel to compute.
    pub funnel: Option<FunnelSpec>,
    /// Only these sessions (`--segment`).
    pub segment: Option<Segment>,
    /// Two groups to compare (`--compare`).
    pub compare: Option<CompareSpec>,
    /// Paths by step (`--paths`).
    pub paths: Option<PathsSpec>,
    /// Each significant row of the comparison broken down by the kept
    /// properties' values (`--explain`).
    pub explain: bool,
    /// The variants (`--variants`).
    pub variants: Option<VariantsSpec>,
    /// An expected journey (`--journey`).
    pub journey: Option<ExpectedJourney>,
    /// Per-customer trigger rules to backtest (`--rules FILE`).
    pub triggers: Vec<TriggerRule>,
    /// Keep every action the triggers would have sent (`--actions`), not
    /// only the latest of each rule.
    pub all_actions: bool,
}

/// The actions of each trigger rule a summary keeps without `--actions`
/// (the latest): what the Triggers tab lists.
pub const LATEST_ACTIONS: usize = 10;

fn rfc3339(us: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

impl Summary {
    /// Summarises finished journeys read from `source` with `mapping`.
    pub fn new(
        source: &str,
        mapping: &Mapping,
        journeys: &Journeys,
        funnel: Option<&FunnelSpec>,
    ) -> Self {
        Summary {
            source: source.to_owned(),
            mapping: mapping.clone(),
            events: journeys.events,
            customers: journeys.customers,
            sessions: journeys.sessions,
            duplicates: journeys.duplicates,
            excluded: journeys.excluded,
            rejected: journeys.rejected.clone(),
            session_timeout_s: journeys.config.session_timeout_us.map(|t| t as f64 / 1e6),
            first_event: journeys.time_range_us.and_then(|(a, _)| rfc3339(a)),
            last_event: journeys.time_range_us.and_then(|(_, b)| rfc3339(b)),
            nodes: journeys.graph.node_reports(),
            edges: journeys.graph.edge_reports(),
            funnel: funnel.map(|spec| compute_funnel(journeys, spec)),
            segment: journeys.segment.as_ref().map(|s| s.text.clone()),
            compare: None,
            paths: None,
            variants: None,
            conformance: None,
            compare_conformance: None,
            triggers: None,
            trigger_actions: Vec::new(),
        }
    }

    /// Summarises the sessions of `questions.segment` (all without one),
    /// with the funnel, comparison and paths asked for; a segment naming a
    /// property that is not kept is an error.
    pub fn answer(
        source: &str,
        mapping: &Mapping,
        journeys: &Journeys,
        questions: &Questions,
    ) -> Result<Self, SegmentError> {
        let segmented;
        let all = journeys;
        let journeys = match &questions.segment {
            Some(segment) => {
                segmented = journeys.with_segment(Some(segment.clone()))?;
                &segmented
            }
            None => journeys,
        };
        let mut summary = Summary::new(source, mapping, journeys, questions.funnel.as_ref());
        if !questions.triggers.is_empty() {
            // Over every session: a trigger has its own segment.
            let keep = match questions.all_actions {
                true => Keep::All,
                false => Keep::Latest(LATEST_ACTIONS),
            };
            let backtest = backtest(all, questions.triggers.clone(), source, keep)
                .map_err(|e| SegmentError::Other(e.0))?;
            summary.triggers = Some(backtest.rules);
            summary.trigger_actions = backtest.actions;
        }
        summary.compare = questions
            .compare
            .as_ref()
            .map(|spec| {
                compare(
                    journeys,
                    spec,
                    questions.funnel.as_ref(),
                    questions.paths.as_ref(),
                    questions.explain,
                )
            })
            .transpose()?;
        summary.paths = questions
            .paths
            .as_ref()
            .map(|spec| compute_paths(journeys, spec));
        summary.variants = questions.variants.as_ref().map(|spec| {
            let goal = goal_of(journeys, spec.goal.as_deref(), questions.funnel.as_ref());
            compute_variants(journeys, spec, goal.as_ref())
        });
        if let Some(journey) = &questions.journey {
            summary.conformance = Some(compute_conformance(journeys, journey));
            summary.compare_conformance = questions
                .compare
                .as_ref()
                .map(|spec| {
                    let (a, b) = crate::engine::compare::sides(journeys, spec);
                    compare_conformance((journeys, a), (journeys, b), journey)
                })
                .transpose()?;
        }
        Ok(summary)
    }

    /// The touchpoints' names without START and END, sorted: what anchor
    /// pickers offer.
    pub fn touchpoint_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .filter(|n| !crate::engine::is_terminal_name(n))
            .collect();
        names.sort_unstable();
        names
    }

    /// The summary as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
