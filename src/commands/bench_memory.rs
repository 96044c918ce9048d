//! The live engine's memory over a day of a shop, without a broker:
//! customers arriving all day, a quarter of them coming back hours later,
//! taken in with quiet customers settled (as a stream runs) and with every
//! customer kept whole (the baseline, same run).

use std::time::Instant;

use crate::engine::{EngineConfig, EventBatch, LiveEngine, NewEvent};

/// Customers in the day measured by default.
pub(super) const DAY_CUSTOMERS: usize = 2_000_000;

const DAY_START_US: i64 = 1_795_000_000_000_000;
const DAY_US: i64 = 86_400 * 1_000_000;

/// Resident memory now (Linux), in bytes.
pub(super) fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The day's events in time order (time, customer, step): each customer
/// three events 30 s apart at its own moment of the day, every fourth
/// coming back five hours later for two more.
fn day(customers: usize) -> Vec<(i64, u32, u8)> {
    let mut events = Vec::with_capacity(customers * 4);
    for c in 0..customers {
        let at = DAY_START_US + (c as i64 * DAY_US) / customers as i64;
        for k in 0..3u8 {
            events.push((at + k as i64 * 30_000_000, c as u32, k));
        }
        let back = at + 5 * 3600 * 1_000_000;
        if c % 4 == 0 && back < DAY_START_US + DAY_US {
            for k in 3..5u8 {
                events.push((back + (k - 3) as i64 * 30_000_000, c as u32, k));
            }
        }
    }
    events.sort_unstable();
    events
}

/// What one pass over the day found.
struct Measured {
    /// Resident memory added, in bytes.
    bytes: u64,
    /// Customers held whole, and settled.
    held: usize,
    settled: usize,
    /// Bytes held for the settled customers.
    settled_bytes: usize,
    customers: u64,
    sessions: u64,
    /// Seconds to take the day in, and for the totals since start.
    ingest_s: f64,
    totals_s: f64,
}

fn take_in(events: &[(i64, u32, u8)], settle: bool) -> Measured {
    const STEPS: [&str; 5] = ["home", "product_view", "add_to_cart", "home", "purchase"];
    let before = rss_bytes();
    let started = Instant::now();
    let mut engine = LiveEngine::new(EngineConfig::default(), 10_000_000);
    if !settle {
        engine.keep_every_customer_whole();
    }
    let mut batch = EventBatch::with_capacity(16 * 1024);
    for &(time_us, c, k) in events {
        let customer = format!("C{c:08}");
        let id = format!("e{c}-{k}");
        batch.push(
            NewEvent {
                customer: &customer,
                event: STEPS[k as usize],
                time_us,
                event_id: Some(&id),
                session_id: None,
            },
            Vec::new(),
        );
        if batch.len() >= 16 * 1024 {
            engine.ingest(&batch);
            batch.clear();
        }
    }
    engine.ingest(&batch);
    drop(batch);
    let ingest_s = started.elapsed().as_secs_f64();
    let bytes = rss_bytes().saturating_sub(before);
    let started = Instant::now();
    let totals = engine.since_start(false);
    let totals_s = started.elapsed().as_secs_f64();
    let (settled, _) = engine.settled_customers();
    Measured {
        bytes,
        held: totals.journeys.customer_count(),
        settled,
        settled_bytes: engine.settled_bytes(),
        customers: totals.journeys.customers,
        sessions: totals.journeys.sessions,
        ingest_s,
        totals_s,
    }
}

/// Measures and prints the live engine's memory over a day of
/// `customers` customers, settled and kept whole.
pub(super) fn run(customers: usize) {
    let events = day(customers);
    println!(
        "live engine memory over a day: {customers} customers, {} events (three each, a quarter back five hours later), event ids included",
        events.len()
    );
    let whole = take_in(&events, false);
    let settled = take_in(&events, true);
    for (name, m) in [
        ("settled as they go quiet", &settled),
        ("all kept whole (baseline)", &whole),
    ] {
        println!(
            "  {name}: {:.0} MB, {:.0} bytes per customer; {} held whole, {} settled ({:.0} bytes each); ingest {:.2} s, totals since start {:.0} ms",
            m.bytes as f64 / 1e6,
            m.bytes as f64 / customers as f64,
            m.held,
            m.settled,
            m.settled_bytes as f64 / m.settled.max(1) as f64,
            m.ingest_s,
            m.totals_s * 1e3
        );
    }
    println!(
        "  same totals both ways: {} ({} customers, {} sessions); memory {:.2}× the baseline's",
        settled.customers == whole.customers && settled.sessions == whole.sessions,
        settled.customers,
        settled.sessions,
        settled.bytes as f64 / whole.bytes.max(1) as f64
    );
}
