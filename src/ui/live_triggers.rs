//! The Triggers tab of the live screen: each trigger rule with the actions
//! it fired since start and per minute of event time, who would fire if
//! nothing more happens, its latest actions (a click shows the customer's
//! timeline), how delivering them goes, and the form to add, edit and
//! delete rules (run at once and saved to the rules file).

use egui::RichText;

use crate::app::Command;
use crate::app::live::{LiveCommand, LiveScreen};
use crate::engine::triggers::Action;
use crate::format::{plural, thousands};

use super::triggers::{LISTED, TriggerForm, bar_plot, latest_actions, rules_ui};

/// Minutes of event time drawn per rule (the latest).
const MINUTES_DRAWN: i64 = 30;

/// Draws the live triggers; the commands the user asked for.
pub fn live_triggers_ui(
    live: &LiveScreen,
    form: &mut TriggerForm,
    ui: &mut egui::Ui,
) -> Vec<Command> {
    let mut commands = Vec::new();
    let status = live.latest.as_ref().map(|s| &s.status);
    let stats = status.and_then(|s| s.triggers.as_deref());
    let mut clicked = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Triggers: an action for one customer, as it happens");
        ui.label(
            "Each rule fires at most once per customer and session, in event time; every \
             action has a stable id, so a consumer can drop a repeat.",
        );
        if let Some(status) = status {
            let d = status.action_delivery;
            let queued = stats.map_or(0, |s| s.unsent);
            match live.sends_actions {
                true => ui.label(format!(
                    "Delivered: {} to the topic, {} to the webhook · failed: {} · waiting: {}",
                    thousands(d.topic_sent),
                    thousands(d.webhook_sent),
                    thousands(d.topic_failures + d.webhook_failures),
                    thousands(queued as u64),
                )),
                false => ui.label(
                    RichText::new(
                        "Actions are only shown here: start with --triggers-topic T or \
                         --triggers-webhook URL to send them.",
                    )
                    .weak(),
                ),
            };
            if let Some(problem) = &status.triggers_problem {
                ui.colored_label(ui.visuals().warn_fg_color, problem);
            }
        }
        ui.add_space(6.0);
        let counted = |name: &str| {
            stats
                .and_then(|s| s.rules.iter().find(|c| c.rule == name))
                .map(|c| c.actions)
        };
        let named = (
            live.conformance.named.as_slice(),
            &counted as &super::triggers::Counted<'_>,
        );
        let rules = rules_ui(ui, &live.triggers, form, named, |ui, k, rule, _| {
            let Some(stats) = stats else {
                ui.label("Waiting for events …");
                return;
            };
            let Some(counts) = stats.rules.iter().find(|c| c.rule == rule.name) else {
                return;
            };
            let newest = counts.per_minute.keys().next_back().copied();
            let last_minute = newest.and_then(|m| counts.per_minute.get(&m)).copied();
            ui.label(
                RichText::new(format!(
                    "Fired {} since start; {} in the latest minute",
                    plural(counts.actions as usize, "action"),
                    thousands(last_minute.unwrap_or(0)),
                ))
                .size(16.0),
            );
            if let Some((_, at, n)) = stats.waiting.iter().find(|(r, ..)| *r == rule.name) {
                ui.label(format!(
                    "{} would fire if nothing more happens (at {at})",
                    plural(*n as usize, "customer")
                ));
            }
            if let Some(newest) = newest {
                let bars: Vec<(String, f64)> = (0..MINUTES_DRAWN)
                    .rev()
                    .map(|back| newest - back * 60_000_000)
                    .map(|m| {
                        let label = chrono::DateTime::from_timestamp_micros(m)
                            .map(|t| t.format("%H:%M").to_string())
                            .unwrap_or_default();
                        (
                            label,
                            counts.per_minute.get(&m).copied().unwrap_or(0) as f64,
                        )
                    })
                    .collect();
                bar_plot(ui, ("trigger minutes", k), &bars, "actions a minute");
            }
            // Latest in event time first (partitions fire in their own order).
            let mut mine: Vec<&Action> = counts.recent.iter().collect();
            mine.sort_by_key(|a| std::cmp::Reverse(a.event_us));
            mine.truncate(LISTED);
            clicked = clicked.take().or(latest_actions(ui, k, &mine));
        });
        if rules != live.triggers {
            commands.push(Command::Live(LiveCommand::SetTriggers(rules)));
        }
    });
    if let Some(name) = clicked {
        commands.push(Command::Live(LiveCommand::ShowCustomerNamed(name)));
    }
    commands
}
