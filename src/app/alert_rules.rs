//! The live screen's alert rules: the rules watched, the file they are
//! saved in, and what became of the last change.

use std::path::PathBuf;

use crate::engine::alerts::{Alert, AlertRule, AlertState};
use crate::engine::triggers::TriggerRule;
use crate::settings::rules_file_text;
use crate::source::TimeParser;

/// The rules a live screen watches and where they are kept.
#[derive(Debug, Clone)]
pub struct AlertRules {
    /// The rules, in the file's order.
    pub rules: Vec<AlertRule>,
    /// Where they are saved (None: kept for this run only).
    pub file: Option<PathBuf>,
    /// How the last change went: where it was saved, or why it was not.
    pub note: Option<Result<String, String>>,
    /// How segment times in rules are read.
    pub parser: TimeParser,
}

impl AlertRules {
    /// `rules`, read from (and saved to) `file`.
    pub fn new(rules: Vec<AlertRule>, file: Option<PathBuf>, parser: TimeParser) -> Self {
        AlertRules {
            rules,
            file,
            note: None,
            parser,
        }
    }

    /// Replaces the rules and saves them to the file (created with its
    /// folder when missing); on a failure the rules still apply for this
    /// run and the note says why they were not saved.
    pub fn replace(&mut self, rules: Vec<AlertRule>) {
        self.rules = rules;
        self.save(None);
    }

    /// Saves `triggers` to the file in place of its own, with the alert
    /// rules and the file's expected journeys.
    pub fn replace_triggers(&mut self, triggers: &[TriggerRule]) {
        self.save(Some(triggers));
    }

    /// Saves the rules with `triggers` (None: the file's own) and the
    /// file's expected journeys.
    fn save(&mut self, triggers: Option<&[TriggerRule]>) {
        let Some(file) = &self.file else {
            self.note = Some(Ok(
                "Rules apply until the screen closes (no rules file).".into()
            ));
            return;
        };
        // The file's expected journeys (and triggers) stay in it.
        let kept = crate::settings::read_rules_file(file, self.parser).unwrap_or_default();
        let triggers = triggers.unwrap_or(&kept.triggers);
        let text = rules_file_text(&self.rules, &kept.journeys, triggers);
        let saved = file
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                crate::files::write_whole(file, crate::files::Kind::Alerts, text.as_bytes())
            });
        let shown = crate::format::printable(&file.display().to_string()).into_owned();
        self.note = Some(match saved {
            Ok(()) => Ok(format!("Saved to {shown}")),
            Err(e) => Err(format!("Not saved to {shown}: {e}")),
        });
    }
}

/// Where a rule stands, by its latest alert among `alerts` (oldest first).
pub fn rule_state(rule: &AlertRule, alerts: &[Alert]) -> Option<AlertState> {
    alerts
        .iter()
        .rev()
        .find(|a| a.rule == rule.name)
        .map(|a| a.state)
}
