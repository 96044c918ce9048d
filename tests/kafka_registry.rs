//! Production-shaped topics: the same generated events as JSON lines, as
//! registry-framed Avro and as registry-framed Protobuf, written by
//! confluent-kafka's own serializers against a Schema Registry-compatible
//! server (`tests/registry/registry.py`), with 10 % garbage of three kinds.
//! `live --headless` must give the graph `summarize` gives on the JSON file,
//! and reject exactly what was injected, by reason. An Avro container file
//! written by fastavro must give the same graph too.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::broker::*;
use common::registry::{Registry, python, script};
use serde_json::Value;

/// Produces `events` to `topic` as `format` with 10 % garbage; returns the
/// producer's report (events, garbage by kind).
fn produce_framed(
    broker: &Broker,
    registry: &Registry,
    topic: &str,
    format: &str,
    events: &Path,
    extra: &[&str],
) -> Value {
    let report = events.with_file_name(format!("{topic}-report.json"));
    let out = Command::new(python())
        .arg(script("produce.py"))
        .args(["--brokers", &broker.brokers(), "--topic", topic])
        .args(["--registry", &registry.url(), "--format", format])
        .arg("--input")
        .arg(events)
        .args(["--garbage-every", "10", "--report"])
        .arg(&report)
        .args(extra)
        .output()
        .expect("run produce.py");
    assert!(
        out.status.success(),
        "produce.py {format}: {}",
        stderr(&out)
    );
    serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON report")
}

/// The summary without its rejected records (compared on their own).
fn without_rejected(mut v: Value) -> (Value, Value) {
    let rejected = v
        .as_object_mut()
        .and_then(|o| o.remove("rejected"))
        .expect("rejected records");
    (comparable(v), rejected)
}

#[test]
fn framed_avro_protobuf_and_json_give_the_files_graph_and_reject_what_was_injected() {
    let broker = Broker::start();
    let registry = Registry::start(None);
    let dir = tempfile::tempdir().expect("temp dir");
    let events = generated(dir.path(), "events.jsonl", 6_000, true);
    let (want, want_rejected) = without_rejected(summarize_json(&events));
    assert_eq!(
        want_rejected["total"], 0,
        "the clean file has no rejected records"
    );

    for format in ["avro", "protobuf", "json"] {
        let topic = format!("shop-{format}");
        broker.create_topic(&topic);
        let report = produce_framed(&broker, &registry, &topic, format, &events, &[]);
        assert_eq!(report["events"], 6_000, "{format}: every event produced");
        let got = live_with(&broker, &topic, &["--schema-registry", &registry.url()]);
        let (got, rejected) = without_rejected(got);
        assert_same(
            &got,
            &want,
            &format!("{format} topic against the JSON file"),
        );

        let injected = report["garbage"].as_object().expect("garbage by kind");
        let total: u64 = injected.values().filter_map(Value::as_u64).sum();
        assert!(total >= 600, "{format}: 10 % garbage, got {total}");
        assert_eq!(
            rejected["total"], total,
            "{format}: rejected equals injected"
        );
        for (reason, count) in injected {
            assert_eq!(
                rejected["by_reason"][reason], *count,
                "{format}: {reason} rejected as injected ({rejected})"
            );
        }
        // The reasons say which decoders were tried and why each failed.
        let details: Vec<&str> = rejected["sample"]
            .as_array()
            .expect("sample")
            .iter()
            .filter_map(|r| r["detail"].as_str())
            .collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("not registry-framed") && d.contains("as JSON")),
            "{format}: {details:?}"
        );
        assert!(
            details.iter().any(|d| d.contains("not in the registry")),
            "{details:?}"
        );
        assert!(
            details
                .iter()
                .any(|d| d.contains("does not match schema id")),
            "{details:?}"
        );
    }
}

#[test]
fn registry_credentials_are_sent_and_never_shown() {
    let broker = Broker::start();
    let secret = "reader:s3cret-Pa55";
    let registry = Registry::start(Some(secret));
    let dir = tempfile::tempdir().expect("temp dir");
    let events = generated(dir.path(), "events.jsonl", 1_500, true);
    let topic = "shop-secured";
    broker.create_topic(topic);
    produce_framed(
        &broker,
        &registry,
        topic,
        "avro",
        &events,
        &["--registry-user", secret],
    );
    let (want, _) = without_rejected(summarize_json(&events));
    let property = format!("schema.registry.basic.auth.user.info={secret}");
    let args = live_args(
        &broker,
        topic,
        &["--schema-registry", &registry.url(), "-X", &property],
    );
    let out = Command::new(BIN).args(&args).output().expect("live");
    assert!(out.status.success(), "live: {}", stderr(&out));
    let (got, _) = without_rejected(json(&out));
    assert_same(
        &got,
        &want,
        "an Avro topic read through a registry with credentials",
    );
    for text in [
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    ] {
        assert!(
            !text.contains("s3cret"),
            "the registry password is never printed"
        );
    }
    let log = std::fs::read_to_string(&registry.log).expect("request log");
    assert!(
        log.lines()
            .any(|l| l.contains("/schemas/ids/") && l.ends_with(" auth")),
        "the schema was fetched with the credentials: {log}"
    );

    // Wrong credentials: every framed value is rejected, saying why.
    let wrong = live_args(
        &broker,
        topic,
        &[
            "--schema-registry",
            &registry.url(),
            "-X",
            "schema.registry.basic.auth.user.info=reader:wrong-guess",
            "--customer",
            "customer_id",
            "--event",
            "event",
            "--time",
            "timestamp",
        ],
    );
    let out = Command::new(BIN).args(&wrong).output().expect("live");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("refused the credentials"), "{text}");
    assert!(!text.contains("wrong-guess"), "{text}");
}

#[test]
fn an_avro_file_written_by_fastavro_gives_the_graph_of_the_json_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = generated(dir.path(), "events.jsonl", 5_000, true);
    for codec in ["deflate", "null"] {
        let avro = dir.path().join(format!("events-{codec}.avro"));
        let out = Command::new(python())
            .arg(script("avro_file.py"))
            .arg("--input")
            .arg(&events)
            .arg("--out")
            .arg(&avro)
            .args(["--codec", codec])
            .output()
            .expect("run avro_file.py");
        assert!(out.status.success(), "avro_file.py: {}", stderr(&out));
        let got = summarize_json(&avro);
        assert_same_summary(got, summarize_json(&events), &format!("{codec} Avro file"));
    }
}
