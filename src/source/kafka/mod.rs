//! Kafka: a librdkafka consumer on its own named thread, polling in
//! batches and handing them to the engine through the bounded channel every
//! threaded source uses (when the engine falls behind, the consumer waits
//! and the lag shows it). By default the viewer assigns itself every
//! partition and commits nothing. Message values are JSON events (or arrays
//! of them) mapped like JSON lines; anything else is a rejected record at
//! "partition P offset O".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::background::{Worker, lock};
use crate::engine::{EventBatch, StreamMark};

mod client;
mod detect;
pub mod group;
mod reader;
pub mod secrets;
mod start;

use super::schema::Mapping;
use super::threaded::ReaderLink;
use super::values::{ValueDecoder, ValuesSpec};
use super::{SourceError, SourceOptions};
pub use client::{
    ClientError, EventConsumer, create_client, create_consumer, create_consumer_with,
    is_partition_end,
};
use detect::{Detected, detect_mapping};
use reader::{CommitRequest, Read, Reader, consume, watch_lag};
pub use secrets::{Redactor, client_property};
pub use start::StartAt;

/// What to consume.
#[derive(Debug, Clone)]
pub struct KafkaSpec {
    /// Bootstrap servers, `HOST:PORT[,HOST:PORT…]`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// Where to start.
    pub from: StartAt,
    /// librdkafka properties passed through (`-X key=value`); values may be
    /// secrets and are never shown.
    pub properties: Vec<(String, String)>,
    /// Join this consumer group instead of assigning every partition.
    pub group: Option<String>,
    /// How long to wait for messages to detect the columns from.
    pub detect_wait: Duration,
    /// Go on from these offsets instead of `from`, for the partitions
    /// listed (a resumed state).
    pub resume: Vec<StreamMark>,
    /// The columns of a resumed state: no detection then.
    pub mapping: Option<Mapping>,
    /// How message values are decoded (`--value-format`, the registry).
    pub values: ValuesSpec,
}

impl KafkaSpec {
    /// Reading `topic` on `brokers` from `from`, with `properties`: every
    /// partition (no group), the columns detected from what arrives within
    /// ten seconds, values detected.
    pub fn new(
        brokers: impl Into<String>,
        topic: impl Into<String>,
        from: StartAt,
        properties: Vec<(String, String)>,
    ) -> KafkaSpec {
        KafkaSpec {
            brokers: brokers.into(),
            topic: topic.into(),
            from,
            properties,
            group: None,
            detect_wait: Duration::from_secs(10),
            resume: Vec::new(),
            mapping: None,
            values: ValuesSpec::default(),
        }
    }

    /// How the source is called on screen: brokers and topic, no properties.
    pub fn label(&self) -> String {
        format!("kafka://{}/{}", self.brokers, self.topic)
    }

    /// What removes the client property values from messages.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(&self.properties)
    }

    /// A client error as a source error, with no property value in it.
    pub fn error(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Kafka(self.redactor().clean(&e.to_string()))
    }
}

/// Position and lag of one partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PartitionProgress {
    /// The partition.
    pub partition: i32,
    /// The offset of the next message to read (everything before it has
    /// been handed to the engine).
    pub next_offset: i64,
    /// The broker's high watermark when last asked.
    pub high_watermark: i64,
    /// Messages not read yet: high watermark − next offset.
    pub lag: i64,
    /// The broker timestamp of the last message read (ms since the epoch).
    pub last_timestamp_ms: Option<i64>,
}

/// What the consumer has read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KafkaProgress {
    /// Messages read.
    pub consumed: u64,
    /// Per partition.
    pub partitions: Vec<PartitionProgress>,
    /// True when every partition read has been read to the end the brokers
    /// gave when the reader got there, and every message before it mapped.
    #[serde(skip)]
    pub at_end: bool,
    /// True once the brokers have told every partition's end (the high
    /// watermarks are read, not the defaults).
    #[serde(skip)]
    pub watermarks_known: bool,
}

impl KafkaProgress {
    /// True when every partition's next offset has reached the end the
    /// brokers last gave.
    fn offsets_reach_ends(&self) -> bool {
        self.partitions
            .iter()
            .all(|p| p.next_offset >= p.high_watermark)
    }

    /// How far behind the brokers the reader is at `now_ms` (wall clock):
    /// the messages not read yet, and, on partitions with some, how long
    /// ago the last message read was stamped (the next one waits at most
    /// that long).
    pub fn lag(&self, now_ms: i64) -> crate::engine::alerts::Lag {
        let behind = self.partitions.iter().filter(|p| p.lag > 0);
        crate::engine::alerts::Lag {
            messages: behind.clone().map(|p| p.lag as u64).sum(),
            seconds: behind
                .filter_map(|p| p.last_timestamp_ms)
                .map(|t| (now_ms - t).max(0) as f64 / 1e3)
                .fold(0.0, f64::max),
        }
    }
}

/// A raw message kept from detection until the reader thread maps it.
struct Pending {
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    /// None for a tombstone.
    value: Option<Vec<u8>>,
}

impl Pending {
    fn of(message: &impl Message) -> Self {
        Pending {
            partition: message.partition(),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis(),
            value: message.payload().map(<[u8]>::to_vec),
        }
    }
}

/// A live Kafka topic as a source of batches.
pub struct KafkaSource {
    name: String,
    topic: String,
    /// True until the messages a resumed state read last have been read
    /// again and found as they were.
    verifying: Arc<std::sync::atomic::AtomicBool>,
    mapping: Mapping,
    link: ReaderLink,
    /// Asks for the high watermarks beside the reader.
    lag: Worker<(), ()>,
    progress: Arc<Mutex<KafkaProgress>>,
    /// Offsets to commit for the consumer group (group mode only).
    commits: Option<crossbeam_channel::Sender<CommitRequest>>,
}

/// What a client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Fetches the topic's messages.
    Reader,
    /// Only asks for metadata and watermarks (lag, whether the topic
    /// still exists): it never fetches messages.
    Watcher,
}

/// A client for `spec`; the properties set here (but for the metadata
/// cache) must not be overridden by `-X` for the viewer to work.
/// See [`consumer`]: how long librdkafka waits to fetch again when its
/// queue is full.
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

fn consumer(spec: &KafkaSpec, role: Role) -> Result<EventConsumer, SourceError> {
    let group = spec
        .group
        .clone()
        .unwrap_or_else(|| format!("journeyscope-viewer-{}", std::process::id()));
    let mut settings: Vec<(&str, &str)> = Vec::new();
    if role == Role::Reader && spec.group.is_none() {
        // librdkafka (2.12 and upstream alike) crashes when a fetch answer
        // about a topic without a topic id carries a new leader (KIP-951)
        // while its metadata cache holds any topic: the update looks the
        // topic up by a null name. Brokers without topic ids (tansu, for
        // one) send that answer for a topic just deleted. A reader that
        // assigns its partitions itself needs no cached metadata, so
        // entries expire at once and the lookup finds an empty cache.
        // Consumer groups need the cache and keep the default.
        settings.push(("metadata.max.age.ms", "1"));
    }
    settings.extend([
        ("bootstrap.servers", spec.brokers.as_str()),
        // librdkafka waits this long before fetching a partition again once
        // its queue holds more than `queued.min.messages`; the default
        // (1 s) cut a fast broker's stream to about 150k messages/s in
        // steps of a second. A short wait keeps the queue full.
        ("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        // The reader learns where each partition ends (see `reader`):
        // idle means nothing is left to read, not only that nothing came.
        ("enable.partition.eof", "true"),
        (
            "auto.offset.reset",
            // Where a saved state goes on, an offset the topic no longer
            // holds is an error, not a silent jump.
            match (spec.resume.is_empty(), spec.from) {
                (false, _) => "error",
                (true, StartAt::Latest) => "latest",
                (true, _) => "earliest",
            },
        ),
        ("group.id", group.as_str()),
    ]);
    create_consumer(&settings, &spec.properties).map_err(|e| SourceError::Kafka(e.to_string()))
}

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// What to check when brokers read over TLS cannot be reached (empty
/// without TLS): most often, a certificate the trusted CA did not sign.
pub fn tls_hint(properties: &[(String, String)]) -> &'static str {
    let tls = properties.iter().any(|(key, value)| {
        key == "security.protocol" && value.to_ascii_uppercase().ends_with("SSL")
    });
    match tls {
        true => {
            "; over TLS, ssl.ca.location must name the CA that signed the brokers' certificate \
             (a certificate it did not sign is refused: the client's messages above say so)"
        }
        false => "",
    }
}

fn partitions(
    consumer: &EventConsumer,
    spec: &KafkaSpec,
    topic: &str,
) -> Result<Vec<i32>, SourceError> {
    let unreachable = |e: rdkafka::error::KafkaError| {
        spec.error(format!(
            "cannot reach the brokers within {} s ({e}); check the bootstrap servers and, \
             for SASL or TLS, the client properties (-X on the command line){}",
            METADATA_TIMEOUT.as_secs(),
            tls_hint(&spec.properties)
        ))
    };
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(unreachable)?;
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty());
    if let Some(t) = found {
        return Ok(t.partitions().iter().map(|p| p.id()).collect());
    }
    let all = consumer
        .fetch_metadata(None, METADATA_TIMEOUT)
        .map_err(unreachable)?;
    let mut names: Vec<&str> = all
        .topics()
        .iter()
        .filter(|t| !t.partitions().is_empty() && !t.name().starts_with("__"))
        .map(|t| t.name())
        .collect();
    names.sort_unstable();
    Err(SourceError::Kafka(format!(
        "topic `{topic}` was not found on the brokers; topics are: {}",
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        }
    )))
}

/// Refuses to go on where a saved state left off when a partition's end
/// offset is now below the one seen when the state was saved: the topic
/// was deleted and created again (or emptied), since a topic's end only
/// ever moves on.
fn check_resumed(spec: &KafkaSpec) -> Result<(), SourceError> {
    if spec.resume.iter().all(|m| m.high_watermark.is_none()) {
        return Ok(());
    }
    let client = consumer(spec, Role::Watcher)?;
    for mark in &spec.resume {
        let Some(saved) = mark.high_watermark else {
            continue;
        };
        let (_, high) = client
            .fetch_watermarks(&spec.topic, mark.partition, METADATA_TIMEOUT)
            .map_err(|e| spec.error(e))?;
        if high < saved {
            return Err(SourceError::TopicChanged(format!(
                "partition {} of `{}` now ends at offset {high}, before offset {saved} where \
                 it ended when the state was saved: the topic was deleted and created again \
                 (or emptied)",
                mark.partition, spec.topic
            )));
        }
    }
    Ok(())
}

/// How long the first message of each resumed partition may take.
const PROBE_WAIT: Duration = Duration::from_secs(5);

/// Reads the first message of every partition a saved state has read and
/// refuses to go on when one shows another topic: messages before where the
/// state goes on that are newer than the last one it read (the topic was
/// created again and refilled), a first message past where it goes on (the
/// messages in between are gone), or none at all.
fn probe_earliest(spec: &KafkaSpec) -> Result<(), SourceError> {
    let marks: Vec<&StreamMark> = spec.resume.iter().filter(|m| m.next_offset > 0).collect();
    if marks.is_empty() {
        return Ok(());
    }
    let client = consumer(spec, Role::Reader)?;
    let mut list = TopicPartitionList::new();
    for mark in &marks {
        list.add_partition_offset(&spec.topic, mark.partition, Offset::Beginning)
            .map_err(|e| spec.error(e))?;
    }
    client.assign(&list).map_err(|e| spec.error(e))?;
    let mut first: std::collections::BTreeMap<i32, (i64, Option<i64>)> = Default::default();
    let deadline = Instant::now() + PROBE_WAIT;
    while first.len() < marks.len() && Instant::now() < deadline {
        if let Some(Ok(message)) = client.poll(Duration::from_millis(100)) {
            first
                .entry(message.partition())
                .or_insert((message.offset(), message.timestamp().to_millis()));
        }
    }
    // The probe's client is dropped next: its assignment goes with it.
    let _ = client.unassign();
    let changed = |why: String| {
        SourceError::TopicChanged(format!(
            "{why}: the topic was deleted and created again (or the messages expired)"
        ))
    };
    for mark in marks {
        let (p, topic) = (mark.partition, &spec.topic);
        match first.get(&p) {
            None => {
                return Err(changed(format!(
                    "partition {p} of `{topic}` gives no message, but the saved state has read \
                     it up to offset {}",
                    mark.next_offset
                )));
            }
            Some(&(offset, _)) if offset >= mark.next_offset => {
                return Err(changed(format!(
                    "partition {p} of `{topic}` now starts at offset {offset}, after offset {} \
                     where the saved state goes on",
                    mark.next_offset
                )));
            }
            Some(&(offset, Some(ms))) if mark.last_timestamp_ms.is_some_and(|last| ms > last) => {
                return Err(changed(format!(
                    "partition {p} of `{topic}` starts at offset {offset} with a message newer \
                     than the last one the saved state read there"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The messages a resumed state read last, to be read again and compared:
/// (partition, offset, timestamp).
fn to_verify(spec: &KafkaSpec) -> Vec<(i32, i64, Option<i64>)> {
    spec.resume
        .iter()
        .filter(|m| m.next_offset > 0 && m.last_timestamp_ms.is_some())
        .map(|m| (m.partition, m.next_offset - 1, m.last_timestamp_ms))
        .collect()
}

/// Where each partition a saved state has read goes on: (next offset,
/// timestamp of the message before it).
fn resume_marks(spec: &KafkaSpec) -> std::collections::BTreeMap<i32, (i64, Option<i64>)> {
    spec.resume
        .iter()
        .filter(|m| m.next_offset > 0)
        .map(|m| (m.partition, (m.next_offset, m.last_timestamp_ms)))
        .collect()
}

/// Assigns every partition of the topic at the starting point.
fn assign(consumer: &EventConsumer, spec: &KafkaSpec) -> Result<Vec<i32>, SourceError> {
    let ids = partitions(consumer, spec, &spec.topic)?;
    check_resumed(spec)?;
    probe_earliest(spec)?;
    let mut list = TopicPartitionList::new();
    let verify = to_verify(spec);
    let resumed = |p: i32| {
        let again = verify.iter().find(|(q, ..)| *q == p).map(|(_, o, _)| *o);
        let next = spec
            .resume
            .iter()
            .find(|m| m.partition == p)
            .map(|m| m.next_offset);
        again.or(next)
    };
    for &p in &ids {
        let offset = match (resumed(p), spec.from) {
            (Some(next), _) => Offset::Offset(next),
            (None, StartAt::Earliest) => Offset::Beginning,
            (None, StartAt::Latest) => Offset::End,
            (None, StartAt::Time(ms)) => Offset::Offset(ms),
        };
        list.add_partition_offset(&spec.topic, p, offset)
            .map_err(|e| spec.error(e))?;
    }
    if let StartAt::Time(ms) = spec.from {
        // Offsets for the start time, except where a saved state says where
        // to go on.
        let mut by_time = TopicPartitionList::new();
        for &p in ids.iter().filter(|p| resumed(**p).is_none()) {
            by_time
                .add_partition_offset(&spec.topic, p, Offset::Offset(ms))
                .map_err(|e| spec.error(e))?;
        }
        let found = if by_time.count() == 0 {
            by_time
        } else {
            consumer
                .offsets_for_times(by_time, METADATA_TIMEOUT)
                .map_err(|e| spec.error(e))?
        };
        for element in found.elements() {
            list.set_partition_offset(&spec.topic, element.partition(), element.offset())
                .map_err(|e| spec.error(e))?;
        }
    }
    consumer.assign(&list).map_err(|e| spec.error(e))?;
    Ok(ids)
}

/// Assigns every partition of the topic at the starting point, or
/// subscribes to it when a group is joined; the partitions of the topic.
fn assign_or_subscribe(
    consumer: &EventConsumer,
    spec: &KafkaSpec,
) -> Result<Vec<i32>, SourceError> {
    match &spec.group {
        None => assign(consumer, spec),
        Some(_) => {
            let ids = partitions(consumer, spec, &spec.topic)?;
            consumer
                .subscribe(&[&spec.topic])
                .map_err(|e| spec.error(e))?;
            Ok(ids)
        }
    }
}

/// Progress before anything is read: the partitions `ids`, none read.
fn progress_before_reading(ids: &[i32]) -> KafkaProgress {
    KafkaProgress {
        consumed: 0,
        at_end: false,
        watermarks_known: false,
        partitions: ids
            .iter()
            .map(|&partition| PartitionProgress {
                partition,
                ..PartitionProgress::default()
            })
            .collect(),
    }
}

/// Starts the lag watcher and the reader thread, which maps the messages
/// held in `detected` and then keeps consuming on `consumer`; the source
/// that receives its batches.
fn start_reading(
    consumer: EventConsumer,
    spec: &KafkaSpec,
    detected: Detected,
    progress: Arc<Mutex<KafkaProgress>>,
) -> Result<KafkaSource, SourceError> {
    let Detected {
        mapper,
        mapping,
        pending,
        ends,
    } = detected;
    let shared = progress.clone();
    let lag = watch_lag(spec, progress.clone())?;
    let (commits, to_commit) = crossbeam_channel::bounded::<CommitRequest>(4);
    let start_ms = match spec.from {
        StartAt::Time(ms) => Some(ms),
        _ => None,
    };
    let resumed: Vec<i32> = spec.resume.iter().map(|m| m.partition).collect();
    let verify = match spec.group {
        None => to_verify(spec),
        Some(_) => Vec::new(),
    };
    let verifying = Arc::new(std::sync::atomic::AtomicBool::new(!verify.is_empty()));
    let read = Read::new(
        mapper,
        spec.topic.clone(),
        start_ms,
        resumed,
        resume_marks(spec),
        verify,
    );
    let reader = Reader {
        consumer,
        spec: spec.clone(),
        redactor: spec.redactor(),
        to_commit,
        verifying: verifying.clone(),
    };
    let link = ReaderLink::spawn("kafka consumer", move |end| {
        consume(reader, read, (pending, ends), &shared, end);
    })?;
    Ok(KafkaSource {
        commits: spec.group.is_some().then_some(commits),
        name: spec.label(),
        topic: spec.topic.clone(),
        verifying,
        mapping,
        link,
        lag,
        progress,
    })
}

impl KafkaSource {
    /// Connects, assigns the partitions (or joins the group), reads the
    /// first messages to detect the mapping, then keeps consuming on a
    /// reader thread.
    pub fn open(spec: &KafkaSpec, options: &SourceOptions) -> Result<Self, SourceError> {
        let decoder = std::sync::Arc::new(ValueDecoder::new(&spec.values)?);
        let consumer = consumer(spec, Role::Reader)?;
        let ids = assign_or_subscribe(&consumer, spec)?;
        let progress = Arc::new(Mutex::new(progress_before_reading(&ids)));
        let detected = detect_mapping(&consumer, spec, options, decoder)?;
        start_reading(consumer, spec, detected, progress)
    }

    /// How the source is called.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The topic read.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// True while a resumed state's last messages are still to be checked
    /// (a quiet topic is not done before that).
    pub fn is_verifying(&self) -> bool {
        self.verifying.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The columns chosen for each role.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The next batch if one arrives within `timeout`.
    pub fn next_batch_within(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<EventBatch>, SourceError> {
        if let Some(why) = self.lag.failure() {
            return Err(SourceError::ReaderFailed(why));
        }
        self.link.next_batch_within(timeout)
    }

    /// Hands a consumed batch back for reuse.
    pub fn recycle(&mut self, batch: EventBatch) {
        self.link.recycle(batch);
    }

    /// In a consumer group, commits these offsets (partition, next offset)
    /// and waits for the broker's answer: call it only once the events
    /// before them are saved. Does nothing outside a group.
    pub fn commit(&self, covered: &[(i32, i64)]) -> Result<(), SourceError> {
        let Some(commits) = &self.commits else {
            return Ok(());
        };
        let (done, answer) = crossbeam_channel::bounded(1);
        commits
            .send((covered.to_vec(), done))
            .map_err(|_| SourceError::ReaderStopped("Kafka consumer"))?;
        match answer.recv_timeout(Duration::from_secs(30)) {
            Ok(result) => result.map_err(SourceError::Kafka),
            Err(_) => Err(SourceError::Kafka(
                "the commit was not answered within 30 s".into(),
            )),
        }
    }

    /// Stops consuming; in a group, the consumer leaves it properly so that
    /// the next member takes over at once.
    pub fn close(mut self) {
        self.link.shutdown();
    }

    /// Offsets handed to the engine so far, and the lag behind the broker.
    pub fn progress(&self) -> KafkaProgress {
        lock(&self.progress).clone()
    }

    /// True once every partition has been read up to the end the brokers
    /// last gave (and they have given one): the stream is no longer
    /// catching up, so its partitions stand at about the same event time.
    pub fn caught_up(&self) -> bool {
        let progress = self.progress();
        progress.partitions.iter().any(|p| p.high_watermark > 0) && progress.offsets_reach_ends()
    }

    /// True when every partition has been read to the end the brokers
    /// gave when the reader got there, and every message before it has
    /// been mapped and handed over: nothing is left to read for now.
    pub fn read_to_the_end(&self) -> bool {
        // In this order: the reader says so only after handing over the
        // batch with the last messages, which is then taken or waiting.
        let progress = self.progress();
        // Not every broker says "end of partition" to a reader that starts
        // there (a state resumed with nothing new): the offsets handed over
        // reaching the ends the brokers gave say it too.
        let reached = progress.watermarks_known && progress.offsets_reach_ends();
        (progress.at_end || reached) && self.link.is_drained()
    }

    /// Where the stream stands now, for alert rules.
    pub fn stream_state(&self) -> crate::engine::alerts::StreamState {
        let now = chrono::Utc::now();
        crate::engine::alerts::StreamState {
            caught_up: self.caught_up(),
            lag: self.progress().lag(now.timestamp_millis()),
            wall_us: now.timestamp_micros(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_what_is_unread_and_how_long_it_waited() {
        let part = |partition, lag, last_timestamp_ms| PartitionProgress {
            partition,
            next_offset: 10,
            high_watermark: 10 + lag,
            lag,
            last_timestamp_ms,
        };
        let progress = KafkaProgress {
            consumed: 0,
            at_end: false,
            watermarks_known: true,
            partitions: vec![
                part(0, 0, Some(1_000)),
                part(1, 40, Some(50_000)),
                part(2, 2, Some(20_000)),
            ],
        };
        let lag = progress.lag(60_000);
        assert_eq!(lag.messages, 42);
        // The oldest waiting: partition 2, read up to 20 s, 40 s ago.
        assert_eq!(lag.seconds, 40.0);
        assert_eq!(KafkaProgress::default().lag(60_000).seconds, 0.0);
    }
}
