//! Hostile Kafka situations against a real broker: secrets in client
//! properties, tombstones and empty values, a topic deleted while it is
//! read, a saved state resumed on a recreated topic, and a broker that is
//! not there.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::broker::{
    BIN, Broker, generated, live_args, live_with, produce, stderr, summarize_json, with_topic,
};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const SECRET: &str = "SECRET123";

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn client_property_values_are_never_printed() {
    let broker = Broker::start();
    broker.create_topic("secrets");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "few.jsonl", 20, true);
    let cases = [
        format!("ssl.key.password={SECRET}"),
        format!("sasl.pasword={SECRET}"),
        format!("security.protocol={SECRET}"),
        SECRET.to_owned(),
        format!("sasl.password:{SECRET}"),
    ];
    for property in &cases {
        let live = Command::new(BIN)
            .args(["live", "--headless", "--brokers", &broker.brokers()])
            .args([
                "--topic",
                "secrets",
                "--until-idle",
                "1s",
                "--detect-wait",
                "2s",
            ])
            .args(["-X", property])
            .output()
            .unwrap();
        let text = all_output(&live);
        assert!(
            !text.contains(SECRET),
            "live -X {property} printed it:\n{text}"
        );
        let produced = Command::new(BIN)
            .args([
                "produce",
                "--brokers",
                &broker.brokers(),
                "--topic",
                "secrets",
            ])
            .args(["--input", file.to_str().unwrap(), "-X", property])
            .output()
            .unwrap();
        let text = all_output(&produced);
        assert!(
            !text.contains(SECRET),
            "produce -X {property} printed it:\n{text}"
        );
        assert!(
            !produced.status.success() || property.starts_with("ssl."),
            "{text}"
        );
    }
}

/// Sends `(key, value)` messages to `topic`, waiting for the broker to
/// confirm them.
fn send(broker: &Broker, topic: &str, messages: &[(&str, Option<&[u8]>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .create()
        .unwrap();
    for (key, value) in messages {
        let mut record = BaseRecord::<str, [u8]>::to(topic).key(*key);
        if let Some(value) = value {
            record = record.payload(*value);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn tombstones_and_empty_values_are_counted_under_their_own_reasons() {
    let (broker, _dir) = with_topic("compacted");
    let event = |i: usize| {
        format!(
            r#"{{"customer_id":"c{}","event":"home","timestamp":{}}}"#,
            i % 3,
            1_800_000_000 + i
        )
    };
    let events: Vec<String> = (0..10).map(event).collect();
    let mut messages: Vec<(&str, Option<&[u8]>)> =
        events.iter().map(|e| ("c", Some(e.as_bytes()))).collect();
    messages.extend([("c", None), ("d", None), ("e", None)]);
    messages.extend([("c", Some(&b""[..])), ("d", Some(&b"  \n"[..]))]);
    send(&broker, "compacted", &messages);
    let s = live_with(&broker, "compacted", &[]);
    assert_eq!(s["events"], 10);
    assert_eq!(
        s["rejected"]["by_reason"]["tombstone"], 3,
        "{}",
        s["rejected"]
    );
    assert_eq!(
        s["rejected"]["by_reason"]["empty_value"], 2,
        "{}",
        s["rejected"]
    );
    assert_eq!(s["rejected"]["total"], 5);
}

fn tansu_topic(broker: &Broker, verb: &str, topic: &str) {
    let mut command = Command::new(common::broker::tansu());
    command.args(["topic", verb, "--broker", &broker.url()]);
    if verb == "create" {
        command.args(["--partitions", "4"]);
    }
    let out = command.arg(topic).output().unwrap();
    assert!(out.status.success(), "topic {verb}: {}", stderr(&out));
}

#[test]
fn a_resumed_state_refuses_a_recreated_topic() {
    let (broker, dir) = with_topic("orders");
    let state = dir.path().join("orders.state");
    let with_state = ["--state", state.to_str().unwrap()];
    let first = generated(dir.path(), "first.jsonl", 3_000, true);
    produce(&broker, "orders", &first);
    let before = live_with(&broker, "orders", &with_state);
    assert!(before["events"].as_u64().unwrap() > 0);
    let saved = std::fs::read(&state).unwrap();

    let resume = || {
        Command::new(BIN)
            .args(live_args(&broker, "orders", &with_state))
            .output()
            .unwrap()
    };
    // The topic deleted, created again and refilled with `events` events:
    // resuming is refused, and the state stays as it was.
    let refused_after_recreating = |name: &str, events: usize| {
        tansu_topic(&broker, "delete", "orders");
        tansu_topic(&broker, "create", "orders");
        let refill = generated(dir.path(), name, events, true);
        produce(&broker, "orders", &refill);
        let out = resume();
        assert_eq!(out.status.code(), Some(1), "{name}: {}", all_output(&out));
        assert!(
            stderr(&out).contains("created again"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(&state).unwrap(),
            saved,
            "{name}: the state changed"
        );
    };
    // With fewer messages: the offsets went back.
    refused_after_recreating("fewer.jsonl", 200);
    // Refilled past the saved offsets: the message the state read last is
    // not there any more.
    refused_after_recreating("more.jsonl", 8_000);

    // Another topic is refused too.
    broker.create_topic("returns");
    let out = Command::new(BIN)
        .args(live_args(&broker, "returns", &with_state))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`orders`"), "{}", stderr(&out));
}

#[test]
fn a_topic_deleted_while_read_is_said_and_the_state_survives() {
    let (broker, dir) = with_topic("doomed");
    let state = dir.path().join("doomed.state");
    let file = generated(dir.path(), "events.jsonl", 5_000, true);
    produce(&broker, "doomed", &file);
    let reference = summarize_json(&file);
    let mut args = live_args(&broker, "doomed", &["--state", state.to_str().unwrap()]);
    let idle = args.iter().position(|a| a == "--until-idle").unwrap();
    args.splice(idle..idle + 2, ["--every".to_owned(), "1s".to_owned()]);
    let child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until every event is in the saved state, then delete the topic.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the events were not all read");
        std::thread::sleep(Duration::from_millis(200));
        if saved_events(&state) == reference["events"].as_u64() {
            break;
        }
    }
    let saved = std::fs::read(&state).unwrap();
    tansu_topic(&broker, "delete", "doomed");
    let out = wait_at_most(child, Duration::from_secs(60));
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{:?}: {message}", out.status);
    assert!(message.contains("topic `doomed` was deleted"), "{message}");
    assert_eq!(std::fs::read(&state).unwrap(), saved, "the state changed");
    assert_eq!(saved_events(&state), reference["events"].as_u64());
}

/// The events a saved live state holds, read with the library (None while
/// there is no state yet).
fn saved_events(state: &Path) -> Option<u64> {
    let config = journeyscope::engine::EngineConfig::default();
    let (engine, resume) =
        journeyscope::source::live_state::load_state(state, config, 300_000_000).ok()?;
    let journeys = engine.since_start(false).journeys;
    let summary = journeyscope::report::Summary::new("state", &resume.mapping, &journeys, None);
    Some(summary.events)
}

/// Waits for `child` to end, killing it (and failing) after `limit`.
fn wait_at_most(mut child: std::process::Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn produce_to_an_unreachable_broker_says_so_quickly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["produce", "--brokers", &format!("127.0.0.1:{closed}")])
        .args(["--topic", "nowhere", "--sample"])
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot reach the brokers"),
        "{}",
        stderr(&out)
    );
}
