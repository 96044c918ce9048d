//! `produce`: replays a file or the sample data into a topic as JSON
//! events keyed by customer (so that each customer's events stay in order in
//! one partition), at a steady rate, with a progress line.
//!
//! JSON lines are sent as they are, malformed lines included, so that a
//! topic holds exactly what the file holds; other formats are sent as one
//! JSON object per mapped event.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Map, Value};

use crate::cli::{ProduceArgs, ProducedFormat};
use crate::source::jsonl::{JsonLinesSource, customer_of};
use crate::source::values::{Registry, RegistrySpec, SchemaKind};
use crate::source::{self, EventSource, Format, Opened, input};

use crate::source::kafka::{Redactor, create_client};

use super::live::client_properties;
use super::produce_values::Encoder;
use super::{Failure, sample_data_file, settings, source_failure};

/// Sends messages at a steady rate and reports progress once a second.
struct Sender {
    producer: BaseProducer,
    topic: String,
    rate: Option<f64>,
    limit: Option<u64>,
    sent: u64,
    started: Instant,
    reported: Instant,
    /// Removes client property values from the client's messages.
    redactor: Redactor,
}

impl Sender {
    /// True once the limit is reached.
    fn done(&self) -> bool {
        self.limit.is_some_and(|n| self.sent >= n)
    }

    fn send(&mut self, key: Option<&str>, value: &[u8]) -> Result<(), Failure> {
        if let Some(rate) = self.rate {
            let due = self.started + Duration::from_secs_f64(self.sent as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let mut record = BaseRecord::<str, [u8]>::to(&self.topic).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => {
                    return Err(Failure::Failed(anyhow!(
                        "cannot send to Kafka: {}",
                        self.redactor.clean(&e.to_string())
                    )));
                }
            }
        }
        self.producer.poll(Duration::ZERO);
        self.sent += 1;
        if self.reported.elapsed() >= Duration::from_secs(1) {
            self.reported = Instant::now();
            self.progress();
        }
        Ok(())
    }

    fn progress(&self) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "produced {} events to {} ({:.0} per second)",
            crate::format::thousands(self.sent),
            self.topic,
            self.sent as f64 / seconds
        );
    }
}

/// Runs `produce`.
pub fn produce(args: &ProduceArgs) -> Result<(), Failure> {
    let settings = settings(&args.mapping, None, None)?;
    let sample;
    let path: &Path = match &args.input {
        Some(path) => path,
        None => {
            sample = sample_data_file().map_err(|e| {
                Failure::Failed(anyhow!(
                    "cannot write the sample data to a temporary file: {e}"
                ))
            })?;
            &sample
        }
    };
    if args.rate.is_some_and(|r| r <= 0.0 || !r.is_finite()) {
        return Err(super::usage(anyhow!(
            "--rate must be a positive number of events per second"
        )));
    }
    let properties = client_properties(&args.broker)?;
    let framed = |kind| match &args.schema_registry {
        Some(url) => Ok(Values::Framed {
            kind,
            registry: RegistrySpec::from_properties(url, &properties),
        }),
        None => Err(super::usage(anyhow!(
            "--value-format avro and protobuf register their schema: give --schema-registry URL"
        ))),
    };
    let values = match args.value_format {
        ProducedFormat::Json => Values::Json,
        ProducedFormat::Avro => framed(SchemaKind::Avro)?,
        ProducedFormat::Protobuf => framed(SchemaKind::Protobuf)?,
    };
    let replay = Replay {
        brokers: &args.broker.brokers,
        topic: super::live::topic_of(&args.broker)?,
        properties,
        rate: args.rate,
        count: args.count,
        values,
    };
    replay_file(&replay, path, &settings.source)?;
    Ok(())
}

/// Where and how fast to replay a file.
pub(super) struct Replay<'a> {
    /// Bootstrap servers.
    pub brokers: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// librdkafka properties.
    pub properties: Vec<(String, String)>,
    /// Events per second, or as fast as possible.
    pub rate: Option<f64>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// How values are written.
    pub values: Values,
}

/// How `produce` writes values.
pub(super) enum Values {
    /// JSON: JSON lines as they are, other files' events as JSON objects.
    Json,
    /// Registry-framed, with a schema registered for the events.
    Framed {
        /// Avro or Protobuf.
        kind: SchemaKind,
        /// Where to register it.
        registry: RegistrySpec,
    },
}

/// Sends the records of `path` to the topic; returns how many.
pub(super) fn replay_file(
    replay: &Replay<'_>,
    path: &Path,
    options: &crate::source::SourceOptions,
) -> Result<u64, Failure> {
    let settings = [
        ("bootstrap.servers", replay.brokers),
        ("linger.ms", "5"),
        ("queue.buffering.max.messages", "200000"),
    ];
    let redactor = Redactor::new(&replay.properties);
    let clean = |e: &dyn std::fmt::Display| redactor.clean(&e.to_string());
    let producer: BaseProducer = create_client(&settings, &replay.properties)
        .map_err(|e| Failure::Usage(anyhow!("cannot create the Kafka producer: {e}")))?;
    reach_brokers(&producer, replay, &clean)?;
    let mut sender = Sender {
        producer,
        topic: replay.topic.to_owned(),
        rate: replay.rate,
        limit: replay.count,
        redactor: redactor.clone(),
        sent: 0,
        started: Instant::now(),
        reported: Instant::now(),
    };
    let opened = input::open(path).map_err(source_failure)?;
    match (opened, &replay.values) {
        (
            Opened::Text {
                format: Format::JsonLines,
                reader,
            },
            Values::Json,
        ) => {
            // Read here, on this thread: no reader thread runs ahead.
            let mut records =
                JsonLinesSource::open(path, reader, options).map_err(source_failure)?;
            replay_records(&mut records, &mut sender)?;
        }
        (opened, values) => {
            let source = source::from_opened(path, opened, options).map_err(source_failure)?;
            let encoder = match values {
                Values::Json => None,
                Values::Framed { kind, registry } => {
                    let properties: Vec<String> = options
                        .property_columns(source.mapping())
                        .into_iter()
                        .map(|(name, _)| name)
                        .collect();
                    let registry = Registry::new(registry.clone());
                    let subject = format!("{}-value", replay.topic);
                    let encoder = Encoder::register(
                        *kind,
                        &registry,
                        &subject,
                        source.mapping(),
                        &properties,
                    )
                    .map_err(|e| Failure::Failed(anyhow!("{e}")))?;
                    Some(encoder)
                }
            };
            replay_events(source, encoder.as_ref(), &mut sender)?;
        }
    }
    flush(&sender, &clean)?;
    sender.progress();
    Ok(sender.sent)
}

/// How long the brokers have to answer before `produce` gives up.
const REACH_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks the brokers for the topic's metadata, so that an unreachable
/// broker or a missing topic is said at once instead of after a silent wait.
fn reach_brokers(
    producer: &BaseProducer,
    replay: &Replay<'_>,
    clean: &dyn Fn(&dyn std::fmt::Display) -> String,
) -> Result<(), Failure> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(replay.topic), REACH_TIMEOUT)
        .map_err(|e| {
            Failure::Failed(anyhow!(
                "cannot reach the brokers at {} within {} s ({}); check --brokers and, \
                 for SASL or TLS, the -X client properties{}",
                replay.brokers,
                REACH_TIMEOUT.as_secs(),
                clean(&e),
                crate::source::kafka::tls_hint(&replay.properties)
            ))
        })?;
    let topic = metadata.topics().iter().find(|t| t.name() == replay.topic);
    if let Some(error) = topic.and_then(|t| t.error()) {
        let code = rdkafka::error::RDKafkaErrorCode::from(error);
        if code != RDKafkaErrorCode::UnknownTopicOrPartition {
            return Err(Failure::Failed(anyhow!(
                "the brokers refuse topic `{}`: {}",
                replay.topic,
                clean(&code)
            )));
        }
    }
    Ok(())
}

/// Waits for the brokers to confirm every message, saying how many are
/// still on their way while it waits.
fn flush(sender: &Sender, clean: &dyn Fn(&dyn std::fmt::Display) -> String) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match sender.producer.flush(Duration::from_secs(5)) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(Failure::Failed(anyhow!(
                    "Kafka did not confirm {} events within 60 s: {}",
                    sender.producer.in_flight_count(),
                    clean(&e)
                )));
            }
            Err(_) => eprintln!(
                "waiting for the brokers to confirm {} events…",
                sender.producer.in_flight_count()
            ),
        }
    }
}

/// Sends each mapped event, as a JSON object or framed by `encoder`.
fn replay_events(
    mut source: Box<dyn EventSource>,
    encoder: Option<&Encoder>,
    sender: &mut Sender,
) -> Result<(), Failure> {
    let mapping = source.mapping().clone();
    let mut rejected = 0u64;
    while let Some(batch) = source.next_batch().map_err(source_failure)? {
        rejected += batch.rejected.len() as u64;
        for e in batch.iter() {
            if sender.done() {
                break;
            }
            let value = match encoder {
                Some(encoder) => encoder
                    .encode(&e)
                    .map_err(|err| Failure::Failed(anyhow!("cannot encode an event: {err}")))?,
                None => json_object(&mapping, &e).into_bytes(),
            };
            sender.send(Some(e.customer), &value)?;
        }
        source.recycle(batch);
    }
    if rejected > 0 {
        eprintln!(
            "not sent: {} records that are no event (`summarize` lists why)",
            crate::format::thousands(rejected)
        );
    }
    Ok(())
}

/// One mapped event as a JSON object under the source's column names.
fn json_object(mapping: &crate::source::Mapping, e: &crate::engine::batch::EventRef<'_>) -> String {
    let mut object = Map::new();
    object.insert(mapping.customer.clone(), e.customer.into());
    object.insert(mapping.event.clone(), e.event.into());
    let time = chrono::DateTime::from_timestamp_micros(e.time_us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    object.insert(mapping.time.clone(), time.into());
    if let (Some(column), Some(id)) = (&mapping.event_id, e.event_id) {
        object.insert(column.clone(), id.into());
    }
    if let (Some(column), Some(id)) = (&mapping.session_id, e.session_id) {
        object.insert(column.clone(), id.into());
    }
    Value::Object(object).to_string()
}

/// Sends each JSON record as it is, keyed by its customer when it has one;
/// lines too long to send are counted and named.
fn replay_records(records: &mut JsonLinesSource, sender: &mut Sender) -> Result<(), Failure> {
    let mapping = records.mapping().clone();
    let mut skipped = Vec::new();
    let mut skipped_count = 0u64;
    while !sender.done() {
        match records.next_raw().map_err(source_failure)? {
            None => break,
            Some(Ok(record)) => {
                let key = customer_of(&record, &mapping);
                sender.send(key.as_deref(), &record)?;
            }
            Some(Err(rejected)) => {
                skipped_count += 1;
                if skipped.len() < 5 {
                    skipped.push(format!("{} ({})", rejected.position, rejected.detail));
                }
            }
        }
    }
    if skipped_count > 0 {
        eprintln!(
            "not sent: {} records that hold no JSON event, e.g. {}",
            crate::format::thousands(skipped_count),
            skipped.join("; ")
        );
    }
    Ok(())
}
