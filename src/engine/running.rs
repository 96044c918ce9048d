//! Running totals for live mode: each event is applied to its customer's
//! state once it can no longer be overtaken by a later arrival, so the graph
//! since start is exact while memory stays a small, fixed amount per
//! customer (no event is kept for it).
//!
//! An event waits while it is within the allowed lateness of its customer's
//! newest event; an arrival older than that still gets placed in time order
//! among the waiting ones. Only an arrival older than an event already
//! applied cannot be placed: it is applied at that point of the journey
//! (no time passes on its way in), and the builder counts it as late.
//! The END of each customer's open session is added when a snapshot is
//! taken, as a file's last session ends where the file does.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::batch::is_event_time;
use super::event::EngineConfig;
use super::graph::JourneyGraph;
use super::intern::Interner;
use super::settled::{Settled, SettledCustomers};
use super::walk::{Firsts, Open, Tally, starts_session};

/// Why a saved live engine cannot be taken up again.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Its sessions were cut by other rules than those asked for now.
    #[error(
        "the live state was saved with a session timeout of {timeout} and repeated steps \
         {repeats}; start with the same settings, or remove the state file to start over"
    )]
    OtherSessionRules {
        /// The saved session timeout, as a duration.
        timeout: String,
        /// `merged` or `kept`.
        repeats: &'static str,
    },
    /// Its events were ordered with another allowed lateness.
    #[error(
        "the live state was saved with an allowed lateness of {0}; start with the same \
         lateness, or remove the state file to start over"
    )]
    OtherLateness(String),
    /// An id in it names nothing: what.
    #[error("the live state file is damaged ({0}); remove it to start over")]
    Damaged(&'static str),
    /// Its recent events cannot be read.
    #[error(transparent)]
    Unreadable(#[from] std::io::Error),
}

impl From<RestoreError> for std::io::Error {
    fn from(error: RestoreError) -> Self {
        let kind = match error {
            RestoreError::Unreadable(e) => return e,
            RestoreError::Damaged(_) => std::io::ErrorKind::InvalidData,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, error)
    }
}

/// Ids of event ids (mixed with their customer) kept per generation; two
/// generations are kept, so duplicates are caught when they arrive within
/// the last million events or more.
pub(super) const IDS_PER_GENERATION: usize = 1 << 20;

/// One event as the running totals need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Step {
    pub time_us: i64,
    pub touchpoint: u32,
    /// Session key (0 = no session id).
    pub key: u32,
    /// Nanoseconds past `time_us` (0..=999): they order arrivals within a
    /// microsecond; sessions and durations are in µs.
    pub sub_us_ns: u16,
}

impl Step {
    /// Where the step is in time, to the nanosecond.
    fn at(&self) -> (i64, u16) {
        (self.time_us, self.sub_us_ns)
    }
}

/// More than any stream counts (about 2.8 × 10^14): a saved count above it
/// is damage, and counting on from it could overflow.
const MAX_PLAUSIBLE_COUNT: u64 = 1 << 48;

/// "Nothing waiting".
const NO_STEP: Step = Step {
    time_us: i64::MIN,
    touchpoint: 0,
    key: 0,
    sub_us_ns: 0,
};

/// Which of a customer's visited sets.
#[derive(Clone, Copy)]
enum Set {
    /// Touchpoints of the open session.
    Session,
    /// Touchpoints the customer ever reached.
    Nodes,
    /// Transitions (edge ids) the customer ever made.
    Edges,
}

/// Sets of small ids: ids below 64 in a bitmap each, larger ones in sorted
/// lists allocated only when needed (32 bytes in the common case).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Visited {
    session: u64,
    nodes: u64,
    edges: u64,
    more: Option<Box<[Vec<u32>; 3]>>,
}

impl Visited {
    /// Adds `id`; true when it was not there yet.
    fn insert(&mut self, set: Set, id: u32) -> bool {
        if id < 64 {
            let bits = match set {
                Set::Session => &mut self.session,
                Set::Nodes => &mut self.nodes,
                Set::Edges => &mut self.edges,
            };
            let bit = 1u64 << id;
            let new = *bits & bit == 0;
            *bits |= bit;
            return new;
        }
        let more = self.more.get_or_insert_with(Default::default);
        let list = &mut more[set as usize];
        match list.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                list.insert(at, id);
                true
            }
        }
    }

    /// The touchpoints and transitions of the customer, each ascending,
    /// in `nodes` and `edges` (emptied first).
    fn customer_sets(&self, nodes: &mut Vec<u32>, edges: &mut Vec<u32>) {
        let fill = |ids: &mut Vec<u32>, mut bits: u64, set: Set| {
            ids.clear();
            while bits != 0 {
                ids.push(bits.trailing_zeros());
                bits &= bits - 1;
            }
            if let Some(more) = &self.more {
                ids.extend_from_slice(&more[set as usize]);
            }
        };
        fill(nodes, self.nodes, Set::Nodes);
        fill(edges, self.edges, Set::Edges);
    }

    /// The sets of a customer that has taken `nodes` and `edges`, with no
    /// session open.
    fn of_customer(nodes: &[u32], edges: &[u32]) -> Visited {
        let mut visited = Visited::default();
        for &id in nodes {
            visited.insert(Set::Nodes, id);
        }
        for &id in edges {
            visited.insert(Set::Edges, id);
        }
        visited
    }

    fn clear_session(&mut self) {
        self.session = 0;
        if let Some(more) = &mut self.more {
            more[Set::Session as usize].clear();
        }
    }
}

/// What the running totals remember of one customer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CustomerState {
    /// Time of the last applied event (where sessions are cut).
    last_us: i64,
    /// The open session: its last step, their number (0 before the
    /// customer's first event) and the step's time (where durations start).
    open: Open,
    key: u32,
    /// Two or more arrivals wait, in the overflow map.
    more_waiting: bool,
    /// Settled once and come back: counted among the customers already.
    returning: bool,
    /// The arrival not applied yet when there is just one, or [`NO_STEP`].
    waiting: Step,
    visited: Visited,
}

impl Default for CustomerState {
    fn default() -> Self {
        CustomerState {
            last_us: i64::MIN,
            open: Open {
                last: 0,
                step: 0,
                step_us: i64::MIN,
            },
            key: 0,
            more_waiting: false,
            returning: false,
            waiting: NO_STEP,
            visited: Visited::default(),
        }
    }
}

impl Firsts for Visited {
    fn node_in_session(&mut self, node: u32) -> bool {
        self.insert(Set::Session, node)
    }

    fn node_for_customer(&mut self, node: u32) -> bool {
        self.insert(Set::Nodes, node)
    }

    fn edge_for_customer(&mut self, edge: u32) -> bool {
        self.insert(Set::Edges, edge)
    }
}

/// Everything counted so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Totals {
    /// Sessions, touchpoints and transitions, counted by the one walk.
    tally: Tally,
    pub events: u64,
    pub customers: u64,
    pub time_range_us: Option<(i64, i64)>,
}

/// How sessions are cut and steps merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Rules {
    timeout_us: Option<i64>,
    collapse_repeats: bool,
}

impl Rules {
    fn of(config: &EngineConfig) -> Self {
        Rules {
            timeout_us: config.session_timeout_us,
            collapse_repeats: config.collapse_repeats,
        }
    }
}

impl Totals {
    /// Sessions so far.
    pub fn sessions(&self) -> u64 {
        self.tally.sessions
    }

    /// Applies one event to its customer's journey.
    fn apply(&mut self, state: &mut CustomerState, event: Step, rules: Rules) {
        self.events += 1;
        let (t, tp) = (event.time_us, event.touchpoint);
        self.time_range_us = Some(
            self.time_range_us
                .map_or((t, t), |(a, b)| (a.min(t), b.max(t))),
        );
        let started = state.open.step > 0;
        // An event older than one already applied takes the journey's time.
        let time = if started { t.max(state.last_us) } else { t };
        let previous = started.then_some((state.last_us, state.key));
        if starts_session(previous, time, event.key, rules.timeout_us) {
            if started {
                self.close(state);
            } else if !state.returning {
                self.customers += 1;
            }
            state.visited.clear_session();
            state.open = self.tally.begin(&mut state.visited, tp, time);
        } else {
            self.tally.step(
                &mut state.visited,
                &mut state.open,
                tp,
                time,
                rules.collapse_repeats,
            );
        }
        state.last_us = time;
        state.key = event.key;
    }

    /// Ends the customer's open session: an exit and the step to END.
    fn close(&mut self, state: &mut CustomerState) {
        let open = state.open;
        self.tally.end(&mut state.visited, &open);
    }

    /// The totals as a graph with touchpoint names.
    pub fn graph(&self, names: &Interner) -> JourneyGraph {
        self.tally.graph(names)
    }
}

/// Event ids seen recently, in two generations of bounded size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct RecentIds {
    current: FxHashSet<u64>,
    previous: FxHashSet<u64>,
}

impl RecentIds {
    /// Bytes held by the two generations (8-byte keys and a control byte
    /// per bucket).
    fn heap_bytes(&self) -> usize {
        let buckets = |set: &FxHashSet<u64>| {
            if set.capacity() == 0 {
                0
            } else {
                (set.capacity() * 8 / 7).next_power_of_two()
            }
        };
        (buckets(&self.current) + buckets(&self.previous)) * 9
    }

    /// Remembers `key`; false when it was already remembered.
    fn insert(&mut self, key: u64) -> bool {
        if self.previous.contains(&key) || !self.current.insert(key) {
            return false;
        }
        if self.current.len() >= IDS_PER_GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        true
    }
}

/// The running totals of a live session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Running {
    rules: Rules,
    states: Vec<CustomerState>,
    /// The waiting arrivals of customers with more than one, in order.
    overflow: FxHashMap<u32, VecDeque<Step>>,
    totals: Totals,
    seen: RecentIds,
    /// Events dropped because their id had been seen.
    pub duplicates: u64,
    /// Customers quiet for long, with only what the totals need of them.
    pub settled: SettledCustomers,
    /// Events of a settled customer that would have gone on with its ended
    /// session (older than its last event, within the session timeout of
    /// it, or with its session id): each begins a new session instead.
    pub reopened: u64,
}

/// The running totals at one moment, open sessions ended.
pub(super) struct RunningSnapshot {
    pub totals: Totals,
    /// Open sessions (last event within the timeout of `now`) by the
    /// touchpoint they are at.
    pub open_at: Vec<u64>,
}

impl Running {
    /// Empty totals cutting sessions as `config` says.
    pub fn new(config: &EngineConfig) -> Self {
        Running {
            rules: Rules::of(config),
            states: Vec::new(),
            overflow: FxHashMap::default(),
            totals: Totals::default(),
            seen: RecentIds::default(),
            duplicates: 0,
            settled: SettledCustomers::default(),
            reopened: 0,
        }
    }

    /// Customers held whole (not settled).
    pub fn customers_held(&self) -> usize {
        self.states.len()
    }

    /// Bytes held for recognising duplicates: bounded, whatever the number
    /// of customers.
    pub fn id_bytes(&self) -> usize {
        self.seen.heap_bytes()
    }

    /// Checks that every id in loaded totals names a touchpoint (of
    /// `touchpoints`), a customer (of `customers`) or a transition counted:
    /// a damaged file must not make the engine index past its tables.
    pub fn check_ids(&self, touchpoints: usize, customers: usize) -> Result<(), RestoreError> {
        let damaged = |what: &'static str| Err(RestoreError::Damaged(what));
        let tp = |id: u32| (id as usize) < touchpoints;
        let tally = &self.totals.tally;
        let edges = tally.edges.edges.len();
        if tally.nodes.len() > touchpoints.max(2)
            || tally.edges.edges.iter().any(|e| !tp(e.from) || !tp(e.to))
        {
            return damaged("a touchpoint without a name");
        }
        if self.states.len() > customers {
            return damaged("a customer without a name");
        }
        if !self.settled.check(touchpoints.max(2), edges) {
            return damaged("a settled customer at a touchpoint without a name, or at no time");
        }
        let visited_ok = |v: &Visited| {
            let bits_ok = |bits: u64, limit: usize| limit >= 64 || bits >> limit == 0;
            bits_ok(v.session, touchpoints)
                && bits_ok(v.nodes, touchpoints)
                && bits_ok(v.edges, edges)
                && v.more.as_ref().is_none_or(|more| {
                    more[Set::Session as usize].iter().all(|id| tp(*id))
                        && more[Set::Nodes as usize].iter().all(|id| tp(*id))
                        && more[Set::Edges as usize]
                            .iter()
                            .all(|id| (*id as usize) < edges)
                })
        };
        let step_ok = |s: &Step| {
            *s == NO_STEP || (tp(s.touchpoint) && is_event_time(s.time_us) && s.sub_us_ns < 1000)
        };
        for state in &self.states {
            let started = state.open.step > 0;
            let at_known_place = !started
                || (tp(state.open.last)
                    && is_event_time(state.last_us)
                    && is_event_time(state.open.step_us));
            if !(at_known_place && step_ok(&state.waiting) && visited_ok(&state.visited)) {
                return damaged("a customer at a touchpoint without a name, or at no time");
            }
        }
        if let Some((a, b)) = self.totals.time_range_us
            && !(is_event_time(a) && is_event_time(b))
        {
            return damaged("a time outside the years 1 to 9999");
        }
        // Counts go on from where they were: none may be near overflowing.
        let plausible = |n: u64| n <= MAX_PLAUSIBLE_COUNT;
        let t = &self.totals;
        let counts_ok = [t.events, t.tally.sessions, t.customers, self.duplicates]
            .into_iter()
            .all(plausible)
            && t.tally.nodes.iter().all(|n| {
                [n.events, n.sessions, n.customers, n.exits]
                    .into_iter()
                    .all(plausible)
                    && n.first_step_sum <= MAX_PLAUSIBLE_COUNT << 14
            })
            && t.tally.edges.edges.iter().all(|e| {
                [e.transitions, e.customers, e.time.count()]
                    .into_iter()
                    .all(plausible)
            })
            && self.states.iter().all(|s| s.open.step < u32::MAX / 2);
        if !counts_ok {
            return damaged("a count no stream could reach");
        }
        let queued = |c: usize| self.overflow.contains_key(&(c as u32));
        if self
            .states
            .iter()
            .enumerate()
            .any(|(c, s)| s.more_waiting && !queued(c))
        {
            return damaged("waiting events without their queue");
        }
        for (customer, waiting) in &self.overflow {
            if *customer as usize >= self.states.len() || !waiting.iter().all(step_ok) {
                return damaged("a waiting event of an unknown customer or touchpoint");
            }
        }
        Ok(())
    }

    /// Gets ready to go on after loading, with `config`; refuses other
    /// session rules than the totals were counted with (the sessions so
    /// far could not be cut again).
    pub fn resume_with(&mut self, config: &EngineConfig) -> Result<(), RestoreError> {
        let wanted = Rules::of(config);
        if wanted != self.rules {
            return Err(RestoreError::OtherSessionRules {
                timeout: self.rules.timeout_us.map_or("none".to_owned(), |t| {
                    humantime::format_duration(std::time::Duration::from_micros(t.max(0) as u64))
                        .to_string()
                }),
                repeats: match self.rules.collapse_repeats {
                    true => "merged",
                    false => "kept",
                },
            });
        }
        Ok(())
    }

    /// Takes in one staged event of `customer` (whose name hashes to
    /// `customer_hash`), whose newest event so far (this one included) is
    /// at `newest_us`: applies what can no longer be overtaken. False when
    /// the event is a duplicate, which is dropped.
    pub fn add(
        &mut self,
        customer: u32,
        customer_hash: u64,
        event: Step,
        id_hash: u64,
        newest_us: i64,
        lateness_us: i64,
    ) -> bool {
        if id_hash != 0 {
            // By the customer's name, not its id: ids change when customers
            // are settled.
            let key = id_hash
                ^ customer_hash
                    .rotate_left(29)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            if !self.seen.insert(key) {
                self.duplicates += 1;
                return false;
            }
        }
        let c = customer as usize;
        if c >= self.states.len() {
            self.states.resize(c + 1, CustomerState::default());
        }
        let state = &mut self.states[c];
        let untouched = state.open.step == 0
            && !state.returning
            && state.waiting == NO_STEP
            && !state.more_waiting;
        if untouched && let Some(back) = self.settled.take(customer_hash) {
            let goes_on = if event.key != 0 {
                event.key == back.key
            } else {
                self.rules
                    .timeout_us
                    .is_none_or(|t| event.time_us.saturating_sub(back.last_us) <= t)
            };
            if goes_on {
                self.reopened += 1;
            }
            state.visited = Visited::of_customer(&back.nodes, &back.edges);
            state.returning = true;
            state.last_us = back.last_us;
            state.key = back.key;
        }
        let cutoff = newest_us.saturating_sub(lateness_us);
        if state.more_waiting {
            // A customer with more waiting has a queue (checked on restore).
            let queue = self.overflow.entry(customer).or_default();
            // After every waiting event of the same time: the source's order.
            let mut at = queue.len();
            while at > 0 && queue[at - 1].at() > event.at() {
                at -= 1;
            }
            queue.insert(at, event);
            while let Some(&step) = queue.front().filter(|w| w.time_us < cutoff) {
                queue.pop_front();
                self.totals.apply(state, step, self.rules);
            }
            if queue.len() <= 1 {
                state.waiting = queue.pop_front().unwrap_or(NO_STEP);
                state.more_waiting = false;
                self.overflow.remove(&customer);
            }
            return true;
        }
        let mut steps = [event, NO_STEP];
        let mut n = 1;
        if state.waiting != NO_STEP {
            steps = if state.waiting.at() <= event.at() {
                [state.waiting, event]
            } else {
                [event, state.waiting]
            };
            n = 2;
        }
        let ready = steps[..n].iter().take_while(|w| w.time_us < cutoff).count();
        for step in &steps[..ready] {
            self.totals.apply(state, *step, self.rules);
        }
        state.waiting = NO_STEP;
        match &steps[ready..n] {
            [] => {}
            [one] => state.waiting = *one,
            both => {
                self.overflow
                    .insert(customer, both.iter().copied().collect());
                state.more_waiting = true;
            }
        }
        true
    }

    /// Settles every customer whose newest event is before
    /// `quiet_before_us`: its waiting events are applied and its open
    /// session ended in the totals for good, and only what the totals need
    /// of it is kept, under its name's hash (`hash_of(customer)`). Returns
    /// each customer's new id, or `u32::MAX` for those settled (kept
    /// customers keep their order).
    pub fn settle(&mut self, quiet_before_us: i64, hash_of: impl Fn(u32) -> u64) -> Vec<u32> {
        let mut new_ids = Vec::with_capacity(self.states.len());
        let mut kept = 0usize;
        let mut customer = Settled::default();
        for c in 0..self.states.len() {
            if self.newest_us(c) >= quiet_before_us {
                self.states.swap(kept, c);
                new_ids.push(kept as u32);
                kept += 1;
                continue;
            }
            new_ids.push(u32::MAX);
            let mut state = std::mem::take(&mut self.states[c]);
            let waiting = std::mem::replace(&mut state.waiting, NO_STEP);
            let queued = std::mem::take(&mut state.more_waiting)
                .then(|| self.overflow.remove(&(c as u32)))
                .flatten();
            for step in std::iter::once(waiting)
                .filter(|w| *w != NO_STEP)
                .chain(queued.into_iter().flatten())
            {
                self.totals.apply(&mut state, step, self.rules);
            }
            if state.open.step > 0 {
                self.totals.close(&mut state);
            }
            if state.open.step > 0 || state.returning {
                customer.last_us = state.last_us;
                customer.key = state.key;
                state
                    .visited
                    .customer_sets(&mut customer.nodes, &mut customer.edges);
                self.settled.insert(hash_of(c as u32), &customer);
            }
        }
        self.states.truncate(kept);
        self.states.shrink_to_fit();
        self.overflow = std::mem::take(&mut self.overflow)
            .into_iter()
            .map(|(c, waiting)| (new_ids[c as usize], waiting))
            .collect();
        new_ids
    }

    /// Time of customer `c`'s newest event, applied or waiting.
    fn newest_us(&self, c: usize) -> i64 {
        let state = &self.states[c];
        let queued = state
            .more_waiting
            .then(|| self.overflow.get(&(c as u32)).and_then(|q| q.back()))
            .flatten()
            .map_or(i64::MIN, |s| s.time_us);
        state.last_us.max(state.waiting.time_us).max(queued)
    }

    /// Customers whose newest event is before `quiet_before_us`: those
    /// [`Running::settle`] would settle.
    pub fn quiet(&self, quiet_before_us: i64) -> usize {
        (0..self.states.len())
            .filter(|&c| self.newest_us(c) < quiet_before_us)
            .count()
    }

    /// The totals as if the stream ended now: waiting events applied and
    /// every open session ended; sessions within the timeout of `now_us`
    /// are counted by their touchpoint.
    pub fn snapshot(&self, now_us: i64) -> RunningSnapshot {
        let mut totals = self.totals.clone();
        let mut open_at = Vec::new();
        let timeout = self.rules.timeout_us.unwrap_or(i64::MAX);
        for (c, state) in self.states.iter().enumerate() {
            // Every customer's newest event waits (it is within the lateness
            // of itself), so each one is applied to a copy.
            let mut state = state.clone();
            let waiting = state.waiting;
            if waiting != NO_STEP {
                totals.apply(&mut state, waiting, self.rules);
            }
            if state.more_waiting {
                for step in self.overflow.get(&(c as u32)).into_iter().flatten() {
                    totals.apply(&mut state, *step, self.rules);
                }
            }
            if state.open.step == 0 {
                continue;
            }
            if now_us.saturating_sub(state.last_us) <= timeout {
                let t = state.open.last as usize;
                if t >= open_at.len() {
                    open_at.resize(t + 1, 0);
                }
                open_at[t] += 1;
            }
            // The copy ends its open session, as a file's last session ends
            // where the file does.
            totals.close(&mut state);
        }
        RunningSnapshot { totals, open_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_ids_stay_within_two_generations() {
        let mut ids = RecentIds::default();
        let total = 3 * IDS_PER_GENERATION as u64 + 17;
        for key in 0..total {
            assert!(ids.insert(key));
        }
        assert!(ids.current.len() + ids.previous.len() <= 2 * IDS_PER_GENERATION);
        // The most recent generation's ids are still caught.
        assert!(!ids.insert(total - 1));
        assert!(!ids.insert(total - IDS_PER_GENERATION as u64));
        // The oldest are forgotten.
        assert!(ids.insert(0));
    }

    #[test]
    fn visited_sets_spill_past_64_ids() {
        let mut v = Visited::default();
        for id in [3, 70, 3, 200, 70, 63] {
            v.insert(Set::Nodes, id);
        }
        assert!(!v.insert(Set::Nodes, 70));
        assert!(v.insert(Set::Session, 70));
        v.clear_session();
        assert!(v.insert(Set::Session, 70));
        assert!(!v.insert(Set::Nodes, 200));
        assert!(v.insert(Set::Edges, 200));
    }
}
