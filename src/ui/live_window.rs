//! What the live screen shows and compares: the "Show" picker (since
//! start, the last minutes, or a custom range), the custom range form
//! ("from … to …" or "N minutes before" a moment, typed in the display
//! time zone) and the "Compare with" picker.

use chrono_tz::Tz;

use crate::app::Command;
use crate::app::live::{
    LiveCommand, LiveScreen, LiveWindow, OFFERED_COMPARISONS, OFFERED_WINDOWS, range_before,
    range_from_to,
};
use crate::format::human_duration;

use super::controls::pick;
use super::zone::display_zone;

/// The custom range form, while it is open.
#[derive(Debug, Clone, Default)]
pub struct RangeForm {
    /// Whether the form is shown.
    pub open: bool,
    /// "N minutes before" a moment rather than "from … to …".
    pub minutes_before: bool,
    /// The range's start, as typed.
    pub from: String,
    /// The range's end, as typed.
    pub to: String,
    /// How many minutes, as typed.
    pub minutes: String,
    /// Before what moment, as typed (empty: the newest event).
    pub moment: String,
    /// Why the last range could not be shown.
    pub error: Option<String>,
}

/// The zone times are typed and shown in on the live screen.
pub fn live_zone(live: &LiveScreen, ctx: &egui::Context) -> Tz {
    display_zone(ctx, live.timezone)
}

/// A time as the live screen shows it, in `zone`.
fn at(zone: Tz) -> impl Fn(i64) -> String {
    move |us| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.with_timezone(&zone).format("%-d %b %H:%M:%S").to_string())
            .unwrap_or_default()
    }
}

/// "Show": since start, the last 5, 15 or 60 minutes, or "Custom…", which
/// opens the range form; says when the window shown is not whole.
pub fn window_ui(live: &LiveScreen, form: &mut RangeForm, ui: &mut egui::Ui) -> Option<Command> {
    let zone = live_zone(live, ui.ctx());
    let current = live.window();
    let shown = match current {
        LiveWindow::Range(range) => crate::app::live::range_text(range, zone),
        other => OFFERED_WINDOWS
            .iter()
            .find(|(_, s)| LiveWindow::of_seconds(*s) == other)
            .map_or_else(|| other.describe(zone), |(text, _)| (*text).to_owned()),
    };
    let mut command = None;
    let label = ui.label("Show");
    egui::ComboBox::from_id_salt("Show")
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (text, seconds) in OFFERED_WINDOWS {
                let window = LiveWindow::of_seconds(*seconds);
                if ui.selectable_label(window == current, *text).clicked() && window != current {
                    command = Some(Command::Live(LiveCommand::SetWindow(window)));
                    form.open = false;
                }
            }
            if ui
                .selectable_label(current.range().is_some(), "Custom…")
                .clicked()
            {
                open_form(live, form, zone);
            }
        })
        .response
        .labelled_by(label.id)
        .on_hover_text(format!(
            "In event time, {}: {}",
            zone.name(),
            current.describe(zone)
        ));
    if let Some(snapshot) = &live.latest {
        let warn = ui.visuals().warn_fg_color;
        // At rates where the window's events would not fit in memory, say
        // how much of it is shown.
        if matches!(snapshot.status.window, LiveWindow::Last(_))
            && snapshot.status.kept_s + 1.0 < snapshot.window_s as f64
        {
            ui.colored_label(
                warn,
                format!(
                    "only the last {} fit in memory",
                    human_duration(snapshot.status.kept_s)
                ),
            );
        }
        if let Some(problem) = &snapshot.status.window_problem {
            ui.colored_label(ui.visuals().error_fg_color, problem.describe(&at(zone)));
        }
        if snapshot.status.customers_forgotten > 0 {
            ui.colored_label(
                warn,
                format!(
                    "{} quiet the longest forgotten: if they come back they count again",
                    crate::format::plural(snapshot.status.customers_forgotten as usize, "customer")
                ),
            )
            .on_hover_text(format!(
                "Memory holds {} customers quiet since before the last hour; past that, \
                 the quietest are forgotten.",
                crate::format::thousands(crate::engine::live::REMEMBERED_CUSTOMERS as u64)
            ));
        }
    }
    command
}

/// Opens the form, filled with the range shown or the last half hour.
fn open_form(live: &LiveScreen, form: &mut RangeForm, zone: Tz) {
    form.open = true;
    form.error = None;
    let clock = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    if let Some(range) = live.window().range() {
        form.from = clock(range.from_us);
        form.to = clock(range.to_us);
    } else if let Some(newest) = live.latest.as_ref().and_then(|s| s.newest_event_us) {
        form.from = clock(newest - 30 * 60 * 1_000_000);
        form.to = clock(newest);
    }
    if form.minutes.is_empty() {
        form.minutes = "30".into();
    }
}

/// The custom range form, under the top bar while it is open: a range
/// that cannot be read or lies outside the kept past is refused with why.
pub fn range_form_ui(
    live: &LiveScreen,
    form: &mut RangeForm,
    ui: &mut egui::Ui,
) -> Option<Command> {
    let zone = live_zone(live, ui.ctx());
    let mut command = None;
    ui.horizontal_wrapped(|ui| {
        ui.strong("Custom window");
        ui.radio_value(&mut form.minutes_before, false, "from … to …");
        ui.radio_value(&mut form.minutes_before, true, "minutes before a moment");
        ui.separator();
        let field = |ui: &mut egui::Ui, name: &str, text: &mut String, hint: &str, width: f32| {
            let label = ui.label(name);
            ui.add(
                egui::TextEdit::singleline(text)
                    .hint_text(hint)
                    .desired_width(width),
            )
            .labelled_by(label.id);
        };
        if form.minutes_before {
            field(ui, "Minutes", &mut form.minutes, "30", 50.0);
            field(ui, "Before", &mut form.moment, "the newest event", 140.0);
        } else {
            field(ui, "From", &mut form.from, "14:05", 140.0);
            field(ui, "To", &mut form.to, "2026-12-05 14:35", 140.0);
        }
        ui.weak(format!("times in {}", zone.name()));
        if ui.button("Show range").clicked() {
            match range_asked(live, form, zone) {
                Ok(range) => {
                    command = Some(Command::Live(LiveCommand::SetWindow(LiveWindow::Range(
                        range,
                    ))));
                    form.open = false;
                    form.error = None;
                }
                Err(e) => form.error = Some(e),
            }
        }
        if ui.button("Cancel").clicked() {
            form.open = false;
        }
    });
    if let Some(error) = &form.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    command
}

/// The range the form describes, checked against the kept past.
fn range_asked(
    live: &LiveScreen,
    form: &RangeForm,
    zone: Tz,
) -> Result<crate::engine::live_range::EventRange, String> {
    let snapshot = live
        .latest
        .as_ref()
        .ok_or("no event has arrived yet: a range can be picked once they do")?;
    let newest = snapshot
        .newest_event_us
        .ok_or("no event has arrived yet: a range can be picked once they do")?;
    let range = if form.minutes_before {
        range_before(&form.minutes, &form.moment, zone, newest)?
    } else {
        range_from_to(&form.from, &form.to, zone, newest)?
    };
    range
        .check_against(
            Some(newest),
            snapshot.status.kept_from_us,
            snapshot.status.kept_s,
        )
        .map_err(|e| e.describe(&at(zone)))?;
    Ok(range)
}

/// "Compare with": the window against the one before it, or the same
/// stretch an hour or a day earlier (in event time); with a custom range,
/// says why it is not compared when the earlier stretch is not whole.
pub fn compare_with_ui(live: &LiveScreen, ui: &mut egui::Ui) -> Option<Command> {
    let current = live.compared_with();
    let (picked, response) = pick(ui, "Compare with", OFFERED_COMPARISONS, current);
    response.on_hover_text(
        "In event time: the window shown (the same length back, since start) against \
         the one before it, or the same stretch an hour or a day earlier, always as \
         long as the window. The map colours each step by its change; What changed \
         lists the significant ones.",
    );
    let zone = live_zone(live, ui.ctx());
    let problem = live.latest.as_ref().and_then(|s| {
        let range = s
            .status
            .compare_problem
            .as_ref()
            .map(|p| p.describe(&at(zone)));
        range.or_else(|| s.compare_failed.clone())
    });
    if let Some(problem) = problem {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("not compared: {problem}"),
        );
    }
    (picked != current).then_some(Command::Live(LiveCommand::CompareWith(picked)))
}

/// What the live customer list holds: the customers of the window, or of
/// the last hour of events when the map shows everything since start.
pub fn customers_caption(window: LiveWindow, zone: Tz) -> String {
    let span = match window {
        LiveWindow::SinceStart => "the last hour".to_owned(),
        other => other.describe(zone),
    };
    format!("Customers with events in {span} of event time")
}
