//! The Kafka reader thread: polls messages, maps them into batches, hands
//! them over through the bounded channel (answering commit requests while it
//! waits), and a second client that watches the lag.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::engine::{EventBatch, StreamMark};
use crate::source::threaded::ReaderEnd;
use crate::source::values::MessageMapper;
use crate::source::{BATCH_EVENTS, SourceError};

use super::{EventConsumer, KafkaProgress, KafkaSpec, Pending, Role, consumer};

/// How often high watermarks (for lag) are asked for.
const WATERMARK_EVERY: Duration = Duration::from_secs(1);

/// Asks the broker for high watermarks on its own client and thread, so
/// that slow answers never hold up consuming; stops when `stop` closes.
pub(super) fn watch_lag(
    spec: &KafkaSpec,
    progress: Arc<Mutex<KafkaProgress>>,
    stop: crossbeam_channel::Receiver<()>,
) -> Result<(), SourceError> {
    let client = consumer(spec, Role::Watcher)?;
    let topic = spec.topic.clone();
    std::thread::Builder::new()
        .name("kafka lag".into())
        .spawn(move || {
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                stop.recv_timeout(WATERMARK_EVERY)
            {
                let ids: Vec<i32> = progress
                    .lock()
                    .map(|p| p.partitions.iter().map(|x| x.partition).collect())
                    .unwrap_or_default();
                let mut all_known = !ids.is_empty();
                for id in ids {
                    let Ok((_, high)) = client.fetch_watermarks(&topic, id, Duration::from_secs(2))
                    else {
                        all_known = false;
                        continue;
                    };
                    if let Ok(mut p) = progress.lock()
                        && let Some(part) = p.partitions.iter_mut().find(|x| x.partition == id)
                    {
                        part.high_watermark = high;
                        part.lag = (high - part.next_offset).max(0);
                    }
                }
                if all_known && let Ok(mut p) = progress.lock() {
                    p.watermarks_known = true;
                }
            }
        })
        .map_err(SourceError::Thread)?;
    Ok(())
}

/// True when the brokers answer that `topic` does not exist (false when
/// they do not answer: a broker away is waited for, not taken as deletion).
pub(super) fn topic_missing<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> bool {
    topic_exists(consumer, topic) == Some(false)
}

/// Whether the brokers know `topic`; None when they do not answer.
fn topic_exists<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Option<bool> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    Some(match metadata.topics().iter().find(|t| t.name() == topic) {
        None => false,
        Some(t) => {
            !t.partitions().is_empty()
                && !t.error().is_some_and(|e| {
                    matches!(
                        RDKafkaErrorCode::from(e),
                        RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
                    )
                })
        }
    })
}

/// Stops reading: leaves the partitions and hands the engine `error`.
fn stop_with(consumer: &EventConsumer, end: &ReaderEnd, error: SourceError) {
    if let Err(e) = consumer.unassign() {
        let text = consumer.context().clean(&e.to_string());
        log::debug!("leaving the partitions: {text}");
    }
    // A closed channel: the engine is gone and needs no reason.
    let _ = end.batches.send(Err(error));
}

/// A client that only asks for metadata, beside the reader.
fn consumer_for_checks(spec: &KafkaSpec) -> Option<EventConsumer> {
    consumer(spec, Role::Watcher).ok()
}

/// How long the messages a resumed state read last may take to arrive
/// again, while the brokers answer, before going on without comparing them.
const VERIFY_WAIT: Duration = Duration::from_secs(3);

/// Messages mapped so far and where each partition continues.
struct Read {
    mapper: MessageMapper,
    /// Per partition: the next offset and the timestamp of the message
    /// before it.
    next: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per resumed partition: the message a saved state read last, to be
    /// read again and compared before going on (offset, timestamp).
    verify: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per partition: the event time of the last event mapped.
    last_event_us: BTreeMap<i32, Option<i64>>,
    topic: String,
    consumed: u64,
    /// `--from TIME`: messages stamped earlier are passed over (brokers that
    /// cannot look offsets up by time start such partitions at 0).
    start_ms: Option<i64>,
    /// Partitions resumed from a saved state, where `start_ms` does not apply.
    resumed: Vec<i32>,
}

impl Read {
    /// Maps one message into `batch`; an error when it shows that the topic
    /// is not the one a resumed state was reading.
    fn take(
        &mut self,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        value: Option<&[u8]>,
        batch: &mut EventBatch,
    ) -> Result<(), SourceError> {
        if let Some(&(check_offset, check_ms)) = self.verify.get(&partition) {
            self.verify.remove(&partition);
            let same = offset == check_offset && timestamp_ms == check_ms;
            // Some brokers (tansu) answer a fetch from the middle of a batch
            // with the next batch: the message after is where the state
            // goes on anyway, and is read as new.
            let next_one = offset == check_offset + 1;
            if !same && !next_one {
                let found = match offset == check_offset {
                    true => format!(
                        "it is stamped {} instead of {}",
                        stamp(timestamp_ms),
                        stamp(check_ms)
                    ),
                    false => format!("the first message there now is at offset {offset}"),
                };
                return Err(SourceError::TopicChanged(format!(
                    "the message the saved state read last, at partition {partition} offset \
                     {check_offset} of `{}`, is not there any more ({found}): the topic was \
                     deleted and created again (or compacted, or the message expired)",
                    self.topic,
                )));
            }
            if same {
                // Read again only to compare: already in the saved state.
                self.next.insert(partition, (offset + 1, timestamp_ms));
                return Ok(());
            }
        }
        // A message before where the partition goes on is held already
        // (by the saved state, or read earlier in this run): never taken in
        // twice, whatever the client delivers again.
        if self
            .next
            .get(&partition)
            .is_some_and(|&(next, _)| offset < next)
        {
            return Ok(());
        }
        let before_start = self
            .start_ms
            .zip(timestamp_ms)
            .is_some_and(|(start, t)| t < start)
            && !self.resumed.contains(&partition);
        self.next.insert(partition, (offset + 1, timestamp_ms));
        if before_start {
            return Ok(());
        }
        let (events, rejected) = (batch.len(), batch.rejected.len());
        self.mapper.map_message(
            value,
            || format!("partition {partition} offset {offset}"),
            batch,
        );
        // A rejected record is placed in event time after the event before
        // it on its partition: the same in a replay, whatever its batches.
        if batch.len() > events {
            self.last_event_us.insert(partition, batch.last_time_us());
        }
        if batch.rejected.len() > rejected {
            let at = self.last_event_us.get(&partition).copied().flatten();
            batch.place_rejected_from(rejected, at);
        }
        self.consumed += 1;
        Ok(())
    }

    /// Where each partition goes on, with the end offsets last seen.
    fn marks(&self, progress: &Mutex<KafkaProgress>) -> Vec<StreamMark> {
        let ends: Vec<(i32, i64)> = progress
            .lock()
            .map(|p| {
                p.partitions
                    .iter()
                    .map(|x| (x.partition, x.high_watermark))
                    .collect()
            })
            .unwrap_or_default();
        let end_of = |partition: i32| {
            ends.iter()
                .find(|(p, _)| *p == partition)
                .map(|(_, h)| *h)
                .filter(|h| *h > 0)
        };
        self.next
            .iter()
            .map(
                |(&partition, &(next_offset, last_timestamp_ms))| StreamMark {
                    partition,
                    next_offset,
                    last_timestamp_ms,
                    high_watermark: end_of(partition),
                },
            )
            .collect()
    }
}

/// A broker timestamp for a message.
fn stamp(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or("without a time".to_owned(), |t| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
}

/// The consumer with what the reader thread needs beside it.
pub(super) struct Reader {
    pub consumer: EventConsumer,
    /// What is read, for a second client that checks on the topic.
    pub spec: KafkaSpec,
    /// Removes client property values from the client's messages.
    pub redactor: super::Redactor,
    pub topic: String,
    pub to_commit: crossbeam_channel::Receiver<CommitRequest>,
    /// Messages stamped before this are passed over (`--from TIME`).
    pub start_ms: Option<i64>,
    /// Partitions resumed from a saved state.
    pub resumed: Vec<i32>,
    /// Per resumed partition: where the saved state goes on (next offset,
    /// timestamp of the message before it).
    pub resume_at: BTreeMap<i32, (i64, Option<i64>)>,
    /// Messages to read again and compare with a saved state's (partition,
    /// offset, timestamp).
    pub verify: Vec<(i32, i64, Option<i64>)>,
    /// Cleared once every message in `verify` has been checked.
    pub verifying: Arc<std::sync::atomic::AtomicBool>,
}

/// Offsets to commit and where to say how it went.
pub(super) type CommitRequest = (
    Vec<(i32, i64)>,
    crossbeam_channel::Sender<Result<(), String>>,
);

impl Reader {
    /// True when `error` says the topic is unknown and the brokers confirm
    /// that it no longer exists.
    fn topic_is_gone(&self, error: &rdkafka::error::KafkaError) -> bool {
        use rdkafka::error::RDKafkaErrorCode as Code;
        let unknown = matches!(
            error.rdkafka_error_code(),
            Some(Code::UnknownTopicOrPartition | Code::UnknownTopic | Code::UnknownPartition)
        );
        // Asked on a client of its own: the reader's metadata cache stays
        // empty (see `consumer`).
        unknown
            && consumer_for_checks(&self.spec)
                .is_some_and(|checker| topic_missing(&checker, &self.topic))
    }

    /// Commits the offsets asked for since the last poll, answering each
    /// request.
    fn commit_asked(&self) {
        while let Ok((offsets, done)) = self.to_commit.try_recv() {
            let mut list = TopicPartitionList::new();
            for (partition, next) in offsets {
                if list
                    .add_partition_offset(&self.topic, partition, Offset::Offset(next))
                    .is_err()
                {
                    continue;
                }
            }
            let result = self
                .consumer
                .commit(&list, rdkafka::consumer::CommitMode::Sync)
                .map_err(|e| self.redactor.clean(&e.to_string()));
            // The engine waits for this answer; gone, it needs none.
            let _ = done.send(result);
        }
    }
}

/// True when every partition assigned to `consumer` is among `ends`
/// (read to its end, every message before it taken).
fn read_to_the_end(consumer: &EventConsumer, ends: &BTreeSet<i32>) -> bool {
    consumer.assignment().is_ok_and(|assigned| {
        let partitions = assigned.elements();
        !partitions.is_empty() && partitions.iter().all(|p| ends.contains(&p.partition()))
    })
}

/// The reader thread: maps messages into batches and sends each batch when
/// it is full or when the topic goes quiet; offsets are recorded once the
/// batch has been handed over.
pub(super) fn consume(
    reader: Reader,
    mapper: MessageMapper,
    (pending, mut ends): (Vec<Pending>, BTreeSet<i32>),
    progress: &Mutex<KafkaProgress>,
    end: ReaderEnd,
) {
    let mut batch = end.fresh_batch();
    let mut read = Read {
        mapper,
        // A resumed partition goes on where the saved state stopped.
        next: reader.resume_at.clone(),
        verify: reader
            .verify
            .iter()
            .map(|&(p, offset, ms)| (p, (offset, ms)))
            .collect(),
        last_event_us: BTreeMap::new(),
        topic: reader.topic.clone(),
        consumed: 0,
        start_ms: reader.start_ms,
        resumed: reader.resumed.clone(),
    };
    for p in &pending {
        let taken = read.take(
            p.partition,
            p.offset,
            p.timestamp_ms,
            p.value.as_deref(),
            &mut batch,
        );
        if let Err(e) = taken {
            stop_with(&reader.consumer, &end, e);
            return;
        }
    }
    drop(pending);
    let mut quiet_since = Instant::now();
    let mut verify_since = Instant::now();
    let consumer = &reader.consumer;
    loop {
        reader.commit_asked();
        if !read.verify.is_empty() && verify_since.elapsed() >= VERIFY_WAIT {
            let checker = consumer_for_checks(&reader.spec);
            match checker
                .as_ref()
                .and_then(|c| topic_exists(c, &reader.topic))
            {
                // The brokers answer but do not give that message again
                // (some serve no fetch from inside a batch): it cannot be
                // compared, and the end offsets were compared at the start.
                Some(true) => read.verify.clear(),
                Some(false) => {
                    let gone =
                        SourceError::TopicGone(format!("topic `{}` was deleted", reader.topic));
                    stop_with(consumer, &end, gone);
                    return;
                }
                // The brokers are away: wait for them, then again for the messages.
                None => verify_since = Instant::now(),
            }
        }
        // Drain what librdkafka has fetched, waiting briefly only when
        // nothing is there.
        let mut messages = 0usize;
        while messages < BATCH_EVENTS && batch.len() < BATCH_EVENTS {
            let wait = if messages == 0 {
                Duration::from_millis(50)
            } else {
                Duration::ZERO
            };
            match consumer.poll(wait) {
                Some(Ok(message)) => {
                    ends.remove(&message.partition());
                    let taken = read.take(
                        message.partition(),
                        message.offset(),
                        message.timestamp().to_millis(),
                        message.payload(),
                        &mut batch,
                    );
                    if let Err(e) = taken {
                        // The engine stops at this error: nothing of another
                        // topic is mixed into the state.
                        stop_with(consumer, &end, e);
                        return;
                    }
                    messages += 1;
                }
                // Every message of the partition before this was taken.
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    ends.insert(partition);
                }
                Some(Err(e)) => {
                    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset) {
                        stop_with(
                            consumer,
                            &end,
                            SourceError::TopicChanged(format!(
                                "`{}` no longer holds the offsets where the saved state goes on: \
                             the topic was deleted and created again (or the messages after \
                             the saved ones expired before they were read)",
                                reader.topic
                            )),
                        );
                        return;
                    }
                    if reader.topic_is_gone(&e) {
                        // Stop before the client works on a topic that is
                        // not there; the saved state stays as it was.
                        stop_with(
                            consumer,
                            &end,
                            SourceError::TopicGone(format!(
                                "topic `{}` was deleted while it was read",
                                reader.topic
                            )),
                        );
                        return;
                    }
                    // librdkafka retries broker hiccups itself; say what happened.
                    log::warn!(
                        "kafka: {}",
                        crate::format::printable(&reader.redactor.clean(&e.to_string()))
                    );
                }
                None => break,
            }
        }
        if read.verify.is_empty() {
            reader
                .verifying
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        let has_news = !batch.is_empty() || !batch.rejected.is_empty();
        // An empty batch now and then tells the reader whether the engine
        // is still there.
        let heartbeat = quiet_since.elapsed() >= Duration::from_secs(1);
        if has_news || heartbeat {
            quiet_since = Instant::now();
            let mut sent = std::mem::replace(&mut batch, end.fresh_batch());
            sent.resume_at = read.marks(progress);
            // Wait for the engine to take the batch, answering commit
            // requests meanwhile (the engine may be waiting for one).
            let mut message = Ok(sent);
            loop {
                match end.batches.send_timeout(message, Duration::from_millis(50)) {
                    Ok(()) => break,
                    Err(crossbeam_channel::SendTimeoutError::Timeout(back)) => {
                        message = back;
                        reader.commit_asked();
                    }
                    Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => return,
                }
            }
            let at_end = read_to_the_end(consumer, &ends);
            if let Ok(mut p) = progress.lock() {
                p.consumed = read.consumed;
                p.at_end = at_end;
                for (&partition, &(offset, stamped)) in &read.next {
                    if let Some(part) = p.partitions.iter_mut().find(|x| x.partition == partition) {
                        part.next_offset = offset;
                        part.last_timestamp_ms = stamped;
                        part.lag = (part.high_watermark - offset).max(0);
                    }
                }
            }
        }
    }
}
