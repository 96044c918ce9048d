//! Trigger rules over a file: what they would have sent, per rule, per day
//! and to whom. Each customer's sessions go through the same state machine
//! a stream's arrivals do, with the file's last event time as the
//! watermark.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compiled::{Compiled, TriggerError};
use super::fired::make_action;
use super::props::Properties;
use super::state::{Customer, Fire, Pending, Session};
use super::{Action, TriggerRule};
use crate::engine::Journeys;

/// Actions of one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The day (`2026-11-27`).
    pub day: String,
    /// Actions whose event time is on it.
    pub actions: u64,
}

/// What one rule would have sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleBacktest {
    /// The rule.
    pub rule: String,
    /// Its kind.
    pub kind: String,
    /// Actions.
    pub actions: u64,
    /// Customers reached (at least one action).
    pub customers: u64,
    /// Actions per day, by event time (days without any left out).
    pub per_day: Vec<DayCount>,
    /// Actions per day on average over the days the file spans.
    pub per_day_average: f64,
}

/// What the rules would have sent over a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    /// Per rule, in the rules' order.
    pub rules: Vec<RuleBacktest>,
    /// The actions kept ([`Keep`]), by event time (then id).
    #[serde(skip)]
    pub actions: Vec<Action>,
    /// The watermark: the file's last event time.
    pub watermark: String,
}

/// Which actions a backtest keeps whole (all are counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every one (`--actions`).
    All,
    /// The latest this many of each rule, by event time (the app's list).
    Latest(usize),
}

const DAY_US: i64 = 86_400_000_000;

/// What one rule fired, counted as the customers go by.
#[derive(Default)]
struct Tally {
    actions: u64,
    customers: u64,
    last_customer: Option<u32>,
    per_day: BTreeMap<i64, u64>,
    /// The latest actions kept, by (event time, id).
    kept: BTreeMap<(i64, String), Action>,
}

/// Runs `rules` over every session of `journeys` (whatever its segment),
/// the actions' `source` being `source`, keeping the actions `keep` says.
pub fn backtest(
    journeys: &Journeys,
    rules: Vec<TriggerRule>,
    source: &str,
    keep: Keep,
) -> Result<Backtest, TriggerError> {
    let config = &journeys.config;
    let mut compiled = Compiled::new(rules, journeys.kept_properties(), config.session_timeout_us)?;
    compiled.learn(journeys.touchpoint_names().iter());
    let watermark = journeys.time_range_us.map_or(i64::MIN, |(_, last)| last);
    let keyed = journeys.has_session_keys();
    let kept = journeys.kept_properties();
    let mut props = Properties::default();
    let mut tallies: Vec<Tally> = compiled.rules.iter().map(|_| Tally::default()).collect();
    let mut all = Vec::new();
    let mut customer: Option<Customer> = None;
    let mut current_id = None;
    // Counts a firing of customer `c`, and keeps its action as asked.
    let mut count = |c: u32,
                     compiled: &Compiled,
                     props: &Properties,
                     name: &str,
                     session: &Session,
                     fire: Fire| {
        let tally = &mut tallies[fire.rule];
        tally.actions += 1;
        if tally.last_customer != Some(c) {
            tally.last_customer = Some(c);
            tally.customers += 1;
        }
        *tally
            .per_day
            .entry(fire.event_us.div_euclid(DAY_US))
            .or_default() += 1;
        match keep {
            Keep::All => all.push(make_action(compiled, props, name, session, fire)),
            Keep::Latest(n) => {
                let newer = tally.kept.len() < n
                    || tally
                        .kept
                        .keys()
                        .next()
                        .is_some_and(|(t, _)| *t < fire.event_us);
                if n > 0 && newer {
                    let action = make_action(compiled, props, name, session, fire);
                    tally
                        .kept
                        .insert((action.event_us, action.id.clone()), action);
                    if tally.kept.len() > n {
                        tally.kept.pop_first();
                    }
                }
            }
        }
    };
    let mut sessions = 0u32;
    journeys.for_each_session_at(|c, start, session| {
        if current_id != Some(c) {
            if let (Some(mut done), Some(previous)) = (customer.take(), current_id) {
                done.catch_up(watermark, &compiled, &props, &mut |name, s, fire| {
                    count(previous, &compiled, &props, name, s, fire)
                });
            }
            current_id = Some(c);
            customer = Some(Customer::new(journeys.customer_name(c), 0));
        }
        sessions = sessions.wrapping_add(1);
        let values = journeys.kept_values_at(c, start);
        let id = props.id_of(
            kept.iter()
                .map(|k| values.iter().find(|(p, _)| p == k).map(|(_, v)| *v)),
        );
        let Some(current) = customer.as_mut() else {
            return;
        };
        for event in session {
            current.wait(Pending {
                time_us: event.time_us,
                sub_us_ns: 0,
                touchpoint: event.touchpoint,
                // Sessions as the journeys cut them: by id when there are
                // ids (each its own), else by time alike.
                key: if keyed { sessions.max(1) } else { 0 },
                props: id,
            });
            current.catch_up(event.time_us, &compiled, &props, &mut |name, s, fire| {
                count(c, &compiled, &props, name, s, fire)
            });
        }
    });
    if let (Some(mut last), Some(c)) = (customer.take(), current_id) {
        last.catch_up(watermark, &compiled, &props, &mut |name, s, fire| {
            count(c, &compiled, &props, name, s, fire)
        });
    }
    for tally in &mut tallies {
        all.extend(std::mem::take(&mut tally.kept).into_values());
    }
    for action in &mut all {
        action.source = source.to_owned();
    }
    all.sort_by(|a, b| (a.event_us, &a.id).cmp(&(b.event_us, &b.id)));
    let span_days = journeys
        .time_range_us
        .map_or(1.0, |(a, b)| ((b - a) as f64 / DAY_US as f64).max(1.0));
    let rules = compiled
        .rules
        .iter()
        .zip(tallies)
        .map(|(rule, tally)| RuleBacktest {
            rule: rule.name.clone(),
            kind: rule.kind.name().into(),
            actions: tally.actions,
            customers: tally.customers,
            per_day: tally
                .per_day
                .into_iter()
                .map(|(day, actions)| DayCount {
                    day: crate::engine::alerts::rfc3339(day * DAY_US)
                        .get(..10)
                        .unwrap_or_default()
                        .to_owned(),
                    actions,
                })
                .collect(),
            per_day_average: tally.actions as f64 / span_days,
        })
        .collect();
    Ok(Backtest {
        rules,
        actions: all,
        watermark: crate::engine::alerts::rfc3339(watermark),
    })
}
