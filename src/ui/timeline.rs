//! One customer's story: each session a row, each event a mark on that
//! session's time axis, with the record's fields on hover (the app reads
//! them from the source again on a worker).

use chrono_tz::Tz;
use egui::{Align2, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use crate::engine::Journeys;
use crate::format::{human_duration, plural};
use crate::source::lookup::CustomerRecord;

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

/// Draws the timeline of customer `customer`, each event's fields from
/// `details` on hover, times in the display zone (`zone` until the user
/// picks one).
pub fn timeline_ui(
    customer: u32,
    journeys: &Journeys,
    details: Details<'_>,
    zone: Option<Tz>,
    ui: &mut egui::Ui,
) {
    let zone = display_zone(ui.ctx(), zone);
    let name = journeys.customer_name(customer);
    let sessions = journeys.sessions_of(customer);
    let events: usize = sessions.iter().map(|s| s.len()).sum();
    ui.horizontal(|ui| {
        ui.heading(format!("Customer {name}"));
        ui.label(format!(
            "{} · {} ·",
            plural(sessions.len(), "session"),
            plural(events, "event")
        ));
        zone_picker_ui(ui, zone);
        match details {
            Details::NotKept => {
                ui.label(
                    egui::RichText::new("(event fields are not kept for live streams)").weak(),
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
    let visuals = ui.visuals().clone();
    egui::ScrollArea::vertical()
        .id_salt("timeline rows")
        .show_rows(ui, ROW_HEIGHT, sessions.len(), |ui, range| {
            for i in range {
                let session = sessions[i];
                let (first, last) = (session[0].time_us, session[session.len() - 1].time_us);
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
                        ui.allocate_painter(Vec2::new(width, ROW_HEIGHT - 6.0), Sense::hover());
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
                    // Labels alternate above and below the axis where they
                    // would touch; one that fits neither shows on hover.
                    let mut label_end = [f32::NEG_INFINITY; 2];
                    let pointer = response.hover_pos();
                    let mut hovered = None;
                    for (k, e) in session.iter().enumerate() {
                        let touchpoint = journeys.touchpoint_name(e.touchpoint);
                        let x = x_of(e.time_us);
                        let colour = theme::touchpoint_colour(touchpoint, &visuals);
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
                    if let Some(k) = hovered {
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
                        let records = match details {
                            Details::Read(records) => records,
                            _ => &[],
                        };
                        for record in records.iter().filter(|r| r.time_us == e.time_us) {
                            text.push_str(&format!("\n\nevent: {}", record.event));
                            for (key, value) in &record.properties {
                                text.push_str(&format!("\n{key}: {value}"));
                            }
                        }
                        response.on_hover_text_at_pointer(text);
                    }
                });
                ui.separator();
            }
        });
}
