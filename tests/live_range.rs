//! A custom live window: the journeys of a fixed range `[from, to)` of
//! event time are exactly those of a file holding only its events; a range
//! outside the kept past is refused, naming how much is kept; a range
//! picked stays whole as the kept past moves on; and a range compared with
//! an earlier stretch compares equal lengths, both wholly kept, or not at
//! all. Typed times are read in the display zone.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono_tz::Tz;
use journeyscope::app::live::{range_before, range_from_to, read_moment};
use journeyscope::engine::live_range::{EventRange, RangeComparison, RangeError};
use journeyscope::engine::{
    EngineConfig, EventBatch, JourneyBuilder, Journeys, LiveEngine, NewEvent,
};

const MINUTE_US: i64 = 60 * 1_000_000;
/// 2026-11-27T00:00:00Z.
const START_US: i64 = 1_795_737_600 * 1_000_000;

type Event = (i64, String, &'static str);

/// Three hours of sessions, one every 4 s: home, product_view, then
/// add_to_cart for 3 in 5 and purchase for 1 in 3 of those, two minutes
/// apart, with a break in checkout (no purchase) in the third hour.
fn stream() -> Vec<Event> {
    let mut events = Vec::new();
    for n in 0..(3 * 3600 / 4) {
        let t = START_US + n * 4_000_000;
        let mut steps = vec!["home", "product_view"];
        if n % 5 < 3 {
            steps.push("add_to_cart");
            if n % 3 == 0 && t < START_US + 120 * MINUTE_US {
                steps.push("purchase");
            }
        }
        for (k, step) in steps.into_iter().enumerate() {
            events.push((t + k as i64 * 2 * MINUTE_US, format!("c{n}"), step));
        }
    }
    events.sort_by_key(|e| e.0);
    events
}

fn batch_of(events: &[Event]) -> EventBatch {
    let mut batch = EventBatch::default();
    for (t, customer, event) in events {
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
    batch
}

/// The events taken in a minute at a time, by an engine that keeps the
/// default hour.
fn live(events: &[Event], mut before_each: impl FnMut(&mut LiveEngine, i64)) -> LiveEngine {
    let mut engine = LiveEngine::new(EngineConfig::default(), 10_000_000);
    for chunk in events.chunk_by(|a, b| a.0 / MINUTE_US == b.0 / MINUTE_US) {
        before_each(&mut engine, chunk[0].0);
        engine.ingest(&batch_of(chunk));
    }
    engine
}

/// The journeys of just the events in `[from_us, to_us)`, read as a file.
fn file_between(events: &[Event], from_us: i64, to_us: i64) -> Journeys {
    let inside: Vec<Event> = events
        .iter()
        .filter(|e| (from_us..to_us).contains(&e.0))
        .cloned()
        .collect();
    let mut builder = JourneyBuilder::new(EngineConfig::default());
    builder.ingest(&batch_of(&inside));
    builder.finish()
}

fn assert_same(live: &Journeys, file: &Journeys) {
    assert!(file.events > 100, "the range holds events");
    assert_eq!(live.graph.node_reports(), file.graph.node_reports());
    assert_eq!(live.graph.edge_reports(), file.graph.edge_reports());
    assert_eq!(
        (live.events, live.customers, live.sessions),
        (file.events, file.customers, file.sessions)
    );
    assert_eq!(live.time_range_us, file.time_range_us);
}

fn newest(events: &[Event]) -> i64 {
    events.last().unwrap().0
}

#[test]
fn a_custom_range_is_exactly_the_journeys_of_its_events() {
    let events = stream();
    let engine = live(&events, |_, _| {});
    let newest = newest(&events);
    // From an event's own time (inside) to another's (outside), and a range
    // whose bounds fall between events.
    for (from_us, to_us) in [
        (newest - 50 * MINUTE_US, newest - 20 * MINUTE_US),
        (
            newest - 47 * MINUTE_US + 1_500_000,
            newest - 3 * MINUTE_US - 7,
        ),
    ] {
        let range = EventRange { from_us, to_us };
        let window = range.copy(&engine).unwrap().build();
        assert_same(&window, &file_between(&events, from_us, to_us));
    }
}

#[test]
fn a_range_before_the_kept_past_is_refused_naming_what_is_kept() {
    let events = stream();
    let engine = live(&events, |_, _| {});
    let newest = newest(&events);
    let range = EventRange {
        from_us: newest - 2 * 60 * MINUTE_US,
        to_us: newest - 90 * MINUTE_US,
    };
    let Err(error) = range.copy(&engine) else {
        panic!("refused")
    };
    assert!(
        matches!(error, RangeError::BeforeKept { earlier: false, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("before the kept past"), "{message}");
    assert!(message.contains("the last 1 h of event time"), "{message}");
    let after = EventRange {
        from_us: newest + MINUTE_US,
        to_us: newest + 2 * MINUTE_US,
    };
    assert!(matches!(
        after.copy(&engine),
        Err(RangeError::AfterNewest { .. })
    ));
}

#[test]
fn a_picked_range_stays_whole_as_the_kept_past_moves_on() {
    let events = stream();
    // Picked after 90 minutes of events; two and a half hours old when
    // the last event arrives, far past the hour kept.
    let range = EventRange {
        from_us: START_US + 60 * MINUTE_US,
        to_us: START_US + 80 * MINUTE_US,
    };
    let pinned = live(&events, |engine, t| {
        if t == START_US + 90 * MINUTE_US {
            engine.keep_from(Some(range.from_us));
        }
    });
    let window = range.copy(&pinned).unwrap().build();
    assert_same(&window, &file_between(&events, range.from_us, range.to_us));
    // Without it, the range is forgotten.
    let unpinned = live(&events, |_, _| {});
    assert!(matches!(
        range.copy(&unpinned),
        Err(RangeError::BeforeKept { .. })
    ));
}

/// `time:FROM..TO` of a comparison side, in µs.
fn bounds(segment: &str) -> (i64, i64) {
    let (a, b) = segment
        .trim_start_matches("time:")
        .split_once("..")
        .unwrap();
    let us = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_micros()
    };
    (us(a), us(b))
}

#[test]
fn a_range_compared_with_an_hour_earlier_compares_equal_lengths() {
    let events = stream();
    let newest = newest(&events);
    // Going on ten minutes past the newest event: both stretches end as
    // far into themselves as the newest event is.
    let spec = RangeComparison {
        range: EventRange {
            from_us: newest - 20 * MINUTE_US,
            to_us: newest + 10 * MINUTE_US,
        },
        back_us: 60 * MINUTE_US,
    };
    let engine = live(&events, |engine, _| {
        engine.keep_from(Some(spec.keeps_from_us()))
    });
    let report = spec.copy(&engine).unwrap().compare(false).unwrap();
    let (a, b) = (bounds(&report.a.segment), bounds(&report.b.segment));
    assert_eq!(a, (newest - 20 * MINUTE_US, newest + 1));
    assert_eq!(b, (a.0 - 60 * MINUTE_US, a.1 - 60 * MINUTE_US));
    assert_eq!(a.1 - a.0, b.1 - b.0, "equal lengths");
    assert_eq!(report.a.sessions, file_between(&events, a.0, a.1).sessions);
    assert_eq!(report.b.sessions, file_between(&events, b.0, b.1).sessions);
    // The purchases stopped between the two: the comparison sees it.
    assert!(
        report
            .edges
            .iter()
            .any(|t| t.to == "purchase" && t.difference.significant),
        "purchase flagged"
    );
}

#[test]
fn an_earlier_stretch_not_wholly_kept_or_seen_is_not_compared() {
    let events = stream();
    let newest = newest(&events);
    let range = EventRange {
        from_us: newest - 30 * MINUTE_US,
        to_us: newest,
    };
    // The default hour is kept: an hour before the range is not.
    let engine = live(&events, |_, _| {});
    let an_hour_earlier = RangeComparison {
        range,
        back_us: 60 * MINUTE_US,
    };
    let Err(error) = an_hour_earlier.copy(&engine) else {
        panic!("not compared")
    };
    assert!(
        matches!(error, RangeError::BeforeKept { earlier: true, .. }),
        "{error:?}"
    );
    // The range before it is kept whole.
    let previous = RangeComparison {
        range,
        back_us: range.len_us(),
    };
    let report = previous.copy(&engine).unwrap().compare(false).unwrap();
    let (a, b) = (bounds(&report.a.segment), bounds(&report.b.segment));
    assert_eq!((a.1 - a.0, b.1), (b.1 - b.0, a.0));
    // Read from the third hour on, an hour before the range was never seen.
    let late: Vec<Event> = events
        .iter()
        .filter(|e| e.0 >= START_US + 2 * 60 * MINUTE_US)
        .cloned()
        .collect();
    let engine = live(&late, |engine, _| engine.keep_at_least(3 * 60 * MINUTE_US));
    assert!(matches!(
        an_hour_earlier.copy(&engine),
        Err(RangeError::EarlierNotSeen { .. })
    ));
}

#[test]
fn typed_times_are_read_in_the_display_zone() {
    let zone: Tz = "Europe/Amsterdam".parse().unwrap();
    // 2026-11-27 00:30 UTC is 01:30 in Amsterdam.
    let newest = START_US + 30 * MINUTE_US;
    let utc = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    };
    // A time of day alone is the one nearest the newest event, across
    // midnight too.
    assert_eq!(
        read_moment("01:05", zone, newest),
        Ok(utc("2026-11-27T00:05:00Z"))
    );
    assert_eq!(
        read_moment("23:50", zone, newest),
        Ok(utc("2026-11-26T22:50:00Z"))
    );
    assert_eq!(
        read_moment("01:05:30", zone, newest),
        Ok(utc("2026-11-27T00:05:30Z"))
    );
    assert_eq!(
        read_moment("2026-11-26 14:05", zone, newest),
        Ok(utc("2026-11-26T13:05:00Z"))
    );
    assert_eq!(
        read_moment("2026-11-26T14:05:00Z", zone, newest),
        Ok(utc("2026-11-26T14:05:00Z"))
    );
    for wrong in ["1400", "soon", "25:00", ""] {
        let error = read_moment(wrong, zone, newest).unwrap_err();
        assert!(error.contains("14:05"), "{wrong}: {error}");
    }
    assert_eq!(
        range_from_to("23:50", "01:20", zone, newest),
        Ok(EventRange {
            from_us: utc("2026-11-26T22:50:00Z"),
            to_us: utc("2026-11-27T00:20:00Z"),
        })
    );
    assert!(range_from_to("01:20", "23:50", zone, newest).is_err());
    // Thirty minutes before the newest event, it included.
    assert_eq!(
        range_before("30", "", zone, newest),
        Ok(EventRange {
            from_us: newest + 1 - 30 * MINUTE_US,
            to_us: newest + 1,
        })
    );
    assert_eq!(
        range_before("30", "01:00", zone, newest),
        Ok(EventRange {
            from_us: utc("2026-11-26T23:30:00Z"),
            to_us: utc("2026-11-27T00:00:00Z"),
        })
    );
    assert!(range_before("half an hour", "", zone, newest).is_err());
}
