//! The expected journey: a named, ordered list of steps (some optional)
//! and how sessions keep to it.
//!
//! A session that does the first step is *entered* at its first
//! occurrence (what comes before is ignored). Walking on with the current
//! step (at first the first), each event is the current step again (a
//! repeat), one of the next steps up to and including the next required
//! one (the journey moves on to it), or the session's one first deviation:
//! `skipped` (a step further on than the next required one), `backtrack`
//! (a step before the current one), `detour` (a touchpoint not in the
//! journey), or `left` (the session ended first). The session *conforms*
//! as soon as it reaches the last required step.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use super::event::{END, Event};
use super::journeys::Journeys;

/// One step of an expected journey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JourneyStep {
    /// The touchpoint's name.
    pub touchpoint: String,
    /// May be skipped (`?` after it).
    pub optional: bool,
}

/// A named, ordered list of steps: `product_view > add_to_cart >
/// begin_checkout? > purchase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedJourney {
    /// Its name (the steps written out when it was typed without one).
    pub name: String,
    /// The steps, in order; names are distinct, the first is required.
    pub steps: Vec<JourneyStep>,
}

/// Why a text is not an expected journey.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum JourneyError {
    /// No step at all, or an empty one (`a > > b`).
    #[error(
        "journey `{0}`: a step is empty; write steps joined by >, e.g. `product_view > add_to_cart > begin_checkout? > purchase` (? marks an optional step)"
    )]
    EmptyStep(String),
    /// The same touchpoint twice.
    #[error(
        "journey `{text}`: `{step}` is named twice; each step of a journey is a different touchpoint"
    )]
    Repeated {
        /// The whole text.
        text: String,
        /// The step named twice.
        step: String,
    },
    /// `a? > b`.
    #[error("journey `{0}`: the first step cannot be optional (sessions enter the journey at it)")]
    OptionalFirst(String),
}

impl fmt::Display for ExpectedJourney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| format!("{}{}", s.touchpoint, if s.optional { "?" } else { "" }))
            .collect();
        f.write_str(&steps.join(" > "))
    }
}

impl ExpectedJourney {
    /// Reads `a > b? > c`; `name` None names it by its steps.
    pub fn parse(name: Option<&str>, text: &str) -> Result<ExpectedJourney, JourneyError> {
        let text = text.trim();
        let mut steps: Vec<JourneyStep> = Vec::new();
        for part in text.split('>').map(str::trim) {
            let (touchpoint, optional) = match part.strip_suffix('?') {
                Some(t) => (t.trim(), true),
                None => (part, false),
            };
            if touchpoint.is_empty() {
                return Err(JourneyError::EmptyStep(text.to_owned()));
            }
            if steps.iter().any(|s| s.touchpoint == touchpoint) {
                return Err(JourneyError::Repeated {
                    text: text.to_owned(),
                    step: touchpoint.to_owned(),
                });
            }
            steps.push(JourneyStep {
                touchpoint: touchpoint.to_owned(),
                optional,
            });
        }
        if steps[0].optional {
            return Err(JourneyError::OptionalFirst(text.to_owned()));
        }
        let mut journey = ExpectedJourney {
            name: String::new(),
            steps,
        };
        journey.name = name.map_or_else(|| journey.to_string(), str::to_owned);
        Ok(journey)
    }

    /// Index of the last required step.
    pub fn last_required(&self) -> usize {
        self.steps.iter().rposition(|s| !s.optional).unwrap_or(0)
    }
}

/// How a session first leaves an expected journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviationKind {
    /// A step further on than the next required one.
    Skipped,
    /// A step before the current one.
    Backtrack,
    /// A touchpoint that is not in the journey.
    Detour,
    /// The session ended first.
    Left,
}

impl DeviationKind {
    /// The name JSON and rules use.
    pub fn name(self) -> &'static str {
        match self {
            DeviationKind::Skipped => "skipped",
            DeviationKind::Backtrack => "backtrack",
            DeviationKind::Detour => "detour",
            DeviationKind::Left => "left",
        }
    }
}

/// Where a session stands on an expected journey, event by event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Progress {
    /// It has not done the first step.
    #[default]
    NotEntered,
    /// On the journey, at this step.
    At(u32),
    /// It reached the last required step.
    Conformed,
    /// It left the journey.
    Deviated,
}

/// How one session went on an expected journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// It never does the first step.
    NotEntered,
    /// It reaches the last required step: at event `entered` it does the
    /// first step, at event `done` the last required one.
    Conforms {
        /// Index of the entering event.
        entered: usize,
        /// Index of the event at the last required step.
        done: usize,
    },
    /// It leaves the journey.
    Deviates {
        /// Index of the entering event.
        entered: usize,
        /// The step it was at (an index into the steps).
        after: usize,
        /// How it left.
        kind: DeviationKind,
        /// The touchpoint that caused it (END when it left).
        touchpoint: u32,
        /// Index of the deviating event (the session's length when it left).
        at: usize,
    },
}

impl Walk {
    /// The furthest step a session entered reached while on the journey;
    /// one that conforms is past every step (`last` is the last step).
    pub fn furthest(self, last: usize) -> Option<usize> {
        match self {
            Walk::NotEntered => None,
            Walk::Conforms { .. } => Some(last),
            Walk::Deviates { after, .. } => Some(after),
        }
    }
}

/// An expected journey with the touchpoint ids of loaded data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyIds {
    /// Each step's touchpoint ids (empty: the data has no such touchpoint;
    /// several: a touchpoint split by a property, reached as a whole).
    pub ids: Vec<Vec<u32>>,
    optional: Vec<bool>,
    last_required: usize,
}

impl JourneyIds {
    /// `journey` with the id `id_of` gives each step's name.
    pub fn new(journey: &ExpectedJourney, id_of: impl Fn(&str) -> Option<u32>) -> JourneyIds {
        JourneyIds::matching(journey, |name| id_of(name).into_iter().collect())
    }

    /// `journey` with the touchpoints of `journeys` each step means: the
    /// one so called, else every touchpoint split from it (as a funnel's).
    pub fn of(journey: &ExpectedJourney, journeys: &Journeys) -> JourneyIds {
        JourneyIds::matching(journey, |name| journeys.touchpoints_matching(name))
    }

    /// `journey` with `ids_of` giving each step's touchpoint ids.
    pub(crate) fn matching(
        journey: &ExpectedJourney,
        ids_of: impl Fn(&str) -> Vec<u32>,
    ) -> JourneyIds {
        JourneyIds {
            ids: journey
                .steps
                .iter()
                .map(|s| ids_of(&s.touchpoint))
                .collect(),
            optional: journey.steps.iter().map(|s| s.optional).collect(),
            last_required: journey.last_required(),
        }
    }

    fn step_of(&self, touchpoint: u32) -> Option<usize> {
        self.ids.iter().position(|ids| ids.contains(&touchpoint))
    }

    /// The furthest step a session at step `current` may move on to: the
    /// next required one.
    fn next_required(&self, current: usize) -> usize {
        (current + 1..self.ids.len())
            .find(|&k| !self.optional[k])
            .unwrap_or(self.ids.len() - 1)
    }

    /// The next event of a session (at touchpoint `t`) that stood at
    /// `progress`: where the session then stands, and how it left the
    /// journey when this event made it leave.
    pub fn step(&self, progress: Progress, t: u32) -> (Progress, Option<DeviationKind>) {
        match progress {
            Progress::NotEntered if self.ids[0].contains(&t) => match self.last_required {
                0 => (Progress::Conformed, None),
                _ => (Progress::At(0), None),
            },
            Progress::At(current) => {
                let current = current as usize;
                if self.ids[current].contains(&t) {
                    return (progress, None);
                }
                match self.step_of(t) {
                    Some(j) if j > current && j <= self.next_required(current) => {
                        match j >= self.last_required {
                            true => (Progress::Conformed, None),
                            false => (Progress::At(j as u32), None),
                        }
                    }
                    Some(j) if j > current => (Progress::Deviated, Some(DeviationKind::Skipped)),
                    Some(_) => (Progress::Deviated, Some(DeviationKind::Backtrack)),
                    None => (Progress::Deviated, Some(DeviationKind::Detour)),
                }
            }
            other => (other, None),
        }
    }

    /// How the session of these touchpoints, in order, goes on the journey.
    pub fn walk(&self, touchpoints: impl IntoIterator<Item = u32>) -> Walk {
        let mut progress = Progress::NotEntered;
        let (mut entered, mut length) = (0, 0);
        for (i, t) in touchpoints.into_iter().enumerate() {
            length = i + 1;
            let (next, left) = self.step(progress, t);
            if progress == Progress::NotEntered && next != Progress::NotEntered {
                entered = i;
            }
            match (next, left) {
                (Progress::Conformed, _) => return Walk::Conforms { entered, done: i },
                (_, Some(kind)) => {
                    let Progress::At(after) = progress else {
                        continue;
                    };
                    return Walk::Deviates {
                        entered,
                        after: after as usize,
                        kind,
                        touchpoint: t,
                        at: i,
                    };
                }
                _ => progress = next,
            }
        }
        match progress {
            Progress::At(after) => Walk::Deviates {
                entered,
                after: after as usize,
                kind: DeviationKind::Left,
                touchpoint: END,
                at: length,
            },
            _ => Walk::NotEntered,
        }
    }

    /// How `session`'s events go on the journey.
    pub fn walk_events(&self, session: &[Event]) -> Walk {
        self.walk(session.iter().map(|e| e.touchpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journey(text: &str) -> (ExpectedJourney, JourneyIds) {
        let j = ExpectedJourney::parse(None, text).unwrap();
        // Touchpoints are single letters: a = 10, b = 11, …
        let ids = JourneyIds::new(&j, |n| Some(u32::from(n.as_bytes()[0] - b'a') + 10));
        (j, ids)
    }

    fn walk(text: &str, session: &str) -> Walk {
        let (_, ids) = journey(text);
        ids.walk(session.bytes().map(|b| u32::from(b - b'a') + 10))
    }

    fn deviation(kind: DeviationKind, after: usize) -> impl Fn(Walk) -> bool {
        move |w| matches!(w, Walk::Deviates { kind: k, after: a, .. } if k == kind && a == after)
    }

    #[test]
    fn each_kind_of_first_deviation() {
        assert_eq!(
            walk("a>b>c", "xabbc"),
            Walk::Conforms {
                entered: 1,
                done: 4
            }
        );
        assert_eq!(
            walk("a>b?>c", "ac"),
            Walk::Conforms {
                entered: 0,
                done: 1
            }
        );
        assert!(deviation(DeviationKind::Skipped, 0)(walk("a>b>c", "ac")));
        assert!(deviation(DeviationKind::Backtrack, 1)(walk("a>b>c", "aba")));
        assert!(deviation(DeviationKind::Detour, 1)(walk("a>b>c", "abx")));
        assert!(deviation(DeviationKind::Left, 1)(walk("a>b>c", "ab")));
        assert_eq!(walk("a>b>c", "xyz"), Walk::NotEntered);
        // Later events do not matter once it conforms.
        assert!(matches!(
            walk("a>b>c?", "abxa"),
            Walk::Conforms { done: 1, .. }
        ));
    }

    #[test]
    fn bad_journeys_say_how_to_write_one() {
        for bad in ["", "a > > b", "a > b > a", "a? > b"] {
            assert!(ExpectedJourney::parse(None, bad).is_err(), "{bad}");
        }
        let (j, _) = journey("a > b? > c");
        assert_eq!(j.to_string(), "a > b? > c");
        assert_eq!(j.last_required(), 2);
    }
}
