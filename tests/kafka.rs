//! Live mode against a real broker process (tansu, Kafka-compatible) over
//! TCP: each test starts its own broker on a free port, fills a 4-partition
//! topic with `journeyscope produce` and compares `live --headless` with
//! `summarize` of the same events.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::broker::*;
use serde_json::Value;

#[test]
fn a_stream_gives_exactly_the_summary_of_the_same_file() {
    let (broker, dir) = with_topic("shop");
    // Messy: duplicates, late events and malformed records included.
    let file = generated(dir.path(), "events.jsonl", 20_000, false);
    produce(&broker, "shop", &file);
    let streamed = live_with(&broker, "shop", &[]);
    let kafka = &streamed["kafka"];
    let records = lines(&file).iter().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(kafka["consumed"], records as u64);
    let partitions = kafka["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 4);
    for p in partitions {
        assert_eq!(p["lag"], 0, "{p}");
    }
    let summary = summarize_json(&file);
    assert!(summary["rejected"]["total"].as_u64().unwrap() > 0);
    assert!(summary["duplicates"].as_u64().unwrap() > 0);
    assert_same_summary(streamed, summary.clone(), "stream");

    // With the default 10 s lateness the events written minutes late can
    // no longer be put in order: they are counted as late, and still once.
    let strict = live_with(&broker, "shop", &["--lateness", "10s"]);
    assert!(
        strict["live"]["late"].as_u64().unwrap() > 0,
        "{}",
        strict["live"]
    );
    for field in ["events", "customers", "duplicates"] {
        assert_eq!(strict[field], summary[field], "{field}");
    }
    assert_eq!(strict["rejected"]["total"], summary["rejected"]["total"]);
}

#[test]
fn garbage_messages_are_rejected_and_change_nothing_else() {
    let (broker, dir) = with_topic("messy");
    let clean = generated(dir.path(), "clean.jsonl", 5_000, true);
    let good = lines(&clean);
    let garbage = [
        "{not json",
        "42",
        r#"["a","b"]"#,
        r#"{"event":"home","timestamp":"2026-11-01T00:00:00Z"}"#,
        r#"{"customer_id":"C1","timestamp":"2026-11-01T00:00:00Z"}"#,
        r#"{"customer_id":"C1","event":"home","timestamp":"someday"}"#,
        r#"{"customer_id":"C1","event":{"nested":true},"timestamp":"2026-11-01T00:00:00Z"}"#,
    ];
    let mut mixed = Vec::new();
    let (mut injected, mut rejected) = (0u64, 0u64);
    for (i, line) in good.iter().enumerate() {
        mixed.push(line.clone());
        if i % 10 == 9 {
            let bad = garbage[injected as usize % garbage.len()];
            mixed.push(bad.to_owned());
            injected += 1;
            // Each element of an array that is no event is a record of its own.
            rejected += if bad.starts_with('[') { 2 } else { 1 };
        }
    }
    let messy = dir.path().join("messy.jsonl");
    write_lines(&messy, &mixed);
    produce(&broker, "messy", &messy);
    let streamed = live_with(&broker, "messy", &[]);
    assert_eq!(streamed["rejected"]["total"], rejected);
    let sample = streamed["rejected"]["sample"].as_array().expect("sample");
    assert!(
        sample[0]["position"]
            .as_str()
            .is_some_and(|p| p.starts_with("partition ") && p.contains(" offset ")),
        "{}",
        sample[0]
    );
    let mut without = comparable(streamed);
    let mut reference = comparable(summarize_json(&clean));
    for v in [&mut without, &mut reference] {
        v.as_object_mut().unwrap().remove("rejected");
    }
    assert_same(&without, &reference, "stream without garbage");
}

#[test]
fn late_and_shuffled_events_give_the_in_order_graph() {
    let (broker, dir) = with_topic("late");
    let file = generated(dir.path(), "ordered.jsonl", 8_000, true);
    let ordered = lines(&file);
    // Swap neighbouring events of the same customer whose times differ by
    // less than ten seconds, so they arrive out of order but within the
    // lateness.
    let parsed: Vec<Value> = ordered
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp_micros()
    };
    let mut shuffled = ordered.clone();
    let mut last_of: std::collections::HashMap<String, usize> = Default::default();
    let mut swaps = 0;
    for i in 0..parsed.len() {
        let customer = parsed[i]["customer_id"].as_str().unwrap().to_owned();
        if let Some(&j) = last_of.get(&customer) {
            let gap = time(&parsed[i]) - time(&parsed[j]);
            if gap > 0 && gap < 10_000_000 && shuffled[j] == ordered[j] {
                shuffled.swap(i, j);
                swaps += 1;
                last_of.remove(&customer);
                continue;
            }
        }
        last_of.insert(customer, i);
    }
    assert!(swaps > 50, "only {swaps} late events");
    let late = dir.path().join("late.jsonl");
    write_lines(&late, &shuffled);
    produce(&broker, "late", &late);
    let streamed = live_with(&broker, "late", &["--lateness", "10s"]);
    // Each swap brings one event after a newer one of the same customer,
    // within the 10 s lateness.
    assert_eq!(streamed["live"]["reordered"], swaps);
    assert_eq!(streamed["live"]["late"], 0);
    assert_same_summary(streamed, summarize_json(&file), "stream");
}

#[test]
fn a_broker_restart_mid_stream_loses_and_doubles_nothing() {
    let mut broker = Broker::durable();
    broker.create_topic("restart");
    let dir = tempfile::tempdir().unwrap();
    let parts = two_parts(dir.path(), 10_000, 0.5);
    let (file, (first_file, first), (second_file, second)) =
        (parts.file, parts.first, parts.second);
    produce(&broker, "restart", &first_file);

    let args = live_args(&broker, "restart", &["--until-idle", "12s"]);
    let viewer = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("live");
    std::thread::sleep(Duration::from_secs(3));
    broker.stop();
    std::thread::sleep(Duration::from_secs(2));
    broker.run();
    produce(&broker, "restart", &second_file);
    let out = viewer.wait_with_output().expect("live output");
    assert!(out.status.success(), "live: {}", stderr(&out));
    let streamed = json(&out);
    assert_eq!(streamed["kafka"]["consumed"], first + second);
    assert_same_summary(streamed, summarize_json(&file), "stream");
}

#[test]
fn a_time_window_equals_the_summary_of_just_those_events() {
    let (broker, dir) = with_topic("window");
    let file = generated(dir.path(), "events.jsonl", 30_000, false);
    produce(&broker, "window", &file);
    let events = accepted_events(&lines(&file));
    let newest = events.iter().map(|(_, t)| *t).max().expect("events");
    for (window, seconds) in [("5m", 300i64), ("6h", 6 * 3600)] {
        let streamed = live_with(&broker, "window", &["--window", window]);
        assert_eq!(streamed["live"]["window_s"], seconds as f64);
        let inside: Vec<String> = events
            .iter()
            .filter(|(_, t)| *t >= newest - seconds * 1_000_000)
            .map(|(l, _)| l.clone())
            .collect();
        assert!(!inside.is_empty());
        let just_those = dir.path().join(format!("window-{window}.jsonl"));
        assert_same_as_lines(streamed, &inside, &just_those, window);
    }
}

#[test]
fn a_saved_state_resumes_without_losing_or_doubling_an_event() {
    let (broker, dir) = with_topic("resume");
    let parts = two_parts(dir.path(), 12_000, 2.0 / 3.0);
    let (file, (first_file, first), (second_file, second)) =
        (parts.file, parts.first, parts.second);
    let state = dir.path().join("live.state");
    let with_state = ["--state", state.to_str().unwrap()];

    produce(&broker, "resume", &first_file);
    let before = live_with(&broker, "resume", &with_state);
    assert!(state.exists(), "the state was saved");
    assert_eq!(
        before["kafka"]["consumed"], first,
        "{} events; {}",
        before["events"], before["kafka"]
    );

    // Stopped; more events arrive; resumed from the saved state.
    produce(&broker, "resume", &second_file);
    let after = live_with(&broker, "resume", &with_state);
    // The topic's own offsets: no message was produced twice, and the
    // resumed run read each offset past the saved state's once.
    let offsets = |v: &Value, field: &str| -> i64 {
        v["kafka"]["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .map(|p| p[field].as_i64().expect("offset"))
            .sum()
    };
    let seen = format!("before: {}; after: {}", before["kafka"], after["kafka"]);
    assert!(
        offsets(&after, "high_watermark") <= (first + second) as i64,
        "no message was produced twice; {seen}"
    );
    assert_eq!(
        offsets(&after, "next_offset") - offsets(&before, "next_offset"),
        second as i64,
        "{seen}"
    );
    assert_eq!(
        after["kafka"]["consumed"], second,
        "only the new messages are read again; {seen}"
    );
    assert_same_summary(after, summarize_json(&file), "resumed");

    // Resumed again with nothing new: the same journeys, no detection needed.
    let quiet = live_with(&broker, "resume", &with_state);
    assert_eq!(quiet["kafka"]["consumed"], 0);
    assert_same_summary(quiet, summarize_json(&file), "resumed, quiet");

    // Events already applied were ordered with 5 minutes of lateness: the
    // state does not go on with another.
    let mut flags = with_state.to_vec();
    flags.extend(["--lateness", "10s"]);
    let out = Command::new(BIN)
        .args(live_args(&broker, "resume", &flags))
        .output()
        .expect("live");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("allowed lateness of 5m"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_consumer_group_commits_only_what_the_saved_state_covers() {
    let (broker, dir) = with_topic("group");
    let parts = two_parts(dir.path(), 6_000, 0.5);
    let (file, (first_file, first), (second_file, second)) =
        (parts.file, parts.first, parts.second);
    let state = dir.path().join("group.state");
    let in_group = |extra: &[&str]| {
        // The broker's first join of a group waits half the session
        // timeout (22.5 s by default) for more members.
        let mut flags = vec!["--group", "war-room", "-X", "session.timeout.ms=6000"];
        flags.extend_from_slice(extra);
        live_with(&broker, "group", &flags)
    };
    let state_flag = ["--state", state.to_str().unwrap()];

    produce(&broker, "group", &first_file);
    let before = in_group(&state_flag);
    assert_eq!(
        before["kafka"]["consumed"], first,
        "{} events; {}",
        before["events"], before["kafka"]
    );

    produce(&broker, "group", &second_file);
    let after = in_group(&state_flag);
    assert_eq!(after["kafka"]["consumed"], second);
    assert_same_summary(after, summarize_json(&file), "group");

    // The group's committed offsets are where the saved state ends: a
    // member without the state reads nothing more.
    let columns = [
        "--customer",
        "customer_id",
        "--event",
        "event",
        "--time",
        "timestamp",
    ];
    let rest = in_group(&columns);
    assert_eq!(rest["kafka"]["consumed"], 0);
    assert_eq!(rest["events"], 0);
}

#[test]
fn unknown_topics_and_unreachable_brokers_are_explained() {
    let broker = Broker::start();
    broker.create_topic("known");
    let live = |brokers: &str, topic: &str| {
        Command::new(BIN)
            .args(["live", "--brokers", brokers, "--topic", topic])
            .args(["--headless", "--until-idle", "1s"])
            .args(["-X", "sasl.password=hunter2"])
            .output()
            .expect("run live")
    };
    let out = live(&broker.brokers(), "unknown");
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains("topic `unknown` was not found"),
        "{message}"
    );
    assert!(message.contains("known"), "{message}");
    assert!(!message.contains("hunter2"), "a secret was printed");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let out = live(&format!("127.0.0.1:{closed}"), "known");
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(message.contains("cannot reach the brokers"), "{message}");
    assert!(!message.contains("hunter2"), "a secret was printed");
}

#[test]
fn starting_from_a_time_reads_only_what_was_produced_since() {
    let (broker, dir) = with_topic("since");
    let parts = two_parts(dir.path(), 4_000, 0.5);
    produce(&broker, "since", &parts.first.0);
    std::thread::sleep(Duration::from_millis(1500));
    let since = chrono::Utc::now() - chrono::Duration::milliseconds(500);
    produce(&broker, "since", &parts.second.0);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let streamed = live_with(&broker, "since", &["--from", &since]);
    assert_eq!(streamed["kafka"]["consumed"], parts.second.1);
    assert_same_summary(streamed, summarize_json(&parts.second.0), "since");
}

#[test]
fn every_prints_json_lines_while_consuming() {
    let (broker, dir) = with_topic("every");
    let file = generated(dir.path(), "events.jsonl", 3_000, false);
    produce(&broker, "every", &file);
    let args = live_args(&broker, "every", &["--until-idle", "4s", "--every", "1s"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    // One compact JSON object per line while consuming, then the final
    // summary (pretty-printed) once the topic is quiet.
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with("{\"") && l.ends_with('}'))
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines.len() >= 2, "{} JSON lines", lines.len());
    let last = lines.last().unwrap();
    assert_eq!(
        comparable(last.clone())["events"],
        summarize_json(&file)["events"]
    );
    for line in &lines {
        assert!(line["kafka"]["consumed"].is_u64());
    }
}

/// `bench --kafka` gives a ratio only when its plain consumer is fast
/// enough to measure Journeyscope rather than the broker (300k messages/s).
#[test]
fn the_kafka_bench_gives_no_ratio_against_a_slow_broker() {
    let broker = Broker::start();
    let out = run(&[
        "bench",
        "--kafka",
        "--brokers",
        &broker.brokers(),
        "--runs",
        "1",
        "--events",
        "20000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let plain: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("run 1: plain consumer "))
        .and_then(|rest| rest.split_once('(')?.1.split_once("/s)"))
        .and_then(|(rate, _)| rate.parse().ok())
        .unwrap_or_else(|| panic!("no plain consumer rate in:\n{text}"));
    let refused = text.contains("no ratio: the plain consumer read only");
    let ratio = text.contains("% of the plain consumer's");
    assert_eq!(refused, plain < 300_000.0, "{plain}/s:\n{text}");
    assert_eq!(ratio, !refused, "{text}");
}

/// `live --headless --compare 6h` compares the last six hours of event time
/// with the six before, each as it stood at the same age (only its own
/// events): its rows equal `summarize --compare` of the two windows'
/// events, cut out here, the earlier window's customers renamed so that
/// none of its sessions runs on into the later one, with the same time
/// segments.
#[test]
fn now_against_before_equals_a_comparison_of_the_two_windows_events() {
    let (broker, dir) = with_topic("before");
    let file = generated(dir.path(), "events.jsonl", 30_000, true);
    produce(&broker, "before", &file);
    let events = accepted_events(&lines(&file));
    let newest = events.iter().map(|(_, t)| *t).max().expect("events");
    let streamed = live_with(&broker, "before", &["--compare", "6h"]);
    let got = &streamed["compare"];
    let (a, b) = (
        got["a"]["segment"].as_str().unwrap(),
        got["b"]["segment"].as_str().unwrap(),
    );
    assert!(a.starts_with("time:") && a.ends_with(".."), "{a}");
    let split = newest - 6 * 3600 * 1_000_000;
    // Each window holds the events up to and at its own end.
    let inside: Vec<String> = events
        .iter()
        .filter(|(_, t)| *t >= split - 6 * 3600 * 1_000_000)
        .flat_map(|(l, t)| {
            let before = (*t <= split)
                .then(|| l.replacen("\"customer_id\":\"", "\"customer_id\":\"before-", 1));
            let now = (*t >= split).then(|| l.clone());
            before.into_iter().chain(now)
        })
        .collect();
    let both = dir.path().join("both-windows.jsonl");
    write_lines(&both, &inside);
    let out = run(&[
        "summarize",
        both.to_str().unwrap(),
        "--format",
        "json",
        "--compare",
        a,
        "--compare",
        b,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let want = &json(&out)["compare"];
    for side in ["a", "b"] {
        assert_eq!(got[side], want[side], "{side}");
        assert!(
            got[side]["sessions"].as_u64().unwrap() > 50,
            "{side}: {}",
            got[side]
        );
    }
    assert_eq!(got["edges"], want["edges"]);
    assert_eq!(got["nodes"], want["nodes"]);
}

/// Who is here now: the open sessions per touchpoint at the end of the
/// stream equal a recomputation here (each customer's last event, open when
/// it is within the 30-minute timeout of the newest event).
#[test]
fn open_sessions_per_touchpoint_equal_a_recomputation() {
    let (broker, dir) = with_topic("here-now");
    let file = generated(dir.path(), "events.jsonl", 20_000, true);
    produce(&broker, "here-now", &file);
    let streamed = live_with(&broker, "here-now", &[]);
    let mut last: std::collections::BTreeMap<String, (i64, String)> = Default::default();
    for (line, time) in accepted_events(&lines(&file)) {
        let v: Value = serde_json::from_str(&line).unwrap();
        let customer = v["customer_id"].as_str().unwrap().to_owned();
        let event = v["event"].as_str().unwrap().to_owned();
        let entry = last.entry(customer).or_insert((time, event.clone()));
        if time >= entry.0 {
            *entry = (time, event);
        }
    }
    let newest = last.values().map(|(t, _)| *t).max().unwrap();
    let mut want: std::collections::BTreeMap<String, u64> = Default::default();
    for (time, event) in last.values() {
        if newest - time <= 30 * 60 * 1_000_000 {
            *want.entry(event.clone()).or_default() += 1;
        }
    }
    let got: std::collections::BTreeMap<String, u64> = streamed["open_sessions"]
        .as_array()
        .expect("open_sessions")
        .iter()
        .map(|o| {
            (
                o["touchpoint"].as_str().unwrap().to_owned(),
                o["sessions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(want.values().sum::<u64>() >= 3, "{want:?}");
    assert_eq!(got, want);
}
