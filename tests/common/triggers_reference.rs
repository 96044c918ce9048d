//! Per-customer triggers written here from their definition, apart from
//! the engine: a generated week with planted stalls, abandoned carts and
//! sequences (duplicates, events written late, a tenth of the lines
//! garbage), and the actions each rule should fire over it, found by brute
//! force over each customer's sessions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::Digest;

use super::conformance_reference::{Outcome, parse_steps, reference_walk};

/// The default session timeout, µs.
const TIMEOUT_US: i64 = 30 * 60 * 1_000_000;
const MINUTE_US: i64 = 60_000_000;

/// The rules file the tests give `--rules`.
pub const RULES: &str = r#"
[[journey]]
name = "checkout"
steps = "product_view > add_to_cart > checkout > payment? > purchase"

[[trigger]]
name = "pricing stall"
kind = "stall"
at = "pricing_view"
after = "5m"
unless = ["purchase"]
segment = "channel=web"

[[trigger]]
name = "checkout stall"
kind = "stall"
at = "checkout"
after = "10m"

[[trigger]]
name = "cart abandoned"
kind = "abandon"
did = ["add_to_cart"]
unless = ["purchase"]

[[trigger]]
name = "support after purchase"
kind = "sequence"
steps = ["purchase", "support_ticket"]
within = "1h"

[[trigger]]
name = "browse to cart"
kind = "sequence"
steps = ["search", "product_view", "add_to_cart"]
within = "10m"

[[trigger]]
name = "off the checkout path"
kind = "off_path"
journey = "checkout"
"#;

const TOUCHPOINTS: [&str; 9] = [
    "home",
    "search",
    "product_view",
    "pricing_view",
    "add_to_cart",
    "checkout",
    "payment",
    "purchase",
    "support_ticket",
];

/// Gaps between a session's events, around the rules' edges (5 and 10
/// minutes, 1 hour) and the session timeout.
const GAPS_S: [i64; 12] = [3, 20, 90, 299, 300, 301, 599, 600, 601, 1_500, 1_799, 1_800];

/// A small deterministic generator (xorshift).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One accepted event.
#[derive(Debug, Clone)]
pub struct TEvent {
    pub customer: String,
    pub touchpoint: String,
    pub time_us: i64,
    pub channel: String,
}

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A session's touchpoints with something planted in most.
fn session_steps(rng: &mut Rng) -> Vec<&'static str> {
    let plants: [&[&str]; 8] = [
        &["home", "pricing_view"],
        &["search", "product_view", "add_to_cart"],
        &[
            "product_view",
            "add_to_cart",
            "checkout",
            "payment",
            "purchase",
        ],
        &[
            "product_view",
            "add_to_cart",
            "checkout",
            "purchase",
            "support_ticket",
        ],
        &["purchase", "home", "support_ticket"],
        &["product_view", "add_to_cart", "checkout"],
        &["search", "home", "product_view", "search", "add_to_cart"],
        &[
            "pricing_view",
            "product_view",
            "add_to_cart",
            "pricing_view",
        ],
    ];
    let mut steps: Vec<&str> = plants[rng.below(plants.len() as u64) as usize].to_vec();
    // Noise: a few random touchpoints inserted anywhere.
    for _ in 0..rng.below(3) {
        let at = rng.below(steps.len() as u64 + 1) as usize;
        steps.insert(
            at,
            TOUCHPOINTS[rng.below(TOUCHPOINTS.len() as u64) as usize],
        );
    }
    steps
}

/// The lines of a generated week (with `sentinels`, a last event per 64
/// extra customers a day after the rest, so that every partition's
/// watermark passes everything else), and the events among them that are
/// accepted, without duplicates.
pub fn week(customers: usize, seed: u64, sentinels: bool) -> (Vec<String>, Vec<TEvent>) {
    let mut rng = Rng::new(seed);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    let week_us = 7 * 24 * 60 * MINUTE_US;
    // (write order key, line, accepted event)
    let mut written: Vec<(i64, String, Option<TEvent>)> = Vec::new();
    let mut id = 0u64;
    for c in 0..customers {
        let customer = format!("c{c:05}");
        let mut t = start + (rng.below(week_us as u64 - 86_400_000_000) as i64) / 1000 * 1000;
        for _ in 0..1 + rng.below(3) {
            let channel = if rng.chance(50) { "web" } else { "app" };
            for (k, step) in session_steps(&mut rng).into_iter().enumerate() {
                if k > 0 {
                    t += GAPS_S[rng.below(GAPS_S.len() as u64) as usize] * 1_000_000
                        + rng.below(1000) as i64 * 1000;
                }
                id += 1;
                let line = serde_json::json!({
                    "customer_id": customer,
                    "event": step,
                    "timestamp": rfc3339(t),
                    "event_id": format!("e{id}"),
                    "channel": channel,
                })
                .to_string();
                let event = TEvent {
                    customer: customer.clone(),
                    touchpoint: step.to_owned(),
                    time_us: t,
                    channel: channel.to_owned(),
                };
                // Some written up to two minutes late, some twice.
                let late = match rng.chance(3) {
                    true => rng.below(120_000_000) as i64,
                    false => 0,
                };
                written.push((t + late, line.clone(), Some(event)));
                if rng.chance(3) {
                    written.push((t + late + 1, line, None));
                }
            }
            // The next session after a gap past the timeout.
            t += (31 + rng.below(3 * 24 * 60) as i64) * MINUTE_US;
        }
    }
    written.sort_by_key(|(key, _, _)| *key);
    let newest = written
        .iter()
        .filter_map(|w| w.2.as_ref())
        .map(|e| e.time_us)
        .max();
    let mut lines = Vec::new();
    let mut events = Vec::new();
    for (k, (_, line, event)) in written.into_iter().enumerate() {
        // A tenth of the lines garbage, of several kinds.
        if rng.chance(10) {
            lines.push(match k % 4 {
                0 => "{not json".to_owned(),
                1 => r#"{"customer_id": "", "event": "home", "timestamp": "2026-11-24T00:00:00Z"}"#
                    .to_owned(),
                2 => {
                    r#"{"customer_id": "x1", "event": "home", "timestamp": "yesterday"}"#.to_owned()
                }
                _ => r#"{"customer_id": "x2", "timestamp": "2026-11-24T00:00:00Z"}"#.to_owned(),
            });
        }
        lines.push(line);
        events.extend(event);
    }
    if sentinels {
        let after = newest.unwrap() + 24 * 60 * MINUTE_US;
        for k in 0..64 {
            let line = serde_json::json!({
                "customer_id": format!("zz-sentinel-{k}"),
                "event": "home",
                "timestamp": rfc3339(after + k),
                "event_id": format!("s{k}"),
                "channel": "web",
            })
            .to_string();
            lines.push(line);
            events.push(TEvent {
                customer: format!("zz-sentinel-{k}"),
                touchpoint: "home".into(),
                time_us: after + k,
                channel: "web".into(),
            });
        }
    }
    (lines, events)
}

/// The id of an action, from its definition.
pub fn id(rule: &str, customer: &str, session_start_us: i64) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(rule.as_bytes());
    hash.update([0]);
    hash.update(customer.as_bytes());
    hash.update([0]);
    hash.update(session_start_us.to_le_bytes());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One expected action: id → (rule, customer, event time µs).
pub type Expected = BTreeMap<String, (String, String, i64)>;

/// True when `steps` occur in `session[..=j]` in order, the last at `j`,
/// the first at or after `from_us`.
fn sequence_ends_at(session: &[&TEvent], j: usize, steps: &[&str], from_us: i64) -> bool {
    if session[j].touchpoint != *steps.last().unwrap() {
        return false;
    }
    let (first, middle) = (steps[0], &steps[1..steps.len() - 1]);
    (0..j).rev().any(|i0| {
        if session[i0].touchpoint != first || session[i0].time_us < from_us {
            return false;
        }
        // Greedily, each middle step after the one before, before j.
        let mut at = i0 + 1;
        middle.iter().all(|step| {
            while at < j && session[at].touchpoint != *step {
                at += 1;
            }
            let found = at < j;
            at += 1;
            found
        })
    })
}

/// The actions the rules of [`RULES`] fire over `events`, the watermark
/// being the newest event time.
pub fn expected(events: &[TEvent]) -> Expected {
    expected_at(events, events.iter().map(|e| e.time_us).max().unwrap())
}

/// The actions the rules of [`RULES`] fire over `events` once event time
/// has reached `watermark`.
pub fn expected_at(events: &[TEvent], watermark: i64) -> Expected {
    let mut by_customer: BTreeMap<&str, Vec<&TEvent>> = BTreeMap::new();
    for e in events {
        by_customer.entry(e.customer.as_str()).or_default().push(e);
    }
    let journey = parse_steps("product_view > add_to_cart > checkout > payment? > purchase");
    let mut out = Expected::new();
    for (customer, mut list) in by_customer {
        list.sort_by_key(|e| e.time_us);
        let mut sessions: Vec<Vec<&TEvent>> = Vec::new();
        for e in &list {
            match sessions.last_mut() {
                Some(s) if e.time_us - s.last().unwrap().time_us <= TIMEOUT_US => s.push(e),
                _ => sessions.push(vec![e]),
            }
        }
        let count = sessions.len();
        for (k, session) in sessions.iter().enumerate() {
            let start = session[0].time_us;
            let last = session.last().unwrap().time_us;
            let next_session_us = sessions.get(k + 1).map(|s| s[0].time_us);
            let closed = k + 1 < count || watermark > last + TIMEOUT_US;
            let did = |upto: usize, t: &str| session[..=upto].iter().any(|e| e.touchpoint == t);
            let mut add = |rule: &str, at_us: i64| {
                out.insert(
                    id(rule, customer, start),
                    (rule.to_owned(), customer.to_owned(), at_us),
                );
            };
            // Stalls: the latest event at `at`, nothing after it within
            // `after` (the next event, in this session or the next).
            let stall = |at: &str, after_us: i64, unless: Option<&str>, web_only: bool| {
                if web_only && session[0].channel != "web" {
                    return None;
                }
                (0..session.len()).find_map(|i| {
                    let t = session[i].time_us;
                    let next = session.get(i + 1).map(|e| e.time_us).or(next_session_us);
                    let quiet = next.map_or(watermark > t + after_us, |n| n > t + after_us);
                    let ok =
                        session[i].touchpoint == at && quiet && unless.is_none_or(|u| !did(i, u));
                    ok.then_some(t + after_us)
                })
            };
            if let Some(at) = stall("pricing_view", 5 * MINUTE_US, Some("purchase"), true) {
                add("pricing stall", at);
            }
            if let Some(at) = stall("checkout", 10 * MINUTE_US, None, false) {
                add("checkout stall", at);
            }
            let end = session.len() - 1;
            if closed && did(end, "add_to_cart") && !did(end, "purchase") {
                add("cart abandoned", last + TIMEOUT_US);
            }
            let sequences: [(&str, &[&str], i64); 2] = [
                (
                    "support after purchase",
                    &["purchase", "support_ticket"],
                    60 * MINUTE_US,
                ),
                (
                    "browse to cart",
                    &["search", "product_view", "add_to_cart"],
                    10 * MINUTE_US,
                ),
            ];
            for (rule, steps, within) in sequences {
                if let Some(j) = (0..session.len())
                    .find(|&j| sequence_ends_at(session, j, steps, session[j].time_us - within))
                {
                    add(rule, session[j].time_us);
                }
            }
            let names: Vec<&str> = session.iter().map(|e| e.touchpoint.as_str()).collect();
            match reference_walk(&journey, &names) {
                Outcome::Deviates { kind: "left", .. } if closed => {
                    add("off the checkout path", last + TIMEOUT_US);
                }
                Outcome::Deviates { kind, at, .. } if kind != "left" => {
                    add("off the checkout path", session[at].time_us);
                }
                _ => {}
            }
        }
    }
    out
}

/// Actions as JSON objects, as the expected map reads them.
pub fn actions_of(values: &[Value]) -> Expected {
    values
        .iter()
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap().to_owned();
            let at = chrono::DateTime::parse_from_rfc3339(&text("event_time"))
                .unwrap()
                .timestamp_micros();
            (text("id"), (text("trigger"), text("customer"), at))
        })
        .collect()
}

/// Asserts two sets of actions are the same, naming some that differ.
pub fn assert_same_actions(got: &Expected, want: &Expected, what: &str) {
    let missing: BTreeSet<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: BTreeSet<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let show = |keys: &BTreeSet<&String>, from: &Expected| {
        keys.iter()
            .take(5)
            .map(|k| format!("{:?}", from[*k]))
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} missing ({}), {} extra ({}) of {}",
        missing.len(),
        show(&missing, want),
        extra.len(),
        show(&extra, got),
        want.len()
    );
    for (k, v) in want {
        assert_eq!(&got[k], v, "{what}: action {k}");
    }
}
