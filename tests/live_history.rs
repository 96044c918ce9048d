//! The live screen keeps the history its comparisons need from the start:
//! on a three-hour topic read from the earliest offset, "1 hour earlier"
//! picked once everything has been read compares with the earlier stretch
//! whole (its sessions counted as the file engine counts the same events),
//! and a reconnect keeps the window and comparison picked; a custom range
//! typed in the Show picker's form shows exactly that range's journeys and
//! compares it with the same length an hour earlier.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::broker::*;
use common::pointer::retype;
use egui_kittest::Harness;
use journeyscope::app::live::{Before, LiveCommand, LiveRequest, LiveScreen, LiveWindow};
use journeyscope::app::{Command, Screen};
use journeyscope::engine::{EngineConfig, EventBatch, JourneyBuilder, NewEvent};
use journeyscope::ui::window::Window;

const MINUTE_US: i64 = 60 * 1_000_000;
/// 2026-11-27T00:00:00Z.
const START_US: i64 = 1_795_737_600 * 1_000_000;

/// Three hours of sessions, one every 4 s: home, product_view, then
/// add_to_cart for 3 in 5, two minutes apart. (time, customer, event).
fn stream() -> Vec<(i64, String, &'static str)> {
    let mut events = Vec::new();
    for n in 0..(3 * 3600 / 4) {
        let t = START_US + n * 4_000_000;
        let mut steps = vec!["home", "product_view"];
        if n % 5 < 3 {
            steps.push("add_to_cart");
        }
        for (k, step) in steps.into_iter().enumerate() {
            events.push((t + k as i64 * 2 * MINUTE_US, format!("c{n}"), step));
        }
    }
    events.sort_by_key(|e| e.0);
    events
}

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn micros(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

/// Sessions of the events in `[from_us, to_us]`, read as a file.
fn sessions_between(events: &[(i64, String, &str)], from_us: i64, to_us: i64) -> u64 {
    let mut batch = EventBatch::default();
    for (t, customer, event) in events.iter().filter(|e| (from_us..=to_us).contains(&e.0)) {
        batch.push(
            NewEvent {
                customer,
                event,
                time_us: *t,
                event_id: None,
                session_id: None,
            },
            [],
        );
    }
    let mut builder = JourneyBuilder::new(EngineConfig::default());
    builder.ingest(&batch);
    builder.finish().sessions
}

/// The window, the events, the request, and the broker and directory
/// that must live as long as the window.
type Replayed = (
    Harness<'static, Window>,
    Vec<(i64, String, &'static str)>,
    LiveRequest,
    Broker,
    tempfile::TempDir,
);

/// The three-hour stream produced to `topic` and the live window reading
/// it from the earliest offset, every event read.
fn replayed(topic: &str) -> Replayed {
    let (broker, dir) = with_topic(topic);
    let events = stream();
    let lines: Vec<String> = events
        .iter()
        .map(|(t, c, e)| {
            format!(
                r#"{{"customer_id":"{c}","event":"{e}","timestamp":"{}"}}"#,
                rfc3339(*t)
            )
        })
        .collect();
    let file = dir.path().join(format!("{topic}.jsonl"));
    write_lines(&file, &lines);
    produce(&broker, topic, &file);
    let request = LiveRequest {
        spec: journeyscope::source::kafka::KafkaSpec {
            detect_wait: Duration::from_secs(20),
            ..journeyscope::source::kafka::KafkaSpec::new(
                broker.brokers(),
                topic,
                journeyscope::source::kafka::StartAt::Earliest,
                Vec::new(),
            )
        },
        state: None,
        lateness_us: 10_000_000,
        alerts: Vec::new(),
        alerts_file: None,
        alert_outputs: Default::default(),
        triggers: Vec::new(),
        trigger_outputs: Default::default(),
        merged: None,
    };
    let settings =
        journeyscope::commands::settings(&journeyscope::cli::MappingArgs::defaults(), None, None)
            .unwrap_or_else(|_| panic!("settings"));
    let open = Command::OpenKafka(Box::new(request.clone()));
    let mut h = Harness::builder()
        .with_size([1400.0, 860.0])
        .wgpu()
        .build_eframe(move |cc| Window::new(None, settings, Some(open), &cc.egui_ctx));
    let newest = *events.iter().map(|(t, _, _)| t).max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    // Every message read, not only the newest event (the partitions are
    // read side by side: the newest may come before another's last).
    let messages = lines.len() as u64;
    let read_all = |h: &Harness<'_, Window>| match &h.state().app.screen {
        Screen::Live(live) => live.latest.as_ref().is_some_and(|s| {
            s.newest_event_us == Some(newest) && s.status.progress.consumed == messages
        }),
        _ => false,
    };
    while !read_all(&h) {
        assert!(Instant::now() < deadline, "the topic was not read in 90 s");
        std::thread::sleep(Duration::from_millis(30));
        h.run_steps(1);
    }
    (h, events, request, broker, dir)
}

#[test]
fn an_hour_earlier_is_whole_on_a_replayed_topic_and_a_reconnect_keeps_it() {
    let (mut h, events, request, _broker, _dir) = replayed("three-hours");
    let newest = *events.iter().map(|(t, _, _)| t).max().unwrap();
    // Picked only now, long after the reader passed the hour it needs.
    h.state_mut()
        .app
        .apply(Command::Live(LiveCommand::SetWindow(LiveWindow::Last(900))));
    h.state_mut()
        .app
        .apply(Command::Live(LiveCommand::CompareWith(Some(
            Before::Earlier(3600),
        ))));
    let deadline = Instant::now() + Duration::from_secs(60);
    let compare = loop {
        h.run_steps(1);
        if let Screen::Live(live) = &h.state().app.screen
            && let Some(c) = live.latest.as_ref().and_then(|s| s.summary.compare.clone())
            && c.a
                .segment
                .trim_start_matches("time:")
                .split_once("..")
                .map(|(a, _)| micros(a))
                == Some(newest - 15 * MINUTE_US)
        {
            break c;
        }
        assert!(Instant::now() < deadline, "no comparison in 60 s");
        std::thread::sleep(Duration::from_millis(30));
    };
    let (b_from, b_to) = compare
        .b
        .segment
        .trim_start_matches("time:")
        .split_once("..")
        .unwrap();
    let (b_from, b_to) = (micros(b_from), micros(b_to));
    assert_eq!(b_to, newest - 60 * MINUTE_US);
    assert_eq!(
        compare.b.sessions,
        sessions_between(&events, b_from, b_to),
        "the earlier stretch is whole"
    );
    assert_eq!(
        compare.a.sessions,
        sessions_between(&events, newest - 15 * MINUTE_US, newest),
    );

    // Back to sources and connect again: the same window and comparison.
    let live = reconnect(&mut h, request);
    assert_eq!(live.window(), LiveWindow::Last(900));
    assert_eq!(live.compared_with(), Some(Before::Earlier(3600)));
}

/// Back to sources and the same topic opened again; the live screen.
fn reconnect<'h>(h: &'h mut Harness<'static, Window>, request: LiveRequest) -> &'h LiveScreen {
    h.state_mut().app.apply(Command::CloseSource);
    h.run_steps(1);
    h.state_mut()
        .app
        .apply(Command::OpenKafka(Box::new(request)));
    h.run_steps(1);
    let Screen::Live(live) = &h.state().app.screen else {
        panic!("not on the live screen")
    };
    live
}

/// Sessions of the events in `[from_us, to_us)`, read as a file.
fn sessions_in(events: &[(i64, String, &str)], from_us: i64, to_us: i64) -> u64 {
    sessions_between(events, from_us, to_us - 1)
}

#[test]
fn a_custom_range_shows_exactly_its_journeys_and_compares_an_hour_earlier() {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;

    let (mut h, events, request, _broker, _dir) = replayed("custom-range");
    // Typed in the display zone (UTC here): 01:10 to 01:40 of the second
    // hour, thirty minutes, with the hour before it wholly read.
    let from = START_US + 70 * MINUTE_US;
    let to = START_US + 100 * MINUTE_US;
    h.get_by_role_and_label(Role::ComboBox, "Show").click();
    h.run_steps(2);
    h.get_by_label("Custom…").click();
    h.run_steps(2);
    retype(&mut h, "From", "2026-11-27 01:10");
    retype(&mut h, "To", "01:40");
    h.get_by_label("Show range").click();
    h.run_steps(2);
    let range_shown = |h: &Harness<'_, Window>| match &h.state().app.screen {
        Screen::Live(live) => live
            .latest
            .as_ref()
            .filter(|s| {
                s.status.window
                    == LiveWindow::Range(journeyscope::engine::live_range::EventRange {
                        from_us: from,
                        to_us: to,
                    })
            })
            .map(|s| s.journeys.sessions),
        _ => None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let sessions = loop {
        h.run_steps(1);
        if let Some(sessions) = range_shown(&h) {
            break sessions;
        }
        assert!(Instant::now() < deadline, "the range was not shown in 30 s");
        std::thread::sleep(Duration::from_millis(30));
    };
    assert_eq!(sessions, sessions_in(&events, from, to));
    // The header says which range, in local time.
    assert_eq!(
        h.get_by_role_and_label(Role::ComboBox, "Show")
            .value()
            .as_deref(),
        Some("01:10–01:40")
    );

    // Compared with an hour earlier: the same thirty minutes, 00:10–00:40.
    h.get_by_role_and_label(Role::ComboBox, "Compare with")
        .click();
    h.run_steps(2);
    h.get_by_label("1 hour earlier").click();
    let deadline = Instant::now() + Duration::from_secs(30);
    let compare = loop {
        h.run_steps(1);
        if let Screen::Live(live) = &h.state().app.screen
            && let Some(c) = live.latest.as_ref().and_then(|s| s.summary.compare.clone())
        {
            break c;
        }
        assert!(Instant::now() < deadline, "no comparison in 30 s");
        std::thread::sleep(Duration::from_millis(30));
    };
    let bounds = |segment: &str| {
        let (a, b) = segment
            .trim_start_matches("time:")
            .split_once("..")
            .unwrap();
        (micros(a), micros(b))
    };
    assert_eq!(bounds(&compare.a.segment), (from, to));
    assert_eq!(
        bounds(&compare.b.segment),
        (from - 60 * MINUTE_US, to - 60 * MINUTE_US)
    );
    assert_eq!(compare.a.sessions, sessions);
    assert_eq!(
        compare.b.sessions,
        sessions_in(&events, from - 60 * MINUTE_US, to - 60 * MINUTE_US)
    );

    // A reconnect keeps the range.
    let live = reconnect(&mut h, request);
    assert_eq!(
        live.window().range().map(|r| (r.from_us, r.to_us)),
        Some((from, to))
    );
}
