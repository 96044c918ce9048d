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
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{Map, Value};

use crate::cli::ProduceArgs;
use crate::source::jsonl::{JsonLinesSource, customer_of};
use crate::source::{self, EventSource, Format, Opened, input};

use crate::source::kafka::Redactor;

use super::live::client_properties;
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
    let replay = Replay {
        brokers: &args.broker.brokers,
        topic: &args.broker.topic,
        properties: client_properties(&args.broker)?,
        rate: args.rate,
        count: args.count,
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
}

/// Sends the records of `path` to the topic; returns how many.
pub(super) fn replay_file(
    replay: &Replay<'_>,
    path: &Path,
    options: &crate::source::SourceOptions,
) -> Result<u64, Failure> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", replay.brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000");
    for (key, value) in &replay.properties {
        config.set(key, value);
    }
    let redactor = Redactor::new(&replay.properties);
    let clean = |e: &dyn std::fmt::Display| redactor.clean(&e.to_string());
    let producer: BaseProducer = config
        .create()
        .map_err(|e| Failure::Usage(anyhow!("cannot create the Kafka producer: {}", clean(&e))))?;
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
    if let Opened::Text {
        format: Format::JsonLines,
        reader,
    } = opened
    {
        // Read here, on this thread: no reader thread runs ahead.
        let mut records = JsonLinesSource::open(path, reader, options).map_err(source_failure)?;
        replay_records(&mut records, &mut sender)?;
    } else {
        let mut source = source::from_opened(path, opened, options).map_err(source_failure)?;
        let mapping = source.mapping().clone();
        while let Some(batch) = source.next_batch().map_err(source_failure)? {
            for e in batch.iter() {
                if sender.done() {
                    break;
                }
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
                let value = Value::Object(object).to_string();
                sender.send(Some(e.customer), value.as_bytes())?;
            }
            source.recycle(batch);
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
