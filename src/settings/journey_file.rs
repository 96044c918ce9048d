//! `[[journey]]` tables of a rules file: expected journeys by name, and
//! what `--journey`, a conformance rule or an off_path trigger names.

use serde::{Deserialize, Serialize};

use crate::engine::ExpectedJourney;

use super::SettingsError;
use super::alert_checks::quoted;

/// A `[[journey]]` of a rules file: an expected journey.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JourneyText {
    pub name: String,
    pub steps: String,
}

/// The `[[journey]]` tables read, each name once.
pub(super) fn journeys_of(texts: &[JourneyText]) -> Result<Vec<ExpectedJourney>, SettingsError> {
    let mut journeys: Vec<ExpectedJourney> = Vec::new();
    for (k, text) in texts.iter().enumerate() {
        let name = text.name.trim();
        if name.is_empty() {
            return Err(SettingsError(format!(
                "journey {}: give it a `name` (rules and --journey call it by that)",
                k + 1
            )));
        }
        if journeys.iter().any(|j| j.name == name) {
            return Err(SettingsError(format!(
                "two journeys are called `{}`: give each its own name",
                quoted(name)
            )));
        }
        let journey = ExpectedJourney::parse(Some(name), &text.steps)
            .map_err(|e| SettingsError(e.to_string()))?;
        journeys.push(journey);
    }
    Ok(journeys)
}

/// An expected journey as `--journey` or the app's field gives it: steps
/// (`a > b > c?`), or the name of one of `journeys`.
pub fn expected_journey(
    text: &str,
    journeys: &[ExpectedJourney],
) -> Result<ExpectedJourney, SettingsError> {
    let text = text.trim();
    if let Some(named) = journeys.iter().find(|j| j.name == text) {
        return Ok(named.clone());
    }
    if !text.contains('>') {
        let names: Vec<&str> = journeys.iter().map(|j| j.name.as_str()).collect();
        let known = match names.as_slice() {
            [] => "no journeys are named (give --rules FILE with [[journey]] tables)".to_owned(),
            names => format!("the rules file has {}", names.join(", ")),
        };
        return Err(SettingsError(format!(
            "no journey is called `{}`; {known}; or write the steps: a > b > c? (? marks an \
             optional step)",
            quoted(text)
        )));
    }
    ExpectedJourney::parse(None, text).map_err(|e| SettingsError(e.to_string()))
}
