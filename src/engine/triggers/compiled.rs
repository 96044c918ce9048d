//! Trigger rules read against the touchpoints of the data: every name the
//! rules mention is one bit ("watched"), each touchpoint carries the bits
//! of the names it is (the touchpoint so called, or one split from it), and
//! a session keeps the bits of what it has visited.

use super::{MAX_TRIGGERS, TriggerKind, TriggerRule};
use crate::engine::conformance::JourneyIds;
use crate::engine::rules::split_name;
use crate::engine::segment::Condition;

/// Why trigger rules cannot be watched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TriggerError(pub String);

/// A segment condition read on a session so far.
#[derive(Debug, Clone)]
pub(super) enum Test {
    /// The session's first event has kept property `index` in `values`.
    Property {
        index: usize,
        values: Vec<String>,
        negated: bool,
    },
    /// The session has visited watched name `bit`.
    Did { bit: u64, negated: bool },
    /// The session began in [from, to).
    Time { from_us: i64, to_us: i64 },
    /// Not all of these hold.
    Not(Vec<Test>),
}

/// One rule, read.
#[derive(Debug, Clone)]
pub(super) enum Check {
    Stall {
        at: u64,
        after_us: i64,
    },
    Abandon {
        did: u64,
    },
    /// `offset` into the session's sequence progress.
    Sequence {
        steps: Vec<u64>,
        within_us: Option<i64>,
        offset: usize,
    },
    OffPath {
        journey: usize,
    },
}

/// The rules with the bits they read, and the touchpoints met so far.
#[derive(Debug, Clone)]
pub(super) struct Compiled {
    pub rules: Vec<TriggerRule>,
    pub checks: Vec<Check>,
    pub unless: Vec<u64>,
    pub tests: Vec<Vec<Test>>,
    watched: Vec<String>,
    /// Sequence progress kept per session.
    pub sequence_slots: usize,
    /// The expected journeys of `off_path` rules, and their ids among the
    /// touchpoints met.
    journeys: Vec<crate::engine::ExpectedJourney>,
    pub journey_ids: Vec<JourneyIds>,
    /// Touchpoint names by id, and the watched bits of each.
    pub names: Vec<Box<str>>,
    pub masks: Vec<u64>,
    /// Names of the kept properties, in the engine's order.
    pub kept: Vec<String>,
    pub timeout_us: Option<i64>,
}

impl Compiled {
    /// Reads `rules` for sessions cut at `timeout_us`, whose first events
    /// keep the properties `kept`.
    pub fn new(
        rules: Vec<TriggerRule>,
        kept: &[String],
        timeout_us: Option<i64>,
    ) -> Result<Compiled, TriggerError> {
        if rules.len() > MAX_TRIGGERS {
            return Err(TriggerError(format!(
                "{} trigger rules: at most {MAX_TRIGGERS} are watched at once",
                rules.len()
            )));
        }
        let mut compiled = Compiled {
            rules: Vec::new(),
            checks: Vec::new(),
            unless: Vec::new(),
            tests: Vec::new(),
            watched: Vec::new(),
            sequence_slots: 0,
            journeys: Vec::new(),
            journey_ids: Vec::new(),
            names: Vec::new(),
            masks: Vec::new(),
            kept: kept.to_vec(),
            timeout_us,
        };
        for rule in &rules {
            let named = |what: String| TriggerError(format!("trigger `{}`: {what}", rule.name));
            let check = match &rule.kind {
                TriggerKind::Stall { at, after_us } => Check::Stall {
                    at: compiled.bit(at).map_err(named)?,
                    after_us: *after_us,
                },
                TriggerKind::Abandon { did } => Check::Abandon {
                    did: compiled.bits(did).map_err(named)?,
                },
                TriggerKind::Sequence { steps, within_us } => {
                    let steps = steps
                        .iter()
                        .map(|s| compiled.bit(s))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(named)?;
                    let offset = compiled.sequence_slots;
                    compiled.sequence_slots += steps.len();
                    Check::Sequence {
                        steps,
                        within_us: *within_us,
                        offset,
                    }
                }
                TriggerKind::OffPath { journey } => {
                    compiled.journeys.push(journey.clone());
                    Check::OffPath {
                        journey: compiled.journeys.len() - 1,
                    }
                }
            };
            let unless = compiled.bits(&rule.unless).map_err(named)?;
            let tests = match &rule.segment {
                Some(segment) => compiled.tests_of(&segment.conditions).map_err(named)?,
                None => Vec::new(),
            };
            compiled.checks.push(check);
            compiled.unless.push(unless);
            compiled.tests.push(tests);
        }
        compiled.journey_ids = compiled
            .journeys
            .iter()
            .map(|j| JourneyIds::new(j, |_| None))
            .collect();
        compiled.rules = rules;
        Ok(compiled)
    }

    /// The bit of a watched name, given one now when it has none.
    fn bit(&mut self, name: &str) -> Result<u64, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("a touchpoint name is empty".into());
        }
        if let Some(k) = self.watched.iter().position(|w| w == name) {
            return Ok(1 << k);
        }
        if self.watched.len() == 64 {
            return Err("the trigger rules name more than 64 touchpoints in all".into());
        }
        self.watched.push(name.to_owned());
        Ok(1 << (self.watched.len() - 1))
    }

    fn bits(&mut self, names: &[String]) -> Result<u64, String> {
        names.iter().try_fold(0, |bits, n| Ok(bits | self.bit(n)?))
    }

    fn tests_of(&mut self, conditions: &[Condition]) -> Result<Vec<Test>, String> {
        conditions
            .iter()
            .map(|c| {
                Ok(match c {
                    Condition::Property {
                        property,
                        values,
                        negated,
                    } => Test::Property {
                        index: self
                            .kept
                            .iter()
                            .position(|k| k == property)
                            .ok_or_else(|| {
                                format!(
                                    "its segment reads `{property}`, which is not kept (kept: {}); \
                                 give --keep-property {property}",
                                    if self.kept.is_empty() {
                                        "none".to_owned()
                                    } else {
                                        self.kept.join(", ")
                                    }
                                )
                            })?,
                        values: values.clone(),
                        negated: *negated,
                    },
                    Condition::Did {
                        touchpoint,
                        negated,
                    } => Test::Did {
                        bit: self.bit(touchpoint)?,
                        negated: *negated,
                    },
                    Condition::Time { from_us, to_us } => Test::Time {
                        from_us: from_us.unwrap_or(i64::MIN),
                        to_us: to_us.unwrap_or(i64::MAX),
                    },
                    Condition::Variant(_) => {
                        return Err("a trigger's segment cannot use variant:, which needs the \
                                    whole session; use did: and !did:"
                            .into());
                    }
                    Condition::Not(inner) => Test::Not(self.tests_of(inner)?),
                })
            })
            .collect()
    }

    /// Learns the touchpoints named after those met so far (`names` lists
    /// every touchpoint by id). A name means the touchpoint so called, or
    /// when there is none every touchpoint split from it, as funnel steps
    /// and expected journeys read names.
    pub fn learn<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        let before = self.names.len();
        self.names
            .extend(names.into_iter().skip(before).map(Box::<str>::from));
        if self.names.len() == before {
            return;
        }
        let ids_of = |names: &[Box<str>], wanted: &str| -> Vec<u32> {
            if let Some(id) = names.iter().position(|n| **n == *wanted) {
                return vec![id as u32];
            }
            let prefix = split_name(wanted, "");
            (0u32..)
                .zip(names)
                .filter(|(_, n)| n.starts_with(&prefix))
                .map(|(id, _)| id)
                .collect()
        };
        self.masks = vec![0; self.names.len()];
        for (k, watched) in self.watched.iter().enumerate() {
            for id in ids_of(&self.names, watched) {
                self.masks[id as usize] |= 1 << k;
            }
        }
        let names = &self.names;
        self.journey_ids = self
            .journeys
            .iter()
            .map(|j| JourneyIds::matching(j, |step| ids_of(names, step)))
            .collect();
    }

    /// The sequence rules of `old` that are here unchanged (same name and
    /// steps): (offset there, offset here, steps).
    pub fn sequences_kept(&self, old: &Compiled) -> Vec<(usize, usize, usize)> {
        let offset = |c: &Compiled, k: usize| match &c.checks[k] {
            Check::Sequence { offset, steps, .. } => Some((*offset, steps.len())),
            _ => None,
        };
        let mut kept = Vec::new();
        for (k, rule) in self.rules.iter().enumerate() {
            let Some((here, len)) = offset(self, k) else {
                continue;
            };
            let same = old
                .rules
                .iter()
                .position(|r| r.name == rule.name && r.kind == rule.kind);
            if let Some((there, _)) = same.and_then(|j| offset(old, j)) {
                kept.push((there, here, len));
            }
        }
        kept
    }

    /// The watched bits of touchpoint `id`.
    pub fn mask(&self, id: u32) -> u64 {
        self.masks.get(id as usize).copied().unwrap_or(0)
    }

    /// The name of touchpoint `id`.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }
}
