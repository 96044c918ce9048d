//! What a worker in a consumer group needs of the Kafka source: the
//! columns (detected as the viewer detects them, from the whole topic), a
//! group member that assigns partitions cooperatively and lets its context
//! decide where each newly assigned partition starts, the topic's
//! partitions, and the lag watcher.

use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext};

use crate::background::{Worker, lock};
use crate::source::schema::Mapping;
use crate::source::values::{MessageMapper, ValueDecoder};
use crate::source::{SourceError, SourceOptions};

use super::client::create_consumer_with;
use super::detect::detect_mapping;
use super::{KafkaProgress, KafkaSpec, Role, StartAt, assign, consumer, partitions};

/// The columns of `spec`'s topic and the mapper that reads its messages:
/// `spec.mapping` when given, else detected from the first messages of
/// every partition (read on a client of their own, outside any group), as
/// `live` detects them.
pub fn detect_columns(
    spec: &KafkaSpec,
    options: &SourceOptions,
) -> Result<(MessageMapper, Mapping), SourceError> {
    let decoder = Arc::new(ValueDecoder::new(&spec.values)?);
    let alone = KafkaSpec {
        group: None,
        ..spec.clone()
    };
    let client = consumer(&alone, Role::Reader)?;
    if alone.mapping.is_none() {
        assign(&client, &alone)?;
    }
    let detected = detect_mapping(&client, &alone, options, decoder)?;
    Ok((detected.mapper, detected.mapping))
}

/// The partitions of `topic` on `spec`'s brokers (an error naming the
/// topics there when it is missing).
pub fn topic_partitions(spec: &KafkaSpec, topic: &str) -> Result<Vec<i32>, SourceError> {
    let client = consumer(spec, Role::Watcher)?;
    partitions(&client, spec, topic)
}

/// A member of consumer group `spec.group` on `spec.topic`, subscribed,
/// called `client_id`: partitions are assigned cooperatively
/// (cooperative-sticky), and `context` is told of every assignment and
/// revocation (it assigns them itself, see
/// [`ConsumerContext::rebalance`]).
pub fn group_member<C: ConsumerContext + 'static>(
    spec: &KafkaSpec,
    client_id: &str,
    context: C,
) -> Result<BaseConsumer<C>, SourceError> {
    let Some(group) = spec.group.as_deref() else {
        return Err(SourceError::Usage("a worker needs --group".into()));
    };
    let settings = [
        ("bootstrap.servers", spec.brokers.as_str()),
        ("group.id", group),
        ("client.id", client_id),
        ("partition.assignment.strategy", "cooperative-sticky"),
        ("fetch.queue.backoff.ms", super::FETCH_QUEUE_BACKOFF_MS),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("enable.partition.eof", "true"),
        (
            "auto.offset.reset",
            match spec.from {
                StartAt::Latest => "latest",
                _ => "earliest",
            },
        ),
    ];
    let member = create_consumer_with(&settings, &spec.properties, context)
        .map_err(|e| SourceError::Kafka(e.to_string()))?;
    rdkafka::consumer::Consumer::subscribe(&member, &[spec.topic.as_str()])
        .map_err(|e| spec.error(e))?;
    Ok(member)
}

/// The input topic's end offsets, asked for every second on a client of
/// their own (see the live reader's lag watcher).
pub struct EndWatch {
    progress: Arc<Mutex<KafkaProgress>>,
    _watcher: Worker<(), ()>,
}

impl EndWatch {
    /// Starts asking for the ends of `ids`, partitions of `spec.topic`.
    pub fn start(spec: &KafkaSpec, ids: &[i32]) -> Result<Self, SourceError> {
        let progress = Arc::new(Mutex::new(super::progress_before_reading(ids)));
        let watcher = super::reader::watch_lag(spec, progress.clone())?;
        Ok(EndWatch {
            progress,
            _watcher: watcher,
        })
    }

    /// A partition's end offset, once known.
    pub fn end_of(&self, partition: i32) -> Option<i64> {
        let progress = lock(&self.progress);
        let known = progress.watermarks_known;
        progress
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.high_watermark)
            .filter(|_| known)
    }
}
