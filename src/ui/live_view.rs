//! The live screen for the war room: the journey map updating in place,
//! plots over time (events per second, open sessions per touchpoint,
//! rejected and duplicate records), lag per partition, a freshness
//! indicator and the UI's own frame time. It only reads snapshots.

use std::collections::VecDeque;
use std::time::Instant;

use egui_plot::{Legend, Line, Plot, PlotPoint, PlotPoints};

use crate::app::Command;
use crate::app::live::{LiveCommand, LiveScreen, LiveTab, Point};
use crate::engine::Journeys;
use crate::engine::alerts::Alert;
use crate::format::{human_duration, thousands};
use crate::layout::palette;

use super::alerts_panel::{alert_banner, alert_history_ui, alerted_subject};
use super::conformance::live_journey_ui;
use super::customers::{CustomersChange, customers_ui};
use super::insight_panel::differences_ui;
use super::journey_map::JourneyMap;
use super::live_window::{
    RangeForm, compare_with_ui, customers_caption, live_zone, range_form_ui, window_ui,
};
use super::overview::{facts_grid, overview_ui};
use super::theme::rgb;
use super::timeline::{Details, Timeline};

/// The plotted series, rebuilt when a snapshot arrives rather than in
/// every frame.
#[derive(Debug, Default)]
struct Series {
    messages_per_s: Vec<PlotPoint>,
    rejected: Vec<PlotPoint>,
    duplicates: Vec<PlotPoint>,
    late: Vec<PlotPoint>,
    /// The five touchpoints with the most open sessions now, and their
    /// open sessions over time.
    open: Vec<(String, Vec<PlotPoint>)>,
}

impl Series {
    fn of(history: &VecDeque<Point>, active_now: &[(String, u64)]) -> Self {
        let series = |value: &dyn Fn(&Point) -> f64| -> Vec<PlotPoint> {
            history
                .iter()
                .map(|p| PlotPoint::new(p.t, value(p)))
                .collect()
        };
        let open = active_now
            .iter()
            .take(5)
            .map(|(name, _)| {
                let sessions = |p: &Point| {
                    p.active
                        .iter()
                        .find(|(t, _)| t == name)
                        .map_or(0.0, |(_, n)| *n as f64)
                };
                (name.clone(), series(&sessions))
            })
            .collect();
        Series {
            messages_per_s: series(&|p| p.messages_per_s),
            rejected: series(&|p| p.rejected as f64),
            duplicates: series(&|p| p.duplicates as f64),
            late: series(&|p| p.late as f64),
            open,
        }
    }
}

/// The live screen's own widget state: the map (once the first snapshot
/// arrived), the plotted series, the timeline's highlighted event and the
/// screen's frame times.
#[derive(Default)]
pub struct LiveWidgets {
    /// The journey map, once the first snapshot arrived.
    pub map: Option<JourneyMap>,
    series: Series,
    /// The snapshot the series were built from.
    series_for: u64,
    /// The journeys the map shows.
    map_for: u64,
    /// The alert rule being added or edited.
    pub rule_form: Option<super::alerts_panel::RuleForm>,
    /// The picked customer's timeline.
    pub timeline: Timeline,
    /// The custom range form.
    pub range_form: RangeForm,
    /// The expected journey being typed.
    pub journey_typed: String,
    /// The trigger rule being written.
    pub trigger_form: super::triggers::TriggerForm,
    previous_frame: Option<Instant>,
    render_ms: f32,
    frame_interval_ms: f32,
}

impl LiveWidgets {
    /// Follows the newest snapshot: the series, and the map when the
    /// journeys changed (a quiet stream keeps the map and its selection).
    fn follow(&mut self, live: &LiveScreen, ctx: &egui::Context) {
        let Some(snapshot) = &live.latest else {
            return;
        };
        // The journey the command line gave, in its field once.
        if self.series_for == 0
            && let Some(journey) = &live.conformance.journey
        {
            self.journey_typed.clone_from(&journey.name);
        }
        if self.series_for != live.snapshots {
            self.series_for = live.snapshots;
            self.series = Series::of(&live.history, &snapshot.active);
        }
        match &mut self.map {
            Some(map) if self.map_for != live.journey_changes => {
                map.set_summary(snapshot.summary.clone())
            }
            Some(_) => {}
            None => {
                let mut map = JourneyMap::new(snapshot.summary.clone());
                map.stable = true;
                self.map = Some(map);
            }
        }
        self.map_for = live.journey_changes;
        if let Some(map) = &mut self.map {
            map.expected = live
                .conformance
                .report()
                .map(|r| r.steps.clone())
                .unwrap_or_default();
            map.watched = snapshot
                .status
                .triggers
                .as_ref()
                .map(|t| t.waiting.clone())
                .unwrap_or_default();
            map.update(ctx);
        }
    }

    fn time_frame(&mut self, last_frame_s: Option<f32>) {
        let frame_start = Instant::now();
        if let Some(s) = last_frame_s {
            self.render_ms = 0.9 * self.render_ms + 0.1 * s * 1000.0;
        }
        if let Some(previous) = self.previous_frame {
            let interval = previous.elapsed().as_secs_f32() * 1000.0;
            self.frame_interval_ms = 0.9 * self.frame_interval_ms + 0.1 * interval;
        }
        self.previous_frame = Some(frame_start);
    }
}

/// Draws the live screen; `last_frame_s` is what the previous frame cost
/// in all (building it and rendering, from eframe), when known. Returns a
/// command for the app when there is one.
pub fn live_ui(
    live: &LiveScreen,
    w: &mut LiveWidgets,
    ui: &mut egui::Ui,
    last_frame_s: Option<f32>,
) -> Vec<Command> {
    w.time_frame(last_frame_s);
    w.follow(live, ui.ctx());
    let mut commands = top_bar_ui(live, w, ui);
    let firing = live.firing();
    if !firing.is_empty() {
        alert_banner(&firing, ui);
    }
    mark_alerted_steps(&firing, w);
    if let Some(error) = live.error() {
        commands.extend(stopped_ui(live, &error, ui));
        return commands;
    }
    what_changed_ui(live, w, ui);
    egui::Panel::left("live side")
        .default_size(340.0)
        .resizable(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                // A journey followed comes first; otherwise it is offered last.
                let following = live.conformance.journey.is_some();
                if !following {
                    side_ui(live, w, ui);
                    ui.separator();
                }
                egui::CollapsingHeader::new(egui::RichText::new("Expected journey").heading())
                    .default_open(following)
                    .show(ui, |ui| {
                        commands.extend(live_journey_ui(live, &mut w.journey_typed, ui));
                    });
                if following {
                    ui.separator();
                    side_ui(live, w, ui);
                }
            });
        });
    commands.extend(tab_ui(live, w, ui));
    request_next_frame(w, ui);
    commands
}

/// Marks on the map the steps the `firing` alerts are about.
fn mark_alerted_steps(firing: &[Alert], w: &mut LiveWidgets) {
    if let Some(map) = &mut w.map {
        // Lag and rejected records point at no step of the map.
        map.alerted = firing
            .iter()
            .map(|alert| {
                let (from, to) = alerted_subject(alert);
                super::journey_map::Alerted {
                    from,
                    to,
                    rule: alert.rule.clone(),
                }
            })
            .filter(|a| !a.from.is_empty())
            .collect();
    }
}

/// The screen once reading stopped: why, and the way to read from the
/// earliest offset when it started at the latest; the command when the
/// user asked for that.
fn stopped_ui(live: &LiveScreen, error: &str, ui: &mut egui::Ui) -> Option<Command> {
    let mut command = None;
    egui::CentralPanel::default().show(ui, |ui| {
        ui.colored_label(ui.visuals().error_fg_color, error);
        ui.add_space(6.0);
        ui.label(
            "Reading stopped and does not retry. Back to sources returns to the form, to \
             change it and connect again.",
        );
        if let Some(again) = live.from_the_earliest() {
            ui.add_space(6.0);
            ui.label(
                "It started at the latest offset, so only events produced after connecting \
                 are read; a topic that already holds events shows nothing until new ones \
                 arrive.",
            );
            if ui.button("Read from the earliest").clicked() {
                command = Some(Command::OpenKafka(Box::new(again)));
            }
        }
    });
    command
}

/// The middle of the screen for the tab shown: the alerts, the rejected
/// records, the customers or the map; the commands the user asked for.
fn tab_ui(live: &LiveScreen, w: &mut LiveWidgets, ui: &mut egui::Ui) -> Vec<Command> {
    let mut commands = Vec::new();
    let journeys = live
        .latest
        .as_ref()
        .filter(|s| s.status.with_customers)
        .map(|s| s.journeys.clone());
    match (live.tab, journeys) {
        (LiveTab::Alerts, _) => {
            egui::CentralPanel::default().show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    commands.extend(super::alerts_panel::alerts_tab_ui(
                        live,
                        &mut w.rule_form,
                        ui,
                    ));
                });
            });
        }
        (LiveTab::Rejected, _) => rejected_tab_ui(live, ui),
        (LiveTab::Triggers, _) => {
            egui::CentralPanel::default().show(ui, |ui| {
                commands.extend(super::live_triggers::live_triggers_ui(
                    live,
                    &mut w.trigger_form,
                    ui,
                ));
            });
        }
        (LiveTab::Customers, None) => customers_waiting_ui(ui),
        (LiveTab::Customers, Some(journeys)) => {
            commands.extend(customers_tab_ui(live, w, &journeys, ui));
        }
        _ => commands.extend(map_tab_ui(live, w, ui)),
    }
    commands
}

/// The Rejected tab: the records the stream rejected, once there is a
/// snapshot.
fn rejected_tab_ui(live: &LiveScreen, ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| match &live.latest {
        Some(snapshot) => super::rejected::live_rejected_ui(&snapshot.summary.rejected, ui),
        None => {
            ui.spinner();
        }
    });
}

/// The Customers tab while the customers are not read yet.
fn customers_waiting_ui(ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Reading the customers of the last hour…");
        });
    });
}

/// The Customers tab: the picked customer's timeline below, the list of
/// `journeys`' customers above it; the commands the user asked for.
fn customers_tab_ui(
    live: &LiveScreen,
    w: &mut LiveWidgets,
    journeys: &Journeys,
    ui: &mut egui::Ui,
) -> Vec<Command> {
    let mut commands = Vec::new();
    if let Some(customer) = live.customers.selected {
        egui::Panel::bottom("live timeline")
            .resizable(true)
            .default_size(400.0)
            .show(ui, |ui| {
                w.timeline
                    .timeline_ui(customer, journeys, Details::NotKept, live.timezone, ui)
            });
    }
    let window = live
        .latest
        .as_ref()
        .map_or_else(Default::default, |s| s.status.window);
    let zone = live_zone(live, ui.ctx());
    egui::CentralPanel::default().show(ui, |ui| {
        ui.weak(customers_caption(window, zone));
        for change in customers_ui(&live.customers, journeys, ui) {
            commands.push(Command::Live(match change {
                CustomersChange::Query(query) => LiveCommand::SetCustomers(query),
                CustomersChange::Select(c) => LiveCommand::SelectCustomer(c),
            }));
        }
    });
    commands
}

/// The Journey map tab: who is here now below the map, and the map (a
/// spinner until the first snapshot); the command the user asked for.
fn map_tab_ui(live: &LiveScreen, w: &mut LiveWidgets, ui: &mut egui::Ui) -> Option<Command> {
    let command = here_now_ui(live, w, ui);
    egui::CentralPanel::no_frame().show(ui, |ui| match &mut w.map {
        Some(map) => map.map_ui(ui),
        None => {
            ui.centered_and_justified(|ui| {
                ui.spinner();
                ui.label(format!(
                    "Connecting to {} and reading the first events to detect the \
                     columns from… It waits up to 10 s for the brokers to answer and \
                     for events to arrive, then says what went wrong; Back to sources \
                     stops it.",
                    live.label()
                ));
            });
        }
    });
    command
}

/// Asks for the next frame, so that frames start `FRAME_PERIOD_MS` apart.
fn request_next_frame(w: &LiveWidgets, ui: &egui::Ui) {
    // A frame every 33 ms (30 per second) while watching: the wait is what
    // is left of the period once the last frame's building and drawing are
    // paid. Under software GL a frame of the map costs about a core at 50
    // per second, which the ingest needs.
    let wait_ms = (FRAME_PERIOD_MS - w.render_ms).max(0.0);
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs_f32(wait_ms / 1000.0));
}

/// The bar above the live screen: back, the source, the tabs, the window
/// and comparison, freshness, and the map's controls.
fn top_bar_ui(live: &LiveScreen, w: &mut LiveWidgets, ui: &mut egui::Ui) -> Vec<Command> {
    let mut commands = Vec::new();
    egui::Panel::top("live top").show(ui, |ui| {
        ui.horizontal(|ui| {
            if ui.button("Back to sources").clicked() {
                commands.push(Command::CloseSource);
            }
            ui.strong(live.label());
            ui.separator();
            let mut tab = live.tab;
            ui.selectable_value(&mut tab, LiveTab::Map, "Journey map");
            ui.selectable_value(&mut tab, LiveTab::Customers, "Customers");
            let firing = live.firing().len();
            let alerts = match firing {
                0 => "Alerts".to_owned(),
                n => format!("Alerts: {n} firing"),
            };
            ui.selectable_value(&mut tab, LiveTab::Alerts, alerts);
            ui.selectable_value(&mut tab, LiveTab::Triggers, "Triggers");
            let rejected = live.latest.as_ref().map_or(0, |s| s.summary.rejected.total);
            ui.selectable_value(
                &mut tab,
                LiveTab::Rejected,
                format!("Rejected ({})", crate::format::thousands(rejected)),
            );
            if tab != live.tab {
                commands.push(Command::Live(LiveCommand::ShowTab(tab)));
            }
            ui.separator();
            commands.extend(window_ui(live, &mut w.range_form, ui));
            commands.extend(compare_with_ui(live, ui));
            ui.separator();
            freshness_ui(live, ui);
        });
        if w.range_form.open {
            commands.extend(range_form_ui(live, &mut w.range_form, ui));
        }
        if let (Some(map), LiveTab::Map) = (&mut w.map, live.tab) {
            map.controls_ui(ui);
        }
    });
    commands
}

/// The What changed panel beside the map, while the window is compared.
fn what_changed_ui(live: &LiveScreen, w: &mut LiveWidgets, ui: &mut egui::Ui) {
    let compared = live
        .latest
        .as_ref()
        .and_then(|s| Some((s.summary.compare.clone()?, s.status.kept_s)));
    if let (Some((compare, kept_s)), LiveTab::Map) = (compared, live.tab) {
        egui::Panel::right("what changed")
            .default_size(330.0)
            .resizable(true)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if compare.a.sessions == 0 {
                        ui.label(
                            "No session starts in the window shown yet: the comparison fills \
                             in as events of it arrive.",
                        );
                    } else if compare.b.sessions == 0 {
                        ui.label(format!(
                            "Nothing of the earlier stretch is kept yet: the screen keeps the \
                             last {} of event time, and more from now on, as events arrive. \
                             Start from an earlier time to compare at once.",
                            human_duration(kept_s)
                        ));
                    }
                    let picked = differences_ui("What changed", &compare, ui);
                    if let (Some((from, to)), Some(map)) = (picked, &mut w.map) {
                        map.select(&from, to.as_deref());
                    }
                });
            });
    }
}

/// Under the map, for a selected touchpoint: how many sessions are open
/// there now, and the way to who they are.
fn here_now_ui(live: &LiveScreen, w: &LiveWidgets, ui: &mut egui::Ui) -> Option<Command> {
    let (name, None) = w.map.as_ref()?.selected_names()? else {
        return None;
    };
    if crate::engine::is_terminal_name(&name) {
        return None;
    }
    let open = live
        .latest
        .as_ref()?
        .active
        .iter()
        .find(|(t, _)| *t == name)
        .map_or(0, |(_, n)| *n);
    let mut command = None;
    egui::Panel::bottom("here now").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong(format!(
                "{name}: {} sessions open here now",
                thousands(open)
            ));
            if ui
                .button("Who is here now")
                .on_hover_text(
                    "The customers whose open session's latest step is here, newest first, \
                     with how long ago they arrived (in event time)",
                )
                .clicked()
            {
                command = Some(Command::Live(LiveCommand::HereNow(name.clone())));
            }
        });
    });
    command
}

/// Time between the starts of two frames while watching, in ms.
const FRAME_PERIOD_MS: f32 = 33.0;

/// Newest event time against the wall clock: green while the stream is
/// current, amber after 30 s behind, red after 5 minutes.
fn freshness_ui(live: &LiveScreen, ui: &mut egui::Ui) {
    let Some(snapshot) = &live.latest else {
        ui.spinner();
        return;
    };
    let Some(newest) = snapshot.newest_event_us else {
        ui.label("no events yet");
        return;
    };
    let now = chrono::Utc::now().timestamp_micros();
    let behind_s = ((now - newest) as f64 / 1e6).max(0.0);
    let (colour, word) = if behind_s < 30.0 {
        (rgb(palette::FAST), "live")
    } else if behind_s < 300.0 {
        (rgb(palette::AMBER), "behind")
    } else {
        (rgb(palette::SLOW), "stale")
    };
    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 6.0, colour);
    let newest_text = chrono::DateTime::from_timestamp_micros(newest)
        .map_or_else(String::new, |t| t.format("%e %b %H:%M:%S").to_string());
    let arrived = snapshot
        .status
        .last_message
        .map_or("no message yet".to_owned(), |t| {
            format!(
                "last message {} ago",
                human_duration(t.elapsed().as_secs_f64())
            )
        });
    ui.label(format!(
        "{word} · newest event {newest_text} UTC ({} behind) · {arrived}",
        human_duration(behind_s)
    ));
}

fn side_ui(live: &LiveScreen, view: &LiveWidgets, ui: &mut egui::Ui) {
    let Some(snapshot) = &live.latest else {
        ui.label("Waiting for the first events…");
        return;
    };
    alert_history_ui(&snapshot.status.alerts, ui);
    ui.heading("Now");
    let lag: u64 = snapshot
        .status
        .progress
        .partitions
        .iter()
        .map(|p| p.lag.max(0) as u64)
        .sum();
    facts_grid(
        ui,
        "live now",
        &[
            (
                "Messages read",
                thousands(snapshot.status.progress.consumed),
            ),
            (
                "Messages per second",
                thousands(live.messages_per_s().unwrap_or(0.0).round() as u64),
            ),
            (
                "Open sessions",
                thousands(snapshot.active.iter().map(|(_, n)| n).sum()),
            ),
            (
                "Arrived out of order",
                thousands(snapshot.status.out_of_order.0),
            ),
            (
                "… too late to reorder",
                thousands(snapshot.status.out_of_order.1),
            ),
            ("Lag (messages)", thousands(lag)),
            (
                "Screen",
                format!(
                    "{:.0} fps, {:.1} ms a frame",
                    1000.0 / view.frame_interval_ms.max(1.0),
                    view.render_ms
                ),
            ),
        ],
    );
    ui.add_space(6.0);
    plot_ui(ui, "Messages per second", &view.series.messages_per_s);
    ui.strong("Open sessions by touchpoint");
    Plot::new("open sessions")
        .x_grid_spacer(time_grid())
        .height(150.0)
        .legend(Legend::default())
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .include_y(0.0)
        .show(ui, |plot| {
            for (name, points) in &view.series.open {
                plot.line(Line::new(name.clone(), PlotPoints::Borrowed(points)));
            }
        });
    plot_ui(ui, "Rejected records", &view.series.rejected);
    plot_ui(ui, "Duplicates dropped", &view.series.duplicates);
    plot_ui(ui, "Late events", &view.series.late);
    match &snapshot.status.workers {
        Some(workers) => super::workers_panel::workers_ui(workers, ui),
        None => lag_ui(snapshot, ui),
    }
    ui.separator();
    overview_ui(
        ui,
        &snapshot.summary,
        view.map.as_ref().and_then(|m| m.visible()),
        snapshot.snapshot_s,
    );
}

/// Each partition's next offset and lag.
fn lag_ui(snapshot: &crate::app::live::LiveSnapshot, ui: &mut egui::Ui) {
    ui.strong("Lag per partition");
    egui::Grid::new("lag")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            ui.label("Partition");
            ui.label("Next offset");
            ui.label("Lag");
            ui.end_row();
            for p in &snapshot.status.progress.partitions {
                ui.label(p.partition.to_string());
                ui.label(thousands(p.next_offset.max(0) as u64));
                ui.label(thousands(p.lag.max(0) as u64));
                ui.end_row();
            }
        });
}

/// Steps of the plots' time axis, in seconds: round ones.
const TIME_STEPS_S: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
];

/// Grid lines of the plots' time axis: the smallest round step that puts
/// at most four labelled lines across the span shown, so a narrow plot
/// keeps numbers on its axis however long the screen has been open (the
/// default powers of ten leave only "0" past 50 s).
fn time_grid() -> impl Fn(egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    egui_plot::uniform_grid_spacer(|input| {
        let span = (input.bounds.1 - input.bounds.0).abs();
        let step = TIME_STEPS_S
            .into_iter()
            .find(|step| span / step <= 4.0)
            .unwrap_or_else(|| (span / 4.0 / 3600.0).ceil() * 3600.0);
        [step, step / 5.0, step / 10.0]
    })
}

fn plot_ui(ui: &mut egui::Ui, title: &str, points: &[PlotPoint]) {
    ui.strong(title);
    Plot::new(title)
        .x_grid_spacer(time_grid())
        .height(90.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .include_y(0.0)
        .show(ui, |plot| {
            plot.line(Line::new(title, PlotPoints::Borrowed(points)))
        });
}
