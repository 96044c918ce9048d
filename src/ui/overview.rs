//! The side panel's overview: what was loaded, and the touchpoints on the
//! map.

use crate::engine::is_terminal_name;
use crate::format::{human_duration, thousands};
use crate::layout::Visible;
use crate::report::Summary;

/// Draws the overview of `summary`; `visible` is the part on the map.
pub fn overview_ui(ui: &mut egui::Ui, summary: &Summary, visible: Option<&Visible>, load_s: f64) {
    ui.heading("Overview");
    ui.label(egui::RichText::new(&summary.source).weak())
        .on_hover_text(format!("Loaded in {load_s:.2} s"));
    let timeout = summary
        .session_timeout_s
        .map_or("one per customer".to_owned(), |t| {
            format!("after {} idle", human_duration(t))
        });
    facts_grid(
        ui,
        "totals",
        &[
            ("Events", thousands(summary.events)),
            ("Customers", thousands(summary.customers)),
            ("Sessions", thousands(summary.sessions)),
            ("Duplicates dropped", thousands(summary.duplicates)),
            ("Rejected records", thousands(summary.rejected.total)),
            ("Sessions end", timeout),
        ],
    );

    ui.add_space(6.0);
    if let Some(visible) = visible {
        egui::CollapsingHeader::new("Touchpoints on the map")
            .default_open(true)
            .show(ui, |ui| {
                egui::Grid::new("touchpoints")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        for n in visible.nodes.iter().filter(|n| !is_terminal_name(&n.name)) {
                            ui.label(&n.name);
                            ui.label(thousands(n.events));
                            ui.end_row();
                        }
                    });
                if let Some(note) = visible.hidden_note() {
                    ui.label(egui::RichText::new(note).weak());
                }
            });
    }
}

/// A striped two-column grid of (label, value) rows.
pub fn facts_grid(ui: &mut egui::Ui, id: &str, rows: &[(&str, String)]) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (label, value) in rows {
                ui.label(*label);
                ui.label(value);
                ui.end_row();
            }
        });
}
