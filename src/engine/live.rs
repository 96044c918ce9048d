//! The live engine: running totals that make the journeys since start exact
//! with a fixed amount of memory per customer, plus the recent past of
//! events (the last hour by default) for time windows, the customer list
//! and timelines.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::EngineConfig;
use super::explore::busiest_first;
use super::ingest::{JourneyBuilder, StagedCopy};
use super::journeys::Journeys;
use super::running::{RestoreError, Running, Step};
use super::saved::SavedBuilder;
use super::triggers::{TriggerRule, TriggerRunner, compiled::TriggerError};

const MINUTE_US: i64 = 60 * 1_000_000;

/// How much event time is kept for windows when nothing longer is asked.
pub const KEEP_RECENT_US: i64 = 60 * 60 * 1_000_000;

/// At most this many recent events are kept (24 bytes each, about 1.2 GB):
/// at rates where the kept time would not fit, less time is kept.
pub const MAX_KEPT_EVENTS: usize = 50_000_000;

/// Quiet customers are settled once at least this many (and a quarter of
/// those held) are quiet: each pass gives every other customer a new id.
const SETTLE_AT_LEAST: usize = 4096;

/// Settled customers kept when nothing else is asked; past it the quietest
/// are forgotten.
pub const REMEMBERED_CUSTOMERS: usize = super::settled::DEFAULT_SETTLED_LIMIT;

/// Events, counts and running totals of one stream.
#[derive(Debug, Clone)]
pub struct LiveEngine {
    recent: JourneyBuilder,
    running: Running,
    keep_us: i64,
    max_kept: usize,
    /// Events older than this have been forgotten.
    forgotten_before_us: i64,
    /// Events at or after this are kept however old they get (as memory
    /// allows), for a fixed range; `i64::MAX` when none is.
    pinned_from_us: i64,
    /// Events taken in (duplicates included).
    taken: u64,
    /// Records rejected by minute of event time: the time of the event
    /// before them on their partition, or the newest event's when the
    /// source cannot say (those before any event wait in minute `i64::MIN`
    /// for the first). Saved with the rest, so that a rule on the share
    /// rejected reads a resumed stream (or a worker's snapshot) alike.
    rejected_minutes: BTreeMap<i64, u64>,
    /// Bumped each time customers get new ids.
    customer_numbering: u64,
    /// Whether quiet customers are settled as the stream goes on.
    settling: bool,
    /// Per-customer trigger rules and where they stand.
    triggers: TriggerRunner,
}

/// The journeys since start, with open sessions by touchpoint.
pub struct SinceStart {
    /// Graph and counts of every event since start; its customers and
    /// timelines are those of the recent past.
    pub journeys: Journeys,
    /// Open sessions (last event within the session timeout of the newest
    /// event) by touchpoint id, busiest first.
    pub active: Vec<(u32, u64)>,
}

impl LiveEngine {
    /// An engine with nothing taken in; arrivals within `lateness_us` of
    /// their customer's newest event are put in order.
    pub fn new(config: EngineConfig, lateness_us: i64) -> Self {
        let running = Running::new(&config);
        let mut recent = JourneyBuilder::new(config);
        recent.set_lateness_us(lateness_us);
        LiveEngine {
            recent,
            running,
            keep_us: KEEP_RECENT_US,
            max_kept: MAX_KEPT_EVENTS,
            forgotten_before_us: i64::MIN,
            pinned_from_us: i64::MAX,
            taken: 0,
            rejected_minutes: BTreeMap::new(),
            customer_numbering: 0,
            settling: true,
            triggers: TriggerRunner::default(),
        }
    }

    /// Keeps at least `keep_us` of event time for windows (one hour at
    /// least).
    pub fn keep_at_least(&mut self, keep_us: i64) {
        self.keep_us = self.keep_us.max(keep_us);
    }

    /// Keeps every event at or after `from_us` however old it gets (as
    /// memory allows), so that a fixed range stays whole as events arrive;
    /// None lets the kept past move on again.
    pub fn keep_from(&mut self, from_us: Option<i64>) {
        self.pinned_from_us = from_us.unwrap_or(i64::MAX);
    }

    /// Keeps at most `events` recent events (fewer minutes when the rate
    /// is high).
    pub fn keep_at_most_events(&mut self, events: usize) {
        self.max_kept = events.max(1);
    }

    /// The allowed lateness, in µs.
    pub fn lateness_us(&self) -> i64 {
        self.recent.lateness_us()
    }

    /// Takes in a batch: its events and its rejected records.
    pub fn ingest(&mut self, batch: &super::EventBatch) {
        let lateness = self.recent.lateness_us();
        let running = &mut self.running;
        let triggers = &mut self.triggers;
        let watching = triggers.is_watching();
        let kept = self.recent.config.kept_properties.clone();
        let mut taken = 0;
        self.recent.ingest_each(batch, |arrival| {
            taken += 1;
            let staged = arrival.staged;
            let step = Step {
                time_us: staged.event.time_us,
                touchpoint: staged.event.touchpoint,
                key: arrival.key,
                sub_us_ns: arrival.sub_us_ns,
            };
            let new = running.add(
                staged.event.customer,
                arrival.customer_hash,
                step,
                staged.id_hash,
                arrival.newest_us,
                lateness,
            );
            if new && watching {
                triggers.take(
                    &arrival.event,
                    arrival.customer_hash,
                    step.touchpoint,
                    step.key,
                    &kept,
                );
            }
            new
        });
        self.taken += taken;
        if watching {
            self.triggers.learn(self.recent.touchpoints.iter());
            self.triggers.advance();
        }
        let watermark = self.recent.watermark_us();
        self.place_rejected(batch, watermark);
        let Some(watermark) = watermark else {
            return;
        };
        // Forget the distant past a twelfth of the kept time at a time.
        let cutoff = watermark
            .saturating_sub(self.keep_us)
            .min(self.pinned_from_us);
        if cutoff > self.forgotten_before_us.saturating_add(self.keep_us / 12) {
            self.forget_before(cutoff);
            if let Some(before) = self.quiet_before_us().filter(|_| self.settling)
                && self.running.quiet(before)
                    >= SETTLE_AT_LEAST.max(self.running.customers_held() / 4)
            {
                self.settle_quiet_customers();
            }
        }
        // Too many events for memory: keep the most recent three quarters
        // of the kept time, as often as needed.
        while self.recent.len() > self.max_kept {
            let kept_from = self.kept_from_us().max(self.recent.oldest_staged_us());
            let span = watermark.saturating_sub(kept_from);
            if span <= 1 {
                break;
            }
            self.forget_before(watermark - span / 4 * 3);
        }
    }

    /// Counts the batch's rejected records at the minute of their event
    /// time, or of the newest event's when the source cannot say.
    fn place_rejected(&mut self, batch: &super::EventBatch, watermark_us: Option<i64>) {
        if watermark_us.is_some()
            && let Some(unplaced) = self.rejected_minutes.remove(&i64::MIN)
        {
            let minute = watermark_us.map_or(i64::MIN, |t| t.div_euclid(MINUTE_US));
            *self.rejected_minutes.entry(minute).or_default() += unplaced;
        }
        for k in 0..batch.rejected.len() {
            let at = batch
                .rejected_at_us
                .get(k)
                .copied()
                .flatten()
                .or(watermark_us);
            let minute = at.map_or(i64::MIN, |t| t.div_euclid(MINUTE_US));
            *self.rejected_minutes.entry(minute).or_default() += 1;
        }
    }

    /// Records rejected at event times in `[from_us, to_us)` (by whole
    /// minutes).
    pub fn rejected_between(&self, from_us: i64, to_us: i64) -> u64 {
        let (from, to) = (from_us.div_euclid(MINUTE_US), to_us.div_euclid(MINUTE_US));
        if from >= to {
            return 0;
        }
        self.rejected_minutes
            .range(from.max(i64::MIN + 1)..to)
            .map(|(_, n)| n)
            .sum()
    }

    /// Where customers count as quiet: before the kept past, and more than
    /// the session timeout and the lateness before the newest event (None
    /// without a session timeout, where no session ends by time).
    fn quiet_before_us(&self) -> Option<i64> {
        let timeout = self.recent.config().session_timeout_us?;
        let watermark = self.watermark_us()?;
        let ended = watermark
            .saturating_sub(timeout)
            .saturating_sub(self.lateness_us());
        Some(ended.min(self.forgotten_before_us))
    }

    /// Settles the quiet customers now (it happens by itself as the kept
    /// past moves on, once enough are quiet): their sessions are ended in
    /// the totals and only what the totals need of them is kept, so that
    /// memory follows the customers of the recent past. Returns how many
    /// were settled. Customer ids change: a customer list or timeline
    /// taken before must be found again by name.
    pub fn settle_quiet_customers(&mut self) -> usize {
        let Some(before) = self.quiet_before_us() else {
            return 0;
        };
        let names = &self.recent.customers;
        let mut new_ids = self
            .running
            .settle(before, |c| super::intern::name_hash(names.name(c)));
        let settled = new_ids.iter().filter(|id| **id == u32::MAX).count();
        if settled == 0 {
            return 0;
        }
        // Customers with no state (only duplicates so far) are kept.
        let first_new = (new_ids.len() - settled) as u32;
        let stateless = names.len().saturating_sub(new_ids.len());
        new_ids.extend((first_new..).take(stateless));
        self.recent.renumber_customers(&new_ids);
        self.customer_numbering += 1;
        settled
    }

    /// Keeps every customer whole, never settling any (what memory the
    /// settling saves is measured against this).
    pub fn keep_every_customer_whole(&mut self) {
        self.settling = false;
    }

    /// Bumped each time customers are settled and the others given new ids.
    pub fn customer_numbering(&self) -> u64 {
        self.customer_numbering
    }

    /// Customers settled and not come back, and those forgotten past the
    /// limit (see [`LiveEngine::remember_at_most`]).
    pub fn settled_customers(&self) -> (usize, u64) {
        (self.running.settled.len(), self.running.settled.forgotten)
    }

    /// Bytes held for settled customers.
    pub fn settled_bytes(&self) -> usize {
        self.running.settled.heap_bytes()
    }

    /// Keeps at most `customers` settled customers: past it, the quietest
    /// are forgotten, and one who comes back counts as a new customer.
    pub fn remember_at_most(&mut self, customers: usize) {
        self.running.settled.set_limit(customers);
    }

    fn forget_before(&mut self, cutoff_us: i64) {
        self.rejected_minutes = self
            .rejected_minutes
            .split_off(&cutoff_us.div_euclid(MINUTE_US));
        self.recent.forget_before(cutoff_us);
        self.forgotten_before_us = self.forgotten_before_us.max(cutoff_us);
    }

    /// Seconds of event time kept before the newest event.
    pub fn kept_s(&self) -> f64 {
        match self.watermark_us() {
            Some(w) => w.saturating_sub(self.kept_from_us()) as f64 / 1e6,
            None => self.keep_us as f64 / 1e6,
        }
    }

    /// Where the kept past starts: an hour (or the longest window asked
    /// for, or a fixed range's start) before the newest event, later when
    /// memory would not hold that.
    pub fn kept_from_us(&self) -> i64 {
        let by_time = self
            .watermark_us()
            .map_or(i64::MIN, |w| w.saturating_sub(self.keep_us))
            .min(self.pinned_from_us);
        by_time.max(self.forgotten_before_us)
    }

    /// The names of the touchpoints, by id.
    pub(super) fn touchpoint_names(&self) -> &super::intern::Interner {
        self.recent.touchpoint_names()
    }

    /// The names of the customers held, by id.
    pub(super) fn customer_names(&self) -> &super::intern::Interner {
        &self.recent.customers
    }

    /// Events taken in so far, duplicates included.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// Events of the recent past held for windows.
    pub fn recent_len(&self) -> usize {
        self.recent.len()
    }

    /// Events dropped since start because their id had been seen.
    pub fn duplicates(&self) -> u64 {
        self.running.duplicates
    }

    /// Bytes held for recognising duplicates (at most two generations of
    /// recent event ids, whatever the number of customers).
    pub fn id_bytes(&self) -> usize {
        self.running.id_bytes()
    }

    /// Records rejected so far.
    pub fn rejected_total(&self) -> u64 {
        self.recent.rejected_total()
    }

    /// The newest event time seen (µs since the epoch).
    pub fn watermark_us(&self) -> Option<i64> {
        self.recent.watermark_us()
    }

    /// Arrivals older than their customer's newest event, and those of them
    /// beyond the allowed lateness (with the events of settled customers
    /// that would have gone on with their ended session: each began a new
    /// one).
    pub fn out_of_order(&self) -> (u64, u64) {
        let (reordered, late) = self.recent.out_of_order();
        (reordered, late + self.running.reopened)
    }

    /// A copy of the recent events at or after `from_us` (when None, those
    /// of the last hour before the newest event, however much more is kept
    /// for comparisons), to build on another thread: a window is exactly
    /// the journeys of the events inside it.
    pub fn recent(&self, from_us: Option<i64>) -> StagedCopy {
        let kept_from = self.kept_from_us();
        let last_hour = self
            .watermark_us()
            .map_or(i64::MIN, |w| w.saturating_sub(KEEP_RECENT_US));
        self.recent
            .copy_staged(Some(from_us.unwrap_or(last_hour).max(kept_from)))
    }

    /// The time of the oldest event kept (None when none is).
    pub fn oldest_kept_us(&self) -> Option<i64> {
        Some(self.recent.oldest_staged_us()).filter(|t| *t != i64::MAX)
    }

    /// A copy of the kept events in `[from_us, to_us)` of event time.
    pub fn recent_between(&self, from_us: i64, to_us: i64) -> StagedCopy {
        self.recent
            .copy_between(from_us.max(self.kept_from_us()), to_us)
    }

    /// The names and counts without any event (when no customer list or
    /// funnel needs them): the cheap base for the totals since start.
    pub fn without_events(&self) -> StagedCopy {
        self.recent.copy_without_events()
    }

    /// The running totals as if the stream ended now, to be laid over the
    /// journeys of the recent past (see [`RunningTotals::over`]).
    pub fn running_totals(&self) -> RunningTotals {
        let now = self.watermark_us().unwrap_or(i64::MIN);
        let snapshot = self.running.snapshot(now);
        let names = self.recent.touchpoint_names();
        let active = busiest_first(&snapshot.open_at);
        RunningTotals {
            graph: snapshot.totals.graph(names),
            events: snapshot.totals.events,
            customers: snapshot.totals.customers,
            sessions: snapshot.totals.sessions(),
            duplicates: self.duplicates(),
            time_range_us: snapshot.totals.time_range_us,
            active,
        }
    }

    /// The journeys since start, with the customers and events of the last
    /// hour when `with_events` (built here; [`LiveEngine::running_totals`]
    /// and [`LiveEngine::recent`] split the work between threads).
    pub fn since_start(&self, with_events: bool) -> SinceStart {
        let base = if with_events {
            self.recent(None)
        } else {
            self.without_events()
        };
        self.running_totals().over(base.build())
    }

    /// The whole engine, to save (borrowed, not copied).
    pub fn saved(&self) -> SavedEngine<'_> {
        SavedEngine {
            recent: self.recent.saved(),
            running: Cow::Borrowed(&self.running),
            forgotten_before_us: self.forgotten_before_us,
            taken: self.taken,
            rejected_minutes: Cow::Borrowed(&self.rejected_minutes),
            triggers: Cow::Borrowed(&self.triggers),
        }
    }

    /// An engine from what [`LiveEngine::saved`] saved, to go on with
    /// `config` and `lateness_us`; the session rules and lateness must be
    /// those it was saved with (the events applied so far were cut and
    /// ordered by them).
    pub fn restore(
        saved: SavedEngine<'_>,
        config: EngineConfig,
        lateness_us: i64,
    ) -> Result<LiveEngine, RestoreError> {
        let mut recent = JourneyBuilder::restore(saved.recent, config.clone())?;
        if recent.lateness_us() != lateness_us {
            return Err(RestoreError::OtherLateness(
                humantime::format_duration(std::time::Duration::from_micros(
                    recent.lateness_us().max(0) as u64,
                ))
                .to_string(),
            ));
        }
        let mut running = saved.running.into_owned();
        running.resume_with(&config)?;
        running.check_ids(recent.touchpoints.len(), recent.customers.len())?;
        recent.stage_from_us = saved.forgotten_before_us;
        Ok(LiveEngine {
            recent,
            running,
            keep_us: KEEP_RECENT_US,
            max_kept: MAX_KEPT_EVENTS,
            forgotten_before_us: saved.forgotten_before_us,
            pinned_from_us: i64::MAX,
            taken: saved.taken,
            rejected_minutes: saved.rejected_minutes.into_owned(),
            customer_numbering: 0,
            settling: true,
            triggers: saved.triggers.into_owned(),
        })
    }

    /// Watches the per-customer trigger `rules` from now on (their sessions
    /// under way keep what they fired).
    pub fn set_triggers(&mut self, rules: Vec<TriggerRule>) -> Result<(), TriggerError> {
        let config = &self.recent.config;
        let session = (config.kept_properties.as_slice(), config.session_timeout_us);
        let lateness = self.recent.lateness_us();
        self.triggers
            .set_rules(rules, session, self.recent.touchpoints.iter(), lateness)
    }

    /// The triggers: what they fired, what waits for delivery.
    pub fn triggers(&self) -> &TriggerRunner {
        &self.triggers
    }

    /// The triggers, to take what they fired and confirm deliveries.
    pub fn triggers_mut(&mut self) -> &mut TriggerRunner {
        &mut self.triggers
    }
}

/// What of a live engine is saved: the recent events and the running
/// totals, borrowed to save and owned when read back.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedEngine<'a> {
    recent: SavedBuilder<'a>,
    running: Cow<'a, Running>,
    forgotten_before_us: i64,
    taken: u64,
    rejected_minutes: Cow<'a, BTreeMap<i64, u64>>,
    triggers: Cow<'a, TriggerRunner>,
}

impl SavedEngine<'_> {
    /// The allowed lateness the saved events were ordered by (what
    /// [`LiveEngine::restore`] must be given).
    pub fn lateness_us(&self) -> i64 {
        self.recent.lateness_us()
    }
}

/// The running totals at one moment: the graph and counts since start.
#[derive(Debug, Clone)]
pub struct RunningTotals {
    pub(super) graph: super::JourneyGraph,
    pub(super) events: u64,
    pub(super) customers: u64,
    pub(super) sessions: u64,
    pub(super) duplicates: u64,
    pub(super) time_range_us: Option<(i64, i64)>,
    /// Open sessions by touchpoint id, busiest first.
    pub active: Vec<(u32, u64)>,
}

impl RunningTotals {
    /// `recent` (the journeys of the recent past) with the graph and counts
    /// since start in place of its own.
    pub fn over(self, mut recent: Journeys) -> SinceStart {
        recent.graph = self.graph;
        recent.events = self.events;
        recent.customers = self.customers;
        recent.sessions = self.sessions;
        recent.duplicates = self.duplicates;
        recent.time_range_us = self.time_range_us;
        SinceStart {
            journeys: recent,
            active: self.active,
        }
    }
}
