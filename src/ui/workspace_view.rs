//! The screen of a loaded source: tabs for the map, funnel, customers and
//! rejected records, with the overview and settings on the left.

use std::path::PathBuf;

use crate::app::Command;
use crate::app::workspace::{Tab, Workspace};
use crate::engine::is_terminal_name;
use crate::export::{export_filtered, write_rejected};
use crate::format::thousands;

use super::customers::customers_ui;
use super::funnel::funnel_ui;
use super::overview::overview_ui;
use super::rejected::rejected_ui;
use super::settings_panel::settings_ui;
use super::timeline::timeline_ui;

/// Draws the workspace; returns a command for the app when there is one.
pub fn workspace_ui(ws: &mut Workspace, ui: &mut egui::Ui) -> Option<Command> {
    let ctx = ui.ctx().clone();
    ws.poll(&ctx);
    let journeys = ws.loaded.journeys.clone();
    ws.customers.poll(&journeys, &ctx);
    ws.funnel.poll(&journeys, &ctx);
    let mut command = None;
    egui::Panel::top("workspace top").show(ui, |ui| {
        ui.horizontal(|ui| {
            if ui.button("Back to sources").clicked() {
                command = Some(Command::CloseSource);
            }
            ui.strong(&ws.loaded.summary.source);
            ui.separator();
            let rejected = ws.loaded.summary.rejected.total;
            for (tab, title) in [
                (Tab::Map, "Journey map".to_owned()),
                (Tab::Funnel, "Funnel".to_owned()),
                (Tab::Customers, "Customers".to_owned()),
                (Tab::Rejected, format!("Rejected ({})", thousands(rejected))),
            ] {
                ui.selectable_value(&mut ws.tab, tab, title);
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
        if let Some(notice) = &ws.notice {
            ui.label(egui::RichText::new(notice).weak());
        }
        if ws.tab == Tab::Map {
            ws.map.controls_ui(ui);
            anchors_ui(ws, ui);
        }
    });
    egui::Panel::left("overview")
        .default_size(300.0)
        .resizable(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                overview_ui(ui, &ws.loaded.summary, ws.map.visible(), ws.loaded.seconds);
                ui.separator();
                if settings_ui(ws, ui) {
                    ws.reload(&ctx);
                }
            });
        });
    match ws.tab {
        Tab::Map => {
            if ws.map.selected_names().is_some() {
                egui::Panel::bottom("selection").show(ui, |ui| selection_ui(ws, ui));
            }
            egui::CentralPanel::no_frame().show(ui, |ui| ws.map.map_ui(ui));
            // Clicking on the map filters the customer list to the sessions
            // through what was clicked.
            let selected = ws.map.selected_names();
            if selected != ws.map_selection {
                ws.map_selection = selected.clone();
                ws.customers.filter = selected;
                ws.customers.selected = None;
            }
        }
        Tab::Funnel => {
            egui::CentralPanel::default()
                .show(ui, |ui| funnel_ui(&mut ws.funnel, &ws.loaded.summary, ui));
        }
        Tab::Customers => {
            if let Some(customer) = ws.customers.selected {
                egui::Panel::bottom("timeline")
                    .resizable(true)
                    .default_size(300.0)
                    .show(ui, |ui| {
                        timeline_ui(
                            &mut ws.customers.timeline,
                            customer,
                            &journeys,
                            Some((&ws.loaded.request, &ws.loaded.summary.mapping)),
                            ui,
                        )
                    });
            }
            egui::CentralPanel::default()
                .show(ui, |ui| customers_ui(&mut ws.customers, &journeys, ui));
        }
        Tab::Rejected => {
            egui::CentralPanel::default().show(ui, |ui| {
                if rejected_ui(&ws.loaded.summary.rejected, ui)
                    && let Some(path) = save_dialog("rejected.csv")
                {
                    let summary = ws.loaded.summary.clone();
                    let source = ws.loaded.request.path.clone();
                    ws.save_in_background(ui.ctx(), move || {
                        write_rejected(&summary.rejected, &path, &[&source])
                            .map(|()| format!("Rejected records saved to {}", path.display()))
                    });
                }
            });
        }
    }
    command
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
fn anchors_ui(ws: &mut Workspace, ui: &mut egui::Ui) {
    let summary = ws.loaded.summary.clone();
    let mut names: Vec<&str> = summary
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| !is_terminal_name(n))
        .collect();
    names.sort_unstable();
    ui.horizontal(|ui| {
        for (label, slot) in [("Paths from", &mut ws.view.from), ("to", &mut ws.view.to)] {
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
                        let (summary, filter) = (ws.loaded.summary.clone(), ws.map.filter);
                        let source = ws.loaded.request.path.clone();
                        ws.save_in_background(ui.ctx(), move || {
                            export_filtered(&summary, &filter, &path, &[&source])
                                .map(|()| format!("Saved {}", path.display()))
                        });
                    }
                }
            }
        });
    });
}

/// What is selected on the map, with what can be done with it.
fn selection_ui(ws: &mut Workspace, ui: &mut egui::Ui) {
    let Some((a, b)) = ws.map.selected_names() else {
        return;
    };
    let summary = ws.map.summary().clone();
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
            Some(b) => format!("{a} » {b}"),
        };
        ui.strong(format!("{what}: {} customers", thousands(customers)));
        if ui.button("Show these customers").clicked() {
            ws.customers.filter = Some((a.clone(), b.clone()));
            ws.customers.selected = None;
            ws.tab = Tab::Customers;
        }
        if b.is_none() && !is_terminal_name(&a) {
            if ui.button("Add to funnel").clicked() {
                ws.funnel.steps.push(a.clone());
                ws.tab = Tab::Funnel;
            }
            if ui.button("Paths from here").clicked() {
                ws.view.from = Some(a.clone());
            }
            if ui.button("Paths to here").clicked() {
                ws.view.to = Some(a.clone());
            }
        }
    });
}
