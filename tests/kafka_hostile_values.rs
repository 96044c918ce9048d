//! Hostile message values and registries against a real broker: a
//! registry password in its URL, registry credentials beside the alerts
//! producer, values nesting a thousand levels deep, values over a
//! mebibyte, arrays holding more than events, a slow or flooding registry,
//! and start times before any message.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::broker::{BIN, Broker, generated, json, live_args, produce, stderr, with_topic};
use common::registry::Registry;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

/// An event whose `context` may hold a node that holds itself.
const NESTED_SCHEMA: &str = r#"{"type":"record","name":"Event","fields":[
  {"name":"customer_id","type":"string"},
  {"name":"event","type":"string"},
  {"name":"timestamp","type":"string"},
  {"name":"context","type":["null",{"type":"record","name":"Node","fields":[
    {"name":"child","type":["null","Node"]}]}]}]}"#;

const COLUMNS: [&str; 6] = [
    "--customer",
    "customer_id",
    "--event",
    "event",
    "--time",
    "timestamp",
];

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An Avro string.
fn avro_text(text: &str) -> Vec<u8> {
    let mut n = (text.len() as u64) << 1;
    let mut bytes = Vec::new();
    while n >= 0x80 {
        bytes.push((n as u8) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
    bytes.extend(text.as_bytes());
    bytes
}

/// Event `i` of [`NESTED_SCHEMA`], its context `depth` nodes deep, written
/// by hand (the Avro crate's writer recurses as deep as the value).
fn nested_event(i: usize, depth: usize) -> Vec<u8> {
    let mut datum = [
        avro_text(&format!("c{}", i % 7)),
        avro_text(["home", "product", "cart"][i % 3]),
        avro_text(&format!("2026-11-27T09:{:02}:{:02}Z", i / 60 % 60, i % 60)),
    ]
    .concat();
    if depth > 0 {
        datum.extend(std::iter::repeat_n(2u8, depth));
    }
    datum.push(0);
    datum
}

/// Registry framing: byte 0, the schema id, the datum.
fn framed(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut value = vec![0];
    value.extend(id.to_be_bytes());
    value.extend(datum);
    value
}

/// Sends `values` to `topic` keyed by their index, waiting for the broker
/// to confirm them (messages up to 16 MB).
fn send(broker: &Broker, topic: &str, values: &[Vec<u8>]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("message.max.bytes", "16000000")
        .create()
        .unwrap();
    for (i, value) in values.iter().enumerate() {
        let key = format!("k{i}");
        let record = BaseRecord::<str, [u8]>::to(topic).key(&key).payload(value);
        producer.send(record).map_err(|(e, _)| e).unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// `live --headless` with `flags` (see [`live_args`]); its output.
fn live(broker: &Broker, topic: &str, flags: &[&str]) -> Output {
    Command::new(BIN)
        .args(live_args(broker, topic, flags))
        .output()
        .unwrap()
}

/// The summary of a run that must have succeeded.
fn summary(out: &Output) -> Value {
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(out));
    json(out)
}

fn rejected(summary: &Value, reason: &str) -> u64 {
    summary["rejected"]["by_reason"][reason]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_registry_password_in_its_url_is_never_shown() {
    let (broker, _dir) = with_topic("framed");
    let registry = Registry::start_with(&["--fail", "500"]);
    let mut values: Vec<Vec<u8>> = (0..20).map(|i| framed(1, &nested_event(i, 0))).collect();
    values.extend((0..5).map(|i| {
        format!(r#"{{"customer_id":"j{i}","event":"home","timestamp":"2026-11-27T10:00:0{i}Z"}}"#)
            .into_bytes()
    }));
    send(&broker, "framed", &values);
    let url = format!("http://alice:PASSWORD@127.0.0.1:{}", registry.port());
    let mut flags = vec!["--schema-registry", &url];
    flags.extend(COLUMNS);
    let out = live(&broker, "framed", &flags);
    let text = all_output(&out);
    assert!(!text.contains("PASSWORD"), "{text}");
    let s = summary(&out);
    assert_eq!(s["events"], 5);
    assert_eq!(
        rejected(&s, "registry_unavailable"),
        20,
        "{}",
        s["rejected"]
    );
    let detail = s["rejected"]["sample"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("http://127.0.0.1:{}", registry.port())),
        "the registry is named, without its password: {detail}"
    );
    // The password was used: sent as basic auth.
    let log = std::fs::read_to_string(&registry.log).unwrap();
    assert!(log.lines().any(|l| l.ends_with(" auth")), "{log}");
}

#[test]
fn the_alerts_producer_starts_beside_registry_credentials() {
    let (broker, dir) = with_topic("events");
    broker.create_topic("alerts");
    let file = generated(dir.path(), "events.jsonl", 300, true);
    produce(&broker, "events", &file);
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"garbage\"\nkind = \"rejected_rate\"\nwindow = \"10m\"\nabove = 0.1\nfor = \"1m\"\n",
    )
    .unwrap();
    let out = live(
        &broker,
        "events",
        &[
            "-X",
            "schema.registry.basic.auth.user.info=u:SECRET",
            "--alerts-topic",
            "alerts",
            "--alerts",
            rules.to_str().unwrap(),
        ],
    );
    assert!(!all_output(&out).contains("SECRET"), "{}", all_output(&out));
    let s = summary(&out);
    assert_eq!(s["events"], 300);
    assert_eq!(s["alert_delivery"]["topic_failures"], 0);
}

#[test]
fn values_nesting_a_thousand_levels_are_rejected_as_too_deep() {
    let (broker, dir) = with_topic("deep");
    let registry = Registry::start(None);
    let id = registry.register_avro("deep-value", NESTED_SCHEMA);
    let mut values: Vec<Vec<u8>> = (0..10).map(|i| framed(id, &nested_event(i, 3))).collect();
    values.insert(4, framed(id, &nested_event(99, 1_000)));
    values.push(framed(id, &nested_event(98, 100_000)));
    send(&broker, "deep", &values);
    let url = registry.url();
    let mut flags = vec!["--schema-registry", &url];
    flags.extend(COLUMNS);
    let s = summary(&live(&broker, "deep", &flags));
    assert_eq!(s["events"], 10);
    assert_eq!(rejected(&s, "too_deep"), 2, "{}", s["rejected"]);
    assert_eq!(s["rejected"]["total"], 2);

    // Unframed, with the schema as a file.
    broker.create_topic("deep-plain");
    let mut plain: Vec<Vec<u8>> = (0..10).map(|i| nested_event(i, 2)).collect();
    plain.insert(7, nested_event(97, 1_000));
    send(&broker, "deep-plain", &plain);
    let schema = dir.path().join("rec.avsc");
    std::fs::write(&schema, NESTED_SCHEMA).unwrap();
    let mut flags = vec![
        "--value-format",
        "avro",
        "--schema",
        schema.to_str().unwrap(),
    ];
    flags.extend(COLUMNS);
    let s = summary(&live(&broker, "deep-plain", &flags));
    assert_eq!(s["events"], 10);
    assert_eq!(rejected(&s, "too_deep"), 1, "{}", s["rejected"]);
}

#[test]
fn a_value_over_a_mebibyte_is_rejected_as_oversized() {
    let (broker, _dir) = with_topic("big");
    let event = |i: usize| {
        format!(r#"{{"customer_id":"c{i}","event":"home","timestamp":"2026-11-27T09:00:0{i}Z"}}"#)
    };
    // A JSON array of events, 2 MB in all.
    let mut big = String::from("[");
    let mut i = 0;
    while big.len() < 2_000_000 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&event(i % 10));
        i += 1;
    }
    big.push(']');
    let values: Vec<Vec<u8>> = vec![
        event(1).into_bytes(),
        event(2).into_bytes(),
        big.into_bytes(),
        event(3).into_bytes(),
    ];
    send(&broker, "big", &values);
    let s = summary(&live(&broker, "big", &COLUMNS));
    assert_eq!(s["events"], 3);
    assert_eq!(rejected(&s, "oversized"), 1, "{}", s["rejected"]);
    assert_eq!(s["kafka"]["consumed"], 4);
    let detail = s["rejected"]["sample"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("longer than 1048576"), "{detail}");
}

#[test]
fn an_array_value_rejects_each_element_that_is_no_object() {
    let (broker, _dir) = with_topic("arrays");
    let values = vec![
        br#"[null, 1, "x", {"customer_id":"c1","event":"home","timestamp":"2026-11-27T09:00:00Z"}]"#
            .to_vec(),
        br#"{"customer_id":"c2","event":"home","timestamp":"2026-11-27T09:00:01Z"}"#.to_vec(),
    ];
    send(&broker, "arrays", &values);
    let s = summary(&live(&broker, "arrays", &COLUMNS));
    assert_eq!(s["events"], 2);
    assert_eq!(rejected(&s, "wrong_type"), 3, "{}", s["rejected"]);
    let texts: Vec<&str> = s["rejected"]["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["null", "1", "\"x\""]);
    let position = s["rejected"]["sample"][2]["position"].as_str().unwrap();
    assert!(position.ends_with("element 3"), "{position}");
}

/// 100 framed events on `topic` with their schema in `registry`.
fn hundred_framed(broker: &Broker, registry: &Registry, topic: &str) {
    broker.create_topic(topic);
    let id = registry.register_avro(&format!("{topic}-value"), NESTED_SCHEMA);
    let values: Vec<Vec<u8>> = (0..100).map(|i| framed(id, &nested_event(i, 1))).collect();
    send(broker, topic, &values);
}

#[test]
fn until_idle_waits_for_a_slow_registry_and_counts_every_message() {
    let broker = Broker::start();
    let slow = Registry::start_with(&["--delay", "4"]);
    hundred_framed(&broker, &slow, "slow");
    let url = slow.url();
    let mut flags = vec!["--schema-registry", &url, "--until-idle", "1s"];
    flags.extend(COLUMNS);
    let s = summary(&live(&broker, "slow", &flags));
    assert_eq!(s["events"], 100, "{}", s["rejected"]);
    assert_eq!(s["kafka"]["consumed"], 100);

    // Slower than the registry may take: each message is rejected as such.
    let silent = Registry::start_with(&["--delay", "30"]);
    hundred_framed(&broker, &silent, "silent");
    let url = silent.url();
    let mut flags = vec!["--schema-registry", &url, "--until-idle", "1s"];
    flags.extend(COLUMNS);
    let started = Instant::now();
    let s = summary(&live(&broker, "silent", &flags));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s["events"], 0);
    assert_eq!(
        rejected(&s, "registry_unavailable"),
        100,
        "{}",
        s["rejected"]
    );
    let detail = s["rejected"]["sample"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("no answer within 10 s"), "{detail}");
}

#[test]
fn a_flooding_registry_answer_is_refused_and_unknown_properties_are_warned() {
    let broker = Broker::start();
    let flooding = Registry::start_with(&["--pad", "17000000"]);
    hundred_framed(&broker, &flooding, "flood");
    let url = flooding.url();
    let mut flags = vec![
        "--schema-registry",
        &url,
        "-X",
        "schema.registry.basic.auth.userinfo=u:MISSPELT",
    ];
    flags.extend(COLUMNS);
    let out = live(&broker, "flood", &flags);
    let s = summary(&out);
    assert_eq!(s["rejected"]["total"], 100);
    let detail = s["rejected"]["sample"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("answer for schema id 1 is larger than 16 MiB"),
        "{detail}"
    );
    let warned = stderr(&out);
    assert!(
        warned.contains("schema.registry.basic.auth.userinfo")
            && warned.contains("schema.registry.basic.auth.user.info"),
        "{warned}"
    );
    assert!(!warned.contains("MISSPELT"), "{warned}");
}

#[test]
fn a_start_before_1970_reads_from_the_earliest() {
    let (broker, dir) = with_topic("old");
    let file = generated(dir.path(), "events.jsonl", 200, true);
    produce(&broker, "old", &file);
    for from in ["-1000000000000d", "0001-01-01T00:00:00Z"] {
        let out = live(&broker, "old", &["--from", from]);
        let s = summary(&out);
        assert_eq!(s["events"], 200, "--from {from}");
        assert!(stderr(&out).contains("before 1970"), "{}", stderr(&out));
    }
}
