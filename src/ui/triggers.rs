//! The Triggers tab on a file: each per-customer trigger rule with what it
//! would have sent over the file (actions, customers reached, a day on
//! average, a bar per day), the latest actions with a click through to
//! the customer's timeline, and a form to add, edit and delete rules (the
//! same checks as a rules file), walked again at once.

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, HoverPosition, Plot};

use crate::app::workspace::{Tab, ViewSettings, WorkspaceCommand};
use crate::engine::triggers::{Action, TriggerRule};
use crate::engine::{ExpectedJourney, Journeys};
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
    /// The lists as typed (did, steps, unless): read when saved.
    lists: [String; 3],
    /// The rule it replaces (by place), when editing.
    pub editing: Option<usize>,
    /// Why the last Save was refused.
    pub problem: Option<String>,
    /// The rule last saved and how many actions it had before.
    pub before: Option<(String, u64)>,
}

impl TriggerForm {
    /// Opens the form on `draft` (replacing rule `editing`, if any).
    fn open(&mut self, draft: TriggerText, editing: Option<usize>) {
        self.lists = [&draft.did, &draft.steps, &draft.unless].map(|l| l.join(", "));
        self.draft = Some(draft);
        self.editing = editing;
        self.problem = None;
    }
}

/// A rule's actions now, by its name.
pub type Counted<'c> = dyn Fn(&str) -> Option<u64> + 'c;

/// A list as typed: names separated by commas (or, for steps, by `>`).
fn list_of(text: &str) -> Vec<String> {
    text.split([',', '>'])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Draws the triggers of `view` with what `summary` says they would have
/// sent; returns the commands the user asked for.
pub fn triggers_ui(
    view: &ViewSettings,
    (summary, journeys, named): (&Summary, &Journeys, &[ExpectedJourney]),
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
        let counted = |name: &str| backtest.iter().find(|b| b.rule == name).map(|b| b.actions);
        rules = rules_ui(
            ui,
            &view.triggers,
            form,
            (named, &counted),
            |ui, k, rule, before| {
                let Some(counts) = backtest.iter().find(|b| b.rule == rule.name) else {
                    ui.label("Walking the sessions …");
                    return;
                };
                let was = before
                    .filter(|b| *b != counts.actions)
                    .map(|b| format!("  (was {})", thousands(b)))
                    .unwrap_or_default();
                let sentence = match counts.actions {
                    0 => "Would have sent no action over this file".to_owned(),
                    n => format!(
                        "Would have sent {} over {} days, to {} customers: {:.0} a day",
                        plural(n as usize, "action"),
                        counts.per_day.len(),
                        thousands(counts.customers),
                        counts.per_day_average
                    ),
                };
                ui.label(RichText::new(sentence + &was).size(16.0));
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
            },
        );
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

/// Draws an Add button, then each of `rules` (its name and what it does,
/// Edit and Delete, the form in place while it is edited, then `body` with
/// its actions before the last save, when it was the rule saved); the
/// rules as the user left them. `named` are the journeys an off_path rule
/// may name; `counted` gives a rule's actions now.
pub fn rules_ui(
    ui: &mut egui::Ui,
    rules: &[TriggerRule],
    form: &mut TriggerForm,
    (named, counted): (&[ExpectedJourney], &Counted<'_>),
    mut body: impl FnMut(&mut egui::Ui, usize, &TriggerRule, Option<u64>),
) -> Vec<TriggerRule> {
    let mut edited = rules.to_vec();
    let mut delete = None;
    let mut saved = None;
    let free = form.draft.is_none();
    if ui
        .add_enabled(free, egui::Button::new("Add a trigger"))
        .clicked()
    {
        let draft = TriggerText {
            name: format!("trigger {}", rules.len() + 1),
            kind: "stall".into(),
            ..TriggerText::default()
        };
        form.open(draft, None);
    }
    if form.draft.is_some() && form.editing.is_none() {
        saved = edit_form(ui, form, rules, named).map(|r| (None, r));
    }
    for (k, rule) in rules.iter().enumerate() {
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong(&rule.name);
            ui.label(RichText::new(describe(rule)).weak());
            let edit = egui::Button::new("Edit").small();
            if ui.add_enabled(free, edit).clicked() {
                form.open(trigger_text(rule), Some(k));
            }
            let delete_button = egui::Button::new("Delete").small();
            if ui.add_enabled(free, delete_button).clicked() {
                delete = Some(k);
            }
        });
        if form.draft.is_some() && form.editing == Some(k) {
            saved = edit_form(ui, form, rules, named).map(|r| (Some(k), r));
        }
        let before = form
            .before
            .as_ref()
            .filter(|(name, _)| *name == rule.name)
            .map(|(_, n)| *n);
        body(ui, k, rule, before);
    }
    if let Some(k) = delete {
        edited.remove(k);
    }
    if let Some((place, rule)) = saved {
        form.before = counted(&rule.name)
            .or(place.and_then(|k| counted(&rules[k].name)))
            .map(|n| (rule.name.clone(), n));
        match place {
            Some(k) if k < edited.len() => edited[k] = rule,
            _ => edited.push(rule),
        }
        form.draft = None;
        form.editing = None;
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
    let shown = bars.to_vec();
    let top = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let drawn: Vec<Bar> = bars
        .iter()
        .enumerate()
        .map(|(x, (label, v))| Bar::new(x as f64, *v).name(label).width(0.7))
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
        .y_axis_min_width(40.0)
        .y_grid_spacer(egui_plot::uniform_grid_spacer(|input| {
            // A 1-2-5 step giving two or three labelled lines.
            let span = (input.bounds.1 - input.bounds.0).max(1.0) / 2.5;
            let power = 10f64.powf(span.log10().floor());
            let large = [1.0, 2.0, 5.0, 10.0]
                .into_iter()
                .map(|m| m * power)
                .find(|step| *step >= span)
                .unwrap_or(10.0 * power);
            [large / 10.0, large / 2.0, large]
        }))
        .include_y(0.0)
        .include_y(top * 1.15 + 1.0)
        .label_formatter(move |hover| {
            let (HoverPosition::NearDataPoint { position, .. }
            | HoverPosition::Elsewhere { position }) = hover;
            let k = position.x.round().max(0.0) as usize;
            shown.get(k).map(|(label, v)| format!("{label}: {v:.0}"))
        })
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
            .vscroll(false)
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
                            let mut text = action.path[shown..].join(" › ");
                            if shown > 0 {
                                text = format!("… › {text}");
                            }
                            ui.label(text).on_hover_text(action.path.join(" › "));
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
    named: &[ExpectedJourney],
) -> Option<TriggerRule> {
    let draft = form.draft.as_mut()?;
    let [did, steps, unless] = &mut form.lists;
    let mut saved = None;
    let mut cancel = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        egui::Grid::new("trigger form")
            .num_columns(2)
            .show(ui, |ui| {
                let label = ui.label("Name");
                ui.text_edit_singleline(&mut draft.name)
                    .labelled_by(label.id);
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
                        let label = ui.label(label);
                        let mut text = value.clone().unwrap_or_default();
                        ui.add(egui::TextEdit::singleline(&mut text).hint_text(hint))
                            .labelled_by(label.id);
                        *value = Some(text).filter(|t| !t.trim().is_empty());
                        ui.end_row();
                    };
                let list = |ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str| {
                    let label = ui.label(label);
                    ui.add(egui::TextEdit::singleline(text).hint_text(hint))
                        .labelled_by(label.id);
                    ui.end_row();
                };
                match draft.kind.as_str() {
                    "stall" => {
                        field(ui, "At touchpoint", &mut draft.at, "e.g. view_cart");
                        field(
                            ui,
                            "Nothing follows within",
                            &mut draft.after,
                            "e.g. 5m, 1h",
                        );
                    }
                    "abandon" => list(ui, "Session did", did, "e.g. add_to_cart"),
                    "sequence" => {
                        list(
                            ui,
                            "Steps, in order",
                            steps,
                            "e.g. purchase, support_ticket",
                        );
                        field(
                            ui,
                            "First to last within",
                            &mut draft.within,
                            "e.g. 1h (empty: any time)",
                        );
                    }
                    _ => field(
                        ui,
                        "Expected journey",
                        &mut draft.journey,
                        "e.g. home > cart? > checkout, or a journey's name",
                    ),
                }
                list(
                    ui,
                    "Unless the session did",
                    unless,
                    "(optional) e.g. purchase",
                );
                field(
                    ui,
                    "Only sessions of",
                    &mut draft.segment,
                    "(optional) e.g. channel=web",
                );
            });
        if let Some(problem) = &form.problem {
            ui.colored_label(ui.visuals().warn_fg_color, problem);
        }
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                let parser = crate::source::TimeParser::new(None);
                draft.did = list_of(did);
                draft.steps = list_of(steps);
                draft.unless = list_of(unless);
                let duplicate = rules
                    .iter()
                    .enumerate()
                    .any(|(k, r)| r.name == draft.name.trim() && Some(k) != form.editing);
                match trigger_of(draft, parser, named) {
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
