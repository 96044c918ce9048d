//! Trigger rules over a file: what they would have sent, per rule, per day
//! and to whom. Each customer's sessions go through the same state machine
//! a stream's arrivals do, with the file's last event time as the
//! watermark.

use serde::Serialize;

use super::compiled::{Compiled, TriggerError};
use super::runner::make_action;
use super::state::{Customer, Pending, Properties};
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
    /// Every action, by event time (then id).
    #[serde(skip)]
    pub actions: Vec<Action>,
    /// The watermark: the file's last event time.
    pub watermark: String,
}

/// Runs `rules` over every session of `journeys` (whatever its segment),
/// the actions' `source` being `source`.
pub fn backtest(
    journeys: &Journeys,
    rules: Vec<TriggerRule>,
    source: &str,
) -> Result<Backtest, TriggerError> {
    let config = &journeys.config;
    let mut compiled = Compiled::new(rules, journeys.kept_properties(), config.session_timeout_us)?;
    compiled.learn(journeys.touchpoint_names().iter());
    let watermark = journeys.time_range_us.map_or(i64::MIN, |(_, last)| last);
    let keyed = journeys.has_session_keys();
    let kept = journeys.kept_properties();
    let mut props = Properties::default();
    let mut actions = Vec::new();
    let mut customer: Option<Customer> = None;
    let finish = |customer: &mut Customer, props: &Properties, actions: &mut Vec<Action>| {
        customer.catch_up(watermark, &compiled, props, &mut |name, session, fire| {
            actions.push(make_action(&compiled, props, name, session, fire));
        });
    };
    let mut sessions = 0u32;
    let mut current_id = None;
    journeys.for_each_session_at(|c, start, session| {
        if current_id != Some(c) {
            current_id = Some(c);
            if let Some(mut done) = customer.take() {
                finish(&mut done, &props, &mut actions);
            }
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
                actions.push(make_action(&compiled, &props, name, s, fire));
            });
        }
    });
    if let Some(mut last) = customer.take() {
        finish(&mut last, &props, &mut actions);
    }
    for action in &mut actions {
        action.source = source.to_owned();
    }
    actions.sort_by(|a, b| (a.event_us, &a.id).cmp(&(b.event_us, &b.id)));
    let span_days = journeys
        .time_range_us
        .map_or(1.0, |(a, b)| ((b - a) as f64 / 86_400e6).max(1.0));
    let rules = compiled
        .rules
        .iter()
        .map(|rule| {
            let mine: Vec<&Action> = actions.iter().filter(|a| a.trigger == rule.name).collect();
            let mut per_day: Vec<DayCount> = Vec::new();
            for a in &mine {
                let day = a.event_time.get(..10).unwrap_or_default();
                match per_day.iter_mut().find(|d| d.day == day) {
                    Some(d) => d.actions += 1,
                    None => per_day.push(DayCount {
                        day: day.to_owned(),
                        actions: 1,
                    }),
                }
            }
            per_day.sort_by(|a, b| a.day.cmp(&b.day));
            let customers: rustc_hash::FxHashSet<&str> =
                mine.iter().map(|a| a.customer.as_str()).collect();
            RuleBacktest {
                rule: rule.name.clone(),
                kind: rule.kind.name().into(),
                actions: mine.len() as u64,
                customers: customers.len() as u64,
                per_day,
                per_day_average: mine.len() as f64 / span_days,
            }
        })
        .collect();
    Ok(Backtest {
        rules,
        actions,
        watermark: crate::engine::alerts::rfc3339(watermark),
    })
}
