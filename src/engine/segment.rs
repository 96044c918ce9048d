//! Segments: which sessions a summary, comparison or paths view counts.
//!
//! An expression is one or more conditions joined by `&`:
//! `PROP=V1,V2` / `PROP!=V1` (the session's first event has the property
//! in / not in the values), `did:T` / `!did:T` (the session visits / never
//! visits touchpoint T), `time:FROM..TO` (the session starts in [FROM, TO);
//! either end may be left open), `variant:a>b>c` (the session's touchpoints
//! are exactly a, b, c; several variants joined by commas). Property values are those the engine keeps
//! per session ([`super::EngineConfig::kept_properties`]), so switching
//! segments never reads the source again.

use std::fmt;

use thiserror::Error;

use super::event::Event;
use super::event::{END_NAME, START_NAME};
use super::intern::Interner;
use super::walk::is_step;

/// One condition of a segment, with names as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The session's first event has `property` in `values` (or not, when
    /// `negated`).
    Property {
        /// The property's name (`channel` or a kept property).
        property: String,
        /// The values it may (or may not) have.
        values: Vec<String>,
        /// `!=` instead of `=`.
        negated: bool,
    },
    /// The session visits `touchpoint` (or never does, when `negated`).
    Did {
        /// The touchpoint's name.
        touchpoint: String,
        /// `!did:` instead of `did:`.
        negated: bool,
    },
    /// The session starts in [`from_us`, `to_us`).
    Time {
        /// Start, µs since the epoch (None: open).
        from_us: Option<i64>,
        /// End, excluded (None: open).
        to_us: Option<i64>,
    },
    /// The session's touchpoints, in order (repeats merged as the journeys
    /// merge them), are exactly one of these lists.
    Variant(Vec<Vec<String>>),
    /// Not all of these hold (the rest of a segment, in comparisons).
    Not(Vec<Condition>),
}

/// Sessions selected by every one of its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The expression as the user wrote it (or as it was made).
    pub text: String,
    /// All must hold.
    pub conditions: Vec<Condition>,
}

/// Why an expression is not a segment.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SegmentError {
    /// The expression cannot be read.
    #[error(
        "segment `{text}`: {why}; write PROP=V1,V2, PROP!=V, did:TOUCHPOINT, !did:TOUCHPOINT \
         time:FROM..TO (a date or time, either end may be left open: \
         time:2026-11-07.., time:2026-11-01..2026-11-07) or variant:A>B>C (several joined by \
         commas), joined by &"
    )]
    Syntax {
        /// The whole expression.
        text: String,
        /// What is wrong.
        why: SyntaxProblem,
    },
    /// A property the engine does not keep per session.
    #[error(
        "segment `{text}` uses the property `{property}`, which is not kept; kept: {kept}; \
         add --keep-property {property}"
    )]
    NotKept {
        /// The whole expression.
        text: String,
        /// The property.
        property: String,
        /// The properties that are kept.
        kept: String,
    },
    /// Trigger rules that cannot be read against the data (a segment
    /// property not kept, too many names).
    #[error("{0}")]
    Other(String),
}

/// What is wrong with one condition of an expression.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SyntaxProblem {
    /// `a & & b`.
    #[error("a condition is empty")]
    EmptyCondition,
    /// `time:` without `..`.
    #[error("`{0}` needs FROM..TO")]
    NoRange(String),
    /// An end of `time:` that is neither a time nor a date.
    #[error("`{0}` is not a time or date")]
    NotATime(String),
    /// Neither `=`, `!=`, `did:` nor `time:`.
    #[error("`{0}` is not a condition")]
    NotACondition(String),
    /// `=V` without a property.
    #[error("`{0}` names no property")]
    NoProperty(String),
    /// `p=a,,b`.
    #[error("`{0}` has an empty value")]
    EmptyValue(String),
    /// `did:` alone.
    #[error("did: names no touchpoint")]
    NoTouchpoint,
    /// `variant:a>>b`.
    #[error("`{0}` has an empty step")]
    EmptyStep(String),
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Segment {
    /// Reads an expression; `parse_time` reads the ends of `time:` (a
    /// timestamp or a date, in the configured time zone).
    pub fn parse(
        text: &str,
        parse_time: &dyn Fn(&str) -> Option<i64>,
    ) -> Result<Segment, SegmentError> {
        let syntax = |why: SyntaxProblem| SegmentError::Syntax {
            text: text.to_owned(),
            why,
        };
        let mut conditions = Vec::new();
        for part in text.split('&').map(str::trim) {
            if part.is_empty() {
                return Err(syntax(SyntaxProblem::EmptyCondition));
            }
            conditions.push(parse_condition(part, parse_time).map_err(syntax)?);
        }
        Ok(Segment {
            text: text.trim().to_owned(),
            conditions,
        })
    }

    /// The sessions that start in [`from_us`, `to_us`).
    pub fn time(from_us: Option<i64>, to_us: Option<i64>, text: String) -> Segment {
        Segment {
            text,
            conditions: vec![Condition::Time { from_us, to_us }],
        }
    }
}

fn parse_condition(
    part: &str,
    parse_time: &dyn Fn(&str) -> Option<i64>,
) -> Result<Condition, SyntaxProblem> {
    if let Some(rest) = part.strip_prefix("!did:") {
        return did(rest, true);
    }
    if let Some(rest) = part.strip_prefix("did:") {
        return did(rest, false);
    }
    if let Some(rest) = part.strip_prefix("variant:") {
        let mut variants = Vec::new();
        for variant in rest.split(',') {
            let mut steps: Vec<String> = variant.split('>').map(|s| s.trim().to_owned()).collect();
            if steps.iter().any(String::is_empty) {
                return Err(SyntaxProblem::EmptyStep(part.to_owned()));
            }
            // START and END may be written: every variant has them.
            if steps.first().is_some_and(|s| s == START_NAME) {
                steps.remove(0);
            }
            if steps.last().is_some_and(|s| s == END_NAME) {
                steps.pop();
            }
            variants.push(steps);
        }
        return Ok(Condition::Variant(variants));
    }
    if let Some(rest) = part.strip_prefix("time:") {
        let Some((from, to)) = rest.split_once("..") else {
            return Err(SyntaxProblem::NoRange(part.to_owned()));
        };
        let end = |t: &str| -> Result<Option<i64>, SyntaxProblem> {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            parse_time(t)
                .map(Some)
                .ok_or_else(|| SyntaxProblem::NotATime(t.to_owned()))
        };
        let (from_us, to_us) = (end(from)?, end(to)?);
        return Ok(Condition::Time { from_us, to_us });
    }
    let (property, values, negated) = if let Some((p, v)) = part.split_once("!=") {
        (p, v, true)
    } else if let Some((p, v)) = part.split_once('=') {
        (p, v, false)
    } else {
        return Err(SyntaxProblem::NotACondition(part.to_owned()));
    };
    let property = property.trim();
    if property.is_empty() {
        return Err(SyntaxProblem::NoProperty(part.to_owned()));
    }
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
    if values.iter().any(String::is_empty) {
        return Err(SyntaxProblem::EmptyValue(part.to_owned()));
    }
    Ok(Condition::Property {
        property: property.to_owned(),
        values,
        negated,
    })
}

fn did(touchpoint: &str, negated: bool) -> Result<Condition, SyntaxProblem> {
    let touchpoint = touchpoint.trim();
    if touchpoint.is_empty() {
        return Err(SyntaxProblem::NoTouchpoint);
    }
    Ok(Condition::Did {
        touchpoint: touchpoint.to_owned(),
        negated,
    })
}

/// A condition with ids of the loaded data.
#[derive(Debug, Clone)]
enum Test {
    /// Value id (0: none) of kept property `index` at the first event is in
    /// `values` (sorted), xor `negated`.
    Property {
        index: usize,
        values: Vec<u32>,
        negated: bool,
    },
    /// The session has an event at `touchpoint` (None: a touchpoint the data
    /// does not have), xor `negated`.
    Did {
        touchpoint: Option<u32>,
        negated: bool,
    },
    Time {
        from_us: i64,
        to_us: i64,
    },
    /// The session's touchpoints are one of these (variants naming a
    /// touchpoint the data does not have are left out).
    Variant(Vec<Vec<u32>>),
    Not(Vec<Test>),
}

/// A segment resolved against loaded data: property and touchpoint names
/// are ids, so that testing a session is a few comparisons.
#[derive(Debug, Clone)]
pub struct SessionFilter {
    tests: Vec<Test>,
    collapse_repeats: bool,
}

impl SessionFilter {
    /// Resolves `segment` against the kept property names and their values
    /// and the touchpoint names; a variant merges repeats when
    /// `collapse_repeats`.
    pub fn new(
        segment: &Segment,
        kept: &[String],
        values: &[Interner],
        touchpoints: &Interner,
        collapse_repeats: bool,
    ) -> Result<SessionFilter, SegmentError> {
        let tests = compile(&segment.conditions, segment, kept, values, touchpoints)?;
        Ok(SessionFilter {
            tests,
            collapse_repeats,
        })
    }

    /// Whether a variant merges repeats.
    pub fn collapse_repeats(&self) -> bool {
        self.collapse_repeats
    }

    /// True when the session of `events` (whole, in order), whose first
    /// event's kept property `i` has value id `first_value(i)` (0: none),
    /// is selected.
    pub fn selects(&self, events: &[Event], first_value: impl Fn(usize) -> u32) -> bool {
        all(&self.tests, events, &first_value, self.collapse_repeats)
    }
}

/// True when `events`, read as a variant, are `variant`.
fn is_variant(events: &[Event], variant: &[u32], collapse_repeats: bool) -> bool {
    let mut previous = None;
    let mut steps = events.iter().filter_map(|e| {
        let step = previous.is_none_or(|p| is_step(p, e.touchpoint, collapse_repeats));
        previous = Some(e.touchpoint);
        step.then_some(e.touchpoint)
    });
    let mut wanted = variant.iter();
    loop {
        match (steps.next(), wanted.next()) {
            (None, None) => return true,
            (Some(a), Some(&b)) if a == b => {}
            _ => return false,
        }
    }
}

fn all(
    tests: &[Test],
    events: &[Event],
    first_value: &impl Fn(usize) -> u32,
    collapse_repeats: bool,
) -> bool {
    tests.iter().all(|test| match test {
        Test::Property {
            index,
            values,
            negated,
        } => values.binary_search(&first_value(*index)).is_ok() != *negated,
        Test::Did {
            touchpoint,
            negated,
        } => {
            let visits = touchpoint.is_some_and(|t| events.iter().any(|e| e.touchpoint == t));
            visits != *negated
        }
        Test::Time { from_us, to_us } => events
            .first()
            .is_some_and(|e| (*from_us..*to_us).contains(&e.time_us)),
        Test::Variant(variants) => variants
            .iter()
            .any(|v| is_variant(events, v, collapse_repeats)),
        Test::Not(inner) => !all(inner, events, first_value, collapse_repeats),
    })
}

fn compile(
    conditions: &[Condition],
    segment: &Segment,
    kept: &[String],
    values: &[Interner],
    touchpoints: &Interner,
) -> Result<Vec<Test>, SegmentError> {
    let mut tests = Vec::new();
    for condition in conditions {
        tests.push(match condition {
            Condition::Property {
                property,
                values: wanted,
                negated,
            } => {
                let Some(index) = kept.iter().position(|k| k == property) else {
                    return Err(SegmentError::NotKept {
                        text: segment.text.clone(),
                        property: property.clone(),
                        kept: if kept.is_empty() {
                            "none".into()
                        } else {
                            kept.join(", ")
                        },
                    });
                };
                let mut ids: Vec<u32> = wanted
                    .iter()
                    .filter_map(|v| values.get(index)?.get(v).map(|id| id + 1))
                    .collect();
                ids.sort_unstable();
                Test::Property {
                    index,
                    values: ids,
                    negated: *negated,
                }
            }
            Condition::Did {
                touchpoint,
                negated,
            } => Test::Did {
                touchpoint: touchpoints.get(touchpoint),
                negated: *negated,
            },
            Condition::Time { from_us, to_us } => Test::Time {
                from_us: from_us.unwrap_or(i64::MIN),
                to_us: to_us.unwrap_or(i64::MAX),
            },
            Condition::Variant(variants) => Test::Variant(
                variants
                    .iter()
                    .filter_map(|v| v.iter().map(|name| touchpoints.get(name)).collect())
                    .collect(),
            ),
            Condition::Not(inner) => Test::Not(compile(inner, segment, kept, values, touchpoints)?),
        });
    }
    Ok(tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Segment, SegmentError> {
        Segment::parse(text, &|t| t.parse::<i64>().ok())
    }

    #[test]
    fn expressions_read_as_conditions() {
        let s = parse("channel=app,web & !did:purchase & time:10..20").unwrap();
        assert_eq!(
            s.conditions,
            vec![
                Condition::Property {
                    property: "channel".into(),
                    values: vec!["app".into(), "web".into()],
                    negated: false
                },
                Condition::Did {
                    touchpoint: "purchase".into(),
                    negated: true
                },
                Condition::Time {
                    from_us: Some(10),
                    to_us: Some(20)
                },
            ]
        );
        assert_eq!(
            parse("plan != free").unwrap().conditions,
            vec![Condition::Property {
                property: "plan".into(),
                values: vec!["free".into()],
                negated: true
            }]
        );
        assert_eq!(
            parse("time:..5").unwrap().conditions,
            vec![Condition::Time {
                from_us: None,
                to_us: Some(5)
            }]
        );
    }

    #[test]
    fn bad_expressions_say_how_to_write_one() {
        for bad in [
            "",
            "channel",
            "did:",
            "time:3",
            "time:x..4",
            "a=",
            "=b",
            "a=1 &",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("did:TOUCHPOINT"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_property_that_is_not_kept_is_named() {
        let s = parse("plan=pro").unwrap();
        let e = SessionFilter::new(&s, &["channel".into()], &[], &Interner::default(), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--keep-property plan") && e.contains("kept: channel"),
            "{e}"
        );
    }
}
