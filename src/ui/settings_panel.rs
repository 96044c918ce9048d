//! Settings that reshape the journeys: the session timeout and repeat
//! merging (applied live by walking the loaded events again), and the
//! columns and touchpoint rules (applied by reading the source again).

use crate::app::workspace::{FormValues, Workspace, WorkspaceCommand};
use crate::settings::Settings;
use crate::source::{Mapping, MappingOverrides};

/// The columns and rules as the user is editing them.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsForm {
    /// Every column of the source.
    pub columns: Vec<String>,
    /// Customer column.
    pub customer: String,
    /// Event column.
    pub event: String,
    /// Timestamp column.
    pub time: String,
    /// Event id column (None = no de-duplication).
    pub event_id: Option<String>,
    /// Session id column (None = sessions by idle time).
    pub session_id: Option<String>,
    /// Rename rules, one `REGEX=NAME` per line.
    pub renames: String,
    /// Split rules, one `EVENT:PROPERTY` per line.
    pub splits: String,
    /// Excluded events, one per line.
    pub excludes: String,
    /// Columns whose values are shown as `hidden`.
    pub hidden: Vec<String>,
    /// Columns kept for comparing (besides the channel).
    pub kept: Vec<String>,
}

impl SettingsForm {
    /// The form for data read with `mapping` and `settings`.
    pub fn new(mapping: &Mapping, settings: &Settings, kept: &[String]) -> Self {
        let rules = &settings.engine.rules;
        SettingsForm {
            columns: mapping.columns.clone(),
            customer: mapping.customer.clone(),
            event: mapping.event.clone(),
            time: mapping.time.clone(),
            event_id: mapping.event_id.clone(),
            session_id: mapping.session_id.clone(),
            renames: rules
                .renames
                .iter()
                .map(|r| format!("{}={}", r.pattern.as_str(), r.name))
                .collect::<Vec<_>>()
                .join("\n"),
            splits: rules
                .splits
                .iter()
                .map(|s| format!("{}:{}", s.event, s.property))
                .collect::<Vec<_>>()
                .join("\n"),
            excludes: rules.excludes.join("\n"),
            hidden: settings.source.hidden_properties.clone(),
            kept: kept
                .iter()
                .filter(|k| k.as_str() != crate::source::CHANNEL)
                .cloned()
                .collect(),
        }
    }

    /// The form as typed, for the app to check and apply.
    pub fn values(&self) -> FormValues {
        FormValues {
            overrides: MappingOverrides {
                customer: Some(self.customer.clone()),
                event: Some(self.event.clone()),
                time: Some(self.time.clone()),
                event_id: self.event_id.clone(),
                session_id: self.session_id.clone(),
            },
            renames: self.renames.clone(),
            splits: self.splits.clone(),
            excludes: self.excludes.clone(),
            hidden: self.hidden.clone(),
            kept: self.kept.clone(),
        }
    }
}

/// Draws the settings: the session settings as `ws` has them, the columns
/// and rules as `form` holds them; returns what the user asked for.
pub fn settings_ui(
    ws: &Workspace,
    form: &mut SettingsForm,
    ui: &mut egui::Ui,
) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    commands.extend(sessions_ui(ws, ui));

    ui.add_space(8.0);
    columns_ui(ws, form, ui);
    if keep_for_comparing_ui(ws, form, ui) {
        // A tick applies at once: the source is read again keeping it.
        commands.push(WorkspaceCommand::Reload(form.values()));
    }
    touchpoint_rules_ui(form, ui);
    commands.extend(apply_ui(ws, form, ui));
    commands
}

/// The Sessions section: idle time ending a session (unless the source
/// has session ids) and merging repeated steps; the command when the user
/// changed them.
fn sessions_ui(ws: &Workspace, ui: &mut egui::Ui) -> Option<WorkspaceCommand> {
    ui.heading("Sessions");
    let mut edited = ws.view.clone();
    let view = &mut edited;
    let mut by_idle = view.timeout_min.is_some();
    let has_session_ids = ws.loaded.summary.mapping.session_id.is_some();
    ui.add_enabled_ui(!has_session_ids, |ui| {
        ui.checkbox(&mut by_idle, "End a session after idle time")
            .on_hover_text("Off: each customer's events form one journey");
        if by_idle {
            let mut minutes = view.timeout_min.unwrap_or(30.0);
            ui.add(
                egui::Slider::new(&mut minutes, 1.0..=1440.0)
                    .logarithmic(true)
                    .integer()
                    .suffix(" min")
                    .text("session timeout"),
            );
            view.timeout_min = Some(minutes);
        } else {
            view.timeout_min = None;
        }
    });
    if has_session_ids {
        ui.label(egui::RichText::new("Sessions come from the session id column.").weak());
    }
    ui.checkbox(&mut view.collapse_repeats, "Merge repeated steps")
        .on_hover_text("Count consecutive events at the same touchpoint as one step");
    (edited != ws.view).then_some(WorkspaceCommand::SetView(edited))
}

/// The Columns section: which column is which, and the columns whose
/// values are hidden.
fn columns_ui(ws: &Workspace, form: &mut SettingsForm, ui: &mut egui::Ui) {
    ui.collapsing("Columns", |ui| {
        column_roles_ui(ws, form, ui);
        hidden_values_ui(form, ui);
    });
}

/// The columns of the customer, event, time (with how its numbers were
/// read), event id and session id.
fn column_roles_ui(ws: &Workspace, form: &mut SettingsForm, ui: &mut egui::Ui) {
    egui::Grid::new("columns form")
        .num_columns(2)
        .show(ui, |ui| {
            for (role, slot) in [
                ("Customer", &mut form.customer),
                ("Event", &mut form.event),
                ("Time", &mut form.time),
            ] {
                let label = ui.label(role);
                column_choice(ui, role, slot, &form.columns).labelled_by(label.id);
                ui.end_row();
            }
            // How the loaded time column's numbers were read.
            let mapping = &ws.loaded.summary.mapping;
            if let Some(unit) = mapping.time_unit
                && mapping.time == form.time
            {
                ui.label("");
                ui.label(egui::RichText::new(format!("read as {}", unit.describe())).weak());
                ui.end_row();
            }
            for (role, slot) in [
                ("Event id", &mut form.event_id),
                ("Session id", &mut form.session_id),
            ] {
                let label = ui.label(role);
                optional_column_choice(ui, role, slot, &form.columns).labelled_by(label.id);
                ui.end_row();
            }
        });
}

/// The Hide the values of ticks: every column but the customer, event and
/// time.
fn hidden_values_ui(form: &mut SettingsForm, ui: &mut egui::Ui) {
    ui.collapsing("Hide the values of", |ui| {
        ui.label(
            egui::RichText::new(
                "Shown as `hidden` in timelines, tooltips, segments, rejected records and \
                 exports",
            )
            .weak(),
        );
        // The customer, event and time are no property to hide (ids
        // have --pseudonymize).
        let roles = [&form.customer, &form.event, &form.time];
        ui.horizontal_wrapped(|ui| {
            for column in form.columns.iter().filter(|c| !roles.contains(c)) {
                let mut hide = form.hidden.contains(column);
                if ui.checkbox(&mut hide, column).changed() {
                    form.hidden.retain(|c| c != column);
                    if hide {
                        form.hidden.push(column.clone());
                    }
                }
            }
        });
    });
}

/// The Touchpoint rules section: renames, splits and events left out, one
/// per line each.
fn touchpoint_rules_ui(form: &mut SettingsForm, ui: &mut egui::Ui) {
    ui.collapsing("Touchpoint rules", |ui| {
        for (label, text, hint) in [
            (
                "Rename: REGEX=NAME, one per line",
                &mut form.renames,
                "^/product/.*=product page",
            ),
            (
                "Split: EVENT:PROPERTY, one per line",
                &mut form.splits,
                "page_view:page_path",
            ),
            (
                "Leave out these events, one per line",
                &mut form.excludes,
                "",
            ),
        ] {
            let label = ui.label(label);
            ui.add(
                egui::TextEdit::multiline(text)
                    .hint_text(hint)
                    .desired_rows(2),
            )
            .labelled_by(label.id);
        }
    });
}

/// Apply columns and rules (not while reading again), how far reading
/// again got, and why it failed; the command to read the source again.
fn apply_ui(ws: &Workspace, form: &SettingsForm, ui: &mut egui::Ui) -> Option<WorkspaceCommand> {
    let mut command = None;
    let reloading = ws.reloading().is_some();
    ui.add_enabled_ui(!reloading, |ui| {
        if ui
            .button("Apply columns and rules")
            .on_hover_text("Reads the source again")
            .clicked()
        {
            command = Some(WorkspaceCommand::Reload(form.values()));
        }
    });
    if let Some(loading) = ws.reloading() {
        ui.add(egui::ProgressBar::new(0.0).animate(true).text(format!(
            "Reading again: {} events",
            crate::format::thousands(loading.events())
        )));
    }
    if let Some(error) = &ws.reload_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    command
}

fn column_choice(
    ui: &mut egui::Ui,
    role: &str,
    slot: &mut String,
    columns: &[String],
) -> egui::Response {
    egui::ComboBox::from_id_salt(role)
        .selected_text(slot.as_str())
        .show_ui(ui, |ui| {
            for c in columns {
                ui.selectable_value(slot, c.clone(), c);
            }
        })
        .response
}

fn optional_column_choice(
    ui: &mut egui::Ui,
    role: &str,
    slot: &mut Option<String>,
    columns: &[String],
) -> egui::Response {
    egui::ComboBox::from_id_salt(role)
        .selected_text(slot.as_deref().unwrap_or("(none)"))
        .show_ui(ui, |ui| {
            ui.selectable_value(slot, None, "(none)");
            for c in columns {
                ui.selectable_value(slot, Some(c.clone()), c);
            }
        })
        .response
}

/// The Keep for comparing ticks: every column but the roles; true when one
/// changed.
fn keep_for_comparing_ui(ws: &Workspace, form: &mut SettingsForm, ui: &mut egui::Ui) -> bool {
    let mut keep_changed = false;
    ui.collapsing("Keep for comparing", |ui| {
        ui.label(
            egui::RichText::new(
                "Ticked columns can be compared and used in segments (Compare presets list \
                 their values). Columns with a few values are ticked when a file is opened.",
            )
            .weak(),
        );
        let mapping = &ws.loaded.summary.mapping;
        let roles = [
            Some(&form.customer),
            Some(&form.event),
            Some(&form.time),
            form.event_id.as_ref(),
            form.session_id.as_ref(),
        ];
        ui.horizontal_wrapped(|ui| {
            for column in form.columns.iter().filter(|c| !roles.contains(&Some(*c))) {
                if mapping.channel.as_ref() == Some(column) {
                    let mut always = true;
                    ui.add_enabled(false, egui::Checkbox::new(&mut always, column))
                        .on_disabled_hover_text("Kept as the channel");
                    continue;
                }
                let mut keep = form.kept.contains(column);
                if ui.checkbox(&mut keep, column).changed() {
                    form.kept.retain(|c| c != column);
                    if keep {
                        form.kept.push(column.clone());
                    }
                    keep_changed = true;
                }
            }
        });
    });
    keep_changed
}
