//! `live --headless --window-from T --window-to T` against a real broker:
//! the JSON of a fixed range equals `summarize` of just its events and
//! names the range; a range nothing of which was read is refused, saying
//! what was read.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::broker::*;

const MINUTE_US: i64 = 60 * 1_000_000;

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[test]
fn a_fixed_range_equals_the_summary_of_just_its_events() {
    let (broker, dir) = with_topic("range");
    let file = generated(dir.path(), "events.jsonl", 30_000, false);
    produce(&broker, "range", &file);
    let events = accepted_events(&lines(&file));
    let mut times: Vec<i64> = events.iter().map(|(_, t)| *t).collect();
    times.sort_unstable();
    // Whole seconds, from about the middle of the stream to four fifths.
    let second = |us: i64| us / 1_000_000 * 1_000_000;
    let from = second(times[times.len() / 2]);
    let to = second(times[times.len() * 4 / 5]) + 1_000_000;
    let streamed = live_with(
        &broker,
        "range",
        &["--window-from", &rfc3339(from), "--window-to", &rfc3339(to)],
    );
    assert_eq!(streamed["live"]["window_from"], rfc3339(from));
    assert_eq!(streamed["live"]["window_to"], rfc3339(to));
    assert_eq!(streamed["live"]["window_s"], (to - from) as f64 / 1e6);
    let inside: Vec<String> = events
        .iter()
        .filter(|(_, t)| (from..to).contains(t))
        .map(|(l, _)| l.clone())
        .collect();
    assert!(inside.len() > 100);
    let just_those = dir.path().join("range.jsonl");
    assert_same_as_lines(streamed, &inside, &just_those, "range");

    // A day before anything read: refused, saying what was read.
    let day = 24 * 60 * MINUTE_US;
    let (from, to) = (times[0] - day, times[0] - day + 30 * MINUTE_US);
    let args = live_args(
        &broker,
        "range",
        &["--window-from", &rfc3339(from), "--window-to", &rfc3339(to)],
    );
    let out = Command::new(BIN).args(&args).output().expect("live");
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("nothing of it was read"), "{message}");
    assert!(message.contains("Events read span"), "{message}");
}
