//! Ingesting batches: interning names, applying touchpoint rules and
//! retaining each event compactly until [`JourneyBuilder::finish`].

use std::hash::{DefaultHasher, Hash, Hasher};

use rustc_hash::FxHashMap;

use super::batch::{EventBatch, EventRef};
use super::intern::Interner;
use super::journeys::{self, Journeys};
use super::rejected::RejectedLog;
use super::rules::{Resolution, TouchpointRules, split_name};

/// Touchpoint id of the synthetic start of every session.
pub const START: u32 = 0;
/// Touchpoint id of the synthetic end (exit) of every session.
pub const END: u32 = 1;
/// Name of [`START`].
pub const START_NAME: &str = "START";
/// Name of [`END`].
pub const END_NAME: &str = "END";

/// Events are staged in chunks of this many, so that growing never copies
/// (or doubles) everything held so far.
const CHUNK_EVENTS: usize = 1 << 18;

/// How events become sessions and touchpoints.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Idle gap after which a new session starts; None = one session per
    /// customer. Ignored when events carry a session id.
    pub session_timeout_us: Option<i64>,
    /// Rename, split and exclude rules.
    pub rules: TouchpointRules,
    /// Merge consecutive events of the same touchpoint into one step.
    pub collapse_repeats: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            session_timeout_us: Some(30 * 60 * 1_000_000),
            rules: TouchpointRules::default(),
            collapse_repeats: false,
        }
    }
}

/// One retained event: 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Event {
    /// When, in microseconds since the Unix epoch.
    pub time_us: i64,
    /// Customer id (see [`Journeys::customer_name`]).
    pub customer: u32,
    /// Touchpoint id (see [`Journeys::touchpoint_name`]).
    pub touchpoint: u32,
}

/// An event as staged during ingestion (24 bytes), with the hash of its
/// event id (0 = none).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Staged {
    pub event: Event,
    pub id_hash: u64,
}

#[derive(Debug, Clone)]
enum NameOutcome {
    Excluded,
    Touchpoint(u32),
    Split { base: String, property: String },
}

/// Collects events batch by batch; [`JourneyBuilder::finish`] turns them
/// into sessions, a graph and statistics.
#[derive(Debug)]
pub struct JourneyBuilder {
    config: EngineConfig,
    customers: Interner,
    touchpoints: Interner,
    names: FxHashMap<Box<str>, NameOutcome>,
    chunks: Vec<Vec<Staged>>,
    /// Session key of every staged event (0 = none); empty until an event
    /// with a session id arrives.
    session_keys: Vec<u32>,
    staged: usize,
    excluded: u64,
    rejected: RejectedLog,
}

impl JourneyBuilder {
    /// A builder with no events.
    pub fn new(config: EngineConfig) -> Self {
        let mut touchpoints = Interner::default();
        touchpoints.intern(START_NAME);
        touchpoints.intern(END_NAME);
        JourneyBuilder {
            config,
            customers: Interner::default(),
            touchpoints,
            names: FxHashMap::default(),
            chunks: Vec::new(),
            session_keys: Vec::new(),
            staged: 0,
            excluded: 0,
            rejected: RejectedLog::default(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Adds a batch: its events in order, and its rejected records.
    pub fn ingest(&mut self, batch: &EventBatch) {
        for rejected in &batch.rejected {
            self.rejected.record(rejected);
        }
        let mut last_customer: Option<(&str, u32)> = None;
        for event in batch.iter() {
            let Some(touchpoint) = self.touchpoint_of(&event) else {
                self.excluded += 1;
                continue;
            };
            let customer = match last_customer {
                Some((name, id)) if name == event.customer => id,
                _ => {
                    let id = self.customers.intern(event.customer);
                    last_customer = Some((event.customer, id));
                    id
                }
            };
            if let Some(session) = event.session_id {
                self.session_keys.resize(self.staged, 0);
                self.session_keys.push(session_key(session));
            } else if !self.session_keys.is_empty() {
                self.session_keys.push(0);
            }
            self.stage(Staged {
                event: Event {
                    time_us: event.time_us,
                    customer,
                    touchpoint,
                },
                id_hash: event.event_id.map_or(0, event_id_hash),
            });
        }
    }

    fn stage(&mut self, staged: Staged) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_EVENTS => chunk.push(staged),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_EVENTS);
                chunk.push(staged);
                self.chunks.push(chunk);
            }
        }
        self.staged += 1;
    }

    fn touchpoint_of(&mut self, event: &EventRef<'_>) -> Option<u32> {
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

    /// Drops duplicates, orders each customer's events, cuts sessions and
    /// builds the graph.
    pub fn finish(self) -> Journeys {
        let grouped = journeys::group_by_customer(
            self.chunks,
            self.session_keys,
            self.staged,
            self.customers.len(),
        );
        journeys::build(journeys::Parts {
            config: self.config,
            customers: self.customers,
            touchpoints: self.touchpoints,
            grouped,
            excluded: self.excluded,
            rejected: self.rejected,
        })
    }
}

/// A well-mixed, non-zero 64-bit hash of an event id; equal ids hash
/// equally in every run and on every machine.
pub fn event_id_hash(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish() | 1
}

/// A non-zero 32-bit key of a session id (0 means "no session id"); only
/// compared between consecutive events of one customer.
fn session_key(session: &str) -> u32 {
    let mut hasher = rustc_hash::FxHasher::default();
    session.hash(&mut hasher);
    (hasher.finish() >> 32) as u32 | 1
}
