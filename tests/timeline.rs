//! The customer timeline's event list, driven through egui_kittest: every
//! event of the customer is a row (counted against the customer's events in
//! the engine's `Journeys`), in the display zone, with the kept properties;
//! clicking a row highlights that event; a customer with thousands of
//! events lays out only the rows in view.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono_tz::Tz;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use journeyscope::engine::{EngineConfig, EventBatch, JourneyBuilder, Journeys, NewEvent};
use journeyscope::format::human_duration;
use journeyscope::ui::timeline::{Details, Timeline};

/// 2026-03-02T09:00:00Z.
const START_US: i64 = 1_772_442_000 * 1_000_000;
const ZONE: Tz = chrono_tz::Europe::Berlin;

/// The view under test and what it shows.
struct View {
    journeys: Journeys,
    customer: u32,
    timeline: Timeline,
}

/// `ana`: three sessions of 15 events (37 s apart, sessions 3 h apart),
/// each session's channel its own; `ben`: `ben_events` events a minute
/// apart. Sessions end after 30 minutes without events.
fn journeys(ben_events: i64) -> Journeys {
    let mut batch = EventBatch::default();
    let steps = ["home", "search", "product", "cart", "checkout"];
    for session in 0..3i64 {
        for k in 0..15i64 {
            let channel = ["app", "web", "email"][session as usize];
            batch.push(
                NewEvent {
                    customer: "ana",
                    event: steps[(k % 5) as usize],
                    time_us: START_US + session * 3 * 3_600_000_000 + k * 37_000_000,
                    event_id: None,
                    session_id: None,
                },
                [("channel", channel)],
            );
        }
    }
    for k in 0..ben_events {
        batch.push(
            NewEvent {
                customer: "ben",
                event: steps[(k % 5) as usize],
                time_us: START_US + k * 60_000_000,
                event_id: None,
                session_id: None,
            },
            [("channel", "web")],
        );
    }
    let mut builder = JourneyBuilder::new(EngineConfig {
        session_timeout_us: Some(30 * 60 * 1_000_000),
        kept_properties: vec!["channel".to_owned()],
        ..EngineConfig::default()
    });
    builder.ingest(&batch);
    builder.finish()
}

fn harness(journeys: Journeys, customer: &str, height: f32) -> Harness<'static, View> {
    let customer = journeys.customer_id(customer).unwrap();
    let view = View {
        journeys,
        customer,
        timeline: Timeline::default(),
    };
    let mut h = Harness::builder()
        .with_size([1300.0, height])
        .build_ui_state(
            |ui, v: &mut View| {
                v.timeline
                    .timeline_ui(v.customer, &v.journeys, Details::NotKept, Some(ZONE), ui)
            },
            view,
        );
    h.run_steps(3);
    h
}

/// The list's time of an event, as a row shows it.
fn shown_time(time_us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(time_us)
        .unwrap()
        .with_timezone(&ZONE)
        .format("%a %e %b %H:%M:%S%.3f")
        .to_string()
}

/// The rows' time labels on screen.
fn time_labels(h: &Harness<'_, View>, events: &[i64]) -> usize {
    events
        .iter()
        .map(|t| h.query_all_by_label(&shown_time(*t)).count())
        .sum()
}

#[test]
fn the_timeline_lists_every_event_of_the_customer_in_the_display_zone() {
    let h = harness(journeys(10), "ana", 2600.0);
    let view = h.state();
    let sessions = view.journeys.sessions_of(view.customer);
    let times: Vec<i64> = sessions
        .iter()
        .flat_map(|s| s.iter())
        .map(|e| e.time_us)
        .collect();
    assert_eq!(sessions.len(), 3);
    assert_eq!(times.len(), 45);
    // One row per event: each event's time appears once, nothing else.
    assert_eq!(time_labels(&h, &times), times.len());
    for t in &times {
        h.get_by_label(&shown_time(*t));
    }
    // Each touchpoint's rows, and the kept channel of each session.
    for (session, channel) in sessions.iter().zip(["app", "web", "email"]) {
        let rows = h.get_all_by_label(&format!("channel={channel}")).count();
        assert_eq!(rows, session.len(), "{channel}");
    }
    // The gap from the event before, as the app writes durations; a new
    // session is marked with its number and the gap before it.
    let gap = |a: i64, b: i64| human_duration((b - a) as f64 / 1e6);
    let mut within = std::collections::BTreeMap::<String, usize>::new();
    for session in &sessions {
        for pair in session.windows(2) {
            *within
                .entry(gap(pair[0].time_us, pair[1].time_us))
                .or_default() += 1;
        }
    }
    for (text, rows) in &within {
        assert_eq!(h.get_all_by_label(text).count(), *rows, "{text}");
    }
    for i in 1..sessions.len() {
        let before = sessions[i - 1].last().unwrap().time_us;
        let text = format!(
            "session {} · {}",
            i + 1,
            gap(before, sessions[i][0].time_us)
        );
        h.get_by_label(&text);
    }
}

#[test]
fn clicking_a_row_highlights_its_event() {
    let mut h = harness(journeys(10), "ana", 2600.0);
    assert_eq!(h.state().timeline.highlighted("ana"), None);
    let twentieth = {
        let view = h.state();
        let sessions = view.journeys.sessions_of(view.customer);
        sessions
            .iter()
            .flat_map(|s| s.iter())
            .nth(19)
            .unwrap()
            .time_us
    };
    h.get_by_label(&shown_time(twentieth)).click();
    h.run_steps(2);
    assert_eq!(h.state().timeline.highlighted("ana"), Some(19));
    // The highlight is the customer's own.
    assert_eq!(h.state().timeline.highlighted("ben"), None);
}

#[test]
fn thousands_of_events_lay_out_only_the_rows_in_view() {
    let h = harness(journeys(5_000), "ben", 900.0);
    let view = h.state();
    let times: Vec<i64> = view
        .journeys
        .sessions_of(view.customer)
        .iter()
        .flat_map(|s| s.iter())
        .map(|e| e.time_us)
        .collect();
    assert_eq!(times.len(), 5_000);
    h.get_by_label("Customer ben");
    let shown = time_labels(&h, &times);
    assert!((5..100).contains(&shown), "{shown} rows laid out");
    // The first rows are the first events.
    h.get_by_label(&shown_time(times[0]));
}
