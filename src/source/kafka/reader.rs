//! The Kafka reader thread: polls messages, maps them into batches, hands
//! them over through the bounded channel (answering commit requests while it
//! waits), and a second client that watches the lag.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::engine::EventBatch;
use crate::source::jsonl::JsonMapper;
use crate::source::threaded::ReaderEnd;
use crate::source::{BATCH_EVENTS, SourceError};

use super::{KafkaProgress, KafkaSpec, Pending, consumer};

/// How often high watermarks (for lag) are asked for.
const WATERMARK_EVERY: Duration = Duration::from_secs(1);

/// Asks the broker for high watermarks on its own client and thread, so
/// that slow answers never hold up consuming; stops when `stop` closes.
pub(super) fn watch_lag(
    spec: &KafkaSpec,
    progress: Arc<Mutex<KafkaProgress>>,
    stop: crossbeam_channel::Receiver<()>,
) -> Result<(), SourceError> {
    let client = consumer(spec)?;
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
                for id in ids {
                    let Ok((_, high)) = client.fetch_watermarks(&topic, id, Duration::from_secs(2))
                    else {
                        continue;
                    };
                    if let Ok(mut p) = progress.lock()
                        && let Some(part) = p.partitions.iter_mut().find(|x| x.partition == id)
                    {
                        part.high_watermark = high;
                        part.lag = (high - part.next_offset).max(0);
                    }
                }
            }
        })
        .map_err(|e| SourceError::Reader(e.to_string()))?;
    Ok(())
}

/// Messages mapped so far and where each partition continues.
struct Read {
    mapper: JsonMapper,
    next: BTreeMap<i32, i64>,
    consumed: u64,
    /// `--from TIME`: messages stamped earlier are passed over (brokers that
    /// cannot look offsets up by time start such partitions at 0).
    start_ms: Option<i64>,
    /// Partitions resumed from a saved state, where `start_ms` does not apply.
    resumed: Vec<i32>,
}

impl Read {
    fn take(
        &mut self,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        value: &[u8],
        batch: &mut EventBatch,
    ) {
        let before_start = self
            .start_ms
            .zip(timestamp_ms)
            .is_some_and(|(start, t)| t < start)
            && !self.resumed.contains(&partition);
        self.next.insert(partition, offset + 1);
        if before_start {
            return;
        }
        self.mapper.map_bytes(
            value,
            || format!("partition {partition} offset {offset}"),
            batch,
        );
        self.consumed += 1;
    }
}

/// The consumer with what the reader thread needs beside it.
pub(super) struct Reader {
    pub consumer: BaseConsumer,
    pub topic: String,
    pub to_commit: crossbeam_channel::Receiver<CommitRequest>,
    /// Messages stamped before this are passed over (`--from TIME`).
    pub start_ms: Option<i64>,
    /// Partitions resumed from a saved state.
    pub resumed: Vec<i32>,
}

/// Offsets to commit and where to say how it went.
pub(super) type CommitRequest = (
    Vec<(i32, i64)>,
    crossbeam_channel::Sender<Result<(), String>>,
);

impl Reader {
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
                .map_err(|e| e.to_string());
            let _ = done.send(result);
        }
    }
}

/// The reader thread: maps messages into batches and sends each batch when
/// it is full or when the topic goes quiet; offsets are recorded once the
/// batch has been handed over.
pub(super) fn consume(
    reader: Reader,
    mapper: JsonMapper,
    pending: Vec<Pending>,
    progress: &Mutex<KafkaProgress>,
    end: ReaderEnd,
) {
    let mut batch = end.fresh_batch();
    let mut read = Read {
        mapper,
        next: BTreeMap::new(),
        consumed: 0,
        start_ms: reader.start_ms,
        resumed: reader.resumed.clone(),
    };
    for p in &pending {
        read.take(p.partition, p.offset, p.timestamp_ms, &p.value, &mut batch);
    }
    drop(pending);
    let mut quiet_since = Instant::now();
    let consumer = &reader.consumer;
    loop {
        reader.commit_asked();
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
                    let value = message.payload().unwrap_or_default();
                    read.take(
                        message.partition(),
                        message.offset(),
                        message.timestamp().to_millis(),
                        value,
                        &mut batch,
                    );
                    messages += 1;
                }
                // librdkafka retries broker hiccups itself; say what happened.
                Some(Err(e)) => eprintln!("journeyscope: kafka: {e}"),
                None => break,
            }
        }
        let has_news = !batch.is_empty() || !batch.rejected.is_empty();
        // An empty batch now and then tells the reader whether the engine
        // is still there.
        let heartbeat = quiet_since.elapsed() >= Duration::from_secs(1);
        if has_news || heartbeat {
            quiet_since = Instant::now();
            let mut sent = std::mem::replace(&mut batch, end.fresh_batch());
            sent.resume_at = read.next.iter().map(|(p, o)| (*p, *o)).collect();
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
            if let Ok(mut p) = progress.lock() {
                p.consumed = read.consumed;
                for (&partition, &offset) in &read.next {
                    if let Some(part) = p.partitions.iter_mut().find(|x| x.partition == partition) {
                        part.next_offset = offset;
                        part.lag = (part.high_watermark - offset).max(0);
                    }
                }
            }
        }
    }
}
