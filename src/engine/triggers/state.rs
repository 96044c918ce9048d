//! One customer's triggers: its events not yet passed by the watermark,
//! and its latest session as the rules read it. Events are applied in
//! order, and before each (and at the watermark) the time that has passed
//! fires what it fires: a `stall` once `after` has passed with nothing
//! following, a session's end once the idle gap is over.

use serde::{Deserialize, Serialize};

use super::compiled::{Check, Compiled, Test};
use super::props::Properties;
use crate::engine::conformance::Progress;
use crate::engine::walk::starts_session;

/// At most this many of a session's touchpoints are kept (the latest): a
/// session longer than that (a bot) keeps its rules' progress, not its
/// whole path.
const PATH_KEPT: usize = 1000;

/// An event waiting for the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Pending {
    pub time_us: i64,
    pub sub_us_ns: u16,
    pub touchpoint: u32,
    /// Session key (0: none).
    pub key: u32,
    /// The kept properties' values ([`Properties`]).
    pub props: u32,
}

/// The latest session, as far as it is applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Session {
    pub start_us: i64,
    pub last_us: i64,
    key: u32,
    pub props: u32,
    /// Watched names visited.
    done: u64,
    /// Rules fired (bit per rule).
    pub fired: u64,
    /// Where the session stands on each `off_path` rule's journey.
    walks: Vec<Progress>,
    /// Ended: nothing more is added to it.
    closed: bool,
    /// Event time has passed up to here: stalls due by then are decided.
    passed_us: i64,
    /// Its touchpoints, in order (the latest [`PATH_KEPT`]).
    pub path: Vec<u32>,
    /// Per sequence step, the latest start of a match up to it.
    sequence: Vec<i64>,
}

/// A rule firing: which, when in event time, and at which touchpoint.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fire {
    pub rule: usize,
    pub event_us: i64,
    pub at: u32,
}

/// Where firings go, with the customer and session they are of.
pub(super) type Emit<'e> = dyn FnMut(&str, &Session, Fire) + 'e;

/// One customer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Customer {
    pub name: Box<str>,
    /// The partition its events come from (-1: a file).
    pub partition: i32,
    /// Events after the watermark, in time order.
    pub pending: Vec<Pending>,
    pub session: Option<Box<Session>>,
}

impl Customer {
    /// A customer with nothing applied.
    pub fn new(name: &str, partition: i32) -> Customer {
        Customer {
            name: name.into(),
            partition,
            pending: Vec::new(),
            session: None,
        }
    }

    /// Puts an arrival among the waiting events, after those of the same
    /// time (the source's order).
    pub fn wait(&mut self, event: Pending) {
        let at = self
            .pending
            .partition_point(|p| (p.time_us, p.sub_us_ns) <= (event.time_us, event.sub_us_ns));
        self.pending.insert(at, event);
    }

    /// Applies the waiting events at or before `watermark` in order, and
    /// lets event time pass up to it.
    pub fn catch_up(
        &mut self,
        watermark: i64,
        rules: &Compiled,
        props: &Properties,
        emit: &mut Emit<'_>,
    ) {
        loop {
            let next = self
                .pending
                .first()
                .filter(|p| p.time_us <= watermark)
                .copied();
            self.pass_time(next.map_or(watermark, |p| p.time_us), rules, props, emit);
            let Some(event) = next else {
                return;
            };
            self.pending.remove(0);
            self.apply(event, rules, props, emit);
        }
    }

    /// Event time reaches `now`: fires the stalls and the session end due
    /// at or before it (those due before the time already passed are
    /// decided).
    pub fn pass_time(
        &mut self,
        now: i64,
        rules: &Compiled,
        props: &Properties,
        emit: &mut Emit<'_>,
    ) {
        let Some(session) = self.session.as_deref_mut() else {
            return;
        };
        let from = session.passed_us;
        if now <= from {
            return;
        }
        session.passed_us = now;
        let close = session.close_due(rules);
        let name = &self.name;
        session.stalls(
            (from, now.min(close.unwrap_or(i64::MAX))),
            rules,
            props,
            name,
            emit,
        );
        if let Some(due) = close.filter(|d| *d <= now) {
            session.close(due - 1, rules, props, name, emit);
            session.stalls((from, now), rules, props, name, emit);
        }
    }

    /// Applies one event (time has passed up to it).
    fn apply(&mut self, event: Pending, rules: &Compiled, props: &Properties, emit: &mut Emit<'_>) {
        let name = &self.name;
        let goes_on = self.session.as_deref().is_some_and(|s| {
            !s.closed
                && !starts_session(
                    Some((s.last_us, s.key)),
                    event.time_us.max(s.last_us),
                    event.key,
                    rules.timeout_us,
                )
        });
        if !goes_on {
            if let Some(open) = self.session.as_deref_mut().filter(|s| !s.closed) {
                // Another session id: the open session ends here.
                open.close(event.time_us.max(open.last_us), rules, props, name, emit);
            }
            let session = self.session.get_or_insert_with(Default::default);
            **session = Session {
                start_us: event.time_us,
                last_us: event.time_us,
                key: event.key,
                props: event.props,
                sequence: vec![i64::MIN; rules.sequence_slots],
                walks: vec![Progress::NotEntered; rules.journey_ids.len()],
                passed_us: i64::MIN,
                ..Session::default()
            };
        }
        let Some(session) = self.session.as_deref_mut() else {
            return;
        };
        // An event older than one applied takes the journey's time.
        let time = event.time_us.max(session.last_us);
        session.last_us = time;
        session.key = event.key;
        if session.path.len() == PATH_KEPT {
            session.path.drain(..PATH_KEPT / 2);
        }
        session.path.push(event.touchpoint);
        let mask = rules.mask(event.touchpoint);
        session.done |= mask;
        session.on_event(time, event.touchpoint, mask, rules, props, name, emit);
    }

    /// When this customer's next timer is due (a stall, or its session's
    /// end); None when none is to come.
    pub fn next_timer(&self, rules: &Compiled) -> Option<i64> {
        let session = self.session.as_deref();
        let stall = session.and_then(|s| s.next_stall(rules));
        let close = session.and_then(|s| s.close_due(rules));
        [stall, close].into_iter().flatten().min()
    }

    /// Nothing waits and its session is over with nothing due: the
    /// customer can be forgotten (a later event begins a new session).
    pub fn finished(&self, rules: &Compiled) -> bool {
        self.pending.is_empty()
            && self
                .session
                .as_deref()
                .is_none_or(|s| s.closed && s.next_stall(rules).is_none())
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.name.len()
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.session.as_deref().map_or(0, |s| {
                std::mem::size_of::<Session>() + s.path.capacity() * 4 + s.sequence.capacity() * 8
            })
    }
}

impl Session {
    /// When the session is over for the triggers (an idle gap longer than
    /// the timeout, with or without a session id); None when it is over or
    /// never ends by time.
    fn close_due(&self, rules: &Compiled) -> Option<i64> {
        let timeout = rules.timeout_us.filter(|_| !self.closed)?;
        Some(self.last_us.saturating_add(timeout).saturating_add(1))
    }

    /// The earliest stall not decided yet (fired, or passed without
    /// firing: the session so far cannot change without a new event) that
    /// the latest event waits for.
    fn next_stall(&self, rules: &Compiled) -> Option<i64> {
        let last = rules.mask(*self.path.last()?);
        (0..rules.checks.len())
            .filter(|k| self.fired & 1 << k == 0)
            .filter_map(|k| match rules.checks[k] {
                Check::Stall { at, after_us } if last & at != 0 => {
                    Some(self.last_us.saturating_add(after_us).saturating_add(1))
                }
                _ => None,
            })
            .filter(|due| *due > self.passed_us)
            .min()
    }

    /// Fires the stalls due after `from` and at or before `now`.
    fn stalls(
        &mut self,
        (from, now): (i64, i64),
        rules: &Compiled,
        props: &Properties,
        name: &str,
        emit: &mut Emit<'_>,
    ) {
        let Some(&latest) = self.path.last() else {
            return;
        };
        let mask = rules.mask(latest);
        for (k, check) in rules.checks.iter().enumerate() {
            if let Check::Stall { at, after_us } = *check
                && mask & at != 0
            {
                let due = self.last_us.saturating_add(after_us).saturating_add(1);
                if due > from && due <= now {
                    self.fire(k, due - 1, latest, rules, props, name, emit);
                }
            }
        }
    }

    /// Ends the session at `at_us`: abandoned carts and journeys left.
    fn close(
        &mut self,
        at_us: i64,
        rules: &Compiled,
        props: &Properties,
        name: &str,
        emit: &mut Emit<'_>,
    ) {
        self.closed = true;
        let latest = self.path.last().copied().unwrap_or(0);
        for (k, check) in rules.checks.iter().enumerate() {
            let fires = match *check {
                Check::Abandon { did } => self.done & did == did,
                Check::OffPath { journey } => matches!(self.walks[journey], Progress::At(_)),
                _ => false,
            };
            if fires {
                self.fire(k, at_us, latest, rules, props, name, emit);
            }
        }
    }

    /// Reads the event just added (at `time`, touchpoint `touchpoint` with
    /// watched bits `mask`): sequences completed, journeys left.
    #[allow(clippy::too_many_arguments)]
    fn on_event(
        &mut self,
        time: i64,
        touchpoint: u32,
        mask: u64,
        rules: &Compiled,
        props: &Properties,
        name: &str,
        emit: &mut Emit<'_>,
    ) {
        for (k, check) in rules.checks.iter().enumerate() {
            match check {
                Check::Sequence {
                    steps,
                    within_us,
                    offset,
                } => {
                    let progress = &mut self.sequence[*offset..*offset + steps.len()];
                    let mut completed = None;
                    // From the last step back, so that one event is one step.
                    for j in (0..steps.len()).rev() {
                        if mask & steps[j] == 0 {
                            continue;
                        }
                        let start = match j {
                            0 => time,
                            _ => progress[j - 1],
                        };
                        if start == i64::MIN {
                            continue;
                        }
                        progress[j] = progress[j].max(start);
                        if j == steps.len() - 1 {
                            completed = Some(start);
                        }
                    }
                    if let Some(start) = completed
                        && within_us.is_none_or(|w| time - start <= w)
                    {
                        self.fire(k, time, touchpoint, rules, props, name, emit);
                    }
                }
                Check::OffPath { journey } => {
                    let (next, left) =
                        rules.journey_ids[*journey].step(self.walks[*journey], touchpoint);
                    self.walks[*journey] = next;
                    if left.is_some() {
                        self.fire(k, time, touchpoint, rules, props, name, emit);
                    }
                }
                _ => {}
            }
        }
    }

    /// Fires rule `k` unless it has fired in this session, or the session
    /// so far did one of its `unless` or is not of its segment.
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &mut self,
        k: usize,
        event_us: i64,
        at: u32,
        rules: &Compiled,
        props: &Properties,
        name: &str,
        emit: &mut Emit<'_>,
    ) {
        if self.fired & 1 << k != 0
            || self.done & rules.unless[k] != 0
            || !self.holds(&rules.tests[k], props)
        {
            return;
        }
        self.fired |= 1 << k;
        emit(
            name,
            self,
            Fire {
                rule: k,
                event_us,
                at,
            },
        );
    }

    fn holds(&self, tests: &[Test], props: &Properties) -> bool {
        tests.iter().all(|test| match test {
            Test::Property {
                index,
                values,
                negated,
            } => {
                let value = props.value(self.props, *index);
                value.is_some_and(|v| values.iter().any(|w| w == v)) != *negated
            }
            Test::Did { bit, negated } => (self.done & bit != 0) != *negated,
            Test::Time { from_us, to_us } => (*from_us..*to_us).contains(&self.start_us),
            Test::Not(inner) => !self.holds(inner, props),
        })
    }
}

impl Session {
    /// Rule `k` (a stall or an abandon) would fire if nothing more
    /// happened.
    pub fn would_fire(&self, k: usize, rules: &Compiled, props: &Properties) -> bool {
        if self.fired & 1 << k != 0
            || self.done & rules.unless[k] != 0
            || !self.holds(&rules.tests[k], props)
        {
            return false;
        }
        let latest = self.path.last().map_or(0, |t| rules.mask(*t));
        match rules.checks[k] {
            Check::Stall { at, after_us } => {
                latest & at != 0 && self.last_us.saturating_add(after_us) >= self.passed_us
            }
            Check::Abandon { did } => !self.closed && self.done & did == did,
            _ => false,
        }
    }
}

impl Session {
    /// Reads the session again for `rules` (after they changed): what it
    /// visited and where it stands on each journey, from its path; what it
    /// fired is `fired` (by the new rules' places); the progress of the
    /// sequences kept moves (`sequences`: old offset, new offset, length),
    /// others start over (their times are not kept).
    pub fn reread(&mut self, rules: &Compiled, fired: u64, sequences: &[(usize, usize, usize)]) {
        self.fired = fired;
        self.done = self.path.iter().fold(0, |d, t| d | rules.mask(*t));
        let mut sequence = vec![i64::MIN; rules.sequence_slots];
        for &(old, new, len) in sequences {
            if let (Some(from), Some(to)) = (
                self.sequence.get(old..old + len),
                sequence.get_mut(new..new + len),
            ) {
                to.copy_from_slice(from);
            }
        }
        self.sequence = sequence;
        self.walks = rules
            .journey_ids
            .iter()
            .map(|ids| {
                self.path
                    .iter()
                    .fold(Progress::NotEntered, |p, t| ids.step(p, *t).0)
            })
            .collect();
    }
}
