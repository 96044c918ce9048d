//! Ingesting batches: interning names, applying touchpoint rules and
//! retaining each event compactly until [`JourneyBuilder::finish`].

use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap;

use super::batch::{EventBatch, EventRef};
use super::event::{END_NAME, EngineConfig, Event, START_NAME};
use super::grouping;
use super::intern::Interner;
use super::journeys::{self, Journeys};
use super::rejected::RejectedLog;
use super::rules::{Resolution, split_name};
use super::seen_texts::SeenTexts;
use super::staging::{BUCKET_SHIFT, Bucket, Staged};

/// How far after the clock an event may be and still move the watermark.
const PLAUSIBLE_AHEAD_US: i64 = 366 * 24 * 3600 * 1_000_000;

/// One event as [`JourneyBuilder::ingest_each`] hands it on.
pub(super) struct Arrival<'s> {
    pub staged: &'s Staged,
    /// Nanoseconds past its microsecond.
    pub sub_us_ns: u16,
    /// Session key (0 = no session id).
    pub key: u32,
    /// Hash of the customer's name: the same for a customer in every run,
    /// whatever its id.
    pub customer_hash: u64,
    /// The customer's newest event time so far, this one included.
    pub newest_us: i64,
    /// The event as the batch holds it (its customer's name, partition and
    /// properties).
    pub event: EventRef<'s>,
}

#[derive(Debug, Clone)]
pub(super) enum NameOutcome {
    Excluded,
    Touchpoint(u32),
    Split { base: String, property: String },
}

/// Collects events batch by batch; [`JourneyBuilder::finish`] turns them
/// into sessions, a graph and statistics.
#[derive(Debug, Clone)]
pub struct JourneyBuilder {
    pub(super) config: EngineConfig,
    pub(super) customers: Interner,
    pub(super) touchpoints: Interner,
    /// The values of each kept property ([`EngineConfig::kept_properties`]).
    pub(super) values: Vec<Interner>,
    pub(super) names: FxHashMap<Box<str>, NameOutcome>,
    pub(super) buckets: Vec<Bucket>,
    /// True once an event had a session id.
    pub(super) with_keys: bool,
    /// True once an event had nanoseconds past its microsecond.
    pub(super) with_sub_us: bool,
    pub(super) staged: usize,
    pub(super) excluded: u64,
    pub(super) rejected: RejectedLog,
    /// Newest event time seen per customer, for counting late arrivals.
    pub(super) newest: Vec<i64>,
    /// Arrivals older than their customer's newest event (reordered).
    pub(super) reordered: u64,
    /// Arrivals older than their customer's newest event by more than the
    /// allowed lateness.
    pub(super) late: u64,
    /// Allowed lateness in µs.
    pub(super) lateness_us: i64,
    /// Newest event time seen at all.
    pub(super) watermark_us: Option<i64>,
    /// Events older than this are counted but not staged (the live engine
    /// keeps only the recent past).
    pub(super) stage_from_us: i64,
    /// Events later than this (a year after the clock when the builder was
    /// made) do not move the watermark: one mistyped year must not make
    /// every other event look old.
    pub(super) plausible_until_us: i64,
    /// The hashes of a batch's customers (kept for the next batch's).
    pub(super) hashes: Vec<u64>,
    /// The batch's event names met so far, as what they became.
    pub(super) seen_names: SeenTexts,
    /// The batch's values of each kept property met so far, as their ids.
    pub(super) seen_values: Vec<SeenTexts>,
}

/// A rejected record's text under `--pseudonymize` when its customer id
/// could not be found to be replaced.
const WITHHELD: &str = "(withheld under --pseudonymize: the customer id in it could not be masked)";

impl JourneyBuilder {
    /// A builder with no events.
    pub fn new(config: EngineConfig) -> Self {
        let mut touchpoints = Interner::default();
        touchpoints.intern(START_NAME);
        touchpoints.intern(END_NAME);
        JourneyBuilder {
            values: vec![Interner::default(); config.kept_properties.len()],
            config,
            customers: Interner::default(),
            touchpoints,
            names: FxHashMap::default(),
            buckets: Vec::new(),
            with_keys: false,
            with_sub_us: false,
            staged: 0,
            excluded: 0,
            rejected: RejectedLog::default(),
            newest: Vec::new(),
            reordered: 0,
            late: 0,
            lateness_us: 10_000_000,
            watermark_us: None,
            stage_from_us: i64::MIN,
            plausible_until_us: chrono::Utc::now().timestamp_micros() + PLAUSIBLE_AHEAD_US,
            hashes: Vec::new(),
            seen_names: SeenTexts::default(),
            seen_values: Vec::new(),
        }
    }

    /// The newest event time seen so far (µs since the epoch): "now" for
    /// time windows, whatever the wall clock says.
    pub(super) fn watermark_us(&self) -> Option<i64> {
        self.watermark_us
    }

    /// Sets how much older than a customer's newest event an arrival may be
    /// before it counts as late (it is still placed in order).
    pub(super) fn set_lateness_us(&mut self, lateness_us: i64) {
        self.lateness_us = lateness_us;
    }

    /// Arrivals that were older than their customer's newest event, and
    /// those of them beyond the allowed lateness.
    pub(super) fn out_of_order(&self) -> (u64, u64) {
        (self.reordered, self.late)
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Adds a batch: its events in order, and its rejected records.
    pub fn ingest(&mut self, batch: &EventBatch) {
        self.begin_batch(batch);
        let hashes = customer_hashes(batch, &mut self.hashes);
        let mut last_customer = None;
        for (i, event) in batch.iter().enumerate() {
            self.prefetch_customer(&hashes, i);
            if let Some((staged, key)) = self.accept(&event, hashes[i], &mut last_customer) {
                self.stage(staged, key, &event);
            }
        }
        self.hashes = hashes;
    }

    /// Asks for the table slot of the customer `PREFETCH_AHEAD` events
    /// after the `i`th, whose hashes are `hashes`.
    fn prefetch_customer(&self, hashes: &[u64], i: usize) {
        if let Some(&h) = hashes.get(i + PREFETCH_AHEAD) {
            self.customers.prefetch(h);
        }
    }

    /// Adds a batch like [`JourneyBuilder::ingest`] while following each
    /// customer's arrivals (late and reordered counts, the watermark),
    /// calling `keep` with every event before staging it, in order (the
    /// live engine's running totals follow along); an event for which it
    /// returns false (a duplicate) is staged but neither moves its
    /// customer's newest time nor counts as late.
    pub(super) fn ingest_each(
        &mut self,
        batch: &EventBatch,
        mut keep: impl FnMut(Arrival<'_>) -> bool,
    ) {
        self.begin_batch(batch);
        let hashes = customer_hashes(batch, &mut self.hashes);
        let mut last_customer = None;
        for (i, event) in batch.iter().enumerate() {
            self.prefetch_customer(&hashes, i);
            let Some((staged, key)) = self.accept(&event, hashes[i], &mut last_customer) else {
                continue;
            };
            let (time, slot) = (staged.event.time_us, staged.event.customer as usize);
            if slot >= self.newest.len() {
                self.newest.resize(slot + 1, i64::MIN);
            }
            let newest = self.newest[slot];
            let arrival = Arrival {
                staged: &staged,
                sub_us_ns: event.sub_us_ns,
                key: key.unwrap_or(0),
                customer_hash: last_customer.map_or(0, |(_, _, hash)| hash),
                newest_us: newest.max(time),
                event,
            };
            if keep(arrival) {
                if time < newest {
                    self.reordered += 1;
                    if newest - time > self.lateness_us {
                        self.late += 1;
                    }
                } else {
                    self.newest[slot] = time;
                }
                if time <= self.plausible_until_us {
                    self.watermark_us = Some(self.watermark_us.map_or(time, |w| w.max(time)));
                }
            }
            if time >= self.stage_from_us {
                self.stage(staged, key, &event);
            }
        }
        self.hashes = hashes;
    }

    /// Starts on a batch: its rejected records are counted, and no text
    /// of the batch before is taken for one of this batch.
    fn begin_batch(&mut self, batch: &EventBatch) {
        self.seen_names.clear();
        let kept = self.config.kept_properties.len();
        self.seen_values.resize_with(kept, SeenTexts::default);
        self.seen_values.iter_mut().for_each(SeenTexts::clear);
        self.record_rejected(batch);
    }

    fn record_rejected(&mut self, batch: &EventBatch) {
        self.rejected.times_adjusted.add(&batch.times_adjusted);
        for rejected in &batch.rejected {
            if self.config.withhold_unmasked_records && !rejected.masked {
                let mut withheld = rejected.clone();
                withheld.record = WITHHELD.to_owned();
                self.rejected.record(&withheld);
            } else {
                self.rejected.record(rejected);
            }
        }
    }

    /// The event as staged with its session key, or None when an exclude
    /// rule leaves it out (counted). `last_customer` caches the previous
    /// event's customer (name, id, name hash): a source's events often come
    /// in runs.
    fn accept<'b>(
        &mut self,
        event: &EventRef<'b>,
        customer_hash: u64,
        last_customer: &mut Option<(&'b str, u32, u64)>,
    ) -> Option<(Staged, Option<u32>)> {
        let Some(touchpoint) = self.touchpoint_of(event) else {
            self.excluded += 1;
            return None;
        };
        let customer = match *last_customer {
            Some((name, id, _)) if name == event.customer => id,
            _ => {
                let id = self
                    .customers
                    .intern_with_hash(event.customer, customer_hash);
                *last_customer = Some((event.customer, id, customer_hash));
                id
            }
        };
        let staged = Staged {
            event: Event {
                time_us: event.time_us,
                customer,
                touchpoint,
            },
            id_hash: event.event_id.map_or(0, event_id_hash),
        };
        Some((staged, event.session_id.map(session_key)))
    }

    /// Forgets staged events older than `cutoff_us` (the live engine keeps
    /// only the recent past for its windows); names and counts stay.
    pub(super) fn forget_before(&mut self, cutoff_us: i64) {
        self.stage_from_us = cutoff_us;
        let kept = self.config.kept_properties.len();
        for bucket in &mut self.buckets {
            *bucket = bucket.since(cutoff_us, self.with_keys, kept);
        }
        self.staged = self.buckets.iter().map(|b| b.len).sum();
    }

    /// Gives the customers new ids: `new_ids[c]` for customer `c`, or
    /// `u32::MAX` to drop it with its staged events (only duplicates of
    /// forgotten ones can be left). Kept customers keep their order.
    pub(super) fn renumber_customers(&mut self, new_ids: &[u32]) {
        let kept = |c: usize| new_ids.get(c).copied().unwrap_or(u32::MAX);
        let old = std::mem::take(&mut self.customers);
        for (c, name) in old.iter().enumerate() {
            if kept(c) != u32::MAX {
                self.customers.intern(name);
            }
        }
        let newest = std::mem::take(&mut self.newest);
        self.newest = newest
            .into_iter()
            .enumerate()
            .filter(|(c, _)| kept(*c) != u32::MAX)
            .map(|(_, t)| t)
            .collect();
        let properties = self.config.kept_properties.len();
        let mut buckets: Vec<Bucket> = Vec::new();
        for bucket in std::mem::take(&mut self.buckets) {
            bucket.drain_chunks(|bucket, first, chunk| {
                for (index, staged) in (first..).zip(chunk) {
                    let new = kept(staged.event.customer as usize);
                    if new == u32::MAX {
                        continue;
                    }
                    let b = (new >> BUCKET_SHIFT) as usize;
                    if b >= buckets.len() {
                        buckets.resize_with(b + 1, Bucket::default);
                    }
                    let mut moved = *staged;
                    moved.event.customer = new;
                    let to = &mut buckets[b];
                    to.push(
                        moved,
                        bucket.keys.get(index).copied(),
                        bucket.sub_us.get(index).copied(),
                    );
                    to.properties.extend_from(
                        &bucket.properties,
                        index * properties..(index + 1) * properties,
                    );
                }
            });
        }
        self.buckets = buckets;
        self.staged = self.buckets.iter().map(|b| b.len).sum();
    }

    /// Time of the oldest staged event (i64::MAX when none).
    pub(super) fn oldest_staged_us(&self) -> i64 {
        self.buckets
            .iter()
            .flat_map(Bucket::iter)
            .map(|s| s.event.time_us)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// The allowed lateness in µs.
    pub(super) fn lateness_us(&self) -> i64 {
        self.lateness_us
    }

    /// Touchpoint names so far, by id.
    pub(super) fn touchpoint_names(&self) -> &Interner {
        &self.touchpoints
    }

    fn stage(&mut self, staged: Staged, session_key: Option<u32>, event: &EventRef<'_>) {
        let b = (staged.event.customer >> BUCKET_SHIFT) as usize;
        if b >= self.buckets.len() {
            self.buckets.resize_with(b + 1, Bucket::default);
        }
        if session_key.is_some() && !self.with_keys {
            self.with_keys = true;
            for bucket in &mut self.buckets {
                bucket.keys.resize(bucket.len, 0);
            }
        }
        if event.sub_us_ns != 0 && !self.with_sub_us {
            self.with_sub_us = true;
            for bucket in &mut self.buckets {
                bucket.sub_us.resize(bucket.len, 0);
            }
        }
        let bucket = &mut self.buckets[b];
        bucket.push(
            staged,
            self.with_keys.then_some(session_key.unwrap_or(0)),
            self.with_sub_us.then_some(event.sub_us_ns),
        );
        let kept = self.config.kept_properties.iter().zip(&mut self.values);
        for ((name, values), seen) in kept.zip(&mut self.seen_values) {
            let id = match event.property(name) {
                Some(value) if !value.is_empty() => match seen.get(value) {
                    Some(id) => id.unwrap_or(0),
                    None => {
                        let id = values.intern(value) + 1;
                        seen.put(value, Some(id));
                        id
                    }
                },
                _ => 0,
            };
            bucket.properties.push(id);
        }
        self.staged += 1;
    }

    fn touchpoint_of(&mut self, event: &EventRef<'_>) -> Option<u32> {
        if let Some(touchpoint) = self.seen_names.get(event.event) {
            return touchpoint;
        }
        match self.names.get(event.event) {
            Some(NameOutcome::Touchpoint(id)) => {
                let id = *id;
                self.seen_names.put(event.event, Some(id));
                return Some(id);
            }
            Some(NameOutcome::Excluded) => {
                self.seen_names.put(event.event, None);
                return None;
            }
            _ => {}
        }
        if !self.names.contains_key(event.event) {
            let outcome = match self.config.rules.resolve(event.event) {
                Resolution::Excluded => NameOutcome::Excluded,
                Resolution::Touchpoint(name) => {
                    NameOutcome::Touchpoint(self.touchpoints.intern(&name))
                }
                Resolution::Split(base, property) => NameOutcome::Split { base, property },
            };
            self.names.insert(event.event.into(), outcome);
        }
        match &self.names[event.event] {
            NameOutcome::Excluded => None,
            NameOutcome::Touchpoint(id) => Some(*id),
            NameOutcome::Split { base, property } => match event.property(property) {
                Some(value) if !value.is_empty() => {
                    Some(self.touchpoints.intern(&split_name(base, value)))
                }
                _ => Some(self.touchpoints.intern(base)),
            },
        }
    }

    /// Number of events staged so far (duplicates are dropped at the end).
    pub fn len(&self) -> usize {
        self.staged
    }

    /// True when no event has been staged.
    pub fn is_empty(&self) -> bool {
        self.staged == 0
    }

    /// Number of records rejected so far.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.total
    }

    /// A copy of the staged events (all, or those at or after `from_us`):
    /// the quick part of a snapshot, so that [`StagedCopy::build`] can run
    /// on another thread while ingesting goes on.
    pub fn copy_staged(&self, from_us: Option<i64>) -> StagedCopy {
        self.copy_between(from_us.unwrap_or(i64::MIN), i64::MAX)
    }

    /// A copy of the staged events in `[from_us, to_us)`.
    pub fn copy_between(&self, from_us: i64, to_us: i64) -> StagedCopy {
        let kept = self.config.kept_properties.len();
        let buckets: Vec<Bucket> = self
            .buckets
            .iter()
            .map(|b| b.between(from_us, to_us, self.with_keys, kept))
            .collect();
        self.copy_with(buckets)
    }

    /// Names and counts without any event: journeys with an empty graph,
    /// for totals kept elsewhere to be laid over.
    pub(super) fn copy_without_events(&self) -> StagedCopy {
        self.copy_with(Vec::new())
    }

    fn copy_with(&self, buckets: Vec<Bucket>) -> StagedCopy {
        StagedCopy {
            total: buckets.iter().map(|b| b.len).sum(),
            buckets,
            with_keys: self.with_keys,
            with_sub_us: self.with_sub_us,
            config: self.config.clone(),
            customers: self.customers.clone(),
            touchpoints: self.touchpoints.clone(),
            values: self.values.clone(),
            excluded: self.excluded,
            rejected: self.rejected.clone(),
        }
    }

    /// Drops duplicates, orders each customer's events, cuts sessions and
    /// builds the graph.
    pub fn finish(self) -> Journeys {
        StagedCopy {
            buckets: self.buckets,
            with_keys: self.with_keys,
            with_sub_us: self.with_sub_us,
            total: self.staged,
            config: self.config,
            customers: self.customers,
            touchpoints: self.touchpoints,
            values: self.values,
            excluded: self.excluded,
            rejected: self.rejected,
        }
        .build()
    }
}

/// Staged events copied out of a [`JourneyBuilder`], ready to become
/// journeys on any thread.
#[derive(Debug)]
pub struct StagedCopy {
    pub(super) buckets: Vec<Bucket>,
    pub(super) with_keys: bool,
    pub(super) with_sub_us: bool,
    pub(super) total: usize,
    pub(super) config: EngineConfig,
    pub(super) customers: Interner,
    pub(super) touchpoints: Interner,
    pub(super) values: Vec<Interner>,
    pub(super) excluded: u64,
    pub(super) rejected: RejectedLog,
}

impl StagedCopy {
    /// The events copied (duplicates not dropped yet).
    pub fn events(&self) -> usize {
        self.total
    }

    /// Drops duplicates, orders each customer's events, cuts sessions and
    /// builds the graph.
    pub fn build(self) -> Journeys {
        let customer_count = self.customers.len();
        let grouped = grouping::group_by_customer(
            self.buckets,
            self.with_keys,
            self.with_sub_us,
            self.config.kept_properties.len(),
            customer_count,
        );
        journeys::build(journeys::Parts {
            config: self.config,
            customers: self.customers,
            touchpoints: self.touchpoints,
            values: self.values,
            grouped,
            excluded: self.excluded,
            rejected: self.rejected,
        })
    }
}

/// How many events ahead a customer's table slot is asked for: far enough
/// for the fetch to arrive, near enough to stay in the cache.
const PREFETCH_AHEAD: usize = 16;

/// The [`name_hash`](super::intern::name_hash) of every customer of
/// `batch`, in `buffer`'s memory.
fn customer_hashes(batch: &EventBatch, buffer: &mut Vec<u64>) -> Vec<u64> {
    let mut hashes = std::mem::take(buffer);
    hashes.clear();
    hashes.extend(batch.customers().map(super::intern::name_hash));
    hashes
}

/// A well-mixed, non-zero 64-bit hash of an event id; equal ids hash
/// equally in every run and on every machine.
pub fn event_id_hash(id: &str) -> u64 {
    super::intern::name_hash(id) | 1
}

/// A non-zero 32-bit key of a session id (0 means "no session id"); only
/// compared between consecutive events of one customer.
fn session_key(session: &str) -> u32 {
    let mut hasher = rustc_hash::FxHasher::default();
    session.hash(&mut hasher);
    (hasher.finish() >> 32) as u32 | 1
}
