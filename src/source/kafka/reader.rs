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

use crossbeam_channel::RecvTimeoutError;

use crate::background::{Worker, lock, no_waker};
use crate::engine::{EventBatch, StreamMark};
use crate::source::threaded::ReaderEnd;
use crate::source::values::MessageMapper;
use crate::source::{BATCH_EVENTS, SourceError};

use super::{EventConsumer, KafkaProgress, KafkaSpec, Pending, Role, consumer};

/// How often high watermarks (for lag) are asked for.
const WATERMARK_EVERY: Duration = Duration::from_secs(1);

/// Asks the broker for high watermarks on its own client and worker, so
/// that slow answers never hold up consuming; stops when dropped.
pub(super) fn watch_lag(
    spec: &KafkaSpec,
    progress: Arc<Mutex<KafkaProgress>>,
) -> Result<Worker<(), ()>, SourceError> {
    let client = consumer(spec, Role::Watcher)?;
    let topic = spec.topic.clone();
    Ok(Worker::spawn("kafka lag", no_waker(), move |_, stop, _| {
        // The commands end when the source drops the worker.
        while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(WATERMARK_EVERY) {
            let ids: Vec<i32> = lock(&progress)
                .partitions
                .iter()
                .map(|x| x.partition)
                .collect();
            let mut all_known = !ids.is_empty();
            for id in ids {
                let Ok((_, high)) = client.fetch_watermarks(&topic, id, Duration::from_secs(2))
                else {
                    all_known = false;
                    continue;
                };
                if let Some(part) = lock(&progress)
                    .partitions
                    .iter_mut()
                    .find(|x| x.partition == id)
                {
                    part.high_watermark = high;
                    part.lag = (high - part.next_offset).max(0);
                }
            }
            if all_known {
                lock(&progress).watermarks_known = true;
            }
        }
        Ok(())
    }))
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
pub(super) struct Read {
    mapper: MessageMapper,
    /// Per partition: the next offset and the timestamp of the message
    /// before it.
    next: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per resumed partition: the message a saved state read last, to be
    /// read again and compared before going on (offset, timestamp).
    verify: BTreeMap<i32, (i64, Option<i64>)>,
    /// Per partition: the event time of the last event mapped.
    last_event_us: BTreeMap<i32, Option<i64>>,
    /// The topic read.
    topic: String,
    consumed: u64,
    /// `--from TIME`: messages stamped earlier are passed over (brokers that
    /// cannot look offsets up by time start such partitions at 0).
    start_ms: Option<i64>,
    /// Partitions resumed from a saved state, where `start_ms` does not apply.
    resumed: Vec<i32>,
}

impl Read {
    /// Nothing mapped yet from `topic`: each partition in `resume_at` goes
    /// on where a saved state stopped (next offset, timestamp of the message
    /// before it), once the messages in `verify` (partition, offset,
    /// timestamp) have been read again and compared.
    pub(super) fn new(
        mapper: MessageMapper,
        topic: String,
        start_ms: Option<i64>,
        resumed: Vec<i32>,
        resume_at: BTreeMap<i32, (i64, Option<i64>)>,
        verify: Vec<(i32, i64, Option<i64>)>,
    ) -> Read {
        Read {
            mapper,
            // A resumed partition goes on where the saved state stopped.
            next: resume_at,
            verify: verify
                .into_iter()
                .map(|(p, offset, ms)| (p, (offset, ms)))
                .collect(),
            last_event_us: BTreeMap::new(),
            topic,
            consumed: 0,
            start_ms,
            resumed,
        }
    }

    /// Maps the messages held back during detection into `batch`; an error
    /// as [`Read::take`] gives one.
    fn take_pending(
        &mut self,
        pending: &[Pending],
        batch: &mut EventBatch,
    ) -> Result<(), SourceError> {
        for p in pending {
            self.take(
                p.partition,
                p.offset,
                p.timestamp_ms,
                p.value.as_deref(),
                batch,
            )?;
        }
        Ok(())
    }

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
        let last_event_us = self.last_event_us.entry(partition).or_default();
        self.mapper
            .map_on_partition(value, (partition, offset), batch, last_event_us);
        self.consumed += 1;
        Ok(())
    }

    /// Where each partition goes on, with the end offsets last seen.
    fn marks(&self, progress: &Mutex<KafkaProgress>) -> Vec<StreamMark> {
        let ends: Vec<(i32, i64)> = lock(progress)
            .partitions
            .iter()
            .map(|x| (x.partition, x.high_watermark))
            .collect();
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
    pub to_commit: crossbeam_channel::Receiver<CommitRequest>,
    /// Cleared once every message a resumed state read last has been
    /// checked (see [`Read`]).
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
                .is_some_and(|checker| topic_missing(&checker, &self.spec.topic))
    }

    /// Commits the offsets asked for since the last poll, answering each
    /// request.
    fn commit_asked(&self) {
        while let Ok((offsets, done)) = self.to_commit.try_recv() {
            let mut list = TopicPartitionList::new();
            for (partition, next) in offsets {
                if list
                    .add_partition_offset(&self.spec.topic, partition, Offset::Offset(next))
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

    /// Logs a client error met while polling and goes on (librdkafka
    /// retries broker hiccups itself), unless it means that reading must
    /// stop: then why.
    fn check_poll_error(&self, e: &KafkaError) -> Result<(), SourceError> {
        if e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset) {
            return Err(SourceError::TopicChanged(format!(
                "`{}` no longer holds the offsets where the saved state goes on: \
                 the topic was deleted and created again (or the messages after \
                 the saved ones expired before they were read)",
                self.spec.topic
            )));
        }
        if self.topic_is_gone(e) {
            // Stop before the client works on a topic that is
            // not there; the saved state stays as it was.
            return Err(SourceError::TopicGone(format!(
                "topic `{}` was deleted while it was read",
                self.spec.topic
            )));
        }
        // librdkafka retries broker hiccups itself; say what happened.
        log::warn!(
            "kafka: {}",
            crate::format::printable(&self.redactor.clean(&e.to_string()))
        );
        Ok(())
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

/// Why the reader thread stops.
enum Stop {
    /// Reading cannot go on: the engine is told why.
    Failed(SourceError),
    /// The engine is gone and needs no reason.
    EngineGone,
}

/// The reader thread: maps messages into batches and sends each batch when
/// it is full or when the topic goes quiet; offsets are recorded once the
/// batch has been handed over.
pub(super) fn consume(
    reader: Reader,
    mut read: Read,
    (pending, ends): (Vec<Pending>, BTreeSet<i32>),
    progress: &Mutex<KafkaProgress>,
    end: ReaderEnd,
) {
    let mut batch = end.fresh_batch();
    if let Err(e) = read.take_pending(&pending, &mut batch) {
        stop_with(&reader.consumer, &end, e);
        return;
    }
    drop(pending);
    let mut consuming = Consuming {
        read,
        batch,
        end,
        ends,
        reader,
        progress,
        quiet_since: Instant::now(),
        verify_since: Instant::now(),
    };
    if let Stop::Failed(e) = consuming.run() {
        stop_with(&consuming.reader.consumer, &consuming.end, e);
    }
}

/// What the reader thread works with between polls.
struct Consuming<'a> {
    read: Read,
    /// The batch being filled.
    batch: EventBatch,
    end: ReaderEnd,
    /// Partitions read to their end (every message before it taken).
    ends: BTreeSet<i32>,
    reader: Reader,
    progress: &'a Mutex<KafkaProgress>,
    /// When a batch was last handed over.
    quiet_since: Instant,
    /// Since when the messages a resumed state read last are waited for.
    verify_since: Instant,
}

impl Consuming<'_> {
    /// Polls and hands batches over until reading stops; why it stopped.
    fn run(&mut self) -> Stop {
        loop {
            if let Err(stop) = self.poll_and_hand_over() {
                return stop;
            }
        }
    }

    /// One round: answers commit requests, polls what has arrived, and
    /// hands the batch over when it holds something or the engine has not
    /// heard from the reader for a second.
    fn poll_and_hand_over(&mut self) -> Result<(), Stop> {
        self.reader.commit_asked();
        self.check_verify_wait()?;
        self.poll_messages()?;
        if self.read.verify.is_empty() {
            self.reader
                .verifying
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        let has_news = !self.batch.is_empty() || !self.batch.rejected.is_empty();
        // An empty batch now and then tells the reader whether the engine
        // is still there.
        let heartbeat = self.quiet_since.elapsed() >= Duration::from_secs(1);
        if has_news || heartbeat {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Once the messages a resumed state read last have been waited for
    /// [`VERIFY_WAIT`], asks the brokers about the topic: there, the
    /// messages are no longer waited for; deleted, reading stops.
    fn check_verify_wait(&mut self) -> Result<(), Stop> {
        if self.read.verify.is_empty() || self.verify_since.elapsed() < VERIFY_WAIT {
            return Ok(());
        }
        let topic = &self.reader.spec.topic;
        let checker = consumer_for_checks(&self.reader.spec);
        let exists = checker.as_ref().and_then(|c| topic_exists(c, topic));
        match exists {
            // The brokers answer but do not give that message again
            // (some serve no fetch from inside a batch): it cannot be
            // compared, and the end offsets were compared at the start.
            Some(true) => self.read.verify.clear(),
            Some(false) => {
                let gone = SourceError::TopicGone(format!("topic `{topic}` was deleted"));
                return Err(Stop::Failed(gone));
            }
            // The brokers are away: wait for them, then again for the messages.
            None => self.verify_since = Instant::now(),
        }
        Ok(())
    }

    /// Drains what librdkafka has fetched into the batch, waiting briefly
    /// only when nothing is there, until the batch is full.
    fn poll_messages(&mut self) -> Result<(), Stop> {
        let mut messages = 0usize;
        while messages < BATCH_EVENTS && self.batch.len() < BATCH_EVENTS {
            let wait = if messages == 0 {
                Duration::from_millis(50)
            } else {
                Duration::ZERO
            };
            match self.reader.consumer.poll(wait) {
                Some(Ok(message)) => {
                    self.ends.remove(&message.partition());
                    let taken = self.read.take(
                        message.partition(),
                        message.offset(),
                        message.timestamp().to_millis(),
                        message.payload(),
                        &mut self.batch,
                    );
                    if let Err(e) = taken {
                        // The engine stops at this error: nothing of another
                        // topic is mixed into the state.
                        return Err(Stop::Failed(e));
                    }
                    messages += 1;
                }
                // Every message of the partition before this was taken.
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    self.ends.insert(partition);
                }
                Some(Err(e)) => self.reader.check_poll_error(&e).map_err(Stop::Failed)?,
                None => break,
            }
        }
        Ok(())
    }

    /// Hands the batch over with where each partition goes on, then
    /// records the progress; offsets count only once the engine has the
    /// batch.
    fn hand_over(&mut self) -> Result<(), Stop> {
        self.quiet_since = Instant::now();
        let mut sent = std::mem::replace(&mut self.batch, self.end.fresh_batch());
        sent.resume_at = self.read.marks(self.progress);
        self.send(sent)?;
        self.record_progress();
        Ok(())
    }

    /// Waits for the engine to take `batch`, answering commit requests
    /// meanwhile (the engine may be waiting for one).
    fn send(&self, batch: EventBatch) -> Result<(), Stop> {
        let mut message = Ok(batch);
        loop {
            match self
                .end
                .batches
                .send_timeout(message, Duration::from_millis(50))
            {
                Ok(()) => return Ok(()),
                Err(crossbeam_channel::SendTimeoutError::Timeout(back)) => {
                    message = back;
                    self.reader.commit_asked();
                }
                Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => {
                    return Err(Stop::EngineGone);
                }
            }
        }
    }

    /// Records how many messages were read, where each partition goes on,
    /// and whether everything has been read to the end.
    fn record_progress(&self) {
        let at_end = read_to_the_end(&self.reader.consumer, &self.ends);
        let mut p = lock(self.progress);
        p.consumed = self.read.consumed;
        p.at_end = at_end;
        for (&partition, &(offset, stamped)) in &self.read.next {
            if let Some(part) = p.partitions.iter_mut().find(|x| x.partition == partition) {
                part.next_offset = offset;
                part.last_timestamp_ms = stamped;
                part.lag = (part.high_watermark - offset).max(0);
            }
        }
    }
}
