//! The Variants tab: the whole journeys customers take, busiest first,
//! each drawn as a row of labelled chips with its share, duration and
//! conversion. Ticking variants restricts every view to their sessions.

use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};

use crate::app::workspace::{ViewSettings, WorkspaceCommand};
use crate::engine::variants::{VariantRow, VariantsReport};
use crate::format::{human_duration, plural, thousands};
use crate::report::Summary;

use super::theme;

/// Variants listed when the tab is first opened.
pub const FIRST_LISTED: usize = 25;

/// Draws the variants of `summary` with the picks of `view`; returns the
/// commands the user asked for.
pub fn variants_ui(
    view: &ViewSettings,
    summary: &Summary,
    ui: &mut egui::Ui,
) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    let mut wanted = view.clone();
    let listed = *wanted.variants_listed.get_or_insert(FIRST_LISTED);
    let Some(report) = &summary.variants else {
        if wanted != *view {
            commands.push(WorkspaceCommand::SetView(wanted));
        }
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Ranking the journeys customers take…");
        });
        return commands;
    };
    heading_ui(report, &mut wanted, ui);
    ui.separator();
    let mut shown = listed;
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut shown, 5..=200).text("variants listed"));
    });
    if shown != listed {
        wanted.variants_listed = Some(shown);
    }
    table_ui(report, &mut wanted, ui);
    if wanted != *view {
        commands.push(WorkspaceCommand::SetView(wanted));
    }
    commands
}

/// What the list is, what is picked, and how to undo it.
fn heading_ui(report: &VariantsReport, view: &mut ViewSettings, ui: &mut egui::Ui) {
    if let Some(missing) = &report.missing_goal {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("No touchpoint is called “{missing}”: no session can convert."),
        );
    }
    let goal = report.goal.as_deref().map_or(
        "no touchpoint looks like a conversion; pick a funnel to set one".to_owned(),
        |g| format!("converting means reaching {g}"),
    );
    ui.label(format!(
        "{} different journeys in {} sessions, busiest first; {goal}.",
        thousands(report.variants),
        thousands(report.sessions)
    ));
    ui.horizontal_wrapped(|ui| {
        if view.variants.is_empty() {
            ui.label(
                RichText::new(
                    "Tick journeys to show only their sessions on the map, funnel, paths, \
                     customers and comparisons.",
                )
                .weak(),
            );
        } else {
            let listed: Vec<u64> = report
                .top
                .iter()
                .filter(|r| view.variants.contains(&r.steps))
                .map(|r| r.sessions)
                .collect();
            // Sessions are summed only when every ticked journey is listed.
            let sessions = if listed.len() == view.variants.len() {
                format!(" ({} sessions)", thousands(listed.iter().sum()))
            } else {
                String::new()
            };
            ui.strong(format!(
                "Every view shows only the sessions of {}{sessions}.",
                plural(view.variants.len(), "ticked journey"),
            ));
            if ui.button("Show all sessions again").clicked() {
                view.variants.clear();
            }
        }
    });
}

/// The ranked variants, a tick box each, and the rest added up.
fn table_ui(report: &VariantsReport, view: &mut ViewSettings, ui: &mut egui::Ui) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 10.0;
    let visuals = ui.visuals().clone();
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::exact(46.0))
        .column(Column::initial(70.0))
        .column(Column::initial(64.0))
        .column(Column::initial(84.0))
        .column(Column::initial(76.0))
        .column(Column::initial(76.0))
        .column(Column::initial(84.0))
        .column(Column::remainder().clip(true))
        .header(row_height, |mut header| {
            for title in [
                "#",
                "Sessions",
                "Share",
                "Cumulative",
                "Median time",
                "p90 time",
                "Conversion",
                "Journey, from its first touchpoint to its last",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            for (k, row) in report.top.iter().enumerate() {
                body.row(row_height, |mut cells| {
                    cells.col(|ui| {
                        let mut ticked = view.variants.contains(&row.steps);
                        if ui
                            .checkbox(&mut ticked, format!("{}", k + 1))
                            .on_hover_text(
                                "Show only this journey's sessions (with the others ticked)",
                            )
                            .changed()
                        {
                            toggle(&mut view.variants, &row.steps, ticked);
                        }
                    });
                    numbers_ui(&mut cells, row);
                    cells.col(|ui| chips_ui(&row.steps, &visuals, ui));
                });
            }
            if report.other.variants > 0 {
                body.row(row_height, |mut cells| {
                    cells.col(|ui| {
                        ui.label("Other");
                    });
                    cells.col(|ui| {
                        ui.label(thousands(report.other.sessions));
                    });
                    cells.col(|ui| {
                        ui.label(percent(report.other.sessions, report.sessions));
                    });
                    for _ in 0..4 {
                        cells.col(|_| {});
                    }
                    cells.col(|ui| {
                        ui.label(
                            RichText::new(format!(
                                "{} other variants ({} sessions)",
                                thousands(report.other.variants),
                                thousands(report.other.sessions)
                            ))
                            .italics(),
                        );
                    });
                });
            }
        });
}

fn toggle(picked: &mut Vec<Vec<String>>, steps: &[String], on: bool) {
    picked.retain(|p| p != steps);
    if on {
        picked.push(steps.to_vec());
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{:.1} %", part as f64 * 100.0 / whole as f64)
}

/// Sessions, shares, durations and conversion of one variant.
fn numbers_ui(cells: &mut egui_extras::TableRow<'_, '_>, row: &VariantRow) {
    let share = |s: f64| format!("{:.1} %", s * 100.0);
    for text in [
        thousands(row.sessions),
        share(row.share),
        share(row.cumulative_share),
        human_duration(row.duration_median_s),
        human_duration(row.duration_p90_s),
        share(row.conversion),
    ] {
        cells.col(|ui| {
            ui.label(text);
        });
    }
}

/// The variant's touchpoints as small coloured chips, joined by arrows.
pub fn chips_ui(steps: &[String], visuals: &egui::Visuals, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 3.0;
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                ui.label(RichText::new("›").weak());
            }
            let fill = theme::touchpoint_colour(step, visuals);
            egui::Frame::new()
                .fill(fill.gamma_multiply(0.35))
                .stroke(egui::Stroke::new(1.0, fill))
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(5, 1))
                .show(ui, |ui| {
                    ui.label(RichText::new(step).small().color(text_on(visuals)));
                });
        }
        if steps.is_empty() {
            ui.label(RichText::new("(no events)").weak());
        }
    });
}

fn text_on(visuals: &egui::Visuals) -> Color32 {
    visuals.strong_text_color()
}
