//! The Triggers tab on a file: each per-customer trigger rule with what it
//! would have sent over the file (actions, customers reached, a day on
//! average, a bar per day), the latest actions with a click through to
//! the customer's timeline, and a form to add, edit and delete rules (the
//! same checks as a rules file), walked again at once.

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Plot};

use crate::app::workspace::{Tab, ViewSettings, WorkspaceCommand};
use crate::engine::Journeys;
use crate::engine::triggers::{Action, TriggerRule};
use crate::format::{plural, thousands};
use crate::report::Summary;
use crate::settings::{TriggerText, trigger_of, trigger_text};

/// Actions listed under each rule at most (the latest).
pub const LISTED: usize = 10;
/// Steps of an action's path listed (the latest; all on hover).
const PATH_SHOWN: usize = 6;

/// The rule being written or edited, and why it was refused.
#[derive(Debug, Default)]
pub struct TriggerForm {
    /// The rule as typed; None: the form is closed.
    pub draft: Option<TriggerText>,
    /// The rule it replaces (by place), when editing.
    pub editing: Option<usize>,
    /// Why the last Save was refused.
    pub problem: Option<String>,
}

/// Draws the triggers of `view` with what `summary` says they would have
/// sent; returns the commands the user asked for.
pub fn triggers_ui(
    view: &ViewSettings,
    summary: &Summary,
    journeys: &Journeys,
    form: &mut TriggerForm,
    ui: &mut egui::Ui,
) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    let mut clicked = None;
    let mut rules = view.triggers.clone();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Triggers: what each rule would have sent over this file");
        ui.label(
            "A trigger acts on one customer: a stall (nothing follows a touchpoint for a while), \
             an abandoned session, a sequence of steps, or a first step off an expected journey. \
             Tune a rule here before switching it on live (journeyscope live --rules FILE \
             --triggers-topic T).",
        );
        ui.add_space(6.0);
        let backtest = summary.triggers.as_deref().unwrap_or_default();
        rules = rules_ui(ui, &view.triggers, form, |ui, k, rule| {
            let Some(counts) = backtest.iter().find(|b| b.rule == rule.name) else {
                ui.label("Walking the sessions …");
                return;
            };
            ui.label(
                RichText::new(format!(
                    "Would have sent {} over {} days, to {} customers: {:.0} a day",
                    plural(counts.actions as usize, "action"),
                    counts.per_day.len(),
                    thousands(counts.customers),
                    counts.per_day_average
                ))
                .size(16.0),
            );
            let bars: Vec<(String, f64)> = counts
                .per_day
                .iter()
                .map(|d| {
                    (
                        d.day.get(5..).unwrap_or(&d.day).to_owned(),
                        d.actions as f64,
                    )
                })
                .collect();
            bar_plot(ui, ("trigger days", k), &bars, "actions a day");
            let mine: Vec<&Action> = summary
                .trigger_actions
                .iter()
                .rev()
                .filter(|a| a.trigger == rule.name)
                .take(LISTED)
                .collect();
            clicked = clicked.take().or(latest_actions(ui, k, &mine));
        });
    });
    if let Some(id) = clicked.and_then(|name| journeys.customer_id(&name)) {
        commands.push(WorkspaceCommand::ShowTab(Tab::Customers));
        commands.push(WorkspaceCommand::SelectCustomer(Some(id)));
    }
    if rules != view.triggers {
        commands.push(WorkspaceCommand::SetView(ViewSettings {
            triggers: rules,
            ..view.clone()
        }));
    }
    commands
}

/// Draws each of `rules` (its name and what it does, Edit and Delete, then
/// `body`), an Add button and the form of the rule being written; the
/// rules as the user left them.
pub fn rules_ui(
    ui: &mut egui::Ui,
    rules: &[TriggerRule],
    form: &mut TriggerForm,
    mut body: impl FnMut(&mut egui::Ui, usize, &TriggerRule),
) -> Vec<TriggerRule> {
    let mut edited = rules.to_vec();
    let mut delete = None;
    for (k, rule) in rules.iter().enumerate() {
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong(&rule.name);
            ui.label(RichText::new(describe(rule)).weak());
            if ui.small_button("Edit").clicked() {
                form.draft = Some(trigger_text(rule));
                form.editing = Some(k);
                form.problem = None;
            }
            if ui.small_button("Delete").clicked() {
                delete = Some(k);
            }
        });
        body(ui, k, rule);
    }
    if let Some(k) = delete {
        edited.remove(k);
    }
    ui.separator();
    if form.draft.is_none() && ui.button("Add a trigger").clicked() {
        form.draft = Some(TriggerText {
            name: format!("trigger {}", rules.len() + 1),
            kind: "stall".into(),
            ..TriggerText::default()
        });
        form.editing = None;
        form.problem = None;
    }
    if let Some(rule) = edit_form(ui, form, rules) {
        match form.editing.take() {
            Some(k) if k < edited.len() => edited[k] = rule,
            _ => edited.push(rule),
        }
        form.draft = None;
    }
    edited
}

/// Bars labelled below (`(label, value)` each), counted in `unit`.
pub fn bar_plot(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    bars: &[(String, f64)],
    unit: &str,
) {
    if bars.is_empty() {
        return;
    }
    let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
    let drawn: Vec<Bar> = bars
        .iter()
        .enumerate()
        .map(|(x, (label, v))| Bar::new(x as f64, *v).name(label))
        .collect();
    Plot::new(id)
        .height(110.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_grid(false)
        .x_axis_formatter(move |mark, _| {
            labels
                .get(mark.value.round() as usize)
                .filter(|_| (mark.value - mark.value.round()).abs() < 1e-6)
                .cloned()
                .unwrap_or_default()
        })
        .y_axis_label(unit)
        .show(ui, |plot| plot.bar_chart(BarChart::new(unit, drawn)));
}

/// The latest actions of one rule, each customer a link to its timeline;
/// the customer clicked.
pub fn latest_actions(ui: &mut egui::Ui, k: usize, actions: &[&Action]) -> Option<String> {
    let mut clicked = None;
    if actions.is_empty() {
        return clicked;
    }
    ui.label(RichText::new("Latest actions").strong());
    ui.push_id(("trigger actions", k), |ui| {
        TableBuilder::new(ui)
            .striped(true)
            .column(Column::auto().at_least(110.0))
            .column(Column::auto().at_least(150.0))
            .column(Column::auto().at_least(110.0))
            .column(Column::remainder().clip(true))
            .header(20.0, |mut header| {
                for title in ["Customer", "When", "At", "Path (latest steps)"] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|mut body| {
                for action in actions {
                    body.row(20.0, |mut row| {
                        row.col(|ui| {
                            let link = ui.link(&action.customer).on_hover_text("Show the timeline");
                            if link.clicked() {
                                clicked = Some(action.customer.clone());
                            }
                        });
                        row.col(|ui| {
                            let when = action.event_time.get(..19).unwrap_or(&action.event_time);
                            ui.label(when.replace('T', " "));
                        });
                        row.col(|ui| {
                            ui.label(&action.at);
                        });
                        row.col(|ui| {
                            let shown = action.path.len().saturating_sub(PATH_SHOWN);
                            let mut text = action.path[shown..].join(" → ");
                            if shown > 0 {
                                text = format!("… → {text}");
                            }
                            ui.label(text).on_hover_text(action.path.join(" → "));
                        });
                    });
                }
            });
    });
    clicked
}

/// The form of the rule being written; the rule once saved and read.
fn edit_form(
    ui: &mut egui::Ui,
    form: &mut TriggerForm,
    rules: &[TriggerRule],
) -> Option<TriggerRule> {
    let draft = form.draft.as_mut()?;
    let mut saved = None;
    let mut cancel = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        egui::Grid::new("trigger form")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Name");
                ui.text_edit_singleline(&mut draft.name);
                ui.end_row();
                ui.label("Kind");
                egui::ComboBox::from_id_salt("trigger kind")
                    .selected_text(draft.kind.clone())
                    .show_ui(ui, |ui| {
                        for kind in crate::engine::triggers::TriggerKind::NAMES {
                            ui.selectable_value(&mut draft.kind, kind.to_owned(), kind);
                        }
                    });
                ui.end_row();
                let field =
                    |ui: &mut egui::Ui, label: &str, value: &mut Option<String>, hint: &str| {
                        ui.label(label);
                        let mut text = value.clone().unwrap_or_default();
                        ui.add(egui::TextEdit::singleline(&mut text).hint_text(hint));
                        *value = Some(text).filter(|t| !t.trim().is_empty());
                        ui.end_row();
                    };
                let list = |ui: &mut egui::Ui, label: &str, value: &mut Vec<String>, hint: &str| {
                    ui.label(label);
                    let mut text = value.join(", ");
                    ui.add(egui::TextEdit::singleline(&mut text).hint_text(hint));
                    *value = text
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    ui.end_row();
                };
                match draft.kind.as_str() {
                    "stall" => {
                        field(ui, "At touchpoint", &mut draft.at, "pricing_view");
                        field(ui, "Nothing follows within", &mut draft.after, "5m");
                    }
                    "abandon" => list(ui, "Session did", &mut draft.did, "add_to_cart"),
                    "sequence" => {
                        list(
                            ui,
                            "Steps, in order",
                            &mut draft.steps,
                            "purchase, support_ticket",
                        );
                        field(ui, "First to last within", &mut draft.within, "1h");
                    }
                    _ => field(
                        ui,
                        "Expected journey",
                        &mut draft.journey,
                        "a > b? > c, or a name",
                    ),
                }
                list(ui, "Unless the session did", &mut draft.unless, "purchase");
                field(ui, "Only sessions of", &mut draft.segment, "channel=web");
            });
        if let Some(problem) = &form.problem {
            ui.colored_label(ui.visuals().warn_fg_color, problem);
        }
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                let parser = crate::source::TimeParser::new(None);
                let named = crate::settings::default_rules_journeys(parser);
                let duplicate = rules
                    .iter()
                    .enumerate()
                    .any(|(k, r)| r.name == draft.name.trim() && Some(k) != form.editing);
                match trigger_of(draft, parser, &named) {
                    Ok(_) if duplicate => {
                        form.problem = Some("Another trigger has this name.".into());
                    }
                    Ok(rule) => saved = Some(rule),
                    Err(e) => form.problem = Some(e.to_string()),
                }
            }
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
        });
    });
    if cancel {
        form.draft = None;
        form.editing = None;
    }
    saved
}

/// A rule in a few words.
pub fn describe(rule: &TriggerRule) -> String {
    use crate::engine::triggers::TriggerKind;
    let mut text = match &rule.kind {
        TriggerKind::Stall { at, after_us } => format!(
            "stall: nothing after {at} within {}",
            crate::format::human_duration(*after_us as f64 / 1e6)
        ),
        TriggerKind::Abandon { did } => format!("abandon: session ended after {}", did.join(", ")),
        TriggerKind::Sequence { steps, within_us } => format!(
            "sequence: {}{}",
            steps.join(" then "),
            within_us
                .map(|w| format!(" within {}", crate::format::human_duration(w as f64 / 1e6)))
                .unwrap_or_default()
        ),
        TriggerKind::OffPath { journey } => format!("off path: first step off {journey}"),
    };
    if !rule.unless.is_empty() {
        text.push_str(&format!(", unless {}", rule.unless.join(", ")));
    }
    if let Some(segment) = &rule.segment {
        text.push_str(&format!(", only {}", segment.text));
    }
    text
}
