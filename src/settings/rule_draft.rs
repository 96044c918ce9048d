//! The Alerts panel's form of one rule: each field of the rule file as
//! typed, read back through the file's own checks.

use crate::engine::ExpectedJourney;
use crate::engine::alerts::{AlertKind, AlertRule, Baseline};
use crate::source::TimeParser;

use super::SettingsError;
use super::alert_checks::quoted;
use super::alert_file::{RuleText, rule_of, text_of};

/// A rule as a form edits it: each field of the rule file as typed,
/// keyed by the file's name for it (`from`, `window`, `for`…; empty or
/// missing = not given), made from and read back through the file's own
/// shape, so a field added to the file is one the form can edit. Its
/// `baseline` may also be `fixed`: the rule then holds `below`/`above`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleDraft {
    fields: std::collections::BTreeMap<String, String>,
    /// The journey the edited rule follows, which its `journey` may name.
    journeys: Vec<ExpectedJourney>,
}

/// The file's fields that hold numbers (every other holds text), and what
/// the form calls them.
const NUMBER_FIELDS: [&str; 4] = ["drop", "rise", "below", "above"];

/// The file's fields that hold whole numbers, and what the form calls them.
const WHOLE_FIELDS: [(&str, &str); 1] = [("min_sessions", "min sessions")];

/// The file's fields that hold lists, typed comma-separated.
const LIST_FIELDS: [&str; 1] = ["steps"];

impl RuleDraft {
    /// A new rule's form: a checkout-conversion drop against the previous
    /// window, the commonest rule.
    pub fn new_rule() -> RuleDraft {
        let mut draft = RuleDraft::default();
        for (key, value) in [
            ("kind", "transition_share"),
            ("window", "15m"),
            ("baseline", "previous"),
            ("drop", "0.2"),
            ("min_sessions", "100"),
            ("for", "2m"),
        ] {
            draft.set(key, value);
        }
        draft
    }

    /// The form of an existing rule.
    pub fn of(rule: &AlertRule) -> RuleDraft {
        let text = toml::Table::try_from(text_of(rule)).unwrap_or_default();
        let shown = |value: &toml::Value| match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(items) => {
                items.iter().map(shown_item).collect::<Vec<_>>().join(", ")
            }
            other => shown_item(other),
        };
        let mut draft = RuleDraft {
            fields: text.iter().map(|(k, v)| (k.clone(), shown(v))).collect(),
            journeys: match &rule.kind {
                AlertKind::Conformance { journey } => vec![journey.clone()],
                _ => Vec::new(),
            },
        };
        if matches!(rule.baseline, Baseline::Fixed { .. }) {
            draft.set("baseline", "fixed");
        }
        draft
    }

    /// The same form, its `journey` also naming any of `journeys`.
    pub fn knowing(mut self, journeys: &[ExpectedJourney]) -> RuleDraft {
        for journey in journeys {
            if !self.journeys.iter().any(|j| j.name == journey.name) {
                self.journeys.push(journey.clone());
            }
        }
        self
    }

    /// The field `key` as typed, to edit.
    pub fn field(&mut self, key: &str) -> &mut String {
        self.fields.entry(key.to_owned()).or_default()
    }

    /// The field `key` as typed ("" when not given).
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }

    /// Sets the field `key`.
    pub fn set(&mut self, key: &str, value: &str) {
        *self.field(key) = value.to_owned();
    }

    /// The rule, checked as a rule file's is; the error names the field.
    pub fn rule(&self, parser: TimeParser) -> Result<AlertRule, SettingsError> {
        let name = self.get("name").trim();
        if name.is_empty() {
            return Err(SettingsError::new("give the rule a name"));
        }
        let fixed = self.get("baseline").trim() == "fixed";
        let (unused, fixed_error): (&[&str], _) = match fixed {
            true => (
                &["baseline", "drop", "rise"],
                "a fixed rule takes `below` or `above`",
            ),
            false => (&["below", "above"], ""),
        };
        let mut table = toml::Table::new();
        for (key, value) in &self.fields {
            let value = value.trim();
            if value.is_empty() || unused.contains(&key.as_str()) {
                continue;
            }
            let wrong = |what: &str| {
                SettingsError(format!(
                    "alert rule `{}`: {} `{value}` is not {what}",
                    quoted(name),
                    WHOLE_FIELDS
                        .iter()
                        .find(|(k, _)| k == key)
                        .map_or(key.as_str(), |(_, shown)| shown)
                ))
            };
            let typed = if NUMBER_FIELDS.contains(&key.as_str()) {
                toml::Value::Float(
                    value
                        .parse()
                        .map_err(|_| wrong("a number (0.2 for 20 %)"))?,
                )
            } else if WHOLE_FIELDS.iter().any(|(k, _)| k == key) {
                toml::Value::Integer(value.parse().map_err(|_| wrong("a whole number"))?)
            } else if LIST_FIELDS.contains(&key.as_str()) {
                toml::Value::Array(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(|x| toml::Value::String(x.to_owned()))
                        .collect(),
                )
            } else if let (true, Ok(place)) = (key == "step", value.parse::<i64>()) {
                toml::Value::Integer(place)
            } else {
                toml::Value::String(value.to_owned())
            };
            table.insert(key.clone(), typed);
        }
        if fixed && !table.contains_key("below") && !table.contains_key("above") {
            return Err(SettingsError(format!(
                "alert rule `{}`: {fixed_error}",
                quoted(name)
            )));
        }
        let text: RuleText = table
            .try_into()
            .map_err(|e| SettingsError(format!("alert rule `{}`: {e}", quoted(name))))?;
        rule_of(text, parser, &self.journeys)
    }
}

/// A number or text as the form shows it.
fn shown_item(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => f.to_string(),
        other => other.to_string(),
    }
}
