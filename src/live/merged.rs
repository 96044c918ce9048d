//! The merged view of a job's workers: the state topic read from its
//! start, the latest snapshot of each input partition restored into an
//! engine of its own, and the engines put together as one set of journeys
//! ([`crate::engine::merge`]); with, per partition, how far its snapshot
//! covers and who published it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::merge::MergedEngine;
use crate::engine::{EngineConfig, SinceStart};
use crate::source::SourceError;
use crate::source::kafka::group::{EndWatch, topic_partitions};
use crate::source::kafka::{KafkaProgress, KafkaSpec, PartitionProgress};
use crate::source::live_state::state_of_bytes;
use crate::source::schema::Mapping;

use super::snapshot::{PartKey, SnapshotHeader, StateProblems};
use super::state_topic::{Follower, StateTopic};

/// How many `--every` rounds old a partition's snapshot may be before it
/// is shown as behind.
pub const BEHIND_AFTER_ROUNDS: u64 = 3;

/// One input partition as its latest snapshot has it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartitionReport {
    /// The input partition.
    pub partition: i32,
    /// Where its snapshot covers up to (its next offset).
    pub offset: i64,
    /// The input partition's end, as this view last asked.
    pub end: Option<i64>,
    /// Messages after the snapshot: end − offset.
    pub lag: Option<i64>,
    /// Seconds since it was published.
    pub age_s: f64,
    /// The worker that published it.
    pub worker: String,
    /// Its state's bytes.
    pub bytes: u64,
    /// Events it covers.
    pub events: u64,
    /// Older than [`BEHIND_AFTER_ROUNDS`] of its worker's rounds.
    pub behind: bool,
}

/// The workers' side of the merged view, as `live --state-topic` prints it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WorkersReport {
    /// The job merged.
    pub job: String,
    /// Partitions of the input topic.
    pub partitions: usize,
    /// Partitions with a snapshot.
    pub reported: usize,
    /// Reported partitions whose snapshot is old.
    pub behind: usize,
    /// Customers found in more than one partition (the topic should be
    /// keyed by customer: each is then counted once per partition).
    pub customers_split: u64,
    /// State topic messages not merged, counted and sampled.
    pub unmerged: StateProblems,
    /// Snapshots that could not be restored (another format of the live
    /// state, other session rules), with why.
    pub unrestored: Vec<String>,
    /// Each partition reported.
    pub by_partition: Vec<PartitionReport>,
}

/// A restored partition: what its snapshot said of itself, and its bytes.
struct Part {
    header: SnapshotHeader,
    bytes: u64,
}

/// The merged view: follows the state topic and keeps one engine per input
/// partition of the job.
pub struct MergedView {
    follower: Follower,
    state: StateTopic,
    /// The job shown (None until known: the only one on the topic).
    job: Option<String>,
    config: EngineConfig,
    parts: BTreeMap<PartKey, Part>,
    /// The partitions' engines, by snapshot key.
    engine: MergedEngine,
    mapping: Option<Mapping>,
    unrestored: Vec<String>,
    /// The input topic's ends, once its name is known.
    ends: Option<(String, Vec<i32>, EndWatch)>,
}

impl MergedView {
    /// Starts reading `state` from its start; `job` None takes the only
    /// job found there.
    pub fn open(
        state: StateTopic,
        job: Option<String>,
        config: EngineConfig,
    ) -> Result<Self, SourceError> {
        // The workers create it too: whoever starts first.
        state.create_if_missing()?;
        let mut follower = Follower::open(&state)?;
        if let Some(job) = &job {
            follower.only_job(job);
        }
        Ok(MergedView {
            follower,
            state,
            job,
            config,
            parts: BTreeMap::new(),
            engine: MergedEngine::default(),
            mapping: None,
            unrestored: Vec::new(),
            ends: None,
        })
    }

    /// Reads what arrived within `wait`; true when a partition changed.
    pub fn poll(&mut self, wait: Duration) -> Result<bool, SourceError> {
        let done = self.follower.poll(wait)?;
        self.take(done)
    }

    /// Reads the state topic up to its end now.
    pub fn catch_up(&mut self, within: Duration) -> Result<bool, SourceError> {
        let done = self.follower.catch_up(within)?;
        self.take(done)
    }

    fn take(&mut self, done: Vec<PartKey>) -> Result<bool, SourceError> {
        if self.job.is_none() {
            self.job = self.only_job()?;
        }
        let Some(job) = self.job.clone() else {
            return Ok(false);
        };
        let mut restored = Vec::new();
        for key in done.into_iter().filter(|k| k.0 == job) {
            let Some(snapshot) = self.follower.assembler().latest().get(&key) else {
                continue;
            };
            match state_of_bytes(&snapshot.state, self.config.clone(), None) {
                Ok((mut engine, resume)) => {
                    // Everything the worker kept is read (it keeps what its
                    // --keep asks, an hour at least).
                    if let (Some(newest), Some(oldest)) =
                        (engine.watermark_us(), engine.oldest_kept_us())
                    {
                        engine.keep_at_least(newest.saturating_sub(oldest).saturating_add(1));
                    }
                    self.mapping.get_or_insert(resume.mapping);
                    let header = snapshot.header.clone();
                    let bytes = snapshot.state.len() as u64;
                    let name = super::snapshot::snapshot_key(&key.0, &key.1, key.2);
                    restored.push((name, engine));
                    self.parts.insert(key, Part { header, bytes });
                }
                Err(e) if self.unrestored.len() < 10 => self
                    .unrestored
                    .push(format!("partition {} of `{}`: {e}", key.2, key.1)),
                Err(_) => {}
            }
        }
        self.watch_input()?;
        let changed = !restored.is_empty();
        if changed {
            self.engine.insert(restored);
        }
        Ok(changed)
    }

    /// The job on the state topic when only one is there; an error naming
    /// them when several are.
    fn only_job(&self) -> Result<Option<String>, SourceError> {
        let mut jobs: Vec<&str> = self
            .follower
            .assembler()
            .latest()
            .keys()
            .map(|k| k.0.as_str())
            .collect();
        jobs.dedup();
        match jobs.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).to_owned())),
            many => Err(SourceError::Usage(format!(
                "state topic `{}` holds the snapshots of several jobs: {}; give --job",
                self.state.name,
                many.join(", ")
            ))),
        }
    }

    /// Starts watching the input topic's ends once a snapshot names it.
    fn watch_input(&mut self) -> Result<(), SourceError> {
        let Some(topic) = self.parts.keys().next().map(|k| k.1.clone()) else {
            return Ok(());
        };
        if self.ends.as_ref().is_some_and(|(t, ..)| *t == topic) {
            return Ok(());
        }
        let spec = KafkaSpec {
            topic: topic.clone(),
            ..self.state.spec.clone()
        };
        let ids = topic_partitions(&spec, &topic)?;
        let watch = EndWatch::start(&spec, &ids)?;
        self.ends = Some((topic, ids, watch));
        Ok(())
    }

    /// Every partition reported, read as one stream.
    pub fn engine(&self) -> &MergedEngine {
        &self.engine
    }

    /// The journeys since start of every partition reported, with the
    /// customers and events of the last hour when `with_events`.
    pub fn since_start(&self, with_events: bool) -> SinceStart {
        self.engine.since_start(with_events)
    }

    /// The state topic followed.
    pub fn state_topic(&self) -> &StateTopic {
        &self.state
    }

    /// The partitions of the input topic (none before any snapshot).
    fn input_ids(&self) -> &[i32] {
        self.ends.as_ref().map_or(&[], |(_, ids, _)| ids.as_slice())
    }

    /// A partition of the input topic's end, as last asked (None until
    /// known).
    fn input_end(&self, partition: i32) -> Option<i64> {
        self.ends.as_ref()?.2.end_of(partition)
    }

    /// The workers' progress as a reader's: each partition's next offset
    /// is where its snapshot covers, its end the input's as last asked.
    pub fn progress(&self) -> KafkaProgress {
        let partitions: Vec<PartitionProgress> = self
            .input_ids()
            .iter()
            .map(|&partition| {
                let next_offset = self.part(partition).map_or(0, |p| p.header.next_offset);
                let high_watermark = self.input_end(partition).unwrap_or(0);
                PartitionProgress {
                    partition,
                    next_offset,
                    high_watermark,
                    lag: (high_watermark - next_offset).max(0),
                    last_timestamp_ms: None,
                }
            })
            .collect();
        KafkaProgress {
            consumed: self.parts.values().map(|p| p.header.events).sum(),
            at_end: self.caught_up(),
            watermarks_known: self
                .input_ids()
                .iter()
                .all(|p| self.input_end(*p).is_some()),
            partitions,
        }
    }

    /// The columns the workers map with (None before any snapshot).
    pub fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    /// The input topic (None before any snapshot).
    pub fn input_topic(&self) -> Option<&str> {
        self.ends.as_ref().map(|(t, ..)| t.as_str())
    }

    /// True when every partition of the input topic has a snapshot that
    /// covers its end as last asked.
    pub fn caught_up(&self) -> bool {
        let ids = self.input_ids();
        !ids.is_empty()
            && ids
                .iter()
                .all(|&p| match (self.part(p), self.input_end(p)) {
                    (_, None) => false,
                    (Some(part), Some(end)) => part.header.next_offset >= end,
                    (None, Some(end)) => end == 0,
                })
    }

    /// True when every partition of the input topic has a snapshot that
    /// covered, when published, the end its worker last knew: the workers
    /// keep up (event-time alert rules are checked then, as a reader's are
    /// once it has read every partition to its end).
    pub fn workers_caught_up(&self) -> bool {
        let ids = self.input_ids();
        !ids.is_empty()
            && ids.iter().all(|&p| {
                let end_now = self.input_end(p);
                match self.part(p) {
                    Some(part) => {
                        let h = &part.header;
                        let then = h.input_end.is_some_and(|e| h.next_offset >= e);
                        then || end_now.is_some_and(|e| h.next_offset >= e)
                    }
                    None => end_now == Some(0),
                }
            })
    }

    fn part(&self, partition: i32) -> Option<&Part> {
        self.parts
            .values()
            .find(|p| p.header.partition == partition)
    }

    /// Partitions, snapshots and problems, at wall time `now_ms`.
    pub fn workers(&self, now_ms: i64) -> WorkersReport {
        let by_partition: Vec<PartitionReport> = self
            .parts
            .values()
            .map(|part| {
                let h = &part.header;
                let end = self.input_end(h.partition);
                let age_ms = (now_ms - h.published_ms).max(0) as u64;
                PartitionReport {
                    partition: h.partition,
                    offset: h.next_offset,
                    end,
                    lag: end.map(|e| (e - h.next_offset).max(0)),
                    age_s: age_ms as f64 / 1000.0,
                    worker: h.worker.clone(),
                    bytes: part.bytes,
                    events: h.events,
                    behind: age_ms > BEHIND_AFTER_ROUNDS * h.every_ms.max(1)
                        && end.is_none_or(|e| e > h.next_offset),
                }
            })
            .collect();
        WorkersReport {
            job: self.job.clone().unwrap_or_default(),
            partitions: self.input_ids().len(),
            reported: by_partition.len(),
            behind: by_partition.iter().filter(|p| p.behind).count(),
            customers_split: self.engine.customers_split(),
            unmerged: self.follower.assembler().problems.clone(),
            unrestored: self.unrestored.clone(),
            by_partition,
        }
    }
}
