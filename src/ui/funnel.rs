//! The funnel: steps picked from a list or the map, bars of customers per
//! step (egui_plot), conversion, drop-off and time to convert. Computed on
//! a worker thread.

use std::sync::Arc;

use egui_extras::{Column, TableBuilder};
use egui_plot::{Bar, BarChart, Plot};

use crate::app::job::Job;
use crate::app::loader::Loaded;
use crate::engine::{
    FunnelReport, FunnelSpec, Journeys, START_NAME, compute_funnel, guess_conversion,
    is_terminal_name,
};
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

/// State of the funnel view.
pub struct FunnelView {
    /// Touchpoint names, in order.
    pub steps: Vec<String>,
    /// Conversion window in seconds from the first step; None = no limit.
    pub within_s: Option<i64>,
    generation: u64,
    report: Option<(FunnelSpec, u64, FunnelReport)>,
    pending: Option<(FunnelSpec, u64, Job<FunnelReport>)>,
}

impl FunnelView {
    /// The funnel given on the command line, or the busiest path from START.
    pub fn new(loaded: &Loaded) -> Self {
        let (steps, within_s) = match &loaded.request.settings.funnel {
            Some(spec) => (spec.steps.clone(), spec.within_us.map(|us| us / 1_000_000)),
            None => {
                let conversion = guess_conversion(&loaded.journeys)
                    .map(|t| loaded.journeys.touchpoint_name(t).to_owned());
                let path = conversion
                    .map(|c| path_to(&loaded.summary, &c))
                    .filter(|p| p.len() >= 3)
                    .unwrap_or_else(|| main_path(&loaded.summary));
                (path, None)
            }
        };
        FunnelView {
            steps,
            within_s,
            generation: 0,
            report: None,
            pending: None,
        }
    }

    /// The journeys changed: compute again.
    pub fn invalidate(&mut self) {
        self.generation += 1;
    }

    /// Drops steps that no longer exist and computes again.
    pub fn retain_known(&mut self, journeys: &Journeys) {
        self.steps.retain(|s| journeys.touchpoint_id(s).is_some());
        self.invalidate();
    }

    fn spec(&self) -> FunnelSpec {
        FunnelSpec {
            steps: self.steps.clone(),
            within_us: self.within_s.map(|s| s * 1_000_000),
        }
    }

    /// The computed funnel on screen, if it matches the steps.
    pub fn report(&self) -> Option<&FunnelReport> {
        self.report.as_ref().map(|(_, _, r)| r)
    }

    /// Receives a finished funnel and starts the next one if the steps changed.
    pub fn poll(&mut self, journeys: &Arc<Journeys>, ctx: &egui::Context) {
        if let Some((spec, generation, job)) = &self.pending
            && let Some(report) = job.poll()
        {
            self.report = Some((spec.clone(), *generation, report));
            self.pending = None;
        }
        let spec = self.spec();
        let current = self
            .report
            .as_ref()
            .is_some_and(|(s, g, _)| *s == spec && *g == self.generation);
        if !current && self.pending.is_none() && !spec.steps.is_empty() {
            let journeys = journeys.clone();
            let job_spec = spec.clone();
            let job = Job::spawn("funnel", ctx, move || compute_funnel(&journeys, &job_spec));
            self.pending = Some((spec, self.generation, job));
        }
    }
}

/// The busiest way into `target`: from `target`, the heaviest transition
/// into it from a touchpoint not yet on the path, repeated back towards
/// START (up to six steps).
fn path_to(summary: &Summary, target: &str) -> Vec<String> {
    let mut path = vec![target.to_owned()];
    while path.len() < 6 {
        let at = path[0].clone();
        let previous = summary
            .edges
            .iter()
            .filter(|e| e.to == at && e.from != START_NAME && !path.contains(&e.from))
            .max_by_key(|e| e.transitions);
        match previous {
            Some(e) => path.insert(0, e.from.clone()),
            None => break,
        }
    }
    path
}

/// The touchpoints of the busiest path from START, following the widest
/// transition to a touchpoint not yet on it (up to five steps).
fn main_path(summary: &Summary) -> Vec<String> {
    let mut path: Vec<String> = Vec::new();
    let mut at = START_NAME.to_owned();
    while path.len() < 5 {
        let next = summary
            .edges
            .iter()
            .filter(|e| e.from == at && !is_terminal_name(&e.to) && !path.contains(&e.to))
            .max_by_key(|e| e.transitions);
        match next {
            Some(e) => {
                path.push(e.to.clone());
                at = e.to.clone();
            }
            None => break,
        }
    }
    path
}

/// Draws the funnel controls, chart and table.
pub fn funnel_ui(view: &mut FunnelView, summary: &Summary, ui: &mut egui::Ui) {
    steps_ui(view, summary, ui);
    if view.steps.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label("Pick the steps of a funnel on the left, or select a touchpoint on the map and choose Add to funnel.");
        });
        return;
    }
    let Some(report) = view.report().cloned() else {
        ui.spinner();
        return;
    };
    if report
        .steps
        .iter()
        .map(|s| &s.touchpoint)
        .ne(view.steps.iter())
        && view.pending.is_none()
    {
        // The steps changed after this frame's poll: start the funnel next
        // frame (a running job wakes the screen itself when it is done).
        ui.ctx().request_repaint();
    }
    chart_ui(&report, ui);
    table_ui(&report, ui);
}

/// The steps panel: the list, adding and reordering steps, the window.
fn steps_ui(view: &mut FunnelView, summary: &Summary, ui: &mut egui::Ui) {
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
