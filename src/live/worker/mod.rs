//! A headless worker in a consumer group: for each partition of the input
//! topic the group assigns it, one live engine (the same ingest as `live`),
//! published as a snapshot to the state topic every round, when the
//! partition is taken away, and when the worker is asked to finish. A
//! partition assigned to it starts from its latest snapshot on the state
//! topic, at the offset that snapshot covers: a partition moved between
//! workers, or the partitions of a worker killed outright, go on exactly
//! where their last snapshot stood.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::background::lock;
use crate::engine::merge::customers_in_several;
use crate::engine::{EngineConfig, EventBatch, LiveEngine, StreamMark};
use crate::source::kafka::group::{EndWatch, group_member, topic_partitions};
use crate::source::kafka::{KafkaSpec, Redactor, StartAt, is_partition_end};
use crate::source::live_state::{Covering, same_columns, state_of_bytes, write_state};
use crate::source::schema::Mapping;
use crate::source::values::MessageMapper;
use crate::source::{BATCH_EVENTS, SourceError};

mod rebalancing;

use rebalancing::Rebalancing;

use super::action_out::ActionDelivery;
use super::alert_out::AlertSender;
use super::snapshot::SnapshotHeader;
use super::state_topic::{Follower, Publisher, StateTopic};

/// How long reading the state topic to its end may take when a partition
/// is assigned.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);

/// What a worker reads, how, and where its snapshots go.
pub struct WorkerSetup {
    /// The input topic, the group (`spec.group`) and where fresh
    /// partitions start.
    pub spec: KafkaSpec,
    /// The columns (detected or given) and the mapper that reads them.
    pub mapping: Mapping,
    /// Maps message values into events.
    pub mapper: MessageMapper,
    /// Sessions and what is kept.
    pub config: EngineConfig,
    /// Arrivals within this of their customer's newest event are put in
    /// order.
    pub lateness_us: i64,
    /// Event time each partition keeps (at least an hour).
    pub keep_us: i64,
    /// Where snapshots go.
    pub state: StateTopic,
    /// The job name the snapshots are keyed by.
    pub job: String,
    /// How often every partition held is published.
    pub every: Duration,
    /// At most this much state per message.
    pub chunk_bytes: usize,
    /// With `--pseudonymize`, the key's fingerprint.
    pub ids: Option<String>,
    /// This worker's name (its client id).
    pub name: String,
    /// Per-customer trigger rules, run on each partition held.
    pub triggers: Vec<crate::engine::triggers::TriggerRule>,
    /// Where their actions go.
    pub trigger_outputs: crate::live::alert_out::AlertOutputs,
}

/// One published round, as `worker --every-line` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Round {
    /// The worker.
    pub worker: String,
    /// The partitions it holds.
    pub partitions: Vec<i32>,
    /// Events taken in by the partitions held (since their start).
    pub events: u64,
    /// Messages of the partitions held not read yet (as last seen).
    pub lag: i64,
    /// Snapshots published this round.
    pub published: usize,
    /// Their bytes of state.
    pub snapshot_bytes: u64,
    /// Customers found in more than one partition held (the topic should
    /// be keyed by customer: each such customer counts once per partition).
    pub customers_split: u64,
}

/// One input partition held.
struct Held {
    engine: LiveEngine,
    /// The next offset to take; messages before it are in the engine.
    next_offset: Option<i64>,
    last_timestamp_ms: Option<i64>,
    /// The event time of the last event mapped, where rejected records
    /// after it are placed.
    last_event_us: Option<i64>,
    /// Mapped, not yet taken in.
    batch: EventBatch,
    /// Started without a snapshot: `--from TIME` applies.
    fresh: bool,
    /// Taken in since the last snapshot.
    changed: bool,
    /// The last snapshot published or restored.
    published: Option<SnapshotHeader>,
    /// The rebalance that gave it: messages polled before (of an earlier
    /// time it was held) are passed over.
    adopted: u64,
}

/// What the worker works on, shared with its consumer's rebalance
/// callback (which runs inside `poll`, never while the loop holds it).
struct Core {
    held: BTreeMap<i32, Held>,
    follower: Follower,
    publisher: Publisher,
    setup: WorkerSetup,
    ends: EndWatch,
    /// Why the worker must stop (a rebalance callback cannot return it).
    failure: Option<SourceError>,
    sequence: u64,
    /// Bumped by every assignment (read without the lock by the loop, to
    /// tag what it polls).
    generation: Arc<AtomicU64>,
    /// Customers in more than one partition held, as last counted.
    customers_split: u64,
    /// Delivers the triggers' actions (None once finished).
    sender: Option<AlertSender>,
    actions: ActionDelivery,
}

impl Core {
    /// Takes `partition` on: from its latest snapshot, where it covers, or
    /// afresh from `--from`; where to read from.
    fn adopt(&mut self, partition: i32) -> Result<Offset, SourceError> {
        self.follower.catch_up(CATCH_UP_WITHIN)?;
        let setup = &self.setup;
        let snapshot = self
            .follower
            .assembler()
            .of(&setup.job, &setup.spec.topic, partition)
            .cloned();
        let Some(snapshot) = snapshot else {
            let mut engine = LiveEngine::new(setup.config.clone(), setup.lateness_us);
            engine.keep_at_least(setup.keep_us);
            self.watch_triggers(&mut engine)?;
            // `--from latest` starts at the end last asked for (before this
            // assignment), so that a partition where nothing arrives has a
            // snapshot saying where it goes on.
            let (offset, next) = match (setup.spec.from, self.ends.end_of(partition)) {
                (StartAt::Latest, Some(end)) => (Offset::Offset(end), Some(end)),
                (StartAt::Latest, None) => (Offset::End, None),
                _ => (Offset::Beginning, None),
            };
            let mut held = Held::new(engine, next, None, true);
            held.changed = next.is_some();
            held.adopted = self.generation.load(Ordering::SeqCst);
            self.held.insert(partition, held);
            return Ok(offset);
        };
        let (mut engine, resume) = state_of_bytes(
            &snapshot.state,
            setup.config.clone(),
            Some(setup.lateness_us),
        )
        .map_err(|e| {
            SourceError::Kafka(format!(
                "cannot go on from the snapshot of partition {partition} (job `{}`): {e}",
                setup.job
            ))
        })?;
        if !same_columns(&resume.mapping, &setup.mapping) || resume.ids != setup.ids {
            return Err(SourceError::Usage(format!(
                "job `{}` was started with other columns or ids (its snapshots map the customer \
                 from `{}`, the event from `{}`, the time from `{}`); give the same mapping \
                 flags, or another --job",
                setup.job, resume.mapping.customer, resume.mapping.event, resume.mapping.time
            )));
        }
        engine.keep_at_least(setup.keep_us);
        self.watch_triggers(&mut engine)?;
        let next = snapshot.header.next_offset;
        let mark = resume.covered.iter().find(|m| m.partition == partition);
        let mut held = Held::new(
            engine,
            Some(next),
            mark.and_then(|m| m.last_timestamp_ms),
            false,
        );
        held.published = Some(snapshot.header);
        held.adopted = self.generation.load(Ordering::SeqCst);
        self.held.insert(partition, held);
        Ok(Offset::Offset(next))
    }

    /// Has `engine` run the trigger rules, its actions delivered.
    fn watch_triggers(&self, engine: &mut LiveEngine) -> Result<(), SourceError> {
        let setup = &self.setup;
        engine
            .set_triggers(setup.triggers.clone())
            .map_err(|e| SourceError::Usage(format!("trigger rules: {e}")))?;
        let source = format!("kafka://{}/{}", setup.spec.brokers, setup.spec.topic);
        engine
            .triggers_mut()
            .set_output(&source, self.actions.is_on());
        Ok(())
    }

    /// Queues the actions the partitions held fired (and those their
    /// snapshots had not seen delivered), and confirms those delivered.
    fn hand_over_actions(&mut self) {
        let Some(sender) = &self.sender else {
            return;
        };
        for held in self.held.values_mut() {
            held.engine.triggers_mut().drop_fired();
            held.changed |= self.actions.queue(sender, held.engine.triggers());
        }
        let done = self.actions.done(sender);
        for held in self.held.values_mut() {
            held.changed |= held.engine.triggers_mut().confirm(&done);
        }
    }

    /// Waits for the actions being delivered (a few seconds at most) and
    /// confirms them.
    fn finish_delivery(&mut self) {
        self.hand_over_actions();
        if let Some(sender) = self.sender.take() {
            let (_, _, done) = sender.finish_both();
            for held in self.held.values_mut() {
                held.changed |= held.engine.triggers_mut().confirm(&done);
            }
        }
    }

    /// Maps one message of a held partition (others are no longer held:
    /// passed over); a message before where the partition goes on is in
    /// its engine already.
    fn take(&mut self, polled: u64, m: &BorrowedMessage<'_>) {
        let (partition, offset) = (m.partition(), m.offset());
        let (timestamp_ms, value) = (m.timestamp().to_millis(), m.payload());
        let Some(held) = self.held.get_mut(&partition) else {
            return;
        };
        // Polled before the partition was (again) given to this worker:
        // its state goes on from the snapshot it was restored from.
        if polled < held.adopted || held.next_offset.is_some_and(|next| offset < next) {
            return;
        }
        held.next_offset = Some(offset + 1);
        held.last_timestamp_ms = timestamp_ms;
        held.changed = true;
        let before_start = match self.setup.spec.from {
            StartAt::Time(start) => held.fresh && timestamp_ms.is_some_and(|t| t < start),
            _ => false,
        };
        if before_start {
            return;
        }
        let batch = &mut held.batch;
        let at = (partition, offset);
        self.setup
            .mapper
            .map_on_partition(value, at, batch, &mut held.last_event_us);
        if batch.len() >= BATCH_EVENTS {
            held.ingest();
        }
    }

    /// `partition` was read to its end: one where nothing was read yet
    /// goes on from its end, and says so in its snapshot.
    fn reached_end(&mut self, partition: i32) {
        let end = self.ends.end_of(partition);
        if let Some(held) = self.held.get_mut(&partition)
            && held.next_offset.is_none()
            && let Some(end) = end
        {
            held.next_offset = Some(end);
            held.changed = true;
        }
    }

    /// Takes every mapped message in.
    fn ingest_all(&mut self) {
        self.held.values_mut().for_each(Held::ingest);
    }

    /// Publishes the snapshot of `partition` (its mapped messages taken in
    /// first); its bytes of state.
    fn publish(&mut self, partition: i32) -> Result<u64, SourceError> {
        let end = self.ends.end_of(partition);
        let Some(held) = self.held.get_mut(&partition) else {
            return Ok(0);
        };
        held.ingest();
        let Some(next_offset) = held.next_offset else {
            // Nothing read yet: nothing to go on from.
            return Ok(0);
        };
        let setup = &self.setup;
        let mark = StreamMark {
            partition,
            next_offset,
            last_timestamp_ms: held.last_timestamp_ms,
            high_watermark: end,
        };
        let mut state = Vec::new();
        let covering = Covering {
            covered: std::slice::from_ref(&mark),
            mapping: &setup.mapping,
            topic: &setup.spec.topic,
            ids: setup.ids.as_deref(),
        };
        write_state(&mut state, &held.engine, covering)
            .map_err(|e| SourceError::Kafka(format!("cannot write a snapshot: {e}")))?;
        self.sequence += 1;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let header = SnapshotHeader {
            job: setup.job.clone(),
            topic: setup.spec.topic.clone(),
            partition,
            next_offset,
            input_end: end,
            events: held.engine.taken(),
            worker: setup.name.clone(),
            published_ms: now_ms,
            every_ms: setup.every.as_millis() as u64,
            sequence: (now_ms as u64) << 16 | (self.sequence & 0xffff),
            chunk: 0,
            chunks: 0,
            state_bytes: 0,
        };
        let published = self
            .publisher
            .publish(header, &state, held.published.as_ref())?;
        held.published = Some(published);
        held.changed = false;
        Ok(state.len() as u64)
    }

    /// Publishes every partition held that took anything in since its last
    /// snapshot (all of them when `all`).
    fn publish_round(&mut self, all: bool) -> Result<Round, SourceError> {
        let ids: Vec<i32> = self.held.keys().copied().collect();
        let (mut published, mut bytes) = (0, 0);
        for partition in &ids {
            let due = self.held.get(partition).is_some_and(|h| all || h.changed);
            if due {
                let written = self.publish(*partition)?;
                published += usize::from(written > 0);
                bytes += written;
            }
        }
        let lag = ids
            .iter()
            .map(|p| {
                let next = self.held.get(p).and_then(|h| h.next_offset).unwrap_or(0);
                self.ends.end_of(*p).map_or(0, |end| (end - next).max(0))
            })
            .sum();
        let customers_split = customers_in_several(self.held.values().map(|h| &h.engine));
        if customers_split > self.customers_split {
            log::warn!(
                "{} found in more than one partition: the topic should be keyed by \
                 customer (each such customer counts once per partition)",
                crate::format::plural(customers_split as usize, "customer")
            );
        }
        self.customers_split = customers_split;
        Ok(Round {
            customers_split,
            worker: self.setup.name.clone(),
            events: self.held.values().map(|h| h.engine.taken()).sum(),
            partitions: ids,
            lag,
            published,
            snapshot_bytes: bytes,
        })
    }

    /// Publishes `partition` one last time and lets it go.
    fn release(&mut self, partition: i32) -> Result<(), SourceError> {
        let due = self.held.get_mut(&partition).is_some_and(|h| {
            h.ingest();
            h.changed
        });
        let published = match due {
            true => self.publish(partition),
            false => Ok(0),
        };
        self.held.remove(&partition);
        published.map(|_| ())
    }
}

impl Held {
    fn new(
        engine: LiveEngine,
        next_offset: Option<i64>,
        last_timestamp_ms: Option<i64>,
        fresh: bool,
    ) -> Self {
        Held {
            engine,
            next_offset,
            last_timestamp_ms,
            last_event_us: None,
            batch: EventBatch::with_capacity(BATCH_EVENTS),
            fresh,
            changed: false,
            published: None,
            adopted: 0,
        }
    }

    fn ingest(&mut self) {
        if !self.batch.is_empty() || !self.batch.rejected.is_empty() {
            self.engine.ingest(&self.batch);
            self.batch.clear();
        }
    }
}

/// A running worker: its group member and what it holds.
pub struct GroupWorker {
    consumer: BaseConsumer<Rebalancing>,
    core: Arc<Mutex<Core>>,
    last_round: Instant,
    /// How long the last round of snapshots took to publish.
    round_took: Duration,
    /// The core's assignment count, read without its lock.
    generation: Arc<AtomicU64>,
    redactor: Redactor,
}

/// Messages taken in under one lock.
const BURST: usize = 1024;

impl GroupWorker {
    /// Joins the group; `follower` reads the state topic (kept to the
    /// job's snapshots here) for the partitions assigned.
    pub fn start(setup: WorkerSetup, mut follower: Follower) -> Result<Self, SourceError> {
        follower.only_job(&setup.job);
        let publisher = Publisher::start(&setup.state, setup.chunk_bytes)?;
        let ids = topic_partitions(&setup.spec, &setup.spec.topic)?;
        let ends = EndWatch::start(&setup.spec, &ids)?;
        let redactor = setup.spec.redactor();
        let spec = setup.spec.clone();
        let name = setup.name.clone();
        let generation = Arc::new(AtomicU64::new(0));
        let sender = AlertSender::start(&Default::default())
            .map_err(|e| SourceError::Kafka(format!("cannot start delivery: {e}")))?;
        let actions = ActionDelivery::new(&setup.trigger_outputs);
        let core = Arc::new(Mutex::new(Core {
            sender: Some(sender),
            actions,
            held: BTreeMap::new(),
            follower,
            publisher,
            setup,
            ends,
            failure: None,
            sequence: 0,
            generation: generation.clone(),
            customers_split: 0,
        }));
        let context = Rebalancing {
            core: core.clone(),
            redactor,
        };
        let consumer = group_member(&spec, &name, context)?;
        Ok(GroupWorker {
            consumer,
            core,
            last_round: Instant::now(),
            round_took: Duration::ZERO,
            generation,
            redactor: spec.redactor(),
        })
    }

    /// Reads and takes in what arrives for about `wait`; a published round
    /// when one was due (every `--every`; while messages keep coming and
    /// publishing takes long, less often: at most a tenth of the worker's
    /// time goes to it).
    pub fn step(&mut self, wait: Duration) -> Result<Option<Round>, SourceError> {
        let started = Instant::now();
        let mut polled = 0;
        while polled < BATCH_EVENTS && started.elapsed() < wait {
            // Messages are polled a burst at a time and taken in under one
            // lock (the rebalance callback takes it inside `poll`).
            let mut burst = Vec::with_capacity(BURST);
            let mut ends = Vec::new();
            while burst.len() < BURST {
                let waited = match (polled, burst.len()) {
                    (0, 0) => Duration::from_millis(50),
                    _ => Duration::ZERO,
                };
                match self.consumer.poll(waited) {
                    Some(Ok(m)) => burst.push((self.generation.load(Ordering::SeqCst), m)),
                    Some(Err(KafkaError::PartitionEOF(partition))) => ends.push(partition),
                    Some(Err(e)) if is_partition_end(&e) => {}
                    Some(Err(e)) => log::warn!("kafka: {}", self.redactor.clean(&e.to_string())),
                    None => break,
                }
            }
            let mut core = lock(&self.core);
            if let Some(e) = core.failure.take() {
                return Err(e);
            }
            let quiet = burst.len() < BURST;
            polled += burst.len();
            for (polled, m) in &burst {
                core.take(*polled, m);
            }
            for partition in ends {
                core.reached_end(partition);
            }
            if quiet {
                break;
            }
        }
        let mut core = lock(&self.core);
        core.ingest_all();
        core.hand_over_actions();
        // While messages pour in, a long publish waits ten times its own
        // length; once they stop, what was read is published at once.
        let every = match polled {
            0 => core.setup.every,
            _ => core.setup.every.max(self.round_took * 10),
        };
        if self.last_round.elapsed() < every {
            return Ok(None);
        }
        let round_started = Instant::now();
        let round = core.publish_round(false)?;
        self.round_took = round_started.elapsed();
        self.last_round = Instant::now();
        // The group's offsets are only a hint (for the tools that show a
        // group's lag): the snapshots say where each partition goes on.
        let mut hint = TopicPartitionList::new();
        for (&partition, held) in &core.held {
            if let Some(next) = held.next_offset {
                let _ = hint.add_partition_offset(
                    &core.setup.spec.topic,
                    partition,
                    Offset::Offset(next),
                );
            }
        }
        if hint.count() > 0
            && let Err(e) = self.consumer.commit(&hint, CommitMode::Async)
        {
            log::debug!(
                "committing the group's offsets: {}",
                self.redactor.clean(&e.to_string())
            );
        }
        Ok(Some(round))
    }

    /// Publishes every partition held and leaves the group.
    pub fn finish(self) -> Result<Round, SourceError> {
        lock(&self.core).finish_delivery();
        let round = lock(&self.core).publish_round(true)?;
        self.consumer.unsubscribe();
        // The revocation is seen by polling: each partition is let go
        // (published again only if anything came meanwhile).
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until && !lock(&self.core).held.is_empty() {
            let _ = self.consumer.poll(Duration::from_millis(100));
        }
        match lock(&self.core).failure.take() {
            Some(e) => Err(e),
            None => Ok(round),
        }
    }
}
