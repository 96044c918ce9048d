//! Beside the map: where customers leave (touchpoints ranked by exits) and,
//! when two groups are compared, the biggest significant differences. Each
//! row selects its touchpoint or band on the map.

use crate::app::insight::{Comparison, presets};
use crate::app::workspace::{ViewSettings, Workspace};
use crate::engine::compare::CompareReport;
use crate::engine::{END_NAME, is_terminal_name};
use crate::format::thousands;
use crate::report::Summary;
use crate::report::words::{row_in_words, sides_in_words};

use super::explain::{explain_button_ui, open_explanation_ui};

/// A q-value as a marketer can read it: "0.032", "1.2e-61", "< 1e-300".
pub fn format_q(q: f64) -> String {
    if q <= 0.0 {
        "< 1e-300".to_owned()
    } else if q >= 0.001 {
        format!("{q:.3}")
    } else {
        format!("{q:.1e}")
    }
}

/// Rows of the Biggest differences list.
const DIFFERENCES_SHOWN: usize = 12;

/// What the user picked in the panel.
pub enum PanelPick {
    /// Select this touchpoint (name, None) or band (from, Some(to)).
    Select(String, Option<String>),
    /// Compare this way instead (None: stop comparing).
    Compare(Box<ViewSettings>),
}

/// The compare control: presets from the data and a typed expression.
pub fn compare_ui(ws: &Workspace, typed: &mut String, ui: &mut egui::Ui) -> Option<PanelPick> {
    let mut pick = None;
    let current = ws.view.compare.as_ref();
    ui.horizontal(|ui| {
        let label = ui.label("Compare");
        egui::ComboBox::from_id_salt("compare")
            .selected_text(current.map_or("nothing", |c| c.label.as_str()))
            .width(260.0)
            .show_ui(ui, |ui| {
                if ui.selectable_label(current.is_none(), "nothing").clicked() {
                    pick = Some(None);
                }
                for preset in presets(&ws.loaded.journeys) {
                    let on = current == Some(&preset);
                    if ui.selectable_label(on, &preset.label).clicked() {
                        pick = Some(Some(preset));
                    }
                }
            })
            .response
            .labelled_by(label.id);
        let field = ui.add(
            egui::TextEdit::singleline(typed)
                .hint_text("or type: channel=app vs channel=web")
                .desired_width(240.0),
        );
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Apply").clicked() || entered) && !typed.trim().is_empty() {
            let (a, b) = match typed.split_once(" vs ") {
                Some((a, b)) => (a.trim(), Some(b.trim())),
                None => (typed.trim(), None),
            };
            pick = Some(Some(Comparison::custom(a, b)));
        }
    });
    pick.map(|compare| {
        PanelPick::Compare(Box::new(ViewSettings {
            compare,
            ..ws.view.clone()
        }))
    })
}

/// The significant rows of `compare` under `heading`, each a link; returns
/// the touchpoint (name, None) or band (from, Some(to)) clicked.
pub fn differences_ui(
    heading: &str,
    compare: &CompareReport,
    ui: &mut egui::Ui,
) -> Option<(String, Option<String>)> {
    let mut pick = None;
    ui.heading(heading);
    let zone = super::zone::display_zone(ui.ctx(), None);
    ui.label(egui::RichText::new(sides_in_words(&compare.a, &compare.b, zone)).weak());
    let mut rows: Vec<_> = compare
        .biggest()
        .into_iter()
        // A session's end is told by its touchpoint's exit share (the red
        // stub's), not again by the share of steps into END.
        .filter(|(_, to, _)| *to != Some(END_NAME))
        .take(DIFFERENCES_SHOWN)
        .map(|(from, to, d)| (row_in_words(from, to), from, to, d))
        .collect();
    // Moving on first, then leaving, then starting; biggest first in each.
    rows.sort_by_key(|((kind, _), ..)| *kind);
    let explained = egui::Id::unique(heading).with("explained");
    if rows.is_empty() {
        ui.label(
            "No step differs by more than chance would explain (q < 0.01 with at least 30 \
             sessions on each side): a longer stretch may tell more.",
        );
    }
    egui::Grid::new(heading).striped(true).show(ui, |ui| {
        let mut group = None;
        for ((kind, what), from, to, d) in rows {
            if group != Some(kind) {
                group = Some(kind);
                ui.strong(kind.heading());
                ui.end_row();
            }
            if ui.link(what).clicked() {
                pick = Some((from.to_owned(), to.map(str::to_owned)));
            }
            let shares = compare.shares(from, to).map_or(String::new(), |(a, b)| {
                format!("A {:.1} % · B {:.1} %", a * 100.0, b * 100.0)
            });
            ui.label(format!("{:+.1} pp", d.diff_pp))
                .on_hover_text("The change in points: A's share minus B's");
            ui.label(shares);
            ui.label(format!("q {}", format_q(d.q_value.unwrap_or(1.0))))
                .on_hover_text(
                    "How likely a difference this large is by chance alone, corrected for \
                     testing every row (Benjamini–Hochberg q-value); below 0.01 it is listed",
                );
            explain_button_ui(compare, explained, (from, to), ui);
            ui.end_row();
        }
    });
    open_explanation_ui(compare, explained, ui);
    pick
}

/// The panel beside the map.
pub fn insight_panel_ui(summary: &Summary, ui: &mut egui::Ui) -> Option<PanelPick> {
    let mut pick = None;
    if let Some(compare) = &summary.compare {
        pick = differences_ui("Biggest differences", compare, ui)
            .map(|(from, to)| PanelPick::Select(from, to));
        ui.separator();
    }
    ui.heading("Where customers leave");
    let sessions = summary.sessions.max(1) as f64;
    let mut nodes: Vec<_> = summary
        .nodes
        .iter()
        .filter(|n| !is_terminal_name(&n.name) && n.exits > 0)
        .collect();
    nodes.sort_by(|a, b| b.exits.cmp(&a.exits).then(a.name.cmp(&b.name)));
    egui::Grid::new("leave").striped(true).show(ui, |ui| {
        ui.strong("Touchpoint");
        ui.strong("Sessions ending");
        ui.strong("of all");
        ui.strong("of visits");
        ui.end_row();
        for n in nodes {
            if ui.link(&n.name).clicked() {
                pick = Some(PanelPick::Select(n.name.clone(), None));
            }
            ui.label(thousands(n.exits));
            ui.label(format!("{:.1} %", 100.0 * n.exits as f64 / sessions));
            ui.label(format!(
                "{:.1} %",
                100.0 * n.exits as f64 / n.sessions.max(1) as f64
            ));
            ui.end_row();
        }
    });
    pick
}
