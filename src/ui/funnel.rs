//! The funnel: steps picked from a list or the map, bars of customers per
//! step (egui_plot), conversion, drop-off and time to convert. The app
//! computes it (see [`crate::app::funnel`]); this view draws it and says
//! what the user changed.

use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Plot};

use crate::app::funnel::Funnel;
use crate::app::workspace::WorkspaceCommand;
use crate::engine::{FunnelReport, is_terminal_name};
use crate::format::{human_duration, thousands};
use crate::layout::palette;
use crate::report::Summary;

use super::theme;

/// Conversion windows offered: (label, seconds).
const WINDOWS: &[(&str, Option<i64>)] = &[
    ("no limit", None),
    ("30 minutes", Some(30 * 60)),
    ("1 hour", Some(3600)),
    ("1 day", Some(86_400)),
    ("7 days", Some(7 * 86_400)),
    ("30 days", Some(30 * 86_400)),
];

/// Draws the funnel controls, chart and table; returns what the user
/// changed.
pub fn funnel_ui(funnel: &Funnel, summary: &Summary, ui: &mut egui::Ui) -> Vec<WorkspaceCommand> {
    let mut steps = Steps {
        steps: funnel.steps.clone(),
        within_s: funnel.within_s,
    };
    steps_ui(&mut steps, summary, ui);
    let mut commands = Vec::new();
    if steps.steps != funnel.steps || steps.within_s != funnel.within_s {
        commands.push(WorkspaceCommand::SetFunnel {
            steps: steps.steps.clone(),
            within_s: steps.within_s,
        });
    }
    if steps.steps.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label("Pick the steps of a funnel on the left, or select a touchpoint on the map and choose Add to funnel.");
        });
        return commands;
    }
    if let Some(why) = funnel.failure() {
        ui.colored_label(ui.visuals().error_fg_color, why);
    }
    let Some(report) = funnel.report().cloned() else {
        ui.spinner();
        return commands;
    };
    chart_ui(&report, ui);
    table_ui(&report, ui);
    commands
}

/// The funnel's steps and window as the panel edits them.
struct Steps {
    steps: Vec<String>,
    within_s: Option<i64>,
}

/// The steps panel: the list, adding and reordering steps, the window.
fn steps_ui(view: &mut Steps, summary: &Summary, ui: &mut egui::Ui) {
    egui::Panel::left("funnel steps")
        .default_size(260.0)
        .resizable(true)
        .show(ui, |ui| {
            ui.heading("Steps");
            let mut remove = None;
            let mut raise = None;
            for (i, step) in view.steps.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(format!("{}.", i + 1));
                    ui.label(step);
                    if ui
                        .small_button("x")
                        .on_hover_text("Remove this step")
                        .clicked()
                    {
                        remove = Some(i);
                    }
                    if i > 0 && ui.small_button("up").on_hover_text("Move up").clicked() {
                        raise = Some(i);
                    }
                });
            }
            if let Some(i) = remove {
                view.steps.remove(i);
            }
            if let Some(i) = raise {
                view.steps.swap(i, i - 1);
            }
            let mut names: Vec<&crate::engine::NodeReport> = summary
                .nodes
                .iter()
                .filter(|n| !is_terminal_name(&n.name))
                .collect();
            names.sort_by_key(|n| std::cmp::Reverse(n.events));
            let label = ui.label("Add a step");
            egui::ComboBox::from_id_salt("add step")
                .selected_text("choose a touchpoint")
                .show_ui(ui, |ui| {
                    for n in names {
                        if ui.selectable_label(false, &n.name).clicked() {
                            view.steps.push(n.name.clone());
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            ui.add_space(8.0);
            let label = ui.label("Convert within");
            let shown = WINDOWS
                .iter()
                .find(|(_, s)| *s == view.within_s)
                .map_or_else(
                    || human_duration(view.within_s.unwrap_or(0) as f64),
                    |(l, _)| (*l).to_owned(),
                );
            egui::ComboBox::from_id_salt("window")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    for (label, seconds) in WINDOWS {
                        ui.selectable_value(&mut view.within_s, *seconds, *label);
                    }
                })
                .response
                .labelled_by(label.id);
            if ui.button("Clear").clicked() {
                view.steps.clear();
            }
        });
}

/// Bars of customers per step.
fn chart_ui(report: &FunnelReport, ui: &mut egui::Ui) {
    let bars: Vec<Bar> = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Bar::new(i as f64, s.customers as f64)
                .name(&s.touchpoint)
                .width(0.6)
                .fill(theme::rgb(palette::FORWARD))
        })
        .collect();
    let names: Vec<String> = report.steps.iter().map(|s| s.touchpoint.clone()).collect();
    let table_height = 34.0 + 26.0 * report.steps.len() as f32;
    let plot_height = (ui.available_height() - table_height - 20.0).max(160.0);
    Plot::new("funnel chart")
        .height(plot_height)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .show_grid([false, true])
        .y_axis_label("customers")
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("customers", bars)
                    .color(theme::rgb(palette::NODE))
                    .element_formatter(Box::new(|bar, _| {
                        format!("{}: {} customers", bar.name, thousands(bar.value as u64))
                    })),
            );
        });
}

/// The numbers of each step.
fn table_ui(report: &FunnelReport, ui: &mut egui::Ui) {
    ui.add_space(8.0);
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::initial(200.0).clip(true))
        .columns(Column::initial(120.0), 4)
        .column(Column::remainder())
        .header(22.0, |mut header| {
            for title in [
                "Step",
                "Customers",
                "From previous",
                "From first",
                "Dropped off",
                "Median time to convert",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            for s in &report.steps {
                body.row(24.0, |mut row| {
                    let cells = [
                        s.touchpoint.clone(),
                        thousands(s.customers),
                        format!("{:.1} %", s.conversion_from_previous * 100.0),
                        format!("{:.1} %", s.conversion_from_first * 100.0),
                        thousands(s.drop_off),
                        s.median_time_s.map_or("—".into(), human_duration),
                    ];
                    for cell in cells {
                        row.col(|ui| {
                            ui.label(cell);
                        });
                    }
                });
            }
        });
}
