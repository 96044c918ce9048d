//! Turns the time-sorted good events into the records of a file, adding
//! duplicates, late events and malformed records when asked to.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::calendar::{MONTH_START_US, SECOND_US};
use super::catalog::{Catalog, event_id};
use super::journey::generate_compact;
use super::model::{Compact, NONE, ch, tp};
use super::{
    GenerateOptions, GenerateReport, MAX_EVENTS, MalformedKind, SampleEvent, SampleRecord,
};

/// Share of records that are duplicates when messy.
const DUPLICATE_SHARE: f64 = 0.01;
/// Share of records that are malformed when messy.
const MALFORMED_SHARE: f64 = 0.001;
/// Chance that a good event is written late when messy.
const LATE_CHANCE: f64 = 0.01;
/// How many recent events a duplicate may copy.
const RECENT: usize = 256;
/// Sequence numbers of malformed records start here, apart from good events.
const MALFORMED_SEQ_BASE: u64 = 1 << 40;

/// One record together with what a writer needs to render it.
pub(crate) enum Item {
    /// A good event (first emission or duplicate).
    Event(SampleEvent),
    /// A malformed record and a plausible event to break.
    Malformed(MalformedKind, SampleEvent),
}

/// The records of a sample file, produced one at a time in file order.
///
/// Memory is about 32 bytes per event; records are expanded as they are
/// taken, so large samples can be written without holding them all.
pub struct SampleStream {
    catalog: Catalog,
    events: Vec<Compact>,
    next: usize,
    id_key: u64,
    rng: ChaCha8Rng,
    messy: bool,
    late_chance: f64,
    remaining_duplicates: usize,
    remaining_malformed: usize,
    /// Events held back to be written late, with their release time.
    pending: Vec<(i64, Compact)>,
    recent: VecDeque<Compact>,
    max_ts: i64,
    last: Option<Compact>,
    malformed_written: u64,
    report: GenerateReport,
}

impl SampleStream {
    /// Generates the events for `opts`; records are produced by iterating.
    ///
    /// # Panics
    /// If `opts.events` exceeds [`MAX_EVENTS`].
    pub fn new(opts: &GenerateOptions) -> Self {
        assert!(opts.events <= MAX_EVENTS, "at most {MAX_EVENTS} events");
        let (duplicates, malformed) = if opts.messy {
            let d = (opts.events as f64 * DUPLICATE_SHARE).round() as usize;
            let m = (opts.events as f64 * MALFORMED_SHARE).round() as usize;
            let m = m.min(opts.events);
            let d = if opts.events - m > d { d } else { 0 };
            (d, m)
        } else {
            (0, 0)
        };
        let good = opts.events - duplicates - malformed;
        let catalog = Catalog::new(opts.seed);
        let events = generate_compact(good, opts.seed, &catalog);
        Self {
            catalog,
            events,
            next: 0,
            id_key: opts.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            rng: ChaCha8Rng::seed_from_u64(opts.seed ^ 0x6d65_7373_7921_2121),
            messy: opts.messy,
            late_chance: if opts.messy { LATE_CHANCE } else { 0.0 },
            remaining_duplicates: duplicates,
            remaining_malformed: malformed,
            pending: Vec::new(),
            recent: VecDeque::with_capacity(RECENT),
            max_ts: i64::MIN,
            last: None,
            malformed_written: 0,
            report: GenerateReport::default(),
        }
    }

    /// Counts of what has been produced so far (complete once exhausted).
    pub fn report(&self) -> &GenerateReport {
        &self.report
    }

    /// Records not yet produced.
    pub fn remaining(&self) -> usize {
        self.events.len() - self.next
            + self.pending.len()
            + self.remaining_duplicates
            + self.remaining_malformed
    }

    /// Frees the generated events once the stream is no longer needed.
    pub(crate) fn release_memory(&mut self) {
        self.events = Vec::new();
        self.next = 0;
    }

    /// The next record with rendering context, or `None` at the end.
    pub(crate) fn next_item(&mut self) -> Option<Item> {
        let remaining = self.remaining();
        if remaining == 0 {
            return None;
        }
        let u = self.rng.random_range(0..remaining);
        let duplicate = u < self.remaining_duplicates;
        let malformed = !duplicate && u < self.remaining_duplicates + self.remaining_malformed;
        self.report.records += 1;
        // A duplicate needs an earlier event; before the first one is
        // written the slot takes a good event instead.
        if duplicate && !self.recent.is_empty() {
            self.remaining_duplicates -= 1;
            self.report.duplicates += 1;
            let i = self.rng.random_range(0..self.recent.len());
            let c = self.recent[i];
            return Some(Item::Event(self.catalog.to_event(&c, self.id_key)));
        }
        if malformed {
            self.remaining_malformed -= 1;
            self.report.malformed += 1;
            return Some(self.malformed());
        }
        let c = self.next_good();
        self.report.events += 1;
        if c.ts < self.max_ts {
            self.report.late += 1;
        }
        self.max_ts = self.max_ts.max(c.ts);
        if self.messy {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(c);
        }
        self.last = Some(c);
        Some(Item::Event(self.catalog.to_event(&c, self.id_key)))
    }

    /// The next good event in file order: a held-back event once events up
    /// to its release time are written, otherwise the next one in time order
    /// (which may itself be held back).
    fn next_good(&mut self) -> Compact {
        loop {
            let next_ts = self.events.get(self.next).map(|e| e.ts);
            if let Some(i) = self.due_pending(next_ts) {
                return self.pending.remove(i).1;
            }
            let c = self.events[self.next];
            self.next += 1;
            if self.late_chance > 0.0 && self.rng.random_bool(self.late_chance) {
                let delay = self.rng.random_range(15..=300) * SECOND_US;
                self.pending.push((c.ts + delay, c));
                continue;
            }
            return c;
        }
    }

    /// Index of the earliest held-back event that must be written before an
    /// event at `next_ts` (all of them when there is none).
    fn due_pending(&self, next_ts: Option<i64>) -> Option<usize> {
        let (i, (release, _)) = self
            .pending
            .iter()
            .enumerate()
            .min_by_key(|(_, (release, c))| (*release, c.seq))?;
        match next_ts {
            Some(ts) if ts <= *release => None,
            _ => Some(i),
        }
    }

    /// A malformed record, rotating through the kinds, based on the last
    /// good event so it looks like a corrupted copy of real traffic.
    fn malformed(&mut self) -> Item {
        const KINDS: [MalformedKind; 3] = [
            MalformedKind::BadTimestamp,
            MalformedKind::MissingCustomer,
            MalformedKind::Unparseable,
        ];
        let kind = KINDS[(self.malformed_written % 3) as usize];
        let base = self.last.unwrap_or(Compact {
            ts: MONTH_START_US,
            seq: 0,
            customer: 1,
            product: NONE,
            aux: 0,
            aux2: 0,
            touchpoint: tp::HOME,
            channel: ch::WEB,
        });
        let mut event = self.catalog.to_event(&base, self.id_key);
        event.event_id = event_id(self.id_key, MALFORMED_SEQ_BASE + self.malformed_written);
        self.malformed_written += 1;
        Item::Malformed(kind, event)
    }
}

impl Iterator for SampleStream {
    type Item = SampleRecord;

    fn next(&mut self) -> Option<SampleRecord> {
        self.next_item().map(|item| match item {
            Item::Event(e) => SampleRecord::Event(e),
            Item::Malformed(kind, _) => SampleRecord::Malformed(kind),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}
