//! Triggers on a stream, through the library: the live engine fed the
//! generated week in arrival order (late lines and duplicates included,
//! batches of any size) fires exactly the reference's actions; so does one
//! engine per partition (as workers hold them), and an engine saved and
//! restored part way, which fires nothing twice and loses nothing.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::triggers_reference::{RULES, Rng, expected, week};
use journeyscope::engine::{EngineConfig, EventBatch, LiveEngine, NewEvent, SavedEngine};
use serde_json::Value;

const LATENESS_US: i64 = 5 * 60 * 1_000_000;

fn config() -> EngineConfig {
    EngineConfig {
        kept_properties: vec!["channel".into()],
        ..EngineConfig::default()
    }
}

fn engine() -> LiveEngine {
    let rules = journeyscope::settings::rules_file(RULES, Default::default()).unwrap();
    let mut engine = LiveEngine::new(config(), LATENESS_US);
    engine.set_triggers(rules.triggers).unwrap();
    engine.triggers_mut().hand_back(true);
    engine
}

/// The accepted lines as (partition, customer, event, time, id, channel),
/// in arrival order; the partition is the customer's.
fn arrivals(lines: &[String]) -> Vec<(i32, String, String, i64, String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let customer = v["customer_id"]
                .as_str()
                .filter(|c| !c.is_empty())?
                .to_owned();
            let event = v["event"].as_str()?.to_owned();
            let time = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?).ok()?;
            let partition = (journeyscope::engine::intern::name_hash(&customer) % 4) as i32;
            Some((
                partition,
                customer,
                event,
                time.timestamp_micros(),
                v["event_id"].as_str().unwrap_or("").to_owned(),
                v["channel"].as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

/// Feeds `arrivals` to `engine` in batches of random sizes; the ids fired.
fn feed(
    engine: &mut LiveEngine,
    arrivals: &[(i32, String, String, i64, String, String)],
    rng: &mut Rng,
) -> Vec<String> {
    let mut fired = Vec::new();
    let mut at = 0;
    while at < arrivals.len() {
        let n = (1 + rng.below(3000) as usize).min(arrivals.len() - at);
        let mut batch = EventBatch::default();
        for (partition, customer, event, time_us, id, channel) in &arrivals[at..at + n] {
            batch.from_partition(*partition);
            batch.push(
                NewEvent {
                    customer,
                    event,
                    time_us: *time_us,
                    event_id: Some(id),
                    session_id: None,
                },
                [("channel", channel.as_str())],
            );
        }
        engine.ingest(&batch);
        fired.extend(engine.triggers_mut().take_fired().into_iter().map(|a| a.id));
        at += n;
    }
    fired
}

/// Asserts `got` holds exactly the ids of `want`, each once.
fn assert_ids(got: Vec<String>, want: &BTreeMap<String, (String, String, i64)>, what: &str) {
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&String> = got.iter().filter(|id| !seen.insert(*id)).collect();
    let missing: Vec<_> = want
        .iter()
        .filter(|(k, _)| !seen.contains(k))
        .take(5)
        .collect();
    let extra: Vec<_> = seen
        .iter()
        .filter(|k| !want.contains_key(**k))
        .take(5)
        .collect();
    assert!(
        twice.is_empty() && missing.is_empty() && extra.is_empty(),
        "{what}: {} fired twice, missing {missing:?}, extra {extra:?} ({} fired, {} wanted)",
        twice.len(),
        seen.len(),
        want.len()
    );
}

#[test]
fn one_engine_per_partition_or_restored_part_way_fires_what_the_events_say() {
    let (lines, events) = week(1500, 45, true);
    let want = expected(&events);
    let arrivals = arrivals(&lines);
    let mut rng = Rng::new(3);

    let whole = feed(&mut engine(), &arrivals, &mut rng);
    assert_ids(whole, &want, "one engine");

    let mut by_partition: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    for a in &arrivals {
        by_partition.entry(a.0).or_default().push(a.clone());
    }
    assert_eq!(by_partition.len(), 4);
    let mut apart = Vec::new();
    for part in by_partition.values() {
        apart.extend(feed(&mut engine(), part, &mut rng));
    }
    assert_ids(apart, &want, "an engine per partition");

    for cut in [
        arrivals.len() / 3,
        arrivals.len() / 2,
        arrivals.len() * 4 / 5,
    ] {
        let mut first = engine();
        let mut fired = feed(&mut first, &arrivals[..cut], &mut rng);
        let bytes = postcard::to_allocvec(&first.saved()).unwrap();
        let saved: SavedEngine = postcard::from_bytes(&bytes).unwrap();
        let mut again = LiveEngine::restore(saved, config(), LATENESS_US).unwrap();
        let rules = journeyscope::settings::rules_file(RULES, Default::default()).unwrap();
        again.set_triggers(rules.triggers).unwrap();
        again.triggers_mut().hand_back(true);
        fired.extend(feed(&mut again, &arrivals[cut..], &mut rng));
        assert_ids(fired, &want, &format!("restored after {cut} arrivals"));
    }
}

#[test]
fn rules_changed_part_way_keep_what_the_others_fire() {
    let (lines, events) = week(1500, 46, true);
    let want = expected(&events);
    let arrivals = arrivals(&lines);
    let mut rng = Rng::new(5);
    let all = journeyscope::settings::rules_file(RULES, Default::default())
        .unwrap()
        .triggers;
    // Without the 3-step sequence at first; then with it added first (every
    // rule's place and every watched name's bit moves) and the rest
    // reversed.
    let first: Vec<_> = all
        .iter()
        .filter(|r| r.name != "browse to cart")
        .cloned()
        .collect();
    let mut then: Vec<_> = all.iter().rev().cloned().collect();
    let added = then
        .iter()
        .position(|r| r.name == "browse to cart")
        .unwrap();
    let rule = then.remove(added);
    then.insert(0, rule);
    let mut engine = LiveEngine::new(config(), LATENESS_US);
    engine.set_triggers(first).unwrap();
    engine.triggers_mut().hand_back(true);
    let cut = arrivals.len() / 2;
    let mut fired = feed(&mut engine, &arrivals[..cut], &mut rng);
    engine.set_triggers(then).unwrap();
    fired.extend(feed(&mut engine, &arrivals[cut..], &mut rng));
    // The rules there all along fire exactly; the one added, only what
    // begins after it was (a sequence under way then is not seen whole).
    let kept: BTreeMap<_, _> = want
        .iter()
        .filter(|(_, v)| v.0 != "browse to cart")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let added: Vec<&String> = want
        .iter()
        .filter(|(_, v)| v.0 == "browse to cart")
        .map(|(k, _)| k)
        .collect();
    let (of_added, others): (Vec<String>, Vec<String>) =
        fired.into_iter().partition(|id| added.contains(&id));
    assert_ids(others, &kept, "rules kept");
    assert!(
        of_added.len() > added.len() / 3,
        "{} of {}",
        of_added.len(),
        added.len()
    );
}
