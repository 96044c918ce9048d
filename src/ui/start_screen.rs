//! The start screen: open a file or DuckDB database, the demo, recent
//! sources, and the Kafka form (live mode comes later).

use std::path::PathBuf;

use crate::app::Command;

/// State of the start screen.
#[derive(Debug, Default)]
pub struct StartScreen {
    /// The path typed by the user.
    pub path: String,
    /// The last error, shown until the next attempt.
    pub error: Option<String>,
    kafka_brokers: String,
    kafka_topic: String,
}

impl StartScreen {
    /// Draws the screen; returns what the user asked for.
    pub fn start_ui(&mut self, ui: &mut egui::Ui, recent: &[String]) -> Option<Command> {
        let mut command = None;
        ui.vertical_centered(|ui| {
            ui.add_space(40.0);
            ui.heading(egui::RichText::new("Journeyscope").size(32.0));
            ui.label("See how customers move between touchpoints.");
            ui.add_space(24.0);
        });
        let width = ui.available_width().min(560.0);
        ui.horizontal(|ui| {
            ui.add_space((ui.available_width() - width).max(0.0) / 2.0);
            ui.vertical(|ui| {
                ui.set_width(width);
                ui.group(|ui| {
                    ui.strong("Open events");
                    ui.label("A JSON lines, CSV/TSV or Parquet file (gzip/zstd too) or a DuckDB database. You can also drop a file on the window.");
                    ui.horizontal(|ui| {
                        let edit = ui.add(egui::TextEdit::singleline(&mut self.path).hint_text("/path/to/events.csv").desired_width(width - 170.0));
                        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                        if (ui.button("Open").clicked() || enter) && !self.path.trim().is_empty() {
                            command = Some(Command::OpenPath(PathBuf::from(self.path.trim())));
                        }
                        if ui.button("Browse…").clicked()
                            && let Some(path) = rfd::FileDialog::new()
                                .add_filter("Events", &["jsonl", "ndjson", "json", "csv", "tsv", "txt", "parquet", "duckdb", "db", "gz", "zst"])
                                .pick_file()
                        {
                            self.path = path.display().to_string();
                            command = Some(Command::OpenPath(path));
                        }
                    });
                    if let Some(error) = &self.error {
                        ui.colored_label(ui.visuals().error_fg_color, error);
                    }
                });
                ui.add_space(8.0);
                ui.group(|ui| {
                    ui.strong("Demo");
                    ui.label("A month of a web shop with its Black Friday peak, bundled with the app.");
                    if ui.button("Open the demo").clicked() {
                        command = Some(Command::OpenDemo);
                    }
                });
                if !recent.is_empty() {
                    ui.add_space(8.0);
                    ui.group(|ui| {
                        ui.strong("Recent");
                        for path in recent {
                            if ui.link(path).clicked() {
                                command = Some(Command::OpenPath(PathBuf::from(path)));
                            }
                        }
                    });
                }
                ui.add_space(8.0);
                ui.group(|ui| {
                    ui.strong("Live from Kafka");
                    ui.add_enabled_ui(false, |ui| {
                        egui::Grid::new("kafka").num_columns(2).show(ui, |ui| {
                            let label = ui.label("Bootstrap servers");
                            ui.text_edit_singleline(&mut self.kafka_brokers).labelled_by(label.id);
                            ui.end_row();
                            let label = ui.label("Topic");
                            ui.text_edit_singleline(&mut self.kafka_topic).labelled_by(label.id);
                            ui.end_row();
                        });
                        let _ = ui.button("Connect");
                    });
                    ui.label(egui::RichText::new("Live mode is not available in this version.").weak());
                });
            });
        });
        let dropped = ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            self.path = path.display().to_string();
            command = Some(Command::OpenPath(path));
        }
        command
    }
}
