//! Per-customer triggers on a topic read live (a real tansu broker, four
//! partitions): the actions on the trigger topic and at the webhook are
//! exactly those a brute-force reading of the events says, and those of
//! the same events as a file; a run killed outright and resumed from its
//! state loses none (one may come twice, with the same id); a webhook that
//! refuses loses no event and counts every action as failed.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::broker::*;
use common::triggers_reference::{RULES, actions_of, assert_same_actions, expected, week};
use serde_json::Value;

/// A webhook that answers every POST with 200 and keeps the bodies.
fn collecting_webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let url = serve_webhook(move |body| kept.lock().unwrap().push(body));
    (url, bodies)
}

/// The messages on `topic` until `n` are read, nothing more comes for
/// 5 s, or 30 s pass: (key, JSON).
fn read_actions(broker: &Broker, topic: &str, n: usize) -> Vec<(String, Value)> {
    read_topic(
        broker,
        topic,
        n,
        (Duration::from_secs(30), Duration::from_secs(5)),
    )
}

fn write_rules(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_trigger_topic_and_webhook_get_exactly_the_reference_actions() {
    let (broker, dir) = with_topic("events");
    broker.create_topic("actions");
    let (lines, events) = week(1200, 21, true);
    let file = dir.path().join("week.jsonl");
    write_lines(&file, &lines);
    produce(&broker, "events", &file);
    let want = expected(&events);
    let rules = write_rules(dir.path(), RULES);
    let (url, posted) = collecting_webhook();
    let live = live_with(
        &broker,
        "events",
        &[
            "--rules",
            &rules,
            "--triggers-topic",
            "actions",
            "--triggers-webhook",
            &url,
        ],
    );
    // The live view has sent every action by now; a broker busy with the
    // other tests can pause for seconds between fetches, so the reading
    // waits longer for the rest than `read_actions` does.
    let on_topic = read_topic(
        &broker,
        "actions",
        want.len(),
        (Duration::from_secs(60), Duration::from_secs(20)),
    );
    for (key, action) in &on_topic {
        assert_eq!(
            key,
            action["customer"].as_str().unwrap(),
            "keyed by customer"
        );
        assert!(action["source"].as_str().unwrap().starts_with("kafka://"));
    }
    let values: Vec<Value> = on_topic.into_iter().map(|(_, v)| v).collect();
    assert_same_actions(&actions_of(&values), &want, "trigger topic");
    let deadline = Instant::now() + Duration::from_secs(30);
    while posted.lock().unwrap().len() < want.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let bodies: Vec<Value> = posted
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_same_actions(&actions_of(&bodies), &want, "webhook");
    // The final JSON counts them per rule, all delivered; and the file of
    // the same events backtests to the same ids.
    let triggers = &live["triggers"];
    let counted: u64 = triggers["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actions"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, want.len() as u64);
    assert_eq!(triggers["delivery"]["topic_sent"], want.len() as u64);
    assert_eq!(triggers["delivery"]["webhook_sent"], want.len() as u64);
    assert_eq!(triggers["queued"], 0);
    let listed = actions_of(triggers["actions"].as_array().unwrap());
    assert_same_actions(&listed, &want, "final JSON");
}

#[test]
fn killed_outright_and_resumed_no_action_is_lost() {
    let (broker, dir) = with_topic("events");
    broker.create_topic("actions");
    let (lines, events) = week(1200, 33, true);
    let want = expected(&events);
    let (first, second) = lines.split_at(lines.len() / 2);
    let part = |name: &str, lines: &[String]| {
        let path = dir.path().join(name);
        write_lines(&path, lines);
        path
    };
    let first = part("first.jsonl", first);
    let second = part("second.jsonl", second);
    produce(&broker, "events", &first);
    let rules = write_rules(dir.path(), RULES);
    let state = dir.path().join("live.state").display().to_string();
    let args = live_args(
        &broker,
        "events",
        &[
            "--rules",
            &rules,
            "--triggers-topic",
            "actions",
            "--state",
            &state,
        ],
    );
    // Running as a service (a summary every second, the state saved with
    // it), killed once it has sent some actions and saved.
    let mut service: Vec<String> = args
        .iter()
        .filter(|a| !matches!(a.as_str(), "--until-idle" | "3s"))
        .cloned()
        .collect();
    service.extend(["--every".into(), "1s".into()]);
    let mut child = Command::new(BIN)
        .args(&service)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let started =
        || std::path::Path::new(&state).exists() && !read_actions(&broker, "actions", 1).is_empty();
    while Instant::now() < deadline && !started() {
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    // The rest arrives while it is down; it resumes and reads to the end.
    produce(&broker, "events", &second);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args);
    let on_topic = read_actions(&broker, "actions", want.len() * 2);
    let ids: BTreeSet<String> = on_topic
        .iter()
        .map(|(_, v)| v["id"].as_str().unwrap().to_owned())
        .collect();
    let wanted: BTreeSet<String> = want.keys().cloned().collect();
    assert_eq!(
        ids.difference(&wanted).count() + wanted.difference(&ids).count(),
        0,
        "{} of {} ids, {} sent in all",
        ids.len(),
        wanted.len(),
        on_topic.len()
    );
    // A repeat is the same action.
    let values: Vec<Value> = on_topic.into_iter().map(|(_, v)| v).collect();
    assert_same_actions(&actions_of(&values), &want, "after resuming");
}

#[test]
fn a_webhook_that_refuses_loses_no_event_and_counts_every_action_failed() {
    let (broker, dir) = with_topic("events");
    let (lines, events) = week(40, 5, true);
    let file = dir.path().join("week.jsonl");
    write_lines(&file, &lines);
    produce(&broker, "events", &file);
    // One rule, few actions: each is tried four times with backoff.
    let rules = write_rules(
        dir.path(),
        "[[trigger]]\nname = \"checkout stall\"\nkind = \"stall\"\nat = \"checkout\"\nafter = \"10m\"\n",
    );
    let want = expected(&events)
        .into_values()
        .filter(|(rule, ..)| rule == "checkout stall")
        .count() as u64;
    assert!(want > 0);
    let refused = format!("http://127.0.0.1:{}/actions", free_port());
    let live = live_with(
        &broker,
        "events",
        &["--rules", &rules, "--triggers-webhook", &refused],
    );
    let accepted: BTreeSet<(String, i64)> = events
        .iter()
        .map(|e| (e.customer.clone(), e.time_us))
        .collect();
    assert_eq!(live["events"].as_u64().unwrap(), accepted.len() as u64);
    let triggers = &live["triggers"];
    assert_eq!(triggers["rules"][0]["actions"], want);
    let delivery = &triggers["delivery"];
    assert_eq!(delivery["webhook_failures"], want, "{delivery}");
    assert_eq!(delivery["undelivered"], 0, "{delivery}");
    assert_eq!(delivery["webhook_sent"], 0);
}

/// A worker of group `g` running the rules, its actions to `actions`.
fn trigger_worker(broker: &Broker, rules: &str) -> std::process::Child {
    Command::new(BIN)
        .args([
            "worker",
            "--brokers",
            &broker.brokers(),
            "--topic",
            "events",
        ])
        .args(["--group", "g", "--state-topic", "state", "--every", "1s"])
        .args(["--lateness", "5m", "--rules", rules])
        .args(["--triggers-topic", "actions"])
        .args([
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=500",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn workers_in_a_group_one_killed_outright_send_every_action() {
    let (broker, dir) = with_topic("events");
    broker.create_topic("actions");
    let (lines, events) = week(1200, 45, true);
    let want = expected(&events);
    let (first, second) = lines.split_at(lines.len() / 2);
    let first_file = dir.path().join("first.jsonl");
    let second_file = dir.path().join("second.jsonl");
    write_lines(&first_file, first);
    write_lines(&second_file, second);
    produce(&broker, "events", &first_file);
    let rules = write_rules(dir.path(), RULES);
    let stays = trigger_worker(&broker, &rules);
    let mut killed = trigger_worker(&broker, &rules);
    let deadline = Instant::now() + Duration::from_secs(60);
    while read_actions(&broker, "actions", 1).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    // Killed outright while the rest arrives; another joins.
    produce(&broker, "events", &second_file);
    std::thread::sleep(Duration::from_millis(300));
    killed.kill().unwrap();
    killed.wait().unwrap();
    let joins = trigger_worker(&broker, &rules);
    let wanted: BTreeSet<String> = want.keys().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut on_topic = Vec::new();
    while Instant::now() < deadline {
        on_topic = read_actions(&broker, "actions", usize::MAX);
        let ids: BTreeSet<String> = on_topic
            .iter()
            .map(|(_, v)| v["id"].as_str().unwrap().to_owned())
            .collect();
        if wanted.is_subset(&ids) {
            break;
        }
    }
    for child in [stays, joins] {
        // SAFETY: a plain kill(2) of our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait_with_output().unwrap();
    }
    let values: Vec<Value> = on_topic.into_iter().map(|(_, v)| v).collect();
    assert_same_actions(&actions_of(&values), &want, "workers");
}
