//! The start screen: open a file or DuckDB database, the demo, recent
//! sources, and the Kafka form for live mode.

use std::path::PathBuf;

use crate::app::Command;
use crate::app::live::{DEFAULT_LATENESS_US, LiveRequest};
use crate::source::kafka::{KafkaSpec, StartAt, client_property};
use crate::source::values::{RegistrySpec, ValueFormat, ValuesSpec};

/// State of the start screen.
#[derive(Debug, Default)]
pub struct StartScreen {
    /// The path typed by the user.
    pub path: String,
    /// What is wrong with the Kafka form, shown until the next attempt.
    pub form_error: Option<String>,
    /// Kafka bootstrap servers.
    pub kafka_brokers: String,
    /// Kafka topic.
    pub kafka_topic: String,
    /// Where to start: earliest, latest, a time or -15m.
    pub kafka_from: String,
    /// Extra client properties, `key=value` per line (never stored).
    pub kafka_properties: String,
    /// How late an event may arrive and still be put in order ("10s").
    pub kafka_lateness: String,
    /// How message values are read.
    pub kafka_values: ValueFormat,
    /// A Schema Registry's URL (empty: none).
    pub kafka_registry: String,
    /// The pseudonymization key file (empty: the environment variable).
    pub key_file: String,
}

impl StartScreen {
    /// Draws the screen with the `recent` sources and why the last one
    /// could not be opened; returns what the user asked for.
    pub fn start_ui(
        &mut self,
        ui: &mut egui::Ui,
        recent: &[String],
        error: Option<&str>,
        pseudonymizes: bool,
    ) -> Option<Command> {
        let mut command = None;
        // What went wrong opening a file shows in its card, the Kafka
        // form's own mistakes in the Kafka card.
        let error = error.map(str::to_owned);
        title_ui(ui);
        let width = ui.available_width().min(560.0);
        ui.horizontal(|ui| {
            ui.add_space((ui.available_width() - width).max(0.0) / 2.0);
            ui.vertical(|ui| {
                ui.set_width(width);
                command = self.cards_ui(ui, width, recent, error.as_deref(), pseudonymizes);
            });
        });
        if let Some(dropped) = self.dropped_file(ui) {
            command = Some(dropped);
        }
        command
    }

    /// The column of cards: open, the demo, privacy, recent sources and
    /// Kafka; the command of the last card the user used.
    fn cards_ui(
        &mut self,
        ui: &mut egui::Ui,
        width: f32,
        recent: &[String],
        error: Option<&str>,
        pseudonymizes: bool,
    ) -> Option<Command> {
        let mut command = self.open_card_ui(ui, width, error);
        ui.add_space(8.0);
        if let Some(asked) = demo_card_ui(ui, width) {
            command = Some(asked);
        }
        ui.add_space(8.0);
        card(ui, width, |ui| {
            if let Some(asked) = self.privacy_ui(ui, pseudonymizes) {
                command = Some(asked);
            }
        });
        if !recent.is_empty() {
            ui.add_space(8.0);
            if let Some(asked) = recent_card_ui(ui, width, recent) {
                command = Some(asked);
            }
        }
        ui.add_space(8.0);
        if let Some(asked) = self.kafka_card_ui(ui, width) {
            command = Some(asked);
        }
        command
    }

    /// The Open events card: the path with Open and Browse…, and what went
    /// wrong opening the last one (`error`); the command to open a file.
    fn open_card_ui(
        &mut self,
        ui: &mut egui::Ui,
        width: f32,
        error: Option<&str>,
    ) -> Option<Command> {
        let mut command = None;
        card(ui, width, |ui| {
            ui.strong("Open events");
            ui.label("A JSON lines, CSV/TSV, Parquet or Avro file (gzip/zstd too) or a DuckDB database. You can also drop a file on the window.");
            ui.horizontal(|ui| {
                let edit = ui.add(
                    egui::TextEdit::singleline(&mut self.path)
                        .hint_text(hint(ui, "/path/to/events.csv"))
                        .desired_width(width - 170.0),
                );
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if (ui.button("Open").clicked() || enter) && !self.path.trim().is_empty() {
                    self.form_error = None;
                    command = Some(Command::OpenPath(PathBuf::from(self.path.trim())));
                }
                if ui.button("Browse…").clicked()
                    && let Some(path) = rfd::FileDialog::new()
                        .add_filter(
                            "Events",
                            &[
                                "jsonl", "ndjson", "json", "csv", "tsv", "txt", "parquet", "avro",
                                "duckdb", "db", "gz", "zst",
                            ],
                        )
                        .pick_file()
                {
                    self.path = path.display().to_string();
                    command = Some(Command::OpenPath(path));
                }
            });
            if let Some(error) = error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
        });
        command
    }

    /// The Live from Kafka card: the form, what is wrong with it, and
    /// Connect; the command to connect.
    fn kafka_card_ui(&mut self, ui: &mut egui::Ui, width: f32) -> Option<Command> {
        let mut command = None;
        card(ui, width, |ui| {
            ui.strong("Live from Kafka");
            self.kafka_form_ui(ui);
            ui.label(egui::RichText::new(LATENESS_HELP).weak());
            if let Some(error) = &self.form_error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            if ui.button("Connect").clicked() {
                match self.kafka_request() {
                    Ok(request) => {
                        self.form_error = None;
                        command = Some(Command::OpenKafka(Box::new(request)));
                    }
                    Err(e) => self.form_error = Some(e),
                }
            }
        });
        command
    }

    /// The Kafka form's fields, a label and a value a row: servers, topic,
    /// where to start, lateness, how values are read, the registry and the
    /// client properties.
    fn kafka_form_ui(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("kafka").num_columns(2).show(ui, |ui| {
            let label = ui.label("Bootstrap servers");
            ui.add(egui::TextEdit::singleline(&mut self.kafka_brokers).hint_text(hint(ui, "e.g. localhost:9092"))).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Topic");
            ui.text_edit_singleline(&mut self.kafka_topic).labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Start at");
            if self.kafka_from.is_empty() {
                self.kafka_from = "latest".into();
            }
            egui::ComboBox::from_id_salt("kafka from")
                .selected_text(self.kafka_from.clone())
                .show_ui(ui, |ui| {
                    for (value, text) in [("earliest", "earliest"), ("latest", "latest"), ("-15m", "15 minutes ago"), ("-1h", "an hour ago")] {
                        ui.selectable_value(&mut self.kafka_from, value.to_owned(), text);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Allowed lateness");
            ui.add(egui::TextEdit::singleline(&mut self.kafka_lateness).hint_text(hint(ui, "10s when empty"))).labelled_by(label.id)
                .on_hover_text(LATENESS_HELP);
            ui.end_row();
            let label = ui.label("Values");
            let formats = [
                (ValueFormat::Auto, "auto: by the registry's framing, else JSON"),
                (ValueFormat::Json, "JSON"),
                (ValueFormat::Avro, "Avro"),
                (ValueFormat::Protobuf, "Protobuf"),
            ];
            let shown = formats.iter().find(|(f, _)| *f == self.kafka_values).map_or("auto", |(_, t)| *t);
            egui::ComboBox::from_id_salt("kafka values")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    for (value, text) in formats {
                        ui.selectable_value(&mut self.kafka_values, value, text);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Schema registry");
            ui.add(egui::TextEdit::singleline(&mut self.kafka_registry).hint_text(hint(ui, "e.g. http://localhost:8081 (for Avro, Protobuf)"))).labelled_by(label.id)
                .on_hover_text("A Confluent Schema Registry. Its credentials go in the client properties: schema.registry.basic.auth.user.info=USER:PASS");
            ui.end_row();
            let label = ui.label("Client properties");
            ui.add(egui::TextEdit::multiline(&mut self.kafka_properties).hint_text(hint(ui, "one per line, e.g. security.protocol=SASL_SSL")).desired_rows(2)).labelled_by(label.id);
            ui.end_row();
        });
    }

    /// A file dropped on the window: its path, put in the form, to open.
    fn dropped_file(&mut self, ui: &egui::Ui) -> Option<Command> {
        let dropped = ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        let path = dropped?;
        self.path = path.display().to_string();
        Some(Command::OpenPath(path))
    }

    /// The Kafka form as a request, or what is wrong with it.
    fn kafka_request(&self) -> Result<LiveRequest, String> {
        let lateness = self.kafka_lateness.trim();
        let lateness_us = if lateness.is_empty() {
            DEFAULT_LATENESS_US
        } else {
            humantime::parse_duration(lateness)
                .map_err(|e| format!("allowed lateness `{lateness}`: {e} (try 10s or 5m)"))?
                .as_micros() as i64
        };
        let spec = self.kafka_spec()?;
        // The user's own alert rules, edited in the live screen's Alerts tab.
        let (alerts, alerts_file) =
            crate::settings::default_alert_rules(Default::default()).map_err(|e| e.to_string())?;
        // And its triggers, run as events arrive (sent nowhere).
        let triggers = alerts_file
            .as_deref()
            .filter(|path| path.exists())
            .and_then(|path| crate::settings::read_rules_file(path, Default::default()).ok())
            .map(|file| file.triggers)
            .unwrap_or_default();
        Ok(LiveRequest {
            spec,
            state: None,
            lateness_us,
            alerts,
            alerts_file,
            alert_outputs: Default::default(),
            triggers,
            trigger_outputs: Default::default(),
            merged: None,
        })
    }

    /// The Kafka form as a spec, or what is missing.
    fn kafka_spec(&self) -> Result<KafkaSpec, String> {
        let brokers = self.kafka_brokers.trim();
        let topic = self.kafka_topic.trim();
        if brokers.is_empty() || topic.is_empty() {
            return Err(match (brokers.is_empty(), topic.is_empty()) {
                (true, true) => "Fill in the bootstrap servers and the topic",
                (true, false) => "Fill in the bootstrap servers (host:port, comma-separated)",
                _ => "Fill in the topic",
            }
            .into());
        }
        let properties = self
            .kafka_properties
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| client_property(l).map_err(|e| format!("client property {e}")))
            .collect::<Result<Vec<_>, String>>()?;
        let from = StartAt::parse(&self.kafka_from, chrono::Utc::now().timestamp_millis())?;
        let values = ValuesSpec {
            format: self.kafka_values,
            registry: Some(self.kafka_registry.trim())
                .filter(|url| !url.is_empty())
                .map(|url| RegistrySpec::from_properties(url, &properties)),
            schema: None,
            message: None,
        };
        Ok(KafkaSpec {
            values,
            ..KafkaSpec::new(brokers, topic, from, properties)
        })
    }

    /// The privacy card: the pseudonymize switch and its key file; the
    /// command when the user changed it.
    fn privacy_ui(&mut self, ui: &mut egui::Ui, pseudonymizes: bool) -> Option<Command> {
        ui.strong("Privacy");
        let mut on = pseudonymizes;
        let switched = ui
            .checkbox(&mut on, "Pseudonymize customer ids")
            .on_hover_text(
                "Every customer id is replaced, as it is read, by p and 16 hex digits of \
                 HMAC-SHA256(key, id): raw ids then appear nowhere, on screen or in exports",
            )
            .changed();
        ui.horizontal(|ui| {
            let label = ui.label("Key file");
            ui.add(
                egui::TextEdit::singleline(&mut self.key_file)
                    .hint_text(hint(ui, "JOURNEYSCOPE_PSEUDONYMIZE_KEY when empty"))
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
        });
        switched.then(|| Command::SetPseudonymize {
            on,
            key_file: Some(self.key_file.trim())
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// The app's name and what it is for, above the cards.
fn title_ui(ui: &mut egui::Ui) {
    ui.vertical_centered(|ui| {
        ui.add_space(40.0);
        ui.heading(egui::RichText::new("Journeyscope").size(32.0));
        ui.label("See how customers move between touchpoints.");
        ui.add_space(24.0);
    });
}

/// The Demo card; the command to open the demo.
fn demo_card_ui(ui: &mut egui::Ui, width: f32) -> Option<Command> {
    let mut command = None;
    card(ui, width, |ui| {
        ui.strong("Demo");
        ui.label("A month of a web shop with its Black Friday peak, bundled with the app.");
        if ui.button("Open the demo").clicked() {
            command = Some(Command::OpenDemo);
        }
    });
    command
}

/// The Recent card, a link a source; the command to open the one clicked.
fn recent_card_ui(ui: &mut egui::Ui, width: f32, recent: &[String]) -> Option<Command> {
    let mut command = None;
    card(ui, width, |ui| {
        ui.strong("Recent");
        for path in recent {
            if ui.link(path).clicked() {
                command = Some(Command::OpenPath(PathBuf::from(path)));
            }
        }
    });
    command
}

/// What "Allowed lateness" means.
const LATENESS_HELP: &str = "Allowed lateness: a customer's event that arrives up to this much \
     after a newer one of theirs is put in order; a later one is still counted, once, and \
     shown as late.";

/// A hint that cannot pass for a value typed in: italic and faint.
fn hint(ui: &egui::Ui, text: &str) -> egui::RichText {
    egui::RichText::new(text)
        .italics()
        .color(ui.visuals().weak_text_color().gamma_multiply(0.7))
}

/// A framed group as wide as the column, so that the cards line up.
fn card(ui: &mut egui::Ui, width: f32, add: impl FnOnce(&mut egui::Ui)) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(width - 14.0);
        add(ui);
    });
}
