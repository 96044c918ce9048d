//! One customer's story: each session a row, each event a mark on that
//! session's time axis, with the record's fields on hover (the app reads
//! them from the source again on a worker); under the axes, every event as
//! a row of a list (time, touchpoint, time since the one before, its
//! properties). Clicking a row or a mark highlights the event in both.

use chrono_tz::Tz;
use egui::{Align2, FontId, Pos2, Rect, Sense, Stroke, Vec2};
use egui_extras::{Column, TableBuilder};

use crate::app::workspace::CustomerRecord;
use crate::engine::{Event, Journeys};
use crate::format::{human_duration, plural};

use super::theme;
use super::zone::{display_zone, zone_picker_ui};

/// What is known of a customer's records beyond the journey.
#[derive(Debug, Clone, Copy)]
pub enum Details<'a> {
    /// A live stream keeps no fields of its events.
    NotKept,
    /// Being read from the source.
    Reading,
    /// Every record with all its fields.
    Read(&'a [CustomerRecord]),
    /// They could not be read.
    Failed(&'a str),
}

const ROW_HEIGHT: f32 = 76.0;
const LABEL_WIDTH: f32 = 250.0;

/// `us` in `zone`, formatted.
fn clock(us: i64, zone: Tz, format: &str) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |t| t.with_timezone(&zone).format(format).to_string(),
    )
}

/// The timeline's own widget state: the event highlighted (clicked in the
/// list or on an axis) and where the list and axes should scroll next.
#[derive(Debug, Default)]
pub struct Timeline {
    /// The customer (by name: a live stream renumbers customers) and the
    /// event highlighted, by its place among the customer's events.
    highlighted: Option<(String, usize)>,
    /// Bring this event's row into view on the next frame.
    scroll_list_to: Option<usize>,
    /// Bring this session's axis into view on the next frame.
    scroll_axes_to: Option<usize>,
}

/// One customer's events in order, each with its session.
struct Rows<'a> {
    events: Vec<&'a Event>,
    /// Index in `events` of each session's first event.
    starts: Vec<usize>,
}

impl<'a> Rows<'a> {
    fn of(sessions: &[&'a [Event]]) -> Self {
        let mut starts = Vec::with_capacity(sessions.len());
        let mut events = Vec::with_capacity(sessions.iter().map(|s| s.len()).sum());
        for session in sessions {
            starts.push(events.len());
            events.extend(session.iter());
        }
        Rows { events, starts }
    }

    /// The session (from 0) of event `k`.
    fn session_of(&self, k: usize) -> usize {
        self.starts.partition_point(|&s| s <= k).saturating_sub(1)
    }
}

impl Timeline {
    /// The event of `customer` highlighted, by its place among the
    /// customer's events in order (as [`Journeys::sessions_of`] lists them).
    pub fn highlighted(&self, customer: &str) -> Option<usize> {
        self.highlighted
            .as_ref()
            .filter(|(name, _)| name == customer)
            .map(|(_, k)| *k)
    }

    /// Highlights event `k` of `customer` and brings it into view in the
    /// list (`in_list`) or on its axis.
    fn highlight(&mut self, customer: &str, k: usize, session: usize, in_list: bool) {
        self.highlighted = Some((customer.to_owned(), k));
        match in_list {
            true => self.scroll_list_to = Some(k),
            false => self.scroll_axes_to = Some(session),
        }
    }

    /// Draws the timeline of customer `customer`, each event's fields from
    /// `details` on hover and in the list, times in the display zone (`zone`
    /// until the user picks one).
    pub fn timeline_ui(
        &mut self,
        customer: u32,
        journeys: &Journeys,
        details: Details<'_>,
        zone: Option<Tz>,
        ui: &mut egui::Ui,
    ) {
        let zone = display_zone(ui.ctx(), zone);
        let name = journeys.customer_name(customer);
        let sessions = journeys.sessions_of(customer);
        let rows = Rows::of(&sessions);
        header_ui(name, sessions.len(), rows.events.len(), details, zone, ui);
        let highlighted = self.highlighted(name);
        let row_stride = ROW_HEIGHT + ui.spacing().item_spacing.y;
        // The axes take up to half the room; the list the rest.
        let axes_height = (ui.available_height() * 0.45)
            .min(sessions.len() as f32 * row_stride)
            .max(ROW_HEIGHT.min(ui.available_height() / 2.0));
        let mut area = egui::ScrollArea::vertical()
            .id_salt("timeline rows")
            .max_height(axes_height)
            .auto_shrink([false, true]);
        if let Some(session) = self.scroll_axes_to.take() {
            area = area.vertical_scroll_offset(session as f32 * row_stride);
        }
        let mut pointed = None;
        let mut clicked = None;
        area.show_rows(ui, ROW_HEIGHT, sessions.len(), |ui, range| {
            for i in range {
                let first = rows.starts[i];
                let marks = Marks {
                    session: sessions[i],
                    first,
                    highlighted: highlighted.and_then(|k| k.checked_sub(first)),
                };
                if let Some((k, click)) = session_ui(i, &marks, journeys, details, zone, ui) {
                    pointed = Some(first + k);
                    if click {
                        clicked = Some(first + k);
                    }
                }
                ui.separator();
            }
        });
        if let Some(k) = clicked {
            self.highlight(name, k, rows.session_of(k), true);
        }
        ui.separator();
        let list = EventList {
            customer,
            journeys,
            details,
            zone,
            rows: &rows,
            highlighted: self.highlighted(name),
            pointed,
            scroll_to: self.scroll_list_to.take(),
        };
        if let Some(k) = list.list_ui(ui) {
            self.highlight(name, k, rows.session_of(k), false);
        }
    }
}

/// The customer's name and counts, the zone picker and how the details stand.
fn header_ui(
    name: &str,
    sessions: usize,
    events: usize,
    details: Details<'_>,
    zone: Tz,
    ui: &mut egui::Ui,
) {
    ui.horizontal(|ui| {
        ui.heading(format!("Customer {name}"));
        ui.label(format!(
            "{} · {} ·",
            plural(sessions, "session"),
            plural(events, "event")
        ));
        zone_picker_ui(ui, zone);
        match details {
            Details::NotKept => {
                ui.label(
                    egui::RichText::new(
                        "(live streams keep no event fields: the list shows the kept properties)",
                    )
                    .weak(),
                );
            }
            Details::Reading => {
                ui.spinner();
                ui.label("reading details…");
            }
            Details::Failed(e) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("no details: {e}"));
            }
            Details::Read(_) => {}
        }
    });
}

/// One session's events as marks on its axis.
struct Marks<'a> {
    session: &'a [Event],
    /// The place of its first event among the customer's.
    first: usize,
    /// The mark highlighted, by its place in the session.
    highlighted: Option<usize>,
}

/// The records read for an event: those at its time.
fn records_at(details: Details<'_>, time_us: i64) -> impl Iterator<Item = &CustomerRecord> {
    let records = match details {
        Details::Read(records) => records,
        _ => &[],
    };
    records.iter().filter(move |r| r.time_us == time_us)
}

/// Draws session `i`'s row: its label and its axis of marks; returns the
/// mark under the pointer (by its place in the session) and whether it was
/// clicked.
fn session_ui(
    i: usize,
    marks: &Marks<'_>,
    journeys: &Journeys,
    details: Details<'_>,
    zone: Tz,
    ui: &mut egui::Ui,
) -> Option<(usize, bool)> {
    let session = marks.session;
    let (first, last) = (session[0].time_us, session[session.len() - 1].time_us);
    let visuals = ui.visuals().clone();
    ui.horizontal(|ui| {
        ui.allocate_ui(Vec2::new(LABEL_WIDTH, ROW_HEIGHT - 6.0), |ui| {
            ui.vertical(|ui| {
                ui.strong(format!("Session {}", i + 1));
                ui.label(format!(
                    "{} · {} · {}",
                    clock(first, zone, "%a %e %b %Y %H:%M"),
                    human_duration((last - first) as f64 / 1e6),
                    plural(session.len(), "event")
                ));
            });
        });
        let width = ui.available_width().max(100.0);
        let (response, painter) =
            ui.allocate_painter(Vec2::new(width, ROW_HEIGHT - 6.0), Sense::click());
        // Room on the right for the scroll bar, and for labels at the ends.
        let area = response.rect.shrink2(Vec2::new(24.0, 0.0));
        let y = area.top() + 30.0;
        painter.line_segment(
            [Pos2::new(area.left(), y), Pos2::new(area.right(), y)],
            Stroke::new(1.0, visuals.weak_text_color()),
        );
        let span = (last - first).max(1) as f32;
        let x_of = |t: i64| {
            if last == first {
                area.center().x
            } else {
                area.left() + area.width() * (t - first) as f32 / span
            }
        };
        let small = FontId::proportional(10.0);
        painter.text(
            Pos2::new(area.left(), area.bottom()),
            Align2::LEFT_BOTTOM,
            clock(first, zone, "%H:%M:%S"),
            small.clone(),
            visuals.weak_text_color(),
        );
        if last > first {
            painter.text(
                Pos2::new(area.right(), area.bottom()),
                Align2::RIGHT_BOTTOM,
                clock(last, zone, "%H:%M:%S"),
                small,
                visuals.weak_text_color(),
            );
        }
        // Labels alternate above and below the axis where they would
        // touch; one that fits neither shows on hover.
        let mut label_end = [f32::NEG_INFINITY; 2];
        let pointer = response.hover_pos();
        let mut hovered = None;
        for (k, e) in session.iter().enumerate() {
            let touchpoint = journeys.touchpoint_name(e.touchpoint);
            let x = x_of(e.time_us);
            let colour = theme::touchpoint_colour(touchpoint, &visuals);
            if marks.highlighted == Some(k) {
                painter.circle_stroke(
                    Pos2::new(x, y),
                    9.0,
                    Stroke::new(2.5, visuals.selection.stroke.color),
                );
            }
            painter.circle_filled(Pos2::new(x, y), 5.0, colour);
            let galley = painter.layout_no_wrap(
                touchpoint.to_owned(),
                FontId::proportional(11.0),
                visuals.text_color(),
            );
            // Labels stay inside the row, clear of the scroll bar.
            let left = (x - galley.size().x / 2.0).clamp(
                response.rect.left() + 2.0,
                (area.right() + 8.0 - galley.size().x).max(response.rect.left() + 2.0),
            );
            let size = galley.size();
            let row = (0..2).find(|&r| left > label_end[r] + 4.0);
            if let Some(r) = row {
                label_end[r] = left + size.x;
                let top = if r == 0 { y - 8.0 - size.y } else { y + 7.0 };
                painter.galley(Pos2::new(left, top), galley, visuals.text_color());
            }
            if pointer.is_some_and(|p| {
                Rect::from_center_size(Pos2::new(x, y), Vec2::splat(14.0)).contains(p)
            }) {
                hovered = Some(k);
            }
        }
        let k = hovered?;
        let clicked = response.clicked();
        let e = session[k];
        let touchpoint = journeys.touchpoint_name(e.touchpoint);
        let mut text = format!(
            "{touchpoint}\n{}",
            clock(e.time_us, zone, "%a %Y-%m-%d %H:%M:%S%.3f %Z")
        );
        if k > 0 {
            let gap = (e.time_us - session[k - 1].time_us) as f64 / 1e6;
            text.push_str(&format!(
                "\n{} after the previous event",
                human_duration(gap)
            ));
        }
        for record in records_at(details, e.time_us) {
            text.push_str(&format!("\n\nevent: {}", record.event));
            for (key, value) in &record.properties {
                text.push_str(&format!("\n{key}: {value}"));
            }
        }
        text.push_str(&format!(
            "\n\nclick to find event {} in the list",
            marks.first + k + 1
        ));
        response.on_hover_text_at_pointer(text);
        Some((k, clicked))
    })
    .inner
}

/// The list of every event under the axes.
struct EventList<'a> {
    customer: u32,
    journeys: &'a Journeys,
    details: Details<'a>,
    zone: Tz,
    rows: &'a Rows<'a>,
    /// The event highlighted, and the one whose mark is under the pointer.
    highlighted: Option<usize>,
    pointed: Option<usize>,
    /// Bring this row into view.
    scroll_to: Option<usize>,
}

/// Height of a row of the event list.
const LIST_ROW_HEIGHT: f32 = 20.0;

impl EventList<'_> {
    /// Draws the list, a row per event, only the rows in view (thousands
    /// of events cost what a screenful does); returns the row clicked.
    fn list_ui(&self, ui: &mut egui::Ui) -> Option<usize> {
        let events = &self.rows.events;
        let mut clicked = None;
        let mut table = TableBuilder::new(ui)
            .id_salt("timeline events")
            .striped(true)
            .sense(Sense::click())
            .auto_shrink([false, false])
            .column(Column::auto().at_least(150.0))
            .column(Column::auto().at_least(120.0).clip(true))
            .column(Column::auto().at_least(170.0))
            .column(Column::remainder().clip(true));
        if let Some(k) = self.scroll_to {
            table = table.scroll_to_row(k, Some(egui::Align::Center));
        }
        table
            .header(20.0, |mut header| {
                for title in ["Time", "Touchpoint", "After the previous", "Properties"] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(LIST_ROW_HEIGHT, events.len(), |mut row| {
                    let k = row.index();
                    let e = events[k];
                    let session = self.rows.session_of(k);
                    let starts_session = self.rows.starts[session] == k;
                    row.set_selected(self.highlighted == Some(k));
                    row.set_hovered(self.pointed == Some(k));
                    row.set_overline(starts_session && k > 0);
                    row.col(|ui| {
                        ui.add(
                            egui::Label::new(clock(e.time_us, self.zone, "%a %e %b %H:%M:%S%.3f"))
                                .selectable(false),
                        );
                    });
                    row.col(|ui| {
                        let touchpoint = self.journeys.touchpoint_name(e.touchpoint);
                        ui.add(egui::Label::new(touchpoint).selectable(false).truncate());
                    });
                    row.col(|ui| {
                        let gap = k
                            .checked_sub(1)
                            .map(|p| human_duration((e.time_us - events[p].time_us) as f64 / 1e6));
                        let text = match (starts_session, gap) {
                            (_, None) => egui::RichText::new("first event").weak(),
                            (true, Some(gap)) => {
                                egui::RichText::new(format!("session {} · {gap}", session + 1))
                                    .strong()
                            }
                            (false, Some(gap)) => egui::RichText::new(gap),
                        };
                        ui.add(egui::Label::new(text).selectable(false));
                    });
                    row.col(|ui| {
                        let text = self.properties(k, e.time_us);
                        ui.add(egui::Label::new(text).selectable(false).truncate());
                    });
                    if row.response().clicked() {
                        clicked = Some(k);
                    }
                });
            });
        clicked
    }

    /// Event `k`'s properties: its record's fields when they were read,
    /// else the properties the journeys keep (`channel` and
    /// `--keep-property`).
    fn properties(&self, k: usize, time_us: i64) -> String {
        let mut read = records_at(self.details, time_us).peekable();
        let pairs: Vec<String> = match read.peek() {
            Some(_) => read
                .flat_map(|r| r.properties.iter())
                .map(|(key, value)| format!("{key}={value}"))
                .collect(),
            None => self
                .journeys
                .kept_values_at(self.customer, k)
                .into_iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect(),
        };
        match pairs.is_empty() {
            true => "—".to_owned(),
            false => pairs.join(" · "),
        }
    }
}
