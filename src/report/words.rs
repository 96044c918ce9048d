//! Comparisons in a marketer's words: the two sides ("channel web",
//! "14:04–14:19 (15 min)", "an hour earlier, 13:04–13:19") with their
//! session counts, and each compared row as a sentence about touchpoints
//! ("leave after add_to_cart"). The JSON keeps the engine's names.

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;

use crate::engine::compare::Side;
use crate::engine::segment::Condition;
use crate::engine::{END_NAME, START_NAME};
use crate::format::{human_duration, thousands};

/// What a compared row is about, in the order rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RowKind {
    /// Sessions moving on from one touchpoint to another (or the same).
    MovesOn,
    /// Sessions ending at a touchpoint.
    Leaves,
    /// Sessions starting at a touchpoint.
    Starts,
}

impl RowKind {
    /// The heading of the rows of this kind.
    pub fn heading(self) -> &'static str {
        match self {
            RowKind::MovesOn => "Moving on",
            RowKind::Leaves => "Leaving",
            RowKind::Starts => "Starting",
        }
    }
}

/// A compared row — a transition `from → to`, or with `to` None the exit
/// share of `from` — as a sentence, with its kind.
pub fn row_in_words(from: &str, to: Option<&str>) -> (RowKind, String) {
    match to {
        Some(to) if from == START_NAME => (RowKind::Starts, format!("sessions that start at {to}")),
        Some(END_NAME) | None => (RowKind::Leaves, format!("leave after {from}")),
        Some(to) if to == from => (RowKind::MovesOn, format!("{from} again, in a row")),
        Some(to) => (RowKind::MovesOn, format!("{from} » {to}: moves on")),
    }
}

/// A date and clock time: "5 Dec 14:04".
const DAY_CLOCK: &str = "%-d %b %H:%M";

/// A stretch of time in words: "5 Dec 14:04–14:19 (15 min)", both dates
/// when it is not within one day.
fn stretch(from_us: Option<i64>, to_us: Option<i64>, zone: Tz) -> String {
    let local = |us: i64| {
        DateTime::from_timestamp_micros(us).map(|t| zone.from_utc_datetime(&t.naive_utc()))
    };
    let at =
        |us: i64, format: &str| local(us).map_or(us.to_string(), |t| t.format(format).to_string());
    match (from_us, to_us) {
        (Some(a), Some(b)) => {
            let length = human_duration((b - a) as f64 / 1e6);
            let same_day = local(a)
                .zip(local(b))
                .is_some_and(|(x, y)| x.date_naive() == y.date_naive());
            if same_day {
                format!(
                    "{} {}–{} ({length})",
                    at(a, "%-d %b"),
                    at(a, "%H:%M"),
                    at(b, "%H:%M")
                )
            } else {
                format!("{} – {} ({length})", at(a, DAY_CLOCK), at(b, DAY_CLOCK))
            }
        }
        (Some(a), None) => format!("from {}", at(a, DAY_CLOCK)),
        (None, Some(b)) => format!("before {}", at(b, DAY_CLOCK)),
        (None, None) => "all the time".to_owned(),
    }
}

/// One condition in words.
fn condition_in_words(condition: &Condition, zone: Tz) -> String {
    match condition {
        Condition::Property {
            property,
            values,
            negated,
        } => {
            let values = values.join(" or ");
            if *negated {
                format!("{property} not {values}")
            } else {
                format!("{property} {values}")
            }
        }
        Condition::Did {
            touchpoint,
            negated: false,
        } => format!("reached {touchpoint}"),
        Condition::Did {
            touchpoint,
            negated: true,
        } => format!("never reached {touchpoint}"),
        Condition::Time { from_us, to_us } => stretch(*from_us, *to_us, zone),
        Condition::Variant(variants) => {
            let each: Vec<String> = variants.iter().map(|v| v.join(" › ")).collect();
            format!("taking {}", each.join(" or "))
        }
        Condition::Not(_) => "every other session".to_owned(),
    }
}

/// A side of a comparison in words (its expression when it has none).
pub fn side_in_words(side: &Side, zone: Tz) -> String {
    if side.conditions.is_empty() {
        return side.segment.clone();
    }
    side.conditions
        .iter()
        .map(|c| condition_in_words(c, zone))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The time span of a side made of one closed time range.
fn span(side: &Side) -> Option<(i64, i64)> {
    match side.conditions.as_slice() {
        [
            Condition::Time {
                from_us: Some(a),
                to_us: Some(b),
            },
        ] => Some((*a, *b)),
        _ => None,
    }
}

/// How far before A's stretch B's is, when both are stretches of one
/// length: "the 15 min before", "an hour earlier", "a day earlier".
fn earlier(a: &Side, b: &Side) -> Option<String> {
    let ((a0, a1), (b0, b1)) = (span(a)?, span(b)?);
    if a1 - a0 != b1 - b0 || b0 >= a0 {
        return None;
    }
    let back = a0 - b0;
    Some(if back == a1 - a0 {
        format!("the {} before", human_duration((a1 - a0) as f64 / 1e6))
    } else if back == 3_600_000_000 {
        "an hour earlier".to_owned()
    } else if back == 86_400_000_000 {
        "a day earlier".to_owned()
    } else {
        format!("{} earlier", human_duration(back as f64 / 1e6))
    })
}

/// The comparison's two sides in words with their session counts, and
/// why the counts differ when they differ much: "channel web (655
/// sessions) vs every other session (1,628 sessions): 60 % fewer sessions
/// in the first" (A first).
pub fn sides_in_words(a: &Side, b: &Side, zone: Tz) -> String {
    let b_words = match earlier(a, b) {
        Some(when) => format!("{when}, {}", side_in_words(b, zone)),
        None => side_in_words(b, zone),
    };
    let mut text = format!(
        "A: {} ({} sessions) vs B: {b_words} ({} sessions)",
        side_in_words(a, zone),
        thousands(a.sessions),
        thousands(b.sessions)
    );
    if a.sessions > 0 && b.sessions > 0 {
        let ratio = a.sessions as f64 / b.sessions as f64;
        let lengths = span(a)
            .zip(span(b))
            .is_some_and(|((a0, a1), (b0, b1))| a1 - a0 == b1 - b0);
        let (fewer, more) = ((1.0 - ratio) * 100.0, (ratio - 1.0) * 100.0);
        let change = if ratio < 0.9 {
            Some(format!("{fewer:.0} % fewer sessions"))
        } else if ratio > 1.1 {
            Some(format!("{more:.0} % more sessions"))
        } else {
            None
        };
        if let Some(change) = change {
            text.push_str(&if lengths {
                format!(": {change} in the same length of time")
            } else {
                format!(": A has {change} than B")
            });
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(conditions: Vec<Condition>, sessions: u64) -> Side {
        Side {
            segment: "expression".into(),
            conditions,
            sessions,
            customers: sessions,
        }
    }

    const T: i64 = 1_796_479_440_000_000; // 2026-12-05 14:04 UTC

    fn time(from: i64, minutes: i64) -> Condition {
        Condition::Time {
            from_us: Some(from),
            to_us: Some(from + minutes * 60_000_000),
        }
    }

    #[test]
    fn rows_read_as_sentences_grouped_by_kind() {
        assert_eq!(
            row_in_words(START_NAME, Some("product_view")),
            (
                RowKind::Starts,
                "sessions that start at product_view".into()
            )
        );
        assert_eq!(row_in_words("cart", Some(END_NAME)).0, RowKind::Leaves);
        assert_eq!(row_in_words("cart", None).1, "leave after cart");
        assert_eq!(
            row_in_words("cart", Some("checkout")).1,
            "cart » checkout: moves on"
        );
        assert!(RowKind::MovesOn < RowKind::Leaves && RowKind::Leaves < RowKind::Starts);
    }

    #[test]
    fn time_sides_name_their_clock_and_how_much_earlier() {
        let zone: Tz = "Europe/Amsterdam".parse().unwrap();
        let a = side(vec![time(T, 15)], 655);
        let b = side(vec![time(T - 3_600_000_000, 15)], 1_628);
        let words = sides_in_words(&a, &b, zone);
        assert_eq!(
            words,
            "A: 5 Dec 15:04–15:19 (15 min) (655 sessions) vs B: an hour earlier, 5 Dec 14:04–14:19 (15 min) \
             (1,628 sessions): 60 % fewer sessions in the same length of time"
        );
    }

    #[test]
    fn segments_read_as_their_conditions() {
        let web = Condition::Property {
            property: "channel".into(),
            values: vec!["web".into()],
            negated: false,
        };
        let a = side(vec![web.clone()], 100);
        let b = side(vec![Condition::Not(vec![web])], 104);
        let zone: Tz = "UTC".parse().unwrap();
        assert_eq!(side_in_words(&a, zone), "channel web");
        let words = sides_in_words(&a, &b, zone);
        assert_eq!(
            words,
            "A: channel web (100 sessions) vs B: every other session (104 sessions)"
        );
    }
}
