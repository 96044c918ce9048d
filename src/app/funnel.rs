//! The funnel of a loaded source: its steps (given on the command line,
//! picked by the user, or by default the busiest way into the conversion)
//! and the report computed for them on a worker.

use std::sync::Arc;

use crate::engine::{
    CompareSpec, ComparedFunnel, FunnelReport, FunnelSpec, Journeys, START_NAME, compare_funnel,
    compute_funnel, guess_conversion, is_terminal_name,
};
use crate::report::Summary;

use super::loader::Loaded;
use super::memo::Memo;
use crate::background::{Task, Waker};

/// A computed funnel: of every session, and in each compared group.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelAnswer {
    /// The funnel of every session.
    pub report: FunnelReport,
    /// In groups A and B, when the view compares; else why it cannot.
    pub compared: Option<Result<ComparedFunnel, String>>,
}

/// What a funnel is computed from: its steps, the journeys' generation and
/// what is compared.
type FunnelKey = (FunnelSpec, u64, Option<CompareSpec>);

/// The funnel asked for and its report.
pub struct Funnel {
    /// Touchpoint names, in order.
    pub steps: Vec<String>,
    /// Conversion window in seconds from the first step; None = no limit.
    pub within_s: Option<i64>,
    generation: u64,
    /// What is compared (set by the workspace from its view).
    pub compare: Option<CompareSpec>,
    report: Memo<FunnelKey, FunnelAnswer>,
}

impl Funnel {
    /// The funnel given on the command line, or the busiest path into the
    /// guessed conversion (else from START).
    pub fn new(loaded: &Loaded) -> Self {
        let (steps, within_s) = match &loaded.request.settings.questions.funnel {
            Some(spec) => (spec.steps.clone(), spec.within_us.map(|us| us / 1_000_000)),
            None => (default_steps(&loaded.journeys, &loaded.summary), None),
        };
        Funnel {
            steps,
            within_s,
            generation: 0,
            compare: None,
            report: Memo::default(),
        }
    }

    /// The journeys changed: compute again.
    pub fn invalidate(&mut self) {
        self.generation += 1;
    }

    /// Drops steps that no longer exist and computes again.
    pub fn retain_known(&mut self, journeys: &Journeys) {
        self.steps
            .retain(|s| !journeys.touchpoints_matching(s).is_empty());
        self.invalidate();
    }

    /// The steps and window as a spec.
    pub fn spec(&self) -> FunnelSpec {
        FunnelSpec {
            steps: self.steps.clone(),
            within_us: self.within_s.map(|s| s * 1_000_000),
        }
    }

    /// The last funnel computed (perhaps for other steps).
    pub fn report(&self) -> Option<&Arc<FunnelAnswer>> {
        self.report.value()
    }

    fn key(&self) -> FunnelKey {
        (self.spec(), self.generation, self.compare.clone())
    }

    /// True while the report shown is not the one for the steps.
    pub fn is_stale(&self) -> bool {
        self.report.value_for(&self.key()).is_none()
    }

    /// Why the funnel could not be computed, if it could not.
    pub fn failure(&self) -> Option<&str> {
        self.report.failure()
    }

    /// Takes a finished report and starts the one the steps ask for.
    pub fn poll(&mut self, journeys: &Arc<Journeys>, wake: &Waker) {
        if self.steps.is_empty() {
            return;
        }
        let key = self.key();
        self.report.want(&key, |(spec, _, compare)| {
            let (journeys, spec, compare) = (journeys.clone(), spec.clone(), compare.clone());
            Task::spawn("funnel", wake.clone(), move |_| FunnelAnswer {
                report: compute_funnel(&journeys, &spec),
                // Each significant step is explained on request.
                // Each group within the view's segment (the ticked variants).
                compared: compare
                    .map(|c| compare_funnel(&journeys, &c, &spec, true).map_err(|e| e.to_string())),
            })
        });
    }
}

/// The busiest way into the guessed conversion (at least three steps),
/// else the busiest path from START.
pub fn default_steps(journeys: &Journeys, summary: &Summary) -> Vec<String> {
    let conversion = guess_conversion(journeys).map(|t| journeys.touchpoint_name(t).to_owned());
    conversion
        .map(|c| path_to(summary, &c))
        .filter(|p| p.len() >= 3)
        .unwrap_or_else(|| main_path(summary))
}

/// The busiest way into `target`: from `target`, the heaviest transition
/// into it from a touchpoint not yet on the path, repeated back towards
/// START (up to six steps).
fn path_to(summary: &Summary, target: &str) -> Vec<String> {
    let mut path = vec![target.to_owned()];
    while path.len() < 6 {
        let at = path[0].clone();
        let previous = summary
            .edges
            .iter()
            .filter(|e| e.to == at && e.from != START_NAME && !path.contains(&e.from))
            .max_by_key(|e| e.transitions);
        match previous {
            Some(e) => path.insert(0, e.from.clone()),
            None => break,
        }
    }
    path
}

/// The touchpoints of the busiest path from START, following the widest
/// transition to a touchpoint not yet on it (up to five steps).
fn main_path(summary: &Summary) -> Vec<String> {
    let mut path: Vec<String> = Vec::new();
    let mut at = START_NAME.to_owned();
    while path.len() < 5 {
        let next = summary
            .edges
            .iter()
            .filter(|e| e.from == at && !is_terminal_name(&e.to) && !path.contains(&e.to))
            .max_by_key(|e| e.transitions);
        match next {
            Some(e) => {
                path.push(e.to.clone());
                at = e.to.clone();
            }
            None => break,
        }
    }
    path
}
