//! What the app compares: presets built from the loaded data (each kept
//! property's values, converted or not, the two halves of the time span,
//! this week against last) and expressions the user types.

use crate::engine::{CompareSpec, Journeys, SegmentError, guess_conversion};
use crate::settings::{SettingsError, compare_spec};
use crate::source::TimeParser;

/// Values of one property offered as presets, busiest first.
const VALUES_PER_PROPERTY: usize = 6;

/// A comparison the user can pick: A against B (or against the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// How the picker names it.
    pub label: String,
    /// Segment A, or `previous-period`.
    pub a: String,
    /// Segment B; None: every other session.
    pub b: Option<String>,
}

impl Comparison {
    /// A against B (None: the rest), named by its expressions.
    pub fn custom(a: &str, b: Option<&str>) -> Comparison {
        Comparison {
            label: match b {
                Some(b) => format!("{a} vs {b}"),
                None => format!("{a} vs the rest"),
            },
            a: a.trim().to_owned(),
            b: b.map(|b| b.trim().to_owned()),
        }
    }

    /// The comparison as the engine takes it.
    pub fn spec(&self, parser: TimeParser) -> Result<CompareSpec, SettingsError> {
        compare_spec(&self.a, self.b.as_deref(), parser)
    }
}

/// What is wrong with a segment or comparison, said as the window does it
/// (a column not kept is ticked under Columns, not a flag).
pub fn in_window_words(error: &SegmentError) -> String {
    match error {
        SegmentError::NotKept { property, .. } => format!(
            "`{property}` is not kept for comparing: tick {property} under Settings » Keep for \
             comparing"
        ),
        other => other.to_string(),
    }
}

/// The presets for `journeys`.
pub fn presets(journeys: &Journeys) -> Vec<Comparison> {
    let mut presets = Vec::new();
    for (index, property) in journeys.kept_properties().iter().enumerate() {
        for value in journeys.property_values(index).take(VALUES_PER_PROPERTY) {
            presets.push(Comparison {
                label: format!("{property} = {value} vs the rest"),
                a: format!("{property}={value}"),
                b: None,
            });
        }
    }
    if let Some(t) = guess_conversion(journeys) {
        let name = journeys.touchpoint_name(t);
        presets.push(Comparison {
            label: format!("Converted ({name}) vs not"),
            a: format!("did:{name}"),
            b: Some(format!("!did:{name}")),
        });
    }
    presets.push(Comparison {
        label: "Second half vs first half".into(),
        a: "previous-period".into(),
        b: None,
    });
    const DAY_US: i64 = 24 * 3600 * 1_000_000;
    if let Some((first, last)) = journeys.time_range_us
        && last - first >= 14 * DAY_US
    {
        let day = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                .unwrap_or_default()
        };
        let end = last + 1;
        let (week, before) = (end - 7 * DAY_US, end - 14 * DAY_US);
        presets.push(Comparison {
            label: "Last 7 days vs the 7 before".into(),
            a: format!("time:{}..{}", day(week), day(end)),
            b: Some(format!("time:{}..{}", day(before), day(week))),
        });
    }
    presets
}
