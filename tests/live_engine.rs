//! The live engine's running totals against the file engine: events that
//! arrive out of order within the lateness, with re-delivered duplicates,
//! session ids, merged repeats, batches of any size and a save and restore
//! in between give exactly the journeys of the same events read as a file.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use journeyscope::engine::{
    EngineConfig, EventBatch, JourneyBuilder, Journeys, LiveEngine, NewEvent,
};
use proptest::prelude::*;

const LATENESS_US: i64 = 10_000_000;

#[derive(Debug, Clone)]
struct Arrival {
    customer: String,
    event: &'static str,
    time_us: i64,
    id: Option<String>,
    session: Option<String>,
}

/// Events of a few customers, each arriving up to the lateness after its
/// time (so never later than the lateness behind its customer's newest),
/// some re-delivered with their id.
fn arrivals_strategy() -> impl Strategy<Value = Vec<Arrival>> {
    let raw = (
        0u8..8,
        0usize..5,
        (0i64..6, 0i64..120),
        0i64..=LATENESS_US / 1_000_000,
        0u8..10,
    );
    prop::collection::vec(raw, 0..150).prop_map(|raw| {
        let mut timed: Vec<(i64, Arrival)> = Vec::new();
        for (i, (c, e, (burst, second), delay, kind)) in raw.into_iter().enumerate() {
            // Bursts of activity an hour apart, so that sessions both
            // continue and time out, and arrivals overtake each other.
            let t = burst * 3_600 + second;
            let time_us = t * 1_000_000;
            let arrival = Arrival {
                customer: format!("c{c}"),
                event: ["home", "search", "product", "cart", "buy"][e],
                time_us,
                // One in ten has no id; customer 7 sends session ids.
                id: (kind != 0).then(|| format!("e{i}")),
                session: (c == 7).then(|| format!("s{}", t / 1_800)),
            };
            let arrives = time_us + delay * 1_000_000;
            if kind == 9 {
                // Delivered again, stamped later: dropped, it must not move
                // its customer's newest time either.
                let mut again = arrival.clone();
                again.time_us += 30_000_000;
                timed.push((arrives + 1, again));
            }
            timed.push((arrives, arrival));
        }
        timed.sort_by_key(|(at, _)| *at);
        timed.into_iter().map(|(_, a)| a).collect()
    })
}

fn batch_of(arrivals: &[Arrival]) -> EventBatch {
    let mut batch = EventBatch::default();
    for a in arrivals {
        batch.push(
            NewEvent {
                customer: &a.customer,
                event: a.event,
                time_us: a.time_us,
                event_id: a.id.as_deref(),
                session_id: a.session.as_deref(),
            },
            [],
        );
    }
    batch
}

fn config(timeout_s: Option<i64>, collapse_repeats: bool) -> EngineConfig {
    EngineConfig {
        session_timeout_us: timeout_s.map(|s| s * 1_000_000),
        collapse_repeats,
        ..EngineConfig::default()
    }
}

/// The journeys of `arrivals` read as a file in that order.
fn as_file(arrivals: &[Arrival], config: EngineConfig) -> Journeys {
    let mut file = JourneyBuilder::new(config);
    file.ingest(&batch_of(arrivals));
    file.finish()
}

/// The journeys of just the arrivals at or after `from_us`, read as a file
/// with a 30-minute session timeout.
fn file_since(arrivals: &[Arrival], from_us: i64) -> Journeys {
    let inside: Vec<Arrival> = arrivals
        .iter()
        .filter(|a| a.time_us >= from_us)
        .cloned()
        .collect();
    as_file(&inside, config(Some(1800), false))
}

fn assert_same(live: &Journeys, file: &Journeys) {
    assert_eq!(live.graph.node_reports(), file.graph.node_reports());
    assert_eq!(live.graph.edge_reports(), file.graph.edge_reports());
    assert_eq!(
        (live.events, live.customers, live.sessions, live.duplicates),
        (file.events, file.customers, file.sessions, file.duplicates)
    );
    assert_eq!(live.time_range_us, file.time_range_us);
}

/// The engine as a state file holds it.
fn save(live: &LiveEngine) -> Vec<u8> {
    postcard::to_stdvec(&live.saved()).unwrap()
}

/// The engine read back from [`save`]'s bytes.
fn restore(bytes: &[u8], config: EngineConfig, lateness_us: i64) -> std::io::Result<LiveEngine> {
    LiveEngine::restore(postcard::from_bytes(bytes).unwrap(), config, lateness_us)
        .map_err(std::io::Error::from)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn running_totals_equal_the_file_engine(
        arrivals in arrivals_strategy(),
        timeout_s in prop::option::of(60i64..4_000),
        collapse in any::<bool>(),
        batch_size in 1usize..40,
        restore_at in 0usize..150,
        settle in any::<bool>(),
    ) {
        let config = config(timeout_s, collapse);
        let file = as_file(&arrivals, config.clone());

        let mut live = LiveEngine::new(config.clone(), LATENESS_US);
        for (i, chunk) in arrivals.chunks(batch_size).enumerate() {
            if i == restore_at / batch_size {
                let saved = save(&live);
                live = restore(&saved, config.clone(), LATENESS_US).unwrap();
            }
            live.ingest(&batch_of(chunk));
            // Settling the quiet customers (and numbering the others
            // anew) after every batch changes nothing either.
            if settle {
                live.settle_quiet_customers();
            }
            // Snapshots in between change nothing.
            if i % 3 == 0 {
                let _ = live.since_start(true);
            }
        }
        prop_assert_eq!(live.out_of_order().1, 0);
        assert_same(&live.since_start(true).journeys, &file);
    }
}

/// `customers` customers over `hours` hours, each coming a few times a
/// day (with a re-delivered event now and then), in time order.
fn returning_customers(customers: usize, hours: i64) -> Vec<Arrival> {
    let mut arrivals = Vec::new();
    for c in 0..customers {
        // Each visits every (c % 5 + 2) hours, at its own minute.
        let every = (c % 5) as i64 + 2;
        let mut hour = (c % 3) as i64;
        while hour < hours {
            let t = (hour * 3600 + (c as i64 * 37) % 3000) * 1_000_000;
            for (step, event) in ["home", "product", "cart"][..c % 3 + 1].iter().enumerate() {
                arrivals.push(Arrival {
                    customer: format!("customer-{c}"),
                    event,
                    time_us: t + step as i64 * 20_000_000,
                    id: Some(format!("{c}-{hour}-{step}")),
                    session: None,
                });
            }
            hour += every;
        }
    }
    // Every 50th event is delivered twice.
    let again: Vec<Arrival> = arrivals.iter().step_by(50).cloned().collect();
    arrivals.extend(again);
    arrivals.sort_by_key(|a| a.time_us);
    arrivals
}

/// Customers quiet for longer than the kept past are settled as the stream
/// goes on: memory holds the customers of the recent past, and every
/// number since start stays that of the file engine, across a save and
/// restore.
#[test]
fn quiet_customers_are_settled_and_the_totals_stay_exact() {
    let arrivals = returning_customers(20_000, 12);
    let config = config(Some(1800), false);
    let file = as_file(&arrivals, config.clone());
    let mut live = LiveEngine::new(config.clone(), LATENESS_US);
    let mut numbering = Vec::new();
    for (i, chunk) in arrivals.chunks(5_000).enumerate() {
        if i == 20 {
            live = restore(&save(&live), config.clone(), LATENESS_US).unwrap();
        }
        live.ingest(&batch_of(chunk));
        numbering.push(live.customer_numbering());
    }
    // Settled by itself, more than once.
    assert!(numbering.last().unwrap() >= &2, "{numbering:?}");
    let (settled, forgotten) = live.settled_customers();
    assert_eq!(forgotten, 0);
    let since_start = live.since_start(true);
    assert_same(&since_start.journeys, &file);
    // The customers held whole are those of the last hours; the others
    // are settled.
    let held = since_start.journeys.customer_count();
    assert!(settled > 10_000, "{settled} settled, {held} held");
    assert!(held + settled >= 20_000 && held < 10_000, "{held}");
    assert_eq!(live.out_of_order(), (0, 0));
}

/// Past the limit the quietest settled customers are forgotten, and said.
#[test]
fn past_the_limit_the_quietest_are_forgotten_and_counted() {
    let arrivals = returning_customers(20_000, 12);
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    live.remember_at_most(2_000);
    for chunk in arrivals.chunks(5_000) {
        live.ingest(&batch_of(chunk));
    }
    let (settled, forgotten) = live.settled_customers();
    assert!(settled <= 2_000, "{settled}");
    assert!(forgotten > 0);
    // A customer forgotten who came back counts again: never fewer.
    let file = as_file(&arrivals, config(Some(1800), false));
    let live_customers = live.since_start(false).journeys.customers;
    assert!(live_customers >= file.customers);
    assert!(live_customers <= file.customers + forgotten);
}

/// Events later than the lateness are still counted, once each; the
/// journeys stay whole (every session starts and ends).
#[test]
fn events_beyond_the_lateness_are_applied_and_counted() {
    let rows = [
        ("a", "home", 0),
        ("a", "search", 60),
        ("a", "cart", 120),
        // 100 s late: search is applied by then, cart still waits.
        ("a", "product", 20),
        ("b", "home", 0),
    ];
    let arrivals: Vec<Arrival> = rows
        .iter()
        .map(|(c, e, s)| Arrival {
            customer: c.to_string(),
            event: e,
            time_us: s * 1_000_000,
            id: None,
            session: None,
        })
        .collect();
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    live.ingest(&batch_of(&arrivals));
    assert_eq!(live.out_of_order(), (1, 1));
    let j = live.since_start(true).journeys;
    assert_eq!((j.events, j.customers, j.sessions), (5, 2, 2));
    let late = j
        .graph
        .edge("search", "product")
        .expect("applied after search");
    assert_eq!(late.transitions, 1);
    // No time passes on the way to a late event.
    assert_eq!(late.time.summary().unwrap().max, 0.0);
    assert_eq!(j.graph.edge("product", "cart").unwrap().transitions, 1);
    let start = j.graph.node("START").unwrap();
    let end = j.graph.node("END").unwrap();
    assert_eq!((start.events, end.events), (2, 2));
}

/// A window is the journeys of just the events inside it, and events older
/// than the kept past are forgotten while the totals since start stay whole.
#[test]
fn the_recent_past_is_kept_and_the_rest_forgotten() {
    let arrivals: Vec<Arrival> = (0..600)
        .map(|i| Arrival {
            customer: format!("c{}", i % 13),
            event: ["home", "search", "cart"][i % 3],
            // Ten hours, one event a minute.
            time_us: i as i64 * 60 * 1_000_000,
            id: Some(format!("e{i}")),
            session: None,
        })
        .collect();
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    for chunk in arrivals.chunks(50) {
        live.ingest(&batch_of(chunk));
    }
    // At most the last hour and a twelfth of it is kept: 66 minutes.
    assert!(live.recent_len() <= 66, "{} kept", live.recent_len());
    assert_same(
        &live.since_start(true).journeys,
        &as_file(&arrivals, config(Some(1800), false)),
    );

    let newest = arrivals.last().unwrap().time_us;
    let from = newest - 15 * 60 * 1_000_000;
    let window = live.recent(Some(from)).build();
    assert_same(&window, &file_since(&arrivals, from));
}

/// When the kept hour would not fit in memory, less time is kept: the
/// totals since start stay exact and a window covers exactly the events of
/// the time that is kept, which the engine reports.
#[test]
fn at_high_rates_less_time_is_kept_and_said() {
    let arrivals: Vec<Arrival> = (0..20_000)
        .map(|i| Arrival {
            customer: format!("c{}", i % 97),
            event: ["home", "search", "cart", "buy"][i % 4],
            // Five events a second for a bit more than an hour.
            time_us: i as i64 * 200_000,
            id: Some(format!("e{i}")),
            session: None,
        })
        .collect();
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    live.keep_at_most_events(5_000);
    for chunk in arrivals.chunks(500) {
        live.ingest(&batch_of(chunk));
    }
    assert!(live.recent_len() <= 5_000, "{} kept", live.recent_len());
    let kept_s = live.kept_s();
    assert!(kept_s > 60.0 && kept_s < 1_000.0, "{kept_s} s kept");

    assert_same(
        &live.since_start(true).journeys,
        &as_file(&arrivals, config(Some(1800), false)),
    );

    // "The last hour" covers only what is kept.
    let newest = arrivals.last().unwrap().time_us;
    let hour = live.recent(Some(newest - 3_600_000_000)).build();
    let kept_from = newest - (kept_s * 1e6).round() as i64;
    assert_same(&hour, &file_since(&arrivals, kept_from));
}

/// A saved engine goes on only with the session rules and lateness it
/// counted with.
#[test]
fn a_saved_engine_refuses_other_session_rules() {
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    live.ingest(&batch_of(&[Arrival {
        customer: "a".into(),
        event: "home",
        time_us: 0,
        id: None,
        session: None,
    }]));
    let saved = save(&live);
    for other in [config(Some(600), false), config(Some(1800), true)] {
        let refused = restore(&saved, other, LATENESS_US).unwrap_err();
        assert!(
            refused.to_string().contains("session timeout of 30m"),
            "{refused}"
        );
    }
    let other_lateness = restore(&saved, config(Some(1800), false), 1);
    assert!(
        other_lateness
            .unwrap_err()
            .to_string()
            .contains("allowed lateness of 10s")
    );
    assert!(restore(&saved, config(Some(1800), false), LATENESS_US).is_ok());
}

/// One event dated decades ahead does not push every other event out of
/// the recent past.
#[test]
fn a_far_future_event_does_not_empty_the_recent_past() {
    let mut arrivals: Vec<Arrival> = (0..100)
        .map(|i| Arrival {
            customer: format!("c{}", i % 7),
            event: ["home", "search"][i % 2],
            time_us: 1_790_000_000_000_000 + i as i64 * 1_000_000,
            id: None,
            session: None,
        })
        .collect();
    arrivals.insert(
        50,
        Arrival {
            customer: "typo".into(),
            event: "home",
            // 2099.
            time_us: 4_070_000_000_000_000,
            id: None,
            session: None,
        },
    );
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    live.ingest(&batch_of(&arrivals));
    assert_eq!(live.watermark_us(), Some(arrivals[100].time_us));
    assert_eq!(live.recent(None).build().events, 101);
}

/// Three events of a customer within one microsecond, a nanosecond apart,
/// arriving latest first in three batches (a save and restore between):
/// the live engine puts them in time order, as the file engine and the
/// recent past do.
#[test]
fn arrivals_a_nanosecond_apart_are_put_in_time_order() {
    let at_us = 1_795_774_500_000_000;
    let one = |event: &str, sub_us_ns: u16| {
        let mut batch = EventBatch::default();
        let new = NewEvent {
            customer: "c1",
            event,
            time_us: at_us,
            event_id: None,
            session_id: None,
        };
        batch.push_with_sub_us(new, sub_us_ns, [] as [(&str, &str); 0]);
        batch
    };
    let arrivals = [one("cart", 3), one("home", 1), one("search", 2)];
    let mut live = LiveEngine::new(config(Some(1800), false), LATENESS_US);
    let mut file = JourneyBuilder::new(config(Some(1800), false));
    for (i, batch) in arrivals.iter().enumerate() {
        if i == 2 {
            let saved = save(&live);
            live = restore(&saved, config(Some(1800), false), LATENESS_US).unwrap();
        }
        live.ingest(batch);
        file.ingest(batch);
    }
    let file = file.finish();
    let since_start = live.since_start(true).journeys;
    let recent = live.recent(None).build();
    for (what, j) in [("live", &since_start), ("recent", &recent), ("file", &file)] {
        for (from, to) in [("START", "home"), ("home", "search"), ("search", "cart")] {
            let made = j.graph.edge(from, to).map(|e| e.transitions);
            assert_eq!(made, Some(1), "{what}: {from} → {to}");
        }
        assert_eq!(j.graph.edge_reports().len(), 4, "{what}");
    }
}
