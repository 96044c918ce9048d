//! Workers in a consumer group against a real broker process (tansu): an
//! 8-partition topic keyed by customer, with duplicates, late events and
//! 10 % garbage, read by 1 or 3 workers (one joining late, one killed
//! outright and replaced); the merged view of their snapshots must equal
//! `summarize` of the same file, every field but the rejected sample.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::broker::*;
use serde_json::Value;

const TOPIC: &str = "shop";
const STATE: &str = "shop-state";

/// A generated messy file with a garbage line after every ninth, split in
/// two halves to produce apart.
fn messy_file(dir: &Path) -> (PathBuf, [PathBuf; 2]) {
    let file = generated(dir, "events.jsonl", 12_000, false);
    let garbage = [
        "{not json",
        "42",
        r#"{"event":"home","timestamp":"2026-11-01T00:00:00Z"}"#,
    ];
    let mut mixed = Vec::new();
    for (i, line) in lines(&file).into_iter().enumerate() {
        mixed.push(line);
        if i % 9 == 8 {
            mixed.push(garbage[i % garbage.len()].to_owned());
        }
    }
    let whole = dir.join("messy.jsonl");
    write_lines(&whole, &mixed);
    let half = mixed.len() / 2;
    let halves = [dir.join("first.jsonl"), dir.join("second.jsonl")];
    write_lines(&halves[0], &mixed[..half]);
    write_lines(&halves[1], &mixed[half..]);
    (whole, halves)
}

/// A broker with the 8-partition input topic.
fn broker() -> (Broker, tempfile::TempDir) {
    let broker = Broker::start();
    broker.create_topic_with(TOPIC, 8);
    (broker, tempfile::tempdir().unwrap())
}

/// A worker process of job `job` in group `group`.
fn worker(broker: &Broker, group: &str, job: &str, flags: &[&str]) -> Child {
    Command::new(BIN)
        .args(["worker", "--brokers", &broker.brokers(), "--topic", TOPIC])
        .args(["--group", group, "--job", job, "--state-topic", STATE])
        .args([
            "--every",
            "1s",
            "--lateness",
            "5m",
            "--chunk-bytes",
            "20000",
        ])
        .args([
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=500",
        ])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker")
}

/// Asks a worker to finish (SIGTERM) and waits for it: it publishes once
/// more and exits cleanly.
fn finish(child: Child) {
    // SAFETY: a plain kill(2) of our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a worker asked to finish exits cleanly: {}: {}",
        out.status,
        stderr(&out)
    );
}

/// The merged view once every partition's snapshot covers its end.
fn merged(broker: &Broker, flags: &[&str]) -> Value {
    let mut args = vec!["live", "--headless", "--brokers"];
    let brokers = broker.brokers();
    args.push(&brokers);
    args.extend([
        "--state-topic",
        STATE,
        "--until-caught-up",
        "--format",
        "json",
    ]);
    args.extend(flags);
    json(&run(&args))
}

/// The merged view against the file's summary; the workers' report apart.
fn assert_merged_is_the_file(merged: Value, file: &Path, flags: &[&str], what: &str) {
    let workers = merged["workers"].clone();
    assert_eq!(workers["partitions"], 8, "{workers}");
    assert_eq!(workers["reported"], 8, "{workers}");
    assert_eq!(workers["customers_split"], 0, "{workers}");
    let mut args = vec!["summarize".to_owned(), file.display().to_string()];
    args.extend(["--format".to_owned(), "json".to_owned()]);
    args.extend(flags.iter().map(|f| f.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let want = json(&run(&args));
    assert!(want["rejected"]["total"].as_u64().unwrap() > 1000);
    assert!(want["duplicates"].as_u64().unwrap() > 0);
    let mut got = merged;
    got.as_object_mut().unwrap().remove("workers");
    assert_same_summary(got, want, what);
}

/// Waits until `done` holds of the merged view (polled), for at most a minute.
fn wait_for_merged(broker: &Broker, what: &str, done: impl Fn(&Value) -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(BIN)
            .args(["live", "--headless", "--brokers", &broker.brokers()])
            .args(["--state-topic", STATE, "--every", "2s", "--format", "json"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(3));
        let mut child = out;
        child.kill().ok();
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        if text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .any(|v| done(&v))
        {
            return;
        }
        assert!(Instant::now() < until, "{what}: not seen within a minute");
    }
}

#[test]
fn one_worker_and_three_give_exactly_the_summary_of_the_file() {
    let (broker, dir) = broker();
    let (whole, _) = messy_file(dir.path());
    produce(&broker, TOPIC, &whole);
    let one = worker(&broker, "one", "one", &[]);
    let view = merged(&broker, &["--job", "one"]);
    // A window of the merged view is the window of one reader of the topic.
    let window = ["--window", "30m"];
    let mut merged_window = merged(&broker, &[&["--job", "one"][..], &window].concat());
    finish(one);
    let read = live_with(&broker, TOPIC, &window);
    assert!(read["events"].as_u64().unwrap() > 0);
    merged_window.as_object_mut().unwrap().remove("workers");
    assert_same_summary(merged_window, read, "a window of the merged view");
    assert_merged_is_the_file(view, &whole, &[], "1 worker");

    let three: Vec<Child> = (0..3)
        .map(|_| worker(&broker, "three", "three", &[]))
        .collect();
    let view = merged(&broker, &["--job", "three"]);
    let by: std::collections::BTreeSet<String> = view["workers"]["by_partition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["worker"].as_str().unwrap().to_owned())
        .collect();
    three.into_iter().for_each(finish);
    assert!(by.len() >= 2, "the partitions were shared: {by:?}");
    // Snapshots larger than --chunk-bytes (20,000) went as chunks.
    let largest = view["workers"]["by_partition"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bytes"].as_u64().unwrap())
        .max();
    assert!(largest > Some(40_000), "{largest:?}");
    assert_merged_is_the_file(view, &whole, &[], "3 workers");
}

#[test]
fn a_worker_joining_late_or_killed_outright_loses_and_repeats_nothing() {
    let (broker, dir) = broker();
    let (whole, halves) = messy_file(dir.path());
    produce(&broker, TOPIC, &halves[0]);
    let first = worker(&broker, "g", "late", &[]);
    let mut killed = worker(&broker, "g", "late", &[]);
    wait_for_merged(&broker, "the first half in snapshots", |v| {
        v["workers"]["reported"] == 8
    });
    // The second half arrives and one worker is killed outright while it
    // reads it (before its next snapshot: what it read since is read again
    // by the partitions' next owner); another joins as the group
    // rebalances.
    produce(&broker, TOPIC, &halves[1]);
    std::thread::sleep(Duration::from_millis(300));
    killed.kill().unwrap();
    killed.wait().unwrap();
    let late = worker(&broker, "g", "late", &[]);
    let view = merged(&broker, &["--job", "late"]);
    finish(first);
    finish(late);
    assert_merged_is_the_file(view, &whole, &[], "a worker killed and one late");
}

#[test]
fn two_jobs_on_one_state_topic_stay_apart_and_garbage_there_is_counted() {
    let (broker, dir) = broker();
    let (whole, _) = messy_file(dir.path());
    produce(&broker, TOPIC, &whole);
    // Messages that are no snapshots, on the state topic itself.
    let junk = dir.path().join("junk.jsonl");
    let event = r#"{"customer_id":"c1","event":"home","timestamp":"2026-11-01T00:00:00Z"}"#;
    let lines = [event, "JSCOPEsn\u{1}\u{0}\u{0}\u{0}old"];
    write_lines(&junk, &lines.map(str::to_owned));
    broker.create_topic_with(STATE, 1);
    produce(&broker, STATE, &junk);
    let short = ["--session-timeout", "5m"];
    let a = worker(&broker, "a", "a", &[]);
    let b = worker(&broker, "b", "b", &short);
    let view_a = merged(&broker, &["--job", "a"]);
    let view_b = merged(&broker, &["--job", "b", "--session-timeout", "5m"]);
    finish(a);
    finish(b);
    let unmerged = &view_a["workers"]["unmerged"];
    assert_eq!(unmerged["not_snapshots"], 1, "{unmerged}");
    assert_eq!(unmerged["other_versions"], 1, "{unmerged}");
    assert_eq!(
        unmerged["sample"].as_array().unwrap().len(),
        2,
        "{unmerged}"
    );
    assert_ne!(view_a["sessions"], view_b["sessions"]);
    assert_merged_is_the_file(view_a, &whole, &[], "job a");
    assert_merged_is_the_file(view_b, &whole, &short, "job b");
    // Without --job the view says which jobs there are.
    let out = Command::new(BIN)
        .args(["live", "--headless", "--brokers", &broker.brokers()])
        .args(["--state-topic", STATE, "--until-caught-up"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("several jobs: a, b") && said.contains("--job"),
        "{said}"
    );
}

#[test]
fn alert_rules_on_the_merged_view_fire_as_on_one_reader() {
    use common::alert_stream::{CONVERSION, MORE, stream};
    let (broker, dir) = broker();
    let file = dir.path().join("broken.jsonl");
    write_lines(&file, &stream(true));
    produce(&broker, TOPIC, &file);
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, format!("{CONVERSION}{MORE}")).unwrap();
    let rules = rules.to_str().unwrap();
    let read = live_with(&broker, TOPIC, &["--alerts", rules]);
    // The workers keep the whole stream (six hours): the rules read an
    // hour and a quarter back from any minute of it.
    let w = worker(&broker, "rules", "rules", &["--keep", "7h"]);
    let view = merged(&broker, &["--job", "rules", "--alerts", rules]);
    finish(w);
    let of = |v: &Value| -> Vec<(Value, Value, Value, Value)> {
        v["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|a| {
                let field = |k: &str| a[k].clone();
                (
                    field("rule"),
                    field("state"),
                    field("event_time"),
                    field("value"),
                )
            })
            .collect()
    };
    let want = of(&read);
    assert!(want.len() >= 6, "{want:?}");
    assert_eq!(of(&view), want);
}
