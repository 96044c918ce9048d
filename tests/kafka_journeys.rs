//! The variants and the expected journey on a topic read live equal them
//! on the same events as a file: against a real broker (tansu), a
//! window's variants are the file's of just those events, and its conforming
//! sessions and first deviations are the file's; the sessions the stream
//! still holds open and on the journey are among the file's `left` ones,
//! counted apart as `open`.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::broker::*;
use serde_json::Value;

const JOURNEY: &str = "product_view > add_to_cart > view_cart? > checkout > payment > purchase";

/// Deviations by (after, kind, touchpoint).
fn deviations(conformance: &Value) -> BTreeMap<(String, String, String), u64> {
    conformance["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap().to_owned();
            (
                (text("after"), text("kind"), text("touchpoint")),
                d["sessions"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_stream_keeps_to_the_journey_as_its_file_does() {
    let (broker, dir) = with_topic("journeys");
    let file = generated(dir.path(), "events.jsonl", 30_000, true);
    produce(&broker, "journeys", &file);
    // The last 12 hours, against a file of just those events (a window's
    // sessions begin at its start).
    let mut args = live_args(
        &broker,
        "journeys",
        &["--journey", JOURNEY, "--window", "12h", "--top", "15"],
    );
    args.push("--variants".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let streamed = json(&run(&args));
    let events = accepted_events(&lines(&file));
    let newest = events.iter().map(|(_, t)| *t).max().unwrap();
    let inside: Vec<String> = events
        .iter()
        .filter(|(_, t)| *t >= newest - 12 * 3600 * 1_000_000)
        .map(|(l, _)| l.clone())
        .collect();
    let just_those = dir.path().join("last-12h.jsonl");
    write_lines(&just_those, &inside);
    let from_file = json(&run(&[
        "summarize",
        just_those.to_str().unwrap(),
        "--journey",
        JOURNEY,
        "--variants",
        "--top",
        "15",
        "--format",
        "json",
    ]));
    assert_eq!(from_file["variants"]["top"].as_array().unwrap().len(), 15);
    assert_eq!(streamed["variants"], from_file["variants"]);
    let (live, whole) = (&streamed["conformance"], &from_file["conformance"]);
    assert!(whole["conforming"].as_u64().unwrap() > 0, "{whole}");
    assert_eq!(live["conforming"], whole["conforming"]);
    assert_eq!(live["median_duration_s"], whole["median_duration_s"]);
    let open = live["open"].as_u64().unwrap_or(0);
    assert!(open > 0, "the newest sessions are still open: {live}");
    assert_eq!(live["entered"], whole["entered"]);
    // Every way out but `left` is the file's; `left` less the open ones.
    let (mut in_live, mut in_file) = (deviations(live), deviations(whole));
    let left = |d: &mut BTreeMap<(String, String, String), u64>| -> u64 {
        let keys: Vec<_> = d.keys().filter(|k| k.1 == "left").cloned().collect();
        keys.iter().map(|k| d.remove(k).unwrap()).sum()
    };
    assert_eq!(left(&mut in_live) + open, left(&mut in_file));
    assert_eq!(in_live, in_file);
}
