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
use super::state::{Customer, Fire, Pending, Properties, Session};
use super::{Action, PATH_LISTED, TriggerRule, action_id};
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
    #[serde(skip)]
    due: BinaryHeap<Reverse<(i64, u32)>>,
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
    customers: Vec<Option<Customer>>,
    #[serde(skip)]
    free: Vec<u32>,
    #[serde(skip)]
    index: FxHashMap<u64, u32>,
    #[serde(skip)]
    scheduled: Vec<i64>,
    clocks: Vec<Clock>,
    lateness_us: i64,
    props: Properties,
    /// Fired since [`TriggerRunner::take_fired`] was last called.
    #[serde(skip)]
    fired: Vec<Action>,
    /// Fired and not confirmed delivered (sent again after a resume).
    unsent: Vec<Action>,
    stats: TriggerStats,
    #[serde(skip)]
    source: String,
    /// Whether fired actions wait for delivery.
    #[serde(skip)]
    delivering: bool,
}

impl TriggerRunner {
    /// Watches `rules` from now on, for sessions cut at `timeout_us` whose
    /// first events keep `kept`; arrivals wait `lateness_us` behind their
    /// partition's newest event. Sessions under way keep what they fired
    /// by rule name.
    pub fn set_rules(
        &mut self,
        rules: Vec<TriggerRule>,
        kept: &[String],
        timeout_us: Option<i64>,
        lateness_us: i64,
    ) -> Result<(), TriggerError> {
        let compiled = Compiled::new(rules, kept, timeout_us)?;
        let names: Vec<String> = compiled.rules.iter().map(|r| r.name.clone()).collect();
        if names != self.rule_names {
            let moved: Vec<Option<usize>> = self
                .rule_names
                .iter()
                .map(|old| names.iter().position(|n| n == old))
                .collect();
            for session in self
                .customers
                .iter_mut()
                .flatten()
                .filter_map(|c| c.session.as_deref_mut())
            {
                let mut fired = 0u64;
                for (old, new) in moved.iter().enumerate() {
                    if let Some(new) = new
                        && session.fired & 1 << old != 0
                    {
                        fired |= 1 << new;
                    }
                }
                session.fired = fired;
            }
        }
        let mut counts = Vec::new();
        for rule in &compiled.rules {
            let kept = self
                .stats
                .rules
                .iter()
                .find(|c| c.rule == rule.name)
                .cloned();
            counts.push(kept.unwrap_or_else(|| RuleCounts {
                rule: rule.name.clone(),
                kind: rule.kind.name().into(),
                ..RuleCounts::default()
            }));
        }
        self.stats.rules = counts;
        self.rule_names = names;
        self.lateness_us = lateness_us;
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
        self.scheduled = vec![i64::MAX; self.customers.len()];
        for clock in &mut self.clocks {
            clock.due.clear();
        }
        for slot in 0..self.customers.len() {
            match &self.customers[slot] {
                Some(c) => {
                    self.index
                        .insert(crate::engine::intern::name_hash(&c.name), slot as u32);
                    self.schedule(slot as u32, &compiled);
                }
                None => self.free.push(slot as u32),
            }
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
                });
                self.clocks.len() - 1
            }
        };
        let watermark = self.clocks[clock]
            .newest_us
            .saturating_sub(self.lateness_us);
        if event.time_us <= watermark {
            self.stats.late += 1;
        }
        let clock = &mut self.clocks[clock];
        clock.newest_us = clock.newest_us.max(event.time_us);
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
                        self.scheduled.push(i64::MAX);
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
        if let Some(compiled) = self.compiled.take() {
            self.schedule(slot, &compiled);
            self.compiled = Some(compiled);
        }
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
        self.compiled = Some(compiled);
    }

    /// Lets event time pass up to `watermark` on clock `k`.
    fn advance_clock(&mut self, k: usize, watermark: i64, compiled: &Compiled) {
        let now_wall = chrono::Utc::now().timestamp_micros();
        while let Some(&Reverse((due, slot))) = self.clocks[k].due.peek() {
            if due > watermark {
                break;
            }
            self.clocks[k].due.pop();
            let s = slot as usize;
            if self.scheduled.get(s) != Some(&due) {
                continue;
            }
            self.scheduled[s] = i64::MAX;
            let Some(mut customer) = self.customers[s].take() else {
                continue;
            };
            let mut fired = Vec::new();
            customer.catch_up(
                watermark,
                compiled,
                &self.props,
                &mut |name, session, fire| {
                    fired.push(make_action(compiled, &self.props, name, session, fire));
                },
            );
            for mut action in fired {
                action.wall_time = super::super::alerts::rfc3339(now_wall);
                action.source.clone_from(&self.source);
                self.count(compiled, action);
            }
            if customer.finished(compiled) {
                self.index
                    .remove(&crate::engine::intern::name_hash(&customer.name));
                self.free.push(slot);
            } else {
                self.customers[s] = Some(customer);
                self.schedule(slot, compiled);
            }
        }
    }

    /// Puts customer `slot` in its partition's heap at its next due time,
    /// when earlier than where it is.
    fn schedule(&mut self, slot: u32, compiled: &Compiled) {
        let Some(customer) = self.customers[slot as usize].as_ref() else {
            return;
        };
        let Some(due) = customer.next_due(compiled) else {
            return;
        };
        if due >= self.scheduled[slot as usize] {
            return;
        }
        self.scheduled[slot as usize] = due;
        let partition = customer.partition;
        if let Some(clock) = self.clocks.iter_mut().find(|c| c.partition == partition) {
            clock.due.push(Reverse((due, slot)));
        }
    }

    fn count(&mut self, compiled: &Compiled, action: Action) {
        if let Some(k) = compiled.rules.iter().position(|r| r.name == action.trigger)
            && let Some(counts) = self.stats.rules.get_mut(k)
        {
            counts.actions += 1;
            let minute = action.event_us.div_euclid(60_000_000) * 60_000_000;
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
            if counts.recent.len() == RECENT_ACTIONS {
                counts.recent.pop_front();
            }
            counts.recent.push_back(action.clone());
        }
        if self.delivering {
            if self.unsent.len() < MAX_UNSENT {
                self.unsent.push(action.clone());
            } else {
                self.stats.dropped += 1;
            }
        }
        self.fired.push(action);
    }

    /// The actions fired since the last call, oldest first.
    pub fn take_fired(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.fired)
    }

    /// The actions fired and not yet confirmed delivered (after a resume:
    /// those the saved state had not seen delivered).
    pub fn unsent(&self) -> &[Action] {
        &self.unsent
    }

    /// Delivery of the actions `ids` is over (sent, or failed after every
    /// attempt).
    pub fn confirm(&mut self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let done: rustc_hash::FxHashSet<&str> = ids.iter().map(String::as_str).collect();
        self.unsent.retain(|a| !done.contains(a.id.as_str()));
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
        stats
    }

    /// Per stall and abandon rule, who would fire if nothing happens.
    fn waiting(&self) -> Vec<(String, String, u64)> {
        let Some(compiled) = &self.compiled else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, rule) in compiled.rules.iter().enumerate() {
            let watched = compiled.watched_bits(k);
            if watched == 0 {
                continue;
            }
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

    /// Bytes held per customer followed (heap and slots).
    pub fn bytes(&self) -> usize {
        self.customers.capacity() * std::mem::size_of::<Option<Customer>>()
            + self
                .customers
                .iter()
                .flatten()
                .map(Customer::heap_bytes)
                .sum::<usize>()
            + self.index.capacity() * 16
            + self.scheduled.capacity() * 8
    }

    /// The fired ids still remembered in sessions under way (as a
    /// snapshot's header lists them).
    pub fn fired_ids(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for customer in self.customers.iter().flatten() {
            let Some(session) = customer.session.as_deref() else {
                continue;
            };
            for (k, name) in self.rule_names.iter().enumerate() {
                if session.fired & 1 << k != 0 {
                    ids.push(super::id_number(&action_id(
                        name,
                        &customer.name,
                        session.start_us,
                    )));
                }
            }
        }
        ids.sort_unstable();
        ids
    }
}

/// The action of `fire` for `customer`'s `session`.
pub(super) fn make_action(
    compiled: &Compiled,
    props: &Properties,
    customer: &str,
    session: &Session,
    fire: Fire,
) -> Action {
    let rule = &compiled.rules[fire.rule];
    let skip = session.path.len().saturating_sub(PATH_LISTED);
    let properties = compiled
        .kept
        .iter()
        .enumerate()
        .filter_map(|(k, name)| Some((name.clone(), props.value(session.props, k)?.to_owned())))
        .collect();
    Action {
        id: action_id(&rule.name, customer, session.start_us),
        trigger: rule.name.clone(),
        kind: rule.kind.name().into(),
        customer: customer.to_owned(),
        session_start: super::super::alerts::rfc3339(session.start_us),
        event_time: super::super::alerts::rfc3339(fire.event_us),
        at: compiled.name(fire.at).to_owned(),
        path: session.path[skip..]
            .iter()
            .map(|t| compiled.name(*t).to_owned())
            .collect(),
        properties,
        wall_time: String::new(),
        source: String::new(),
        event_us: fire.event_us,
    }
}
