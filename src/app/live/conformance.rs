//! The expected journey on the live screen: the journey followed and its
//! report on the newest snapshot's sessions (the window shown, or the
//! recent past since start), computed off the UI thread.

use std::sync::Arc;

use crate::background::{Task, Waker};
use crate::engine::conformance_report::compute_conformance_at;
use crate::engine::{ConformanceReport, ExpectedJourney};

use super::super::memo::Memo;
use super::LiveSnapshot;

/// The journey the live screen follows and how the stream keeps to it.
#[derive(Default)]
pub struct LiveConformance {
    /// The journey followed (None: none).
    pub journey: Option<ExpectedJourney>,
    /// The journeys known by name (the command line's, the rules file's).
    pub named: Vec<ExpectedJourney>,
    /// Why the journey typed cannot be followed.
    pub error: Option<String>,
    report: Memo<(u64, String), ConformanceReport>,
}

impl LiveConformance {
    /// Following `journey` (the command line's), with the journeys of the
    /// rules file (`file`, else the app's) known by name.
    pub fn following(
        journey: Option<ExpectedJourney>,
        file: Option<&std::path::Path>,
        parser: crate::source::TimeParser,
    ) -> Self {
        let mut named: Vec<ExpectedJourney> = journey.iter().cloned().collect();
        named.extend(match file {
            Some(path) => crate::settings::read_rules_file(path, parser)
                .map(|f| f.journeys)
                .unwrap_or_default(),
            None => crate::settings::default_rules_journeys(parser),
        });
        LiveConformance {
            journey,
            named,
            ..LiveConformance::default()
        }
    }

    /// Follows `text` (steps, or a journey's name), None: none.
    pub fn follow(&mut self, text: Option<&str>) {
        self.error = None;
        self.report.clear();
        self.journey = match text.map(|t| crate::settings::expected_journey(t, &self.named)) {
            None => None,
            Some(Ok(journey)) => Some(journey),
            Some(Err(e)) => {
                self.error = Some(e.to_string());
                None
            }
        };
    }

    /// Walks the sessions of `snapshot` (number `changes`) along the
    /// journey when they are not walked yet.
    pub fn poll(&mut self, snapshot: &LiveSnapshot, changes: u64, wake: &Waker) {
        let Some(journey) = &self.journey else {
            return;
        };
        let journeys = snapshot.journeys.clone();
        let now = snapshot.newest_event_us.unwrap_or(i64::MIN);
        let journey = journey.clone();
        let wake = wake.clone();
        self.report.want(&(changes, journey.name.clone()), |_| {
            Task::spawn("conformance", wake, move |_| {
                compute_conformance_at(&journeys, &journey, now)
            })
        });
    }

    /// The latest report, when a journey is followed.
    pub fn report(&self) -> Option<&Arc<ConformanceReport>> {
        self.journey.as_ref()?;
        self.report.value()
    }
}
