//! Triggers on a stream: each arrival waits with its customer until its
//! partition's watermark (the newest event time read on that partition,
//! less the allowed lateness) passes it, then is applied in order; the
//! customers due are found in a heap per partition. A customer whose
//! session is over with nothing due is forgotten. The state (customers,
//! the partitions' newest times, the actions not yet delivered) is saved
//! with the live engine, so that a resumed run or a partition moved to
//! another worker fires nothing twice beyond what was not yet saved.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::compiled::{Compiled, TriggerError};
use super::fired::Fired;
use super::props::{COMPACT_PAST, Properties};
use super::state::{Customer, Pending};
use super::{Action, TriggerRule};
use crate::engine::batch::EventRef;

/// Actions kept per rule for the screen (the latest).
pub const RECENT_ACTIONS: usize = 20;
/// Actions waiting for delivery at most; more are counted as dropped.
pub const MAX_UNSENT: usize = 1_000_000;
/// Minutes of per-minute counts kept per rule.
const MINUTES_KEPT: i64 = 24 * 60;

/// One partition's clock and the customers due on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Clock {
    partition: i32,
    newest_us: i64,
    /// Customers whose timers are due (a stall, a session's end).
    #[serde(skip)]
    due: BinaryHeap<Reverse<(i64, u32)>>,
    /// Arrivals in arrival order (event time, customer): nearly in time
    /// order, so a queue does what a heap would for a fraction of the
    /// cost; one behind a later one waits at most the lateness longer,
    /// and its customer's timers apply it first whenever they run.
    #[serde(skip)]
    arrivals: VecDeque<(i64, u32)>,
}

/// What the runner keeps of a rule's firings: its latest, whole when shown.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Latest {
    rule: String,
    fired: VecDeque<Fired>,
}

/// What a rule has fired so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// The rule.
    pub rule: String,
    /// Its kind.
    pub kind: String,
    /// Actions fired.
    pub actions: u64,
    /// Actions per minute of event time (minute start in µs), the last
    /// day's.
    pub per_minute: BTreeMap<i64, u64>,
    /// Its latest actions, newest last.
    #[serde(skip)]
    pub recent: VecDeque<Action>,
}

/// What the triggers have done, for the screen and the final JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerStats {
    /// Per rule.
    pub rules: Vec<RuleCounts>,
    /// Customers followed now.
    pub customers: usize,
    /// Actions fired and not yet confirmed delivered.
    pub unsent: usize,
    /// Actions left out because too many waited for delivery.
    pub dropped: u64,
    /// Arrivals later than the watermark (applied where they fit).
    pub late: u64,
    /// Per rule, the customers who would fire if nothing more happens
    /// (stall: at its touchpoint now, for less than `after`; abandon: in
    /// an open session that did its steps), and the touchpoint it watches.
    pub waiting: Vec<(String, String, u64)>,
}

/// The triggers of one stream (or one partition of it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TriggerRunner {
    #[serde(skip)]
    compiled: Option<Compiled>,
    /// The rules the sessions' fired bits are of, by name.
    rule_names: Vec<String>,
    /// What the rules the sessions were read for are (a hash of them all):
    /// the same rules again (a resume) leave the sessions as they are.
    rules_read: u64,
    customers: Vec<Option<Customer>>,
    #[serde(skip)]
    free: Vec<u32>,
    #[serde(skip)]
    index: FxHashMap<u64, u32>,
    /// Where each customer's entry in a heap is: (due, partition).
    #[serde(skip)]
    scheduled: Vec<(i64, i32)>,
    clocks: Vec<Clock>,
    lateness_us: i64,
    props: Properties,
    /// Fired since [`TriggerRunner::take_fired`] was last called (at
    /// most [`MAX_UNSENT`]).
    #[serde(skip)]
    fired: Vec<Fired>,
    /// The latest firings of each rule.
    latest: Vec<Latest>,
    /// Fired and not confirmed delivered (sent again after a resume).
    unsent: Vec<Action>,
    /// Fired under rules since changed, made whole then, not yet taken.
    #[serde(skip)]
    taken: Vec<Action>,
    stats: TriggerStats,
    #[serde(skip)]
    source: String,
    /// Whether fired actions wait for delivery.
    #[serde(skip)]
    delivering: bool,
    /// Whether fired actions are kept to be taken ([`Self::take_fired`]).
    #[serde(skip)]
    handing_back: bool,
    /// Firings no longer kept, reused for the next ones.
    #[serde(skip)]
    spare: Vec<Fired>,
    /// Firings of the current pass, before they are counted.
    #[serde(skip)]
    passing: Vec<Fired>,
    /// Events later than this (a year past the clock when the rules were
    /// set) do not move a partition's clock: one mistyped year must not
    /// end every session.
    #[serde(skip)]
    plausible_until_us: i64,
}

impl TriggerRunner {
    /// Watches `rules` from now on, for sessions cut at `timeout_us` whose
    /// first events keep `kept`, among the touchpoints `names` (by id);
    /// arrivals wait `lateness_us` behind their partition's newest event.
    /// Sessions under way keep what they fired by rule name, and are read
    /// again for the new rules.
    pub fn set_rules<'n>(
        &mut self,
        rules: Vec<TriggerRule>,
        (kept, timeout_us): (&[String], Option<i64>),
        names: impl IntoIterator<Item = &'n str>,
        lateness_us: i64,
    ) -> Result<(), TriggerError> {
        let mut compiled = Compiled::new(rules, kept, timeout_us)?;
        compiled.learn(names);
        // What was fired and not taken is made whole with the old rules.
        if let Some(old) = &self.compiled {
            let wall = chrono::Utc::now().timestamp_micros();
            for fired in std::mem::take(&mut self.fired) {
                self.taken
                    .push(fired.action(old, &self.props, wall, &self.source));
            }
        }
        let names: Vec<String> = compiled.rules.iter().map(|r| r.name.clone()).collect();
        let read = crate::engine::intern::name_hash(&format!("{:?}", compiled.rules));
        let changed = read != self.rules_read;
        self.rules_read = read;
        let moved: Vec<Option<usize>> = self
            .rule_names
            .iter()
            .map(|old| names.iter().position(|n| n == old))
            .collect();
        let sequences = match &self.compiled {
            Some(old) => compiled.sequences_kept(old),
            None => Vec::new(),
        };
        for session in self
            .customers
            .iter_mut()
            .flatten()
            .filter_map(|c| c.session.as_deref_mut())
            .filter(|_| changed)
        {
            let mut fired = 0u64;
            for (old, new) in moved.iter().enumerate() {
                if let Some(new) = new
                    && session.fired & 1 << old != 0
                {
                    fired |= 1 << new;
                }
            }
            session.reread(&compiled, fired, &sequences);
        }
        let by_name = |rule: &str| names.iter().position(|n| n == rule);
        let mut counts = vec![RuleCounts::default(); names.len()];
        for old in std::mem::take(&mut self.stats.rules) {
            if let Some(k) = by_name(&old.rule) {
                counts[k] = old;
            }
        }
        let mut latest = vec![Latest::default(); names.len()];
        for mut old in std::mem::take(&mut self.latest) {
            if let Some(k) = by_name(&old.rule) {
                for fired in &mut old.fired {
                    fired.rule = k as u16;
                }
                latest[k] = old;
            }
        }
        for (k, rule) in compiled.rules.iter().enumerate() {
            counts[k].rule.clone_from(&rule.name);
            counts[k].kind = rule.kind.name().into();
            latest[k].rule.clone_from(&rule.name);
        }
        self.stats.rules = counts;
        self.latest = latest;
        self.rule_names = names;
        self.lateness_us = lateness_us;
        self.plausible_until_us =
            chrono::Utc::now().timestamp_micros() + 366 * 24 * 3600 * 1_000_000;
        self.compiled = Some(compiled);
        self.reindex();
        Ok(())
    }

    /// Says where the events come from (an action's `source`) and whether
    /// fired actions wait for delivery ([`TriggerRunner::confirm`]).
    pub fn set_output(&mut self, source: &str, delivering: bool) {
        self.source = source.to_owned();
        self.delivering = delivering;
        if !delivering {
            self.unsent.clear();
        }
    }

    /// True when rules are watched.
    pub fn is_watching(&self) -> bool {
        self.compiled.as_ref().is_some_and(|c| !c.rules.is_empty())
    }

    /// The rules watched.
    pub fn rules(&self) -> &[TriggerRule] {
        self.compiled.as_ref().map_or(&[], |c| &c.rules)
    }

    /// The index, the free slots and the heaps, from the customers.
    fn reindex(&mut self) {
        let Some(compiled) = self.compiled.take() else {
            return;
        };
        self.props.reindex();
        self.index.clear();
        self.free.clear();
        self.scheduled = vec![(i64::MAX, 0); self.customers.len()];
        for clock in &mut self.clocks {
            clock.due.clear();
            clock.arrivals.clear();
        }
        for slot in 0..self.customers.len() {
            match &self.customers[slot] {
                Some(c) => {
                    self.index
                        .insert(crate::engine::intern::name_hash(&c.name), slot as u32);
                    if let (Some(first), Some(clock)) = (
                        c.pending.first(),
                        self.clocks.iter_mut().find(|k| k.partition == c.partition),
                    ) {
                        clock.arrivals.push_back((first.time_us, slot as u32));
                    }
                    self.schedule(slot as u32, &compiled);
                }
                None => self.free.push(slot as u32),
            }
        }
        for clock in &mut self.clocks {
            clock.arrivals.make_contiguous().sort_unstable();
        }
        self.compiled = Some(compiled);
    }

    /// Takes in one arrival (not a duplicate) of the customer whose name
    /// hashes to `customer_hash`, at touchpoint `touchpoint`.
    pub fn take(
        &mut self,
        event: &EventRef<'_>,
        customer_hash: u64,
        touchpoint: u32,
        key: u32,
        kept: &[String],
    ) {
        if !self.is_watching() {
            return;
        }
        let props = self.props.id_of(kept.iter().map(|k| event.property(k)));
        let partition = event.partition;
        let clock = match self.clocks.iter().position(|c| c.partition == partition) {
            Some(k) => k,
            None => {
                self.clocks.push(Clock {
                    partition,
                    newest_us: i64::MIN,
                    due: BinaryHeap::new(),
                    arrivals: VecDeque::new(),
                });
                self.clocks.len() - 1
            }
        };
        let at = clock;
        let clock = &mut self.clocks[at];
        if event.time_us <= clock.newest_us.saturating_sub(self.lateness_us) {
            self.stats.late += 1;
        }
        if event.time_us <= self.plausible_until_us {
            clock.newest_us = clock.newest_us.max(event.time_us);
        }
        let slot = match self.index.get(&customer_hash) {
            Some(&slot) => slot,
            None => {
                let customer = Customer::new(event.customer, partition);
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.customers[slot as usize] = Some(customer);
                        slot
                    }
                    None => {
                        self.customers.push(Some(customer));
                        self.scheduled.push((i64::MAX, 0));
                        (self.customers.len() - 1) as u32
                    }
                };
                self.index.insert(customer_hash, slot);
                slot
            }
        };
        if let Some(customer) = self.customers[slot as usize].as_mut() {
            customer.partition = partition;
            customer.wait(Pending {
                time_us: event.time_us,
                sub_us_ns: event.sub_us_ns,
                touchpoint,
                key,
                props,
            });
        }
        self.clocks[at].arrivals.push_back((event.time_us, slot));
    }

    /// Learns the touchpoints' names (every touchpoint by id).
    pub fn learn<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        if let Some(compiled) = self.compiled.as_mut() {
            compiled.learn(names);
        }
    }

    /// Lets each partition's event time pass up to its watermark.
    pub fn advance(&mut self) {
        let Some(compiled) = self.compiled.take() else {
            return;
        };
        for k in 0..self.clocks.len() {
            let watermark = self.clocks[k].newest_us.saturating_sub(self.lateness_us);
            self.advance_clock(k, watermark, &compiled);
        }
        self.tidy(&compiled);
        self.compiled = Some(compiled);
    }

    /// Lets event time pass up to `watermark` on clock `k`.
    fn advance_clock(&mut self, k: usize, watermark: i64, compiled: &Compiled) {
        let partition = self.clocks[k].partition;
        let mut fired = std::mem::take(&mut self.passing);
        loop {
            // Arrivals first, then timers: a customer's pass applies both.
            let slot = match self.clocks[k].arrivals.front() {
                Some(&(time, slot)) if time <= watermark => {
                    self.clocks[k].arrivals.pop_front();
                    slot
                }
                _ => match self.clocks[k].due.peek() {
                    Some(&Reverse((due, slot))) if due <= watermark => {
                        self.clocks[k].due.pop();
                        if self.scheduled.get(slot as usize) != Some(&(due, partition)) {
                            continue;
                        }
                        self.scheduled[slot as usize] = (i64::MAX, 0);
                        slot
                    }
                    _ => break,
                },
            };
            let s = slot as usize;
            let Some(mut customer) = self.customers.get_mut(s).and_then(Option::take) else {
                continue;
            };
            let spare = &mut self.spare;
            customer.catch_up(
                watermark,
                compiled,
                &self.props,
                &mut |name, session, fire| {
                    let mut one = spare.pop().unwrap_or_default();
                    one.fill(name, session, fire);
                    fired.push(one);
                },
            );
            if customer.finished(compiled) {
                self.index
                    .remove(&crate::engine::intern::name_hash(&customer.name));
                self.free.push(slot);
            } else {
                self.customers[s] = Some(customer);
                self.schedule(slot, compiled);
            }
        }
        for one in fired.drain(..) {
            self.count(compiled, one);
        }
        self.passing = fired;
    }

    /// Puts customer `slot` in its partition's heap at its next timer (a
    /// stall, its session's end), when earlier than where it is, or its
    /// partition changed.
    fn schedule(&mut self, slot: u32, compiled: &Compiled) {
        let Some(customer) = self.customers[slot as usize].as_ref() else {
            return;
        };
        let Some(due) = customer.next_timer(compiled) else {
            return;
        };
        let partition = customer.partition;
        let (at, on) = self.scheduled[slot as usize];
        if due >= at && on == partition {
            return;
        }
        self.scheduled[slot as usize] = (due, partition);
        if let Some(clock) = self.clocks.iter_mut().find(|c| c.partition == partition) {
            clock.due.push(Reverse((due, slot)));
        }
    }

    /// Drops what is no longer used, now and then: heap entries left
    /// behind, and combinations of kept values no customer holds.
    fn tidy(&mut self, compiled: &Compiled) {
        let followed = self.followed();
        let entries: usize = self.clocks.iter().map(|c| c.due.len()).sum();
        if entries > 2 * followed + 4096 {
            for clock in &mut self.clocks {
                let partition = clock.partition;
                let scheduled = &self.scheduled;
                clock.due.retain(|Reverse((due, slot))| {
                    scheduled.get(*slot as usize) == Some(&(*due, partition))
                });
            }
        }
        if self.props.len() > COMPACT_PAST.max(4 * followed) {
            let mut used = vec![false; self.props.len()];
            let mut mark = |id: u32| {
                if let Some(u) = used.get_mut(id as usize) {
                    *u = true;
                }
            };
            for customer in self.customers.iter().flatten() {
                customer.pending.iter().for_each(|p| mark(p.props));
                customer
                    .session
                    .as_deref()
                    .into_iter()
                    .for_each(|s| mark(s.props));
            }
            self.fired.iter().for_each(|f| mark(f.props));
            self.latest
                .iter()
                .flat_map(|l| &l.fired)
                .for_each(|f| mark(f.props));
            let new_ids = self.props.compact(&used);
            let renumber = |id: &mut u32| *id = new_ids.get(*id as usize).copied().unwrap_or(0);
            for customer in self.customers.iter_mut().flatten() {
                customer
                    .pending
                    .iter_mut()
                    .for_each(|p| renumber(&mut p.props));
                if let Some(s) = customer.session.as_deref_mut() {
                    renumber(&mut s.props);
                }
            }
            self.fired.iter_mut().for_each(|f| renumber(&mut f.props));
            self.latest
                .iter_mut()
                .flat_map(|l| &mut l.fired)
                .for_each(|f| renumber(&mut f.props));
        }
        let _ = compiled;
    }

    fn count(&mut self, compiled: &Compiled, fired: Fired) {
        let k = fired.rule as usize;
        if let Some(counts) = self.stats.rules.get_mut(k) {
            counts.actions += 1;
            let minute = fired.event_us.div_euclid(60_000_000) * 60_000_000;
            *counts.per_minute.entry(minute).or_default() += 1;
            let newest = *counts.per_minute.keys().next_back().unwrap_or(&minute);
            let oldest = newest - MINUTES_KEPT * 60_000_000;
            while counts
                .per_minute
                .first_key_value()
                .is_some_and(|(m, _)| *m <= oldest)
            {
                counts.per_minute.pop_first();
            }
        }
        if self.delivering {
            if self.unsent.len() < MAX_UNSENT {
                let wall = chrono::Utc::now().timestamp_micros();
                self.unsent
                    .push(fired.action(compiled, &self.props, wall, &self.source));
            } else {
                self.stats.dropped += 1;
            }
        }
        if self.handing_back && self.fired.len() < MAX_UNSENT {
            self.fired.push(fired.clone());
        }
        if let Some(latest) = self.latest.get_mut(k) {
            if latest.fired.len() == RECENT_ACTIONS
                && let Some(old) = latest.fired.pop_front()
            {
                self.spare.push(old);
            }
            latest.fired.push_back(fired);
        }
    }

    /// Whether the actions fired are kept to be taken
    /// ([`Self::take_fired`]); otherwise only counted, the latest kept.
    pub fn hand_back(&mut self, yes: bool) {
        self.handing_back = yes;
        if !yes {
            self.fired.clear();
        }
    }

    /// The actions fired since the last call, oldest first, made whole.
    pub fn take_fired(&mut self) -> Vec<Action> {
        let mut taken = std::mem::take(&mut self.taken);
        if let Some(compiled) = &self.compiled {
            let wall = chrono::Utc::now().timestamp_micros();
            taken.extend(
                std::mem::take(&mut self.fired)
                    .iter()
                    .map(|f| f.action(compiled, &self.props, wall, &self.source)),
            );
        }
        taken
    }

    /// Forgets the actions fired since the last call (when nobody prints
    /// them); how many there were.
    pub fn drop_fired(&mut self) -> usize {
        let n = self.fired.len() + self.taken.len();
        self.fired.clear();
        self.taken.clear();
        n
    }

    /// The actions fired and not yet confirmed delivered (after a resume:
    /// those the saved state had not seen delivered).
    pub fn unsent(&self) -> &[Action] {
        &self.unsent
    }

    /// Delivery of the actions `ids` is over (sent, or failed after every
    /// attempt); true when any was waiting.
    pub fn confirm(&mut self, ids: &[String]) -> bool {
        if ids.is_empty() {
            return false;
        }
        let before = self.unsent.len();
        let done: rustc_hash::FxHashSet<&str> = ids.iter().map(String::as_str).collect();
        self.unsent.retain(|a| !done.contains(a.id.as_str()));
        self.unsent.len() < before
    }

    /// Actions fired since start, per rule.
    pub fn stats_counts(&self) -> Vec<u64> {
        self.stats.rules.iter().map(|r| r.actions).collect()
    }

    /// Customers followed now (a session open, or a stall due).
    pub fn followed(&self) -> usize {
        self.customers.len() - self.free.len()
    }

    /// What the triggers have done, and who waits.
    pub fn stats(&self) -> TriggerStats {
        let mut stats = self.stats.clone();
        stats.customers = self.followed();
        stats.unsent = self.unsent.len();
        stats.waiting = self.waiting();
        if let Some(compiled) = &self.compiled {
            for (counts, latest) in stats.rules.iter_mut().zip(&self.latest) {
                counts.recent = latest
                    .fired
                    .iter()
                    .map(|f| f.action(compiled, &self.props, i64::MIN, &self.source))
                    .collect();
            }
        }
        stats
    }

    /// Per stall and abandon rule, who would fire if nothing happens.
    fn waiting(&self) -> Vec<(String, String, u64)> {
        let Some(compiled) = &self.compiled else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, rule) in compiled.rules.iter().enumerate() {
            let at = match &rule.kind {
                super::TriggerKind::Stall { at, .. } => at.clone(),
                super::TriggerKind::Abandon { did } => did.last().cloned().unwrap_or_default(),
                _ => continue,
            };
            let n = self
                .customers
                .iter()
                .flatten()
                .filter(|c| {
                    c.session
                        .as_deref()
                        .is_some_and(|s| s.would_fire(k, compiled, &self.props))
                })
                .count();
            out.push((rule.name.clone(), at, n as u64));
        }
        out
    }

    /// Bytes held for the customers followed (heap and slots).
    pub fn bytes(&self) -> usize {
        self.customers.capacity() * std::mem::size_of::<Option<Customer>>()
            + self
                .customers
                .iter()
                .flatten()
                .map(Customer::heap_bytes)
                .sum::<usize>()
            + self.index.capacity() * 16
            + self.scheduled.capacity() * 16
            + self
                .clocks
                .iter()
                .map(|c| c.due.capacity() * 16)
                .sum::<usize>()
    }
}
