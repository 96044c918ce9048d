//! `bench --kafka --schema-registry URL`: live ingest of the same events
//! as registry-framed Avro and Protobuf, against JSON and against a plain
//! consumer reading the same topic, in the same run.

use crate::source::SourceOptions;
use crate::source::values::{RegistrySpec, SchemaKind, ValueFormat, ValuesSpec};

use super::Failure;
use super::bench_kafka::{JsonBaseline, live_ingest_values, new_topic, plain_consumer};
use super::produce::{Replay, Values, replay_file};

/// Produces `file` as Avro and as Protobuf and times reading each.
pub(super) fn value_formats(
    brokers: &str,
    registry: &str,
    baseline: &JsonBaseline,
    runs: usize,
) -> Result<(), Failure> {
    let (file, total, json) = (baseline.file.as_path(), baseline.total, baseline.json);
    for kind in [SchemaKind::Avro, SchemaKind::Protobuf] {
        let topic = new_topic(brokers, &kind.as_str().to_lowercase())?;
        let registry = RegistrySpec::from_properties(registry, &[]);
        let replay = Replay {
            brokers,
            topic: &topic,
            properties: Vec::new(),
            rate: None,
            count: None,
            values: Values::Framed {
                kind,
                registry: registry.clone(),
            },
        };
        let produced = replay_file(&replay, file, &SourceOptions::default())?;
        let values = ValuesSpec {
            format: ValueFormat::Auto,
            registry: Some(registry),
            schema: None,
            message: None,
        };
        let (mut plain, mut live) = (f64::INFINITY, f64::INFINITY);
        for run in 1..=runs.max(1) {
            let p = plain_consumer(brokers, &topic, produced)?;
            let (l, staged) = live_ingest_values(brokers, &topic, produced, values.clone())?;
            println!(
                "{} run {run}: plain consumer {p:.2} s ({:.0}/s) · live ingest {l:.2} s ({:.0}/s, {staged} events)",
                kind.as_str(),
                produced as f64 / p,
                produced as f64 / l
            );
            plain = plain.min(p);
            live = live.min(l);
        }
        println!(
            "{} live ingest: {:.0} events/s = {:.0} % of the plain consumer's {:.0}/s on the same \
             topic, {:.0} % of JSON live ingest's {:.0}/s (best of {}; the plain consumer read \
             JSON at {:.0}/s)",
            kind.as_str(),
            produced as f64 / live,
            100.0 * plain / live,
            produced as f64 / plain,
            100.0 * json.live_s / live,
            total as f64 / json.live_s,
            runs.max(1),
            total as f64 / json.plain_s
        );
    }
    Ok(())
}
