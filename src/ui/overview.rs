//! The side panel: what was loaded, how it was mapped, what was rejected,
//! and the touchpoints on the map.

use crate::layout::Visible;
use crate::report::{Summary, human_duration, thousands};

/// Draws the overview of `summary`; `visible` is the part on the map.
pub fn overview_ui(ui: &mut egui::Ui, summary: &Summary, visible: Option<&Visible>, load_s: f64) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Overview");
        ui.label(egui::RichText::new(&summary.source).weak())
            .on_hover_text(format!("Loaded in {load_s:.2} s"));
        egui::Grid::new("totals")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                let mut row = |label: &str, value: String| {
                    ui.label(label);
                    ui.label(value);
                    ui.end_row();
                };
                row("Events", thousands(summary.events));
                row("Customers", thousands(summary.customers));
                row("Sessions", thousands(summary.sessions));
                row("Duplicates dropped", thousands(summary.duplicates));
                row("Rejected records", thousands(summary.rejected.total));
                let timeout = summary
                    .session_timeout_s
                    .map_or("one per customer".to_owned(), |t| {
                        format!("after {} idle", human_duration(t))
                    });
                row("Sessions end", timeout);
            });

        ui.add_space(6.0);
        ui.collapsing("Columns used", |ui| {
            let m = &summary.mapping;
            egui::Grid::new("mapping").num_columns(2).show(ui, |ui| {
                for (role, column) in [
                    ("Customer", Some(&m.customer)),
                    ("Event", Some(&m.event)),
                    ("Time", Some(&m.time)),
                    ("Event id", m.event_id.as_ref()),
                    ("Session id", m.session_id.as_ref()),
                ] {
                    ui.label(role);
                    ui.monospace(column.map_or("—", |c| c.as_str()));
                    ui.end_row();
                }
            });
        });

        if summary.rejected.total > 0 {
            ui.collapsing(
                format!("Rejected records ({})", thousands(summary.rejected.total)),
                |ui| {
                    for (reason, n) in &summary.rejected.by_reason {
                        ui.label(format!(
                            "{}: {}",
                            reason.as_str().replace('_', " "),
                            thousands(*n)
                        ));
                    }
                    ui.separator();
                    for r in summary.rejected.sample.iter().take(20) {
                        ui.label(
                            egui::RichText::new(format!("{} — {}", r.position, r.detail)).small(),
                        )
                        .on_hover_text(&r.record);
                    }
                },
            );
        }

        ui.add_space(6.0);
        ui.strong("Touchpoints on the map");
        if let Some(visible) = visible {
            egui::Grid::new("touchpoints")
                .num_columns(2)
                .striped(true)
                .show(ui, |ui| {
                    for n in visible
                        .nodes
                        .iter()
                        .filter(|n| n.name != "START" && n.name != "END")
                    {
                        ui.label(&n.name);
                        ui.label(thousands(n.events));
                        ui.end_row();
                    }
                });
            if let Some(note) = visible.hidden_note() {
                ui.label(egui::RichText::new(note).weak());
            }
        }
    });
}
