//! The screen of a loaded source: tabs for the map, funnel, customers and
//! rejected records, with the overview and settings on the left. It draws
//! the app's [`Workspace`] and the views' own widget state, and records
//! what the user asked for as commands.

use std::path::PathBuf;

use crate::app::Command;
use crate::app::workspace::{ExportWhat, Tab, ViewSettings, Workspace, WorkspaceCommand};
use crate::engine::is_terminal_name;
use crate::format::thousands;

use super::conformance::{JourneyPick, conformance_ui};
use super::customers::{CustomersChange, customers_ui};
use super::funnel::funnel_ui;
use super::insight_panel::{PanelPick, compare_ui, insight_panel_ui};
use super::journey_map::JourneyMap;
use super::overview::overview_ui;
use super::paths::paths_ui;
use super::rejected::rejected_ui;
use super::settings_panel::{SettingsForm, settings_ui};
use super::timeline::{Details, Timeline};
use super::triggers::{TriggerForm, triggers_ui};
use super::variants::variants_ui;
use crate::app::customers::ListFilter;

/// The views' own state on this screen: the map (pan, zoom, sliders,
/// selection, its layout), the settings form being edited and the
/// timeline's highlighted event.
pub struct WorkspaceWidgets {
    /// The journey map.
    pub map: JourneyMap,
    /// The columns and rules being edited.
    pub form: SettingsForm,
    /// The workspace generation the map shows.
    map_for: u64,
    /// The re-load the form was filled from.
    form_for: u64,
    /// The comparison being typed.
    pub compare_typed: String,
    /// The customer's timeline.
    pub timeline: Timeline,
    /// The expected journey being typed.
    pub journey_typed: String,
    /// Why the journey typed cannot be followed.
    pub journey_error: Option<String>,
    /// The trigger rule being written.
    pub trigger_form: TriggerForm,
}

impl WorkspaceWidgets {
    /// The widgets of a freshly opened `ws`.
    pub fn new(ws: &Workspace) -> Self {
        WorkspaceWidgets {
            map: JourneyMap::new(ws.loaded.summary.clone()),
            form: SettingsForm::new(
                &ws.loaded.summary.mapping,
                &ws.loaded.request.settings,
                ws.loaded.journeys.kept_properties(),
            ),
            map_for: ws.generation,
            form_for: ws.reloads,
            compare_typed: String::new(),
            timeline: Timeline::default(),
            journey_typed: ws.view.journey.clone().unwrap_or_default(),
            journey_error: None,
            trigger_form: TriggerForm::default(),
        }
    }

    /// Follows what changed in the workspace since the last frame.
    fn follow(&mut self, ws: &Workspace, ctx: &egui::Context) {
        if self.map_for != ws.generation {
            self.map_for = ws.generation;
            self.map.set_summary(ws.loaded.summary.clone());
        }
        if self.form_for != ws.reloads {
            self.form_for = ws.reloads;
            self.form = SettingsForm::new(
                &ws.loaded.summary.mapping,
                &ws.loaded.request.settings,
                ws.loaded.journeys.kept_properties(),
            );
        }
        // Kept current on every tab: the overview shows what the map hides.
        self.map.update(ctx);
    }
}

/// Draws the workspace; returns the commands for the app.
pub fn workspace_ui(ws: &Workspace, w: &mut WorkspaceWidgets, ui: &mut egui::Ui) -> Vec<Command> {
    w.follow(ws, ui.ctx());
    let mut commands: Vec<WorkspaceCommand> = Vec::new();
    let mut close = false;
    egui::Panel::top("workspace top").show(ui, |ui| {
        ui.horizontal(|ui| {
            if ui.button("Back to sources").clicked() {
                close = true;
            }
            ui.strong(&ws.loaded.summary.source);
            ui.separator();
            let rejected = ws.loaded.summary.rejected.total;
            let mut tab = ws.tab;
            for (value, title) in [
                (Tab::Map, "Journey map".to_owned()),
                (Tab::Funnel, "Funnel".to_owned()),
                (Tab::Paths, "Paths".to_owned()),
                (Tab::Variants, "Variants".to_owned()),
                (Tab::Triggers, "Triggers".to_owned()),
                (Tab::Customers, "Customers".to_owned()),
                (Tab::Rejected, format!("Rejected ({})", thousands(rejected))),
            ] {
                ui.selectable_value(&mut tab, value, title);
            }
            if tab != ws.tab {
                commands.push(WorkspaceCommand::ShowTab(tab));
            }
            if ws.is_busy() {
                ui.separator();
                ui.spinner();
                ui.label("Applying settings…");
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                theme_switch(ui);
            });
        });
        // Ticked journeys restrict every tab: said on every tab.
        if !ws.view.variants.is_empty() {
            ui.horizontal(|ui| {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "Showing only the sessions of {} (Variants tab).",
                        crate::format::plural(ws.view.variants.len(), "ticked journey")
                    ),
                );
                if ws.tab != Tab::Variants && ui.button("Show all sessions again").clicked() {
                    commands.push(WorkspaceCommand::SetView(ViewSettings {
                        variants: Vec::new(),
                        ..ws.view.clone()
                    }));
                }
            });
        }
        if let Some(notice) = &ws.notice {
            ui.label(egui::RichText::new(notice).weak());
        }
        if let Some(error) = &ws.reload_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if ws.tab == Tab::Map {
            w.map.controls_ui(ui);
            commands.extend(anchors_ui(ws, &w.map, ui));
        }
        // The map, the funnel and the paths show a comparison.
        if matches!(ws.tab, Tab::Map | Tab::Funnel | Tab::Paths)
            && let Some(PanelPick::Compare(view)) = compare_ui(ws, &mut w.compare_typed, ui)
        {
            commands.push(WorkspaceCommand::SetView(*view));
        }
    });
    egui::Panel::left("overview")
        .default_size(300.0)
        .resizable(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                overview_ui(ui, &ws.loaded.summary, w.map.visible(), ws.loaded.seconds);
                ui.separator();
                commands.extend(settings_ui(ws, &mut w.form, ui));
            });
        });
    commands.extend(tab_ui(ws, w, ui));
    let mut out: Vec<Command> = commands.into_iter().map(Command::Workspace).collect();
    if close {
        out.push(Command::CloseSource);
    }
    out
}

/// The central view of the tab shown.
fn tab_ui(ws: &Workspace, w: &mut WorkspaceWidgets, ui: &mut egui::Ui) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    let journeys = ws.loaded.journeys.clone();
    match ws.tab {
        Tab::Map => {
            if w.map.selected_names().is_some() {
                egui::Panel::bottom("selection")
                    .show(ui, |ui| commands.extend(selection_ui(&w.map, ui)));
            }
            egui::Panel::right("insight")
                .default_size(320.0)
                .resizable(true)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        egui::CollapsingHeader::new(
                            egui::RichText::new("Expected journey").heading(),
                        )
                        .default_open(true)
                        .show(ui, |ui| {
                            commands.extend(journey_ui(
                                ws,
                                (&mut w.journey_typed, &mut w.journey_error),
                                ui,
                            ));
                        });
                        ui.separator();
                        if let Some(PanelPick::Select(a, b)) =
                            insight_panel_ui(&ws.loaded.summary, ui)
                        {
                            w.map.select(&a, b.as_deref());
                        }
                    });
                });
            egui::CentralPanel::no_frame().show(ui, |ui| w.map.map_ui(ui));
            // Clicking on the map filters the customer list to the sessions
            // through what was clicked.
            let selected = w.map.selected_names();
            if selected != ws.map_selection {
                commands.push(WorkspaceCommand::SelectOnMap(selected));
            }
        }
        Tab::Funnel => {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(funnel_ui(&ws.funnel, &ws.loaded.summary, ui))
            });
        }
        Tab::Paths => {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(paths_ui(&ws.view, &ws.loaded.summary, ui))
            });
        }
        Tab::Variants => {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(variants_ui(&ws.view, &ws.loaded.summary, ui))
            });
        }
        Tab::Triggers => {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(triggers_ui(
                    &ws.view,
                    (&ws.loaded.summary, &journeys, &ws.journeys_named),
                    &mut w.trigger_form,
                    ui,
                ))
            });
        }
        Tab::Customers => {
            if let Some(customer) = ws.customers.selected {
                let zone = ws.loaded.request.settings.source.timezone;
                let details = match ws.details() {
                    None => Details::Reading,
                    Some(Ok(records)) => Details::Read(records),
                    Some(Err(why)) => Details::Failed(why),
                };
                egui::Panel::bottom("timeline")
                    .resizable(true)
                    .default_size(420.0)
                    .show(ui, |ui| {
                        w.timeline
                            .timeline_ui(customer, &journeys, details, zone, ui)
                    });
            }
            egui::CentralPanel::default().show(ui, |ui| {
                for change in customers_ui(&ws.customers, &journeys, ui) {
                    commands.push(match change {
                        CustomersChange::Query(query) => WorkspaceCommand::SetCustomers(query),
                        CustomersChange::Select(c) => WorkspaceCommand::SelectCustomer(c),
                    });
                }
            });
        }
        Tab::Rejected => {
            egui::CentralPanel::default().show(ui, |ui| {
                if rejected_ui(&ws.loaded.summary.rejected, ui)
                    && let Some(path) = save_dialog("rejected.csv")
                {
                    commands.push(WorkspaceCommand::Export(ExportWhat::Rejected, path));
                }
            });
        }
    }
    commands
}

/// The Expected journey panel, its picks as commands.
fn journey_ui(
    ws: &Workspace,
    (typed, error): (&mut String, &mut Option<String>),
    ui: &mut egui::Ui,
) -> Vec<WorkspaceCommand> {
    let pick = conformance_ui(
        &ws.loaded.summary,
        ws.view.journey.as_deref(),
        &ws.journeys_named,
        typed,
        ui,
    );
    if let Some(why) = error.as_deref() {
        ui.colored_label(ui.visuals().error_fg_color, why);
    }
    match pick {
        // A journey that cannot be read is said at once, never walked.
        Some(JourneyPick::Follow(Some(text)))
            if let Err(e) = crate::settings::expected_journey(&text, &ws.journeys_named) =>
        {
            *error = Some(e.to_string());
            Vec::new()
        }
        Some(JourneyPick::Follow(journey)) => {
            *error = None;
            vec![WorkspaceCommand::SetView(ViewSettings {
                journey,
                ..ws.view.clone()
            })]
        }
        Some(JourneyPick::Customers(filter)) => vec![WorkspaceCommand::ShowCustomersOf(filter)],
        None => Vec::new(),
    }
}

/// Light or dark, remembered by egui with the rest of its options.
fn theme_switch(ui: &mut egui::Ui) {
    let mut preference = ui.ctx().options(|o| o.theme_preference);
    let before = preference;
    ui.selectable_value(&mut preference, egui::ThemePreference::Dark, "Dark");
    ui.selectable_value(&mut preference, egui::ThemePreference::Light, "Light");
    if preference != before {
        ui.ctx().set_theme(preference);
    }
}

fn save_dialog(file_name: &str) -> Option<PathBuf> {
    rfd::FileDialog::new().set_file_name(file_name).save_file()
}

/// "Paths from" / "paths to" anchors and the export menu.
fn anchors_ui(ws: &Workspace, map: &JourneyMap, ui: &mut egui::Ui) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    let summary = &ws.loaded.summary;
    let names = summary.touchpoint_names();
    let mut view = ws.view.clone();
    ui.horizontal(|ui| {
        for (label, slot) in [("Paths from", &mut view.from), ("to", &mut view.to)] {
            let label = ui.label(label);
            egui::ComboBox::from_id_salt(label.id)
                .selected_text(slot.as_deref().unwrap_or("anywhere"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(slot, None, "anywhere");
                    for n in &names {
                        ui.selectable_value(slot, Some((*n).to_owned()), *n);
                    }
                })
                .response
                .labelled_by(label.id);
        }
        ui.separator();
        ui.menu_button("Export…", |ui| {
            for (what, file) in [
                ("Map as PNG", "journey-map.png"),
                ("Map as SVG", "journey-map.svg"),
                ("Transitions as CSV", "edges.csv"),
                ("Summary as JSON", "graph.json"),
                ("Graph for Graphviz (DOT)", "graph.dot"),
            ] {
                if ui.button(what).clicked() {
                    ui.close();
                    if let Some(path) = save_dialog(file) {
                        commands.push(WorkspaceCommand::Export(
                            ExportWhat::Summary(map.filter),
                            path,
                        ));
                    }
                }
            }
        });
    });
    if view != ws.view {
        commands.push(WorkspaceCommand::SetView(view));
    }
    commands
}

/// What is selected on the map, with what can be done with it.
fn selection_ui(map: &JourneyMap, ui: &mut egui::Ui) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    let Some((a, b)) = map.selected_names() else {
        return commands;
    };
    let summary = map.summary();
    ui.horizontal(|ui| {
        let customers = match &b {
            None => summary
                .nodes
                .iter()
                .find(|n| n.name == a)
                .map(|n| n.customers),
            Some(b) => summary
                .edges
                .iter()
                .find(|e| e.from == a && e.to == *b)
                .map(|e| e.customers),
        }
        .unwrap_or(0);
        let what = match &b {
            None => a.clone(),
            Some(b) if *b == a => format!("{a} repeated in a row"),
            Some(b) => format!("{a} » {b}"),
        };
        ui.strong(format!("{what}: {} customers", thousands(customers)));
        if ui.button("Show these customers").clicked() {
            commands.push(WorkspaceCommand::ShowCustomersOf(ListFilter::Map(
                a.clone(),
                b.clone(),
            )));
        }
        if b.is_none() && !is_terminal_name(&a) {
            if ui.button("Add to funnel").clicked() {
                commands.push(WorkspaceCommand::AddToFunnel(a.clone()));
            }
            if ui.button("Paths from here").clicked() {
                commands.push(WorkspaceCommand::PathsFrom(a.clone()));
            }
            if ui.button("Paths to here").clicked() {
                commands.push(WorkspaceCommand::PathsTo(a.clone()));
            }
        }
    });
    commands
}
