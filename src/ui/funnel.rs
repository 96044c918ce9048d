//! The funnel: steps picked from a list or the map, bars of customers per
//! step (egui_plot), conversion, drop-off and time to convert. The app
//! computes it (see [`crate::app::funnel`]); this view draws it and says
//! what the user changed.

use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Plot};

use crate::app::funnel::Funnel;
use crate::app::workspace::WorkspaceCommand;
use crate::engine::compare::StepSide;
use crate::engine::explain::Explanation;
use crate::engine::{ComparedFunnel, FunnelReport, is_terminal_name};
use crate::format::{human_duration, thousands};
use crate::layout::palette;
use crate::report::Summary;

use super::explain::{VALUES_SHOWN, open_row, open_row_ui, row_button_ui};
use super::insight_panel::format_q;
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
    let Some(answer) = funnel.report().cloned() else {
        ui.spinner();
        return commands;
    };
    match &answer.compared {
        Some(Ok(compared)) => {
            let list = egui::Id::unique("compared funnel explained");
            let explained = open_step(compared, list, ui).map_or(0, |e| e.explain.len());
            // Room under the table for the open explanation's lines.
            let extra_rows = match explained {
                0 => 0,
                n => n.min(VALUES_SHOWN) + 4,
            };
            compared_chart_ui(compared, extra_rows, ui);
            compared_table_ui(compared, list, ui);
            let groups = format!("B: {}; A: {}", compared.b.segment, compared.a.segment);
            open_row_ui(list, &groups, |key| step_explanation(compared, key), ui);
        }
        Some(Err(why)) => {
            ui.colored_label(ui.visuals().error_fg_color, why);
        }
        None => {
            chart_ui(&answer.report, ui);
            table_ui(&answer.report, ui);
        }
    }
    commands
}

/// A compared step's row: its index among the rows and its touchpoint.
type StepKey = (usize, String);

/// The explanation of the compared step `key`, when it carries one.
fn step_explanation<'a>(
    compared: &'a ComparedFunnel,
    (i, touchpoint): &StepKey,
) -> Option<&'a Explanation> {
    let row = compared
        .rows
        .get(*i)
        .filter(|r| r.touchpoint == *touchpoint)?;
    row.explanation.as_ref()
}

/// The explanation open under the compared table of list `list`, if any.
fn open_step<'a>(
    compared: &'a ComparedFunnel,
    list: egui::Id,
    ui: &egui::Ui,
) -> Option<&'a Explanation> {
    step_explanation(compared, &open_row::<StepKey>(ui, list)?)
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
    Plot::new("funnel chart")
        .height(chart_height(ui, names.len()))
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .show_grid([false, true])
        .y_axis_label("customers")
        .x_axis_formatter(step_names(names))
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

/// The x axis of a funnel chart: each step's name under its bars.
fn step_names(
    names: Vec<String>,
) -> impl Fn(egui_plot::GridMark, &std::ops::RangeInclusive<f64>) -> String {
    move |mark, _| {
        let i = mark.value.round();
        if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// The height left for a chart above a table of `rows`.
fn chart_height(ui: &egui::Ui, rows: usize) -> f32 {
    let table_height = 34.0 + 26.0 * rows as f32;
    (ui.available_height() - table_height - 20.0).max(160.0)
}

/// Bars of A and B side by side per step: the share of each group's
/// first-step customers who reached it, leaving `extra_rows` more rows
/// of room under the table.
fn compared_chart_ui(compared: &ComparedFunnel, extra_rows: usize, ui: &mut egui::Ui) {
    let bars = |report: &FunnelReport, offset: f64, colour: egui::Color32| -> Vec<Bar> {
        report
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Bar::new(i as f64 + offset, s.conversion_from_first * 100.0)
                    .name(&s.touchpoint)
                    .width(0.36)
                    .fill(colour)
            })
            .collect()
    };
    let (a, b) = (&compared.a.segment, &compared.b.segment);
    let colour_a = theme::change_colour_at(1.0);
    let colour_b = theme::change_colour_at(-1.0);
    let names: Vec<String> = compared
        .funnel_a
        .steps
        .iter()
        .map(|s| s.touchpoint.clone())
        .collect();
    Plot::new("compared funnel chart")
        .height(chart_height(ui, names.len() + 1 + extra_rows))
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(100.0)
        .show_grid([false, true])
        .y_axis_label("% of the first step's customers")
        .legend(egui_plot::Legend::default())
        .x_axis_formatter(step_names(names))
        .show(ui, |plot| {
            let formatter = |group: String| {
                Box::new(move |bar: &Bar, _: &BarChart| {
                    format!(
                        "{group}\n{}: {:.1} % of the first step",
                        bar.name, bar.value
                    )
                })
            };
            plot.bar_chart(
                BarChart::new(format!("A: {a}"), bars(&compared.funnel_a, -0.19, colour_a))
                    .color(colour_a)
                    .element_formatter(formatter(format!("A: {a}"))),
            );
            plot.bar_chart(
                BarChart::new(format!("B: {b}"), bars(&compared.funnel_b, 0.19, colour_b))
                    .color(colour_b)
                    .element_formatter(formatter(format!("B: {b}"))),
            );
        });
}

/// Each step's conversion from the previous one in A and B, with the
/// difference, its test, and an Explain button on each significant step
/// (list `list` keeps which is open).
fn compared_table_ui(compared: &ComparedFunnel, list: egui::Id, ui: &mut egui::Ui) {
    ui.add_space(8.0);
    ui.label(format!(
        "A: {} ({} customers) · B: {} ({} customers) · two-proportion z-test, q over the steps",
        compared.a.segment,
        thousands(compared.a.customers),
        compared.b.segment,
        thousands(compared.b.customers)
    ));
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::initial(150.0).clip(true))
        .columns(Column::initial(170.0).clip(true), 2)
        .columns(Column::initial(90.0), 3)
        .column(Column::remainder().at_least(70.0))
        .header(22.0, |mut header| {
            for title in [
                "Step",
                "A: from previous",
                "B: from previous",
                "Difference",
                "q-value",
                "Significant",
                "",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            let first = compared.funnel_a.steps.first();
            let first_b = compared.funnel_b.steps.first();
            if let (Some(a), Some(b)) = (first, first_b) {
                body.row(24.0, |mut row| {
                    let cells = [
                        a.touchpoint.clone(),
                        format!("{} customers", thousands(a.customers)),
                        format!("{} customers", thousands(b.customers)),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ];
                    for cell in cells {
                        row.col(|ui| {
                            ui.label(cell);
                        });
                    }
                });
            }
            for (i, r) in compared.rows.iter().enumerate() {
                body.row(24.0, |mut row| {
                    let side = |s: &StepSide| {
                        format!(
                            "{:.1} % ({} of {})",
                            s.conversion * 100.0,
                            thousands(s.customers),
                            thousands(s.previous)
                        )
                    };
                    let d = &r.difference;
                    let cells = [
                        r.touchpoint.clone(),
                        side(&r.a),
                        side(&r.b),
                        format!("{:+.1} pp", d.diff_pp),
                        d.q_value.map_or("—".into(), format_q),
                        if d.significant { "yes" } else { "no" }.to_owned(),
                    ];
                    for cell in cells {
                        row.col(|ui| {
                            ui.label(cell);
                        });
                    }
                    row.col(|ui| {
                        let key: StepKey = (i, r.touchpoint.clone());
                        row_button_ui(r.explanation.is_some(), list, key, ui);
                    });
                });
            }
        });
}

/// The numbers of each step.
fn table_ui(report: &FunnelReport, ui: &mut egui::Ui) {
    ui.add_space(8.0);
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::initial(170.0).clip(true))
        .columns(Column::initial(100.0), 4)
        .column(Column::initial(170.0))
        .column(Column::remainder().at_least(90.0))
        .header(22.0, |mut header| {
            for title in [
                "Step",
                "Customers",
                "From previous",
                "From first",
                "Dropped off",
                "Median time from previous",
                "p90",
            ] {
                header.col(|ui| {
                    let heading = ui.strong(title);
                    if title.starts_with("Median") || title == "p90" {
                        heading.on_hover_text(
                            "Per customer: from first reaching the previous step to this one. \
                             The map's bands time every transition instead, so their medians \
                             differ.",
                        );
                    }
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
                        s.p90_time_s.map_or("—".into(), human_duration),
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
