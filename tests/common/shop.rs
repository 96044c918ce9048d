//! A generated shop whose web channel breaks, and recounts of an
//! explanation from its sessions, apart from the engine: each value's
//! share, volume and contribution to a compared row's change.

use std::collections::BTreeMap;
use std::path::Path;

use journeyscope::engine::explain::NONE_VALUE;
use serde_json::Value;

/// The shop's funnel.
pub const FUNNEL: [&str; 5] = [
    "home",
    "product_view",
    "add_to_cart",
    "begin_checkout",
    "purchase",
];
/// A day, µs: a file's slot.
pub const DAY_US: i64 = 86_400_000_000;
/// When the shop opens, µs.
pub const START_US: i64 = 1_790_000_000_000_000;

/// One generated session: its customer, channel (None: the events carry
/// none), plan, and events (touchpoint, time in µs).
#[derive(Debug, Clone)]
pub struct Session {
    /// Its customer.
    pub customer: String,
    /// Its channel; None: the events carry none.
    pub channel: Option<&'static str>,
    /// Its customer's plan.
    pub plan: &'static str,
    /// (touchpoint, time in µs), in time order.
    pub events: Vec<Event>,
}

impl Session {
    /// The value of `property` at the session's first event.
    pub fn value(&self, property: &str) -> String {
        match property {
            "channel" => self.channel.unwrap_or(NONE_VALUE).to_owned(),
            _ => self.plan.to_owned(),
        }
    }
}

/// A small xorshift, so the data needs no crate.
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// True `percent` times in a hundred.
pub fn chance(state: &mut u64, percent: u64) -> bool {
    next(state) % 100 < percent
}

/// 4,000 customers with one to three sessions each, in distinct slots of
/// twenty, each `slot_us` long (a day for a file, minutes for a stream);
/// web's cart-to-checkout share drops from 57 % to 10 % in the last ten
/// slots. A session starts within the first 5/12 of its slot, its events a
/// minute apart.
pub fn shop(slot_us: i64) -> Vec<Session> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut sessions = Vec::new();
    for c in 0..4_000 {
        let plan = if chance(&mut state, 20) {
            "pro"
        } else {
            "free"
        };
        let count = 1 + next(&mut state) % 3;
        let mut days: Vec<i64> = (0..count).map(|k| (c + k as i64 * 7) % 20).collect();
        days.sort_unstable();
        days.dedup();
        for day in days {
            let channel = match next(&mut state) % 100 {
                0..50 => Some("web"),
                50..80 => Some("app"),
                80..95 => Some("email"),
                _ => None,
            };
            let checkout = match channel {
                Some("web") if day >= 10 => 10,
                Some("web") => 57,
                Some("app") => 45,
                Some(_) => 35,
                None => 40,
            };
            let mut names = vec!["home", "product_view", "add_to_cart"];
            if chance(&mut state, checkout) {
                names.push("begin_checkout");
                if chance(&mut state, 60) {
                    names.push("purchase");
                }
            } else if chance(&mut state, 50) {
                names.push("product_view");
            }
            let offset = (next(&mut state) % 600) as i64 * (slot_us / 1_440);
            let start = START_US + day * slot_us + offset;
            sessions.push(Session {
                customer: format!("c{c}"),
                channel,
                plan,
                events: (0..)
                    .zip(names)
                    .map(|(i, n)| (n, start + i * 60_000_000))
                    .collect(),
            });
        }
    }
    sessions
}

/// Writes the sessions' events as JSON lines, oldest first (as a stream
/// sends them).
pub fn write_jsonl(sessions: &[Session], path: &Path) {
    let mut events: Vec<(&Session, &(&str, i64))> = sessions
        .iter()
        .flat_map(|s| s.events.iter().map(move |e| (s, e)))
        .collect();
    events.sort_by_key(|(_, e)| e.1);
    let mut out = String::new();
    for (s, (event, time_us)) in events {
        let mut v = serde_json::json!({
            "customer_id": s.customer,
            "event": event,
            "timestamp": chrono::DateTime::from_timestamp_micros(*time_us).unwrap().to_rfc3339(),
            "plan": s.plan,
        });
        if let Some(channel) = s.channel {
            v["channel"] = Value::from(channel);
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// One event of a session: (touchpoint, time in µs).
type Event = (&'static str, i64);

/// The events of `sessions` in `[from_us, to_us]`, cut into sessions again
/// as the engine cuts them: by customer in time order, a new session after
/// a gap of more than 30 minutes, each with its first event's values.
pub fn sessions_between(sessions: &[Session], from_us: i64, to_us: i64) -> Vec<Session> {
    let mut by_customer: BTreeMap<&str, Vec<(&Session, Event)>> = BTreeMap::new();
    for s in sessions {
        for e in s.events.iter().filter(|e| (from_us..=to_us).contains(&e.1)) {
            by_customer.entry(&s.customer).or_default().push((s, *e));
        }
    }
    let mut cut: Vec<Session> = Vec::new();
    for mut events in by_customer.into_values() {
        events.sort_by_key(|(_, e)| e.1);
        let mut last = None;
        for (s, e) in events {
            if last.is_none_or(|t| e.1 - t > 30 * 60 * 1_000_000) {
                cut.push(Session {
                    events: Vec::new(),
                    ..s.clone()
                });
            }
            if let Some(session) = cut.last_mut() {
                session.events.push(e);
            }
            last = Some(e.1);
        }
    }
    cut
}

/// A row's numerator and denominator over some sessions, counted here.
pub type Count<'a> = Box<dyn Fn(&[&Session]) -> (u64, u64) + 'a>;

/// A transition's share of its source's outflow.
pub fn transition<'a>(from: &'a str, to: &'a str) -> Count<'a> {
    Box::new(move |sessions| {
        let (mut x, mut n) = (0, 0);
        for s in sessions {
            let steps: Vec<&str> = std::iter::once("START")
                .chain(s.events.iter().map(|e| e.0))
                .chain(["END"])
                .collect();
            for pair in steps.windows(2) {
                if pair[0] == from {
                    n += 1;
                    x += u64::from(pair[1] == to);
                }
            }
        }
        (x, n)
    })
}

/// A touchpoint's exits over its sessions.
pub fn exit(name: &str) -> Count<'_> {
    Box::new(move |sessions| {
        let visits = sessions
            .iter()
            .filter(|s| s.events.iter().any(|e| e.0 == name));
        let exits = sessions
            .iter()
            .filter(|s| s.events.last().unwrap().0 == name);
        (exits.count() as u64, visits.count() as u64)
    })
}

/// Funnel step `step`: customers of these sessions reaching it and the one
/// before (steps in order, from the first visit of the first).
pub fn step(step: usize) -> Count<'static> {
    Box::new(move |sessions| {
        let mut events: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
        for s in sessions {
            let list = events.entry(&s.customer).or_default();
            list.extend(s.events.iter().map(|(n, t)| (*t, *n)));
        }
        let (mut x, mut n) = (0, 0);
        for list in events.values_mut() {
            list.sort();
            let mut reached = 0;
            for (_, name) in list.iter() {
                if reached < FUNNEL.len() && *name == FUNNEL[reached] {
                    reached += 1;
                }
            }
            n += u64::from(reached >= step);
            x += u64::from(reached > step);
        }
        (x, n)
    })
}

/// The sessions of `side` grouped by the value `property` has: at each
/// session's first event, or for a funnel (`by_customer`) at the first
/// event of the customer's first session on that side.
pub fn by_value<'s>(
    side: &[&'s Session],
    property: &str,
    by_customer: bool,
) -> BTreeMap<String, Vec<&'s Session>> {
    let mut first: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    for s in side {
        let entry = first
            .entry(&s.customer)
            .or_insert((i64::MAX, String::new()));
        if s.events[0].1 < entry.0 {
            *entry = (s.events[0].1, s.value(property));
        }
    }
    let mut groups: BTreeMap<String, Vec<&Session>> = BTreeMap::new();
    for s in side {
        let value = match by_customer {
            true => first[s.customer.as_str()].1.clone(),
            false => s.value(property),
        };
        groups.entry(value).or_default().push(s);
    }
    groups
}

/// Equal up to rounding.
pub fn near(got: f64, want: f64) -> bool {
    (got - want).abs() < 1e-9
}

/// Checks one explained row of the JSON against counts made here.
pub fn check_explained(row: &Value, sides: &[Vec<&Session>; 2], count: &Count, by_customer: bool) {
    let what = row["explain_summary"].as_str().unwrap();
    let total = sides.clone().map(|side| count(&side));
    let share = total.map(|(x, n)| x as f64 / n as f64);
    let values = row["explain"].as_array().unwrap();
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    let mut listed = 0;
    for property in ["channel", "plan"] {
        let groups = [0, 1].map(|s| by_value(&sides[s], property, by_customer));
        let mut names: Vec<&String> = groups[0].keys().chain(groups[1].keys()).collect();
        names.sort();
        names.dedup();
        for value in names {
            let got = values
                .iter()
                .find(|v| v["property"] == property && v["value"] == value.as_str())
                .unwrap_or_else(|| panic!("{what}: {property}={value} is not explained"));
            let counts = [0, 1].map(|s| groups[s].get(value).map_or((0, 0), |g| count(g)));
            if counts.iter().all(|(_, n)| *n == 0) {
                continue;
            }
            let mut parts = [0.0; 2];
            for (s, key) in ["a", "b"].into_iter().enumerate() {
                let (x, n) = counts[s];
                let side = &got[key];
                assert_eq!(side["transitions"], x, "{what}: {property}={value} {key}");
                assert_eq!(side["outflow"], n, "{what}: {property}={value} {key}");
                let s_v = if n == 0 { 0.0 } else { x as f64 / n as f64 };
                let w = n as f64 / total[s].1 as f64;
                assert!(near(side["share"].as_f64().unwrap(), s_v), "{what}: {side}");
                assert!(near(side["weight"].as_f64().unwrap(), w), "{what}: {side}");
                parts[s] = w * s_v;
            }
            let want = (parts[0] - parts[1]) / (share[0] - share[1]);
            let contribution = got["contribution"].as_f64().unwrap();
            assert!(near(contribution, want), "{what}: {got} want {want}");
            *sums.entry(property).or_default() += contribution;
            listed += 1;
        }
    }
    assert_eq!(values.len(), listed, "{what}: values no session has");
    for (property, sum) in sums {
        assert!(near(sum, 1.0), "{what}: {property}'s parts sum to {sum}");
    }
    let sizes: Vec<f64> = values
        .iter()
        .map(|v| v["contribution"].as_f64().unwrap().abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{what}: not ranked");
}

/// The row of `list` whose `key` fields are `want`.
pub fn find<'v>(list: &'v Value, want: &[(&str, &str)]) -> &'v Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| want.iter().all(|(k, v)| r[*k] == *v))
        .unwrap_or_else(|| panic!("no row {want:?}"))
}
