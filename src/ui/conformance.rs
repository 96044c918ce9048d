//! The Expected journey panel beside the map: the journey typed or picked,
//! how many sessions are still on it at each step, the conformance rate
//! and its line over time, the first deviations ranked (each a click to
//! its customers), and, with a comparison, the rate in A against B.

use egui::RichText;
use egui_plot::{Line, Plot, PlotPoints};

use crate::app::Command;
use crate::app::customers::{ListFilter, deviation_words};
use crate::app::live::{LiveCommand, LiveScreen};
use crate::engine::conformance::ExpectedJourney;
use crate::engine::conformance_compare::ComparedConformance;
use crate::engine::conformance_report::ConformanceReport;
use crate::format::{human_duration, thousands};
use crate::report::Summary;

/// The widest the panel's text is laid out.
const PANEL_WIDTH: f32 = 360.0;

/// Deviations listed in the panel.
const DEVIATIONS_SHOWN: usize = 8;

/// What the panel asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum JourneyPick {
    /// Follow this journey (steps or a name; None: none).
    Follow(Option<String>),
    /// List the customers of these sessions.
    Customers(ListFilter),
}

/// The panel for a file: its summary's report and comparison.
pub fn conformance_ui(
    summary: &Summary,
    following: Option<&str>,
    named: &[ExpectedJourney],
    typed: &mut String,
    ui: &mut egui::Ui,
) -> Option<JourneyPick> {
    journey_panel_ui(
        (
            summary.conformance.as_ref(),
            summary.compare_conformance.as_ref(),
            None,
        ),
        following,
        named,
        typed,
        ui,
    )
}

/// The panel on the live screen: the journey followed on the window shown
/// (or the recent past, since start); its picks as commands.
pub fn live_journey_ui(live: &LiveScreen, typed: &mut String, ui: &mut egui::Ui) -> Vec<Command> {
    let state = &live.conformance;
    let following = state.journey.as_ref().map(|j| j.name.as_str());
    let report = state.report();
    let pick = journey_panel_ui(
        (
            report.map(|r| r.as_ref()),
            None,
            live.latest.as_ref().and_then(|s| s.newest_event_us),
        ),
        following,
        &state.named,
        typed,
        ui,
    );
    if let Some(error) = &state.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    // Since start, the map counts every session; the journey is walked
    // over the events the screen keeps.
    if state.journey.is_some() && live.window() == crate::app::live::LiveWindow::SinceStart {
        ui.label(
            RichText::new(
                "Since start, this reads the recent past the screen keeps (the map counts every \
                 session); pick a window under Show for the same sessions as the map.",
            )
            .weak(),
        );
    }
    match pick {
        Some(JourneyPick::Follow(text)) => {
            vec![Command::Live(LiveCommand::FollowJourney(text))]
        }
        Some(JourneyPick::Customers(filter)) => {
            vec![Command::Live(LiveCommand::ShowCustomersOf(filter))]
        }
        None => Vec::new(),
    }
}

/// The panel. `typed` is the journey being typed; `following` the one
/// the view follows; `named` the journeys of the rules file.
fn journey_panel_ui(
    (report, compared, read_at_us): (
        Option<&ConformanceReport>,
        Option<&ComparedConformance>,
        Option<i64>,
    ),
    following: Option<&str>,
    named: &[ExpectedJourney],
    typed: &mut String,
    ui: &mut egui::Ui,
) -> Option<JourneyPick> {
    let mut pick = None;
    // Long sentences and links wrap at the panel's width, never widen it.
    ui.set_max_width(ui.available_width().min(PANEL_WIDTH));
    ui.label(
        RichText::new(
            "The steps you designed, joined by >; an optional step ends with ?, as view_cart? here.",
        )
        .weak(),
    );
    ui.horizontal(|ui| {
        let label = ui.label("Steps");
        let field = ui
            .add(
                egui::TextEdit::singleline(typed)
                    .hint_text("e.g. home > view_cart? > checkout")
                    .desired_width((ui.available_width() - 70.0).max(120.0)),
            )
            .labelled_by(label.id);
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Follow").clicked() || entered) && !typed.trim().is_empty() {
            pick = Some(JourneyPick::Follow(Some(typed.trim().to_owned())));
        }
    });
    // Journeys typed on the command line are named by their steps.
    let shown: Vec<&ExpectedJourney> = named.iter().filter(|j| j.name != j.to_string()).collect();
    if !shown.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label("Named:");
            for journey in shown {
                if ui
                    .selectable_label(following == Some(journey.name.as_str()), &journey.name)
                    .on_hover_text(journey.to_string())
                    .clicked()
                {
                    *typed = journey.name.clone();
                    pick = Some(JourneyPick::Follow(Some(journey.name.clone())));
                }
            }
        });
    }
    if following.is_some() && ui.button("Stop following it").clicked() {
        typed.clear();
        pick = Some(JourneyPick::Follow(None));
    }
    let Some(report) = report else {
        if following.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Walking the sessions along it…");
            });
        }
        return pick;
    };
    ui.separator();
    report_ui((report, read_at_us), named, ui, &mut pick);
    if let Some(compared) = compared {
        ui.separator();
        compared_ui(compared, ui);
    }
    pick
}

/// The journey's numbers: rate, steps, deviations, the rate over time.
fn report_ui(
    (report, read_at_us): (&ConformanceReport, Option<i64>),
    named: &[ExpectedJourney],
    ui: &mut egui::Ui,
    pick: &mut Option<JourneyPick>,
) {
    for missing in &report.missing_steps {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("No touchpoint is called “{missing}”: no session can do that step."),
        );
    }
    let first = report.steps.first().map_or("", |s| s.step.as_str());
    ui.label(
        RichText::new(format!("{:.1} % keep to it", report.rate * 100.0))
            .size(20.0)
            .strong(),
    );
    ui.label(format!(
        "{} of the {} sessions that reach {first} go on to the last required step without \
         leaving the journey.",
        thousands(report.conforming),
        thousands(report.entered)
    ));
    if report.open > 0 {
        ui.label(format!(
            "{} of them are still on their way (their session is open): not counted as \
             keeping to it yet.",
            thousands(report.open)
        ));
    }
    if let Some(median) = report.median_duration_s {
        ui.label(format!(
            "Median time to get there: {}.",
            human_duration(median)
        ));
    }
    ui.label(RichText::new("Its steps and moves are outlined in blue on the map.").weak());
    ui.add_space(4.0);
    ui.strong("Still on the journey at each step");
    // A grid, not a row filling the width: the panel keeps its size.
    egui::Grid::new("journey steps")
        .striped(true)
        .show(ui, |ui| {
            for (i, step) in report.steps.iter().enumerate() {
                let optional = if step.optional { " (optional)" } else { "" };
                ui.label(format!("{}. {}{optional}", i + 1, step.step));
                ui.label(thousands(step.on_path));
                ui.label(share_of(step.on_path, report.entered));
                ui.end_row();
            }
        });
    ui.add_space(4.0);
    ui.strong("Where they leave it");
    let journey = named
        .iter()
        .find(|j| j.name == report.journey)
        .cloned()
        .or_else(|| ExpectedJourney::parse(None, &report.expected).ok());
    for d in report.deviations.iter().take(DEVIATIONS_SHOWN) {
        let text = format!(
            "after {}: {}, {:.1} % of those entering ({})",
            d.after,
            deviation_words(d.kind, &d.touchpoint),
            d.share * 100.0,
            thousands(d.sessions)
        );
        let clicked = ui
            .link(text)
            .on_hover_text("Show the customers of these sessions")
            .clicked();
        if let (true, Some(journey)) = (clicked, &journey) {
            *pick = Some(JourneyPick::Customers(ListFilter::Deviation {
                journey: journey.clone(),
                after: d.after.clone(),
                kind: d.kind,
                touchpoint: d.touchpoint.clone(),
                read_at_us,
            }));
        }
    }
    if report.deviations.len() > DEVIATIONS_SHOWN {
        ui.label(
            RichText::new(format!(
                "and {} other ways out",
                thousands((report.deviations.len() - DEVIATIONS_SHOWN) as u64)
            ))
            .weak(),
        );
    }
    rate_over_time_ui(report, ui);
}

/// The conformance rate per period as a line.
fn rate_over_time_ui(report: &ConformanceReport, ui: &mut egui::Ui) {
    if report.by_period.len() < 2 {
        return;
    }
    ui.add_space(4.0);
    ui.strong(format!("Keeping to it, per {}", report.period));
    // Periods placed by their start, so one without sessions leaves a gap.
    let length_s = if report.period == "hour" {
        3_600.0
    } else {
        86_400.0
    };
    let start_of = |p: &crate::engine::conformance_report::PeriodRow| {
        chrono::DateTime::parse_from_rfc3339(&p.start).map_or(0.0, |t| t.timestamp() as f64)
    };
    let first = report.by_period.first().map_or(0.0, start_of);
    let points: Vec<[f64; 2]> = report
        .by_period
        .iter()
        .map(|p| [((start_of(p) - first) / length_s).round(), p.rate * 100.0])
        .collect();
    let hourly = report.period == "hour";
    let label_of = move |k: f64| {
        chrono::DateTime::from_timestamp((first + k * length_s) as i64, 0)
            .map(|t| match hourly {
                true => t.format("%d %b %H:00").to_string(),
                false => t.format("%Y-%m-%d").to_string(),
            })
            .unwrap_or_default()
    };
    Plot::new("conformance over time")
        .height(120.0)
        .width(280.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        // From 0 up, however small the shares (an all-zero line too).
        .include_y(0.0)
        .include_y(1.0)
        .y_axis_formatter(|mark, _| format!("{:.0} %", mark.value))
        .x_axis_formatter(move |mark, _| {
            let k = mark.value.round();
            if (mark.value - k).abs() > 1e-6 || k < 0.0 {
                return String::new();
            }
            label_of(k)
        })
        .show(ui, |plot| {
            plot.line(Line::new("keep to it", PlotPoints::from(points)));
        });
}

/// The rate in A against B, and the deviations that differ most.
fn compared_ui(c: &ComparedConformance, ui: &mut egui::Ui) {
    ui.strong("Compared");
    let verdict = if c.difference.significant {
        "a significant difference"
    } else {
        "no significant difference"
    };
    ui.label(format!(
        "A keeps to it {:.1} % ({} entered), B {:.1} % ({} entered): {:+.1} points, {verdict}{}.",
        c.a.rate * 100.0,
        thousands(c.a.entered),
        c.b.rate * 100.0,
        thousands(c.b.entered),
        c.difference.diff_pp,
        c.difference
            .q_value
            .map_or(String::new(), |q| format!(" (q = {q:.3})"))
    ));
    for d in c
        .deviations
        .iter()
        .filter(|d| d.difference.significant)
        .take(5)
    {
        ui.label(format!(
            "after {}: {}: A {:.1} %, B {:.1} % ({:+.1} points)",
            d.after,
            deviation_words(d.kind, &d.touchpoint),
            d.a.share * 100.0,
            d.b.share * 100.0,
            d.difference.diff_pp
        ));
    }
}

fn share_of(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.0} %", part as f64 * 100.0 / whole as f64)
    }
}
