//! `[[trigger]]` tables of a rules file: per-customer trigger rules, read
//! and checked into the engine's [`TriggerRule`] and written back (the
//! Triggers tab's form goes through the same checks).

use serde::{Deserialize, Serialize};

use crate::engine::ExpectedJourney;
use crate::engine::triggers::{MAX_TRIGGERS, TriggerKind, TriggerRule};
use crate::source::TimeParser;

use super::alert_checks::{check_name, quoted};
use super::journey_file::expected_journey;
use super::{SettingsError, parse_segment};

/// A `[[trigger]]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerText {
    /// The rule's name.
    pub name: String,
    /// `stall`, `abandon`, `sequence` or `off_path`.
    pub kind: String,
    /// stall: the touchpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// stall: how long nothing follows (`5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// abandon: the touchpoints the session did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub did: Vec<String>,
    /// sequence: the touchpoints, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// sequence: first to last step at most (`1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
    /// off_path: a journey's name, or its steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// Not for sessions that did any of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless: Vec<String>,
    /// Only sessions of this segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
}

/// Names that are not empty, trimmed.
fn names(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A field's text, trimmed, when it has any.
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A duration field of rule `rule`.
fn duration(rule: &str, field: &str, text: &str) -> Result<i64, SettingsError> {
    let us = humantime::parse_duration(text.trim())
        .map_err(|e| {
            SettingsError(format!(
                "trigger `{rule}`: {field} `{text}`: {e} (try 5m, 1h or 1d)"
            ))
        })?
        .as_micros();
    match i64::try_from(us) {
        Ok(us) if us > 0 => Ok(us),
        Ok(_) => Err(SettingsError(format!(
            "trigger `{rule}`: {field} must be longer than 0"
        ))),
        Err(_) => Err(SettingsError(format!(
            "trigger `{rule}`: {field} `{text}` is too long"
        ))),
    }
}

/// Reads one `[[trigger]]`, its segment's times in `parser`'s zone and its
/// journey among `journeys`.
pub fn trigger_of(
    t: &TriggerText,
    parser: TimeParser,
    journeys: &[ExpectedJourney],
) -> Result<TriggerRule, SettingsError> {
    check_name(&t.name, 1)?;
    let shown = quoted(&t.name);
    let named = |what: String| SettingsError(format!("trigger `{shown}`: {what}"));
    let kind = match t.kind.trim() {
        "stall" => TriggerKind::Stall {
            at: text(&t.at)
                .ok_or_else(|| named("a stall rule needs `at`, the touchpoint".into()))?
                .to_owned(),
            after_us: duration(
                &shown,
                "after",
                text(&t.after).ok_or_else(|| {
                    named("a stall rule needs `after`, how long nothing follows (5m)".into())
                })?,
            )?,
        },
        "abandon" => {
            let did = names(&t.did);
            if did.is_empty() {
                return Err(named(
                    "an abandon rule needs `did`, the touchpoints the session did \
                     (did = [\"add_to_cart\"])"
                        .into(),
                ));
            }
            TriggerKind::Abandon { did }
        }
        "sequence" => {
            let steps = names(&t.steps);
            if steps.len() < 2 {
                return Err(named(
                    "a sequence rule needs two `steps` or more, in order".into(),
                ));
            }
            TriggerKind::Sequence {
                steps,
                within_us: text(&t.within)
                    .map(|w| duration(&shown, "within", w))
                    .transpose()?,
            }
        }
        "off_path" => TriggerKind::OffPath {
            journey: expected_journey(
                text(&t.journey).ok_or_else(|| {
                    named("an off_path rule needs `journey`: a [[journey]]'s name, or steps".into())
                })?,
                journeys,
            )
            .map_err(|e| named(e.0))?,
        },
        other => {
            return Err(named(format!(
                "kind `{}` is not a trigger kind; kinds are {}",
                quoted(other),
                TriggerKind::NAMES.join(", ")
            )));
        }
    };
    let segment = text(&t.segment)
        .map(|s| parse_segment(s, parser))
        .transpose()
        .map_err(|e| named(e.0))?;
    if let Some(segment) = &segment
        && segment
            .conditions
            .iter()
            .any(|c| matches!(c, crate::engine::segment::Condition::Variant(_)))
    {
        return Err(named(
            "its segment cannot use variant:, which needs the whole session; use did: and !did:"
                .into(),
        ));
    }
    Ok(TriggerRule {
        name: t.name.trim().to_owned(),
        kind,
        unless: names(&t.unless),
        segment,
    })
}

/// Reads every `[[trigger]]`, each name once.
pub(super) fn triggers_of(
    texts: &[TriggerText],
    parser: TimeParser,
    journeys: &[ExpectedJourney],
) -> Result<Vec<TriggerRule>, SettingsError> {
    if texts.len() > MAX_TRIGGERS {
        return Err(SettingsError(format!(
            "{} triggers: at most {MAX_TRIGGERS} are watched at once",
            texts.len()
        )));
    }
    let mut rules: Vec<TriggerRule> = Vec::new();
    for (k, text) in texts.iter().enumerate() {
        check_name(&text.name, k + 1)?;
        let rule = trigger_of(text, parser, journeys)?;
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(SettingsError(format!(
                "two triggers are called `{}`: actions are keyed by the trigger's name, give \
                 each its own",
                quoted(&rule.name)
            )));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// A duration as a rules file writes it.
fn duration_text(us: i64) -> String {
    humantime::format_duration(std::time::Duration::from_micros(us.max(0) as u64)).to_string()
}

/// `rule` as a `[[trigger]]` table that [`trigger_of`] reads back as it.
pub fn trigger_text(rule: &TriggerRule) -> TriggerText {
    let mut t = TriggerText {
        name: rule.name.clone(),
        kind: rule.kind.name().to_owned(),
        unless: rule.unless.clone(),
        segment: rule.segment.as_ref().map(|s| s.text.clone()),
        ..TriggerText::default()
    };
    match &rule.kind {
        TriggerKind::Stall { at, after_us } => {
            t.at = Some(at.clone());
            t.after = Some(duration_text(*after_us));
        }
        TriggerKind::Abandon { did } => t.did = did.clone(),
        TriggerKind::Sequence { steps, within_us } => {
            t.steps = steps.clone();
            t.within = within_us.map(duration_text);
        }
        TriggerKind::OffPath { journey } => t.journey = Some(journey.name.clone()),
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> TimeParser {
        TimeParser::new(None)
    }

    #[test]
    fn every_kind_reads_and_writes_back_as_itself() {
        let journeys = vec![ExpectedJourney::parse(Some("checkout"), "a > b? > c").unwrap()];
        let texts = [
            "name = \"s\"\nkind = \"stall\"\nat = \"pricing\"\nafter = \"5m\"\nunless = [\"purchase\"]\nsegment = \"channel=web\"",
            "name = \"a\"\nkind = \"abandon\"\ndid = [\"add_to_cart\"]\nunless = [\"purchase\"]",
            "name = \"q\"\nkind = \"sequence\"\nsteps = [\"purchase\", \"support\"]\nwithin = \"1h\"",
            "name = \"o\"\nkind = \"off_path\"\njourney = \"checkout\"",
        ];
        for text in texts {
            let t: TriggerText = toml::from_str(text).unwrap();
            let rule = trigger_of(&t, parser(), &journeys).unwrap();
            let again = trigger_of(&trigger_text(&rule), parser(), &journeys).unwrap();
            assert_eq!(rule, again, "{text}");
        }
    }

    #[test]
    fn a_rule_missing_what_its_kind_needs_says_what_to_write() {
        let cases = [
            ("kind = \"stall\"\nat = \"x\"", "needs `after`"),
            ("kind = \"stall\"\nafter = \"5m\"", "needs `at`"),
            ("kind = \"abandon\"", "needs `did`"),
            ("kind = \"sequence\"\nsteps = [\"a\"]", "two `steps`"),
            (
                "kind = \"off_path\"\njourney = \"nope\"",
                "no journey is called",
            ),
            ("kind = \"later\"", "kinds are stall, abandon"),
            ("kind = \"stall\"\nat = \"x\"\nafter = \"soon\"", "try 5m"),
            (
                "kind = \"abandon\"\ndid = [\"x\"]\nsegment = \"variant:a>b\"",
                "cannot use variant:",
            ),
        ];
        for (body, wanted) in cases {
            let t: TriggerText = toml::from_str(&format!("name = \"r\"\n{body}")).unwrap();
            let e = trigger_of(&t, parser(), &[]).unwrap_err().to_string();
            assert!(
                e.contains(wanted) && e.contains("trigger `r`"),
                "{body}: {e}"
            );
        }
    }
}
