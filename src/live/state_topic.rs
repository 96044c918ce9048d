//! The state topic on the brokers: created when missing (compacted, when
//! the brokers take that), snapshots published to it with each delivery
//! confirmed, and read from its start by whoever needs the latest snapshot
//! of a partition (a worker taking a partition over, the merged view).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::source::SourceError;
use crate::source::kafka::group::topic_partitions;
use crate::source::kafka::{
    EventConsumer, KafkaSpec, Redactor, create_client, create_consumer, is_partition_end,
};

use super::snapshot::{Assembler, PartKey, SnapshotHeader, chunk_keys, snapshot_messages};

/// How long one snapshot's delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// State that fits one message of the brokers' default limit (1 MB) with
/// room for the header.
pub const DEFAULT_CHUNK_BYTES: usize = 900_000;

/// The state topic: its name, on the brokers and with the client
/// properties of `spec` (its topic is the input's).
#[derive(Debug, Clone)]
pub struct StateTopic {
    /// The brokers and client properties.
    pub spec: KafkaSpec,
    /// The state topic's name.
    pub name: String,
}

impl StateTopic {
    fn error(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Kafka(format!(
            "state topic `{}`: {}",
            self.name,
            self.spec.redactor().clean(&e.to_string())
        ))
    }

    /// Creates the topic when the brokers do not have it: one partition
    /// (a snapshot's chunks stay in order), compacted when the brokers
    /// take that setting, as they are asked.
    pub fn create_if_missing(&self) -> Result<(), SourceError> {
        if topic_partitions(&self.spec, &self.name).is_ok() {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = create_client(
            &[("bootstrap.servers", self.spec.brokers.as_str())],
            &self.spec.properties,
        )
        .map_err(|e| self.error(e))?;
        let create = |compacted: bool| {
            let mut topic = NewTopic::new(&self.name, 1, TopicReplication::Fixed(-1));
            topic = match compacted {
                true => topic.set("cleanup.policy", "compact"),
                // Kept for good: a quiet partition's only snapshot must not
                // expire.
                false => topic.set("retention.ms", "-1"),
            };
            let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
            let answer = futures_executor::block_on(admin.create_topics([&topic], &options));
            match answer.map_err(|e| e.to_string())?.pop() {
                Some(Err((_, code)))
                    if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists =>
                {
                    Err(code.to_string())
                }
                _ => Ok(()),
            }
        };
        if let Err(compacted) = create(true) {
            log::info!("the brokers did not create a compacted state topic ({compacted})");
            create(false).map_err(|e| self.error(e))?;
        }
        // The topic's metadata takes a moment to be known everywhere.
        let until = Instant::now() + Duration::from_secs(10);
        while topic_partitions(&self.spec, &self.name).is_err() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
        }
        topic_partitions(&self.spec, &self.name).map(|_| ())
    }
}

/// Publishes snapshots to the state topic, each confirmed before the next
/// round.
pub struct Publisher {
    producer: FutureProducer,
    topic: String,
    partitions: i32,
    chunk_bytes: usize,
    redactor: Redactor,
}

impl Publisher {
    /// A producer for the state topic (idempotent, every replica
    /// acknowledging), sending at most `chunk_bytes` of state per message.
    pub fn start(state: &StateTopic, chunk_bytes: usize) -> Result<Self, SourceError> {
        let partitions = topic_partitions(&state.spec, &state.name)?.len().max(1) as i32;
        let max_bytes = (chunk_bytes + 64 * 1024).max(1_000_000).to_string();
        let producer = create_client(
            &[
                ("bootstrap.servers", state.spec.brokers.as_str()),
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("message.max.bytes", max_bytes.as_str()),
            ],
            &state.spec.properties,
        )
        .map_err(|e| state.error(e))?;
        Ok(Publisher {
            producer,
            topic: state.name.clone(),
            partitions,
            chunk_bytes,
            redactor: state.spec.redactor(),
        })
    }

    /// Publishes one snapshot of `state` and waits until every chunk is
    /// delivered; then clears `earlier`'s chunks (tombstones, so that a
    /// compacted topic drops them). The header as published.
    pub fn publish(
        &self,
        header: SnapshotHeader,
        state: &[u8],
        earlier: Option<&SnapshotHeader>,
    ) -> Result<SnapshotHeader, SourceError> {
        let messages = snapshot_messages(header, state, self.chunk_bytes);
        // Every message of one input partition's snapshots goes to one
        // partition of the state topic, in order.
        let key = &messages[messages.len() - 1].0;
        let partition =
            (crate::engine::intern::name_hash(key) % self.partitions.max(1) as u64) as i32;
        for (key, value) in &messages {
            let record = FutureRecord::to(&self.topic)
                .partition(partition)
                .key(key.as_str())
                .payload(value.as_slice());
            futures_executor::block_on(self.producer.send(record, DELIVERY_TIMEOUT))
                .map_err(|(e, _)| self.failed(e))?;
        }
        let published = super::snapshot::header_of(&messages[messages.len() - 1].1)
            .ok_or_else(|| self.failed("the snapshot just made cannot be read"))?;
        for key in earlier.map(chunk_keys).unwrap_or_default() {
            let record = FutureRecord::<str, [u8]>::to(&self.topic)
                .partition(partition)
                .key(key.as_str());
            futures_executor::block_on(self.producer.send(record, DELIVERY_TIMEOUT))
                .map_err(|(e, _)| self.failed(e))?;
        }
        Ok(published)
    }

    fn failed(&self, e: impl std::fmt::Display) -> SourceError {
        SourceError::Kafka(format!(
            "cannot publish a snapshot to `{}`: {}",
            self.topic,
            self.redactor.clean(&e.to_string())
        ))
    }
}

/// Reads the state topic from its start and keeps the latest snapshot of
/// each input partition.
pub struct Follower {
    consumer: EventConsumer,
    state: StateTopic,
    /// Per partition of the state topic: the next offset to read.
    next: BTreeMap<i32, i64>,
    assembler: Assembler,
    /// Partitions of the state topic read to their end since last asked.
    at_end: std::collections::BTreeSet<i32>,
    /// Messages read.
    pub read: u64,
}

impl Follower {
    /// Starts reading every partition of the state topic from its start.
    pub fn open(state: &StateTopic) -> Result<Self, SourceError> {
        let ids = topic_partitions(&state.spec, &state.name)?;
        let group = format!("journeyscope-state-{}", std::process::id());
        let consumer = create_consumer(
            &[
                ("bootstrap.servers", state.spec.brokers.as_str()),
                ("group.id", group.as_str()),
                ("enable.auto.commit", "false"),
                ("enable.partition.eof", "true"),
                ("auto.offset.reset", "earliest"),
                ("fetch.queue.backoff.ms", "10"),
            ],
            &state.spec.properties,
        )
        .map_err(|e| state.error(e))?;
        let mut list = TopicPartitionList::new();
        for &p in &ids {
            list.add_partition_offset(&state.name, p, Offset::Beginning)
                .map_err(|e| state.error(e))?;
        }
        consumer.assign(&list).map_err(|e| state.error(e))?;
        Ok(Follower {
            consumer,
            state: state.clone(),
            next: ids.iter().map(|&p| (p, 0)).collect(),
            assembler: Assembler::default(),
            at_end: Default::default(),
            read: 0,
        })
    }

    /// Reads what has arrived, waiting up to `wait` for the first message;
    /// the input partitions whose snapshot was completed.
    pub fn poll(&mut self, wait: Duration) -> Result<Vec<PartKey>, SourceError> {
        let mut done = Vec::new();
        let mut wait = wait;
        loop {
            match self.consumer.poll(wait) {
                Some(Ok(message)) => {
                    let (partition, offset) = (message.partition(), message.offset());
                    self.next.insert(partition, offset + 1);
                    self.at_end.remove(&partition);
                    self.read += 1;
                    let at = || format!("partition {partition} offset {offset}");
                    done.extend(self.assembler.take(message.key(), message.payload(), at));
                }
                // Read to its end: what is left (a transaction's marker)
                // is never delivered.
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    self.at_end.insert(partition);
                }
                Some(Err(e)) if is_partition_end(&e) => {}
                Some(Err(e)) => {
                    log::warn!(
                        "state topic: {}",
                        self.state.spec.redactor().clean(&e.to_string())
                    );
                }
                None => return Ok(done),
            }
            wait = Duration::ZERO;
        }
    }

    /// Reads until every message on the state topic now has been read (or
    /// `within` is over: an error).
    pub fn catch_up(&mut self, within: Duration) -> Result<Vec<PartKey>, SourceError> {
        let mut ends = Vec::new();
        let ids: Vec<i32> = self.next.keys().copied().collect();
        for p in ids {
            let (low, high) = self
                .consumer
                .fetch_watermarks(&self.state.name, p, within)
                .map_err(|e| self.state.error(e))?;
            // Messages before `low` are gone (retention): nothing to wait for.
            let next = self.next.entry(p).or_insert(0);
            *next = (*next).max(low);
            ends.push((p, high));
        }
        let until = Instant::now() + within;
        let mut done = Vec::new();
        self.at_end.clear();
        while ends
            .iter()
            .any(|(p, high)| !self.at_end.contains(p) && self.next.get(p).is_some_and(|n| n < high))
        {
            if Instant::now() > until {
                return Err(self
                    .state
                    .error(format!("not read to its end within {} s", within.as_secs())));
            }
            done.extend(self.poll(Duration::from_millis(100))?);
        }
        Ok(done)
    }

    /// Keeps only the snapshots of `job` from now on (the others are
    /// counted as read, never held).
    pub fn only_job(&mut self, job: &str) {
        self.assembler.only_job(job);
    }

    /// The snapshots read so far.
    pub fn assembler(&self) -> &Assembler {
        &self.assembler
    }
}
