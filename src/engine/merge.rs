//! The journeys of a stream read in parts (a topic's partitions, keyed by
//! customer, each held by its own engine, as workers in a consumer group
//! hold them) put together as one: the events of each part's recent past
//! side by side under shared names, and the running totals added (counts
//! add, timing sketches merge). Sessions never cross customers, so when no
//! customer is in two parts the whole is exactly what one engine reading
//! every partition would hold; a customer found in two parts is counted
//! ([`Merged::customers_split`]).

use super::explore::busiest_first;
use super::ingest::StagedCopy;
use super::intern::Interner;
use super::live::{LiveEngine, RunningTotals, SinceStart};
use super::staging::{BUCKET_SHIFT, Bucket};

/// Several parts' staged events as one copy.
pub struct Merged {
    /// The events of every part, under the shared names.
    pub copy: StagedCopy,
    /// Customers named in more than one part (each customer's events should
    /// all be in one partition: the topic is keyed by customer).
    pub customers_split: u64,
    /// Per part: its touchpoint ids' ids in the merged copy.
    touchpoints: Vec<Vec<u32>>,
}

/// Each id of `part` as interned into `merged` (with how many names were
/// there already).
fn merge_names(merged: &mut Interner, part: &Interner) -> (Vec<u32>, u64) {
    let mut found = 0;
    let ids = part
        .iter()
        .map(|name| {
            let before = merged.len();
            let id = merged.intern(name);
            found += u64::from(merged.len() == before);
            id
        })
        .collect();
    (ids, found)
}

/// Puts the copies of the parts together (None when there are none).
pub fn merge_copies(parts: Vec<StagedCopy>) -> Option<Merged> {
    let mut parts = parts.into_iter();
    let first = parts.next()?;
    let kept = first.config.kept_properties.len();
    let mut merged = StagedCopy {
        buckets: Vec::new(),
        with_keys: false,
        with_sub_us: false,
        total: 0,
        config: first.config.clone(),
        customers: Interner::default(),
        touchpoints: Interner::default(),
        values: vec![Interner::default(); kept],
        excluded: 0,
        rejected: Default::default(),
    };
    let mut touchpoints = Vec::new();
    let mut customers_split = 0;
    for part in std::iter::once(first).chain(parts) {
        merged.with_keys |= part.with_keys;
        merged.with_sub_us |= part.with_sub_us;
        let (customer_ids, split) = merge_names(&mut merged.customers, &part.customers);
        customers_split += split;
        let (touchpoint_ids, _) = merge_names(&mut merged.touchpoints, &part.touchpoints);
        let value_ids: Vec<Vec<u32>> = (0..kept)
            .map(|k| match part.values.get(k) {
                Some(values) => merge_names(&mut merged.values[k], values).0,
                None => Vec::new(),
            })
            .collect();
        let ids = Ids {
            customers: &customer_ids,
            touchpoints: &touchpoint_ids,
            values: &value_ids,
        };
        for bucket in &part.buckets {
            ids.move_events(bucket, &part, &mut merged);
        }
        merged.excluded += part.excluded;
        merged.rejected.merge(&part.rejected);
        touchpoints.push(touchpoint_ids);
    }
    Some(Merged {
        copy: merged,
        customers_split,
        touchpoints,
    })
}

/// One part's ids in the merged copy.
struct Ids<'a> {
    customers: &'a [u32],
    touchpoints: &'a [u32],
    /// Per kept property: each value id's (0, none, stays 0).
    values: &'a [Vec<u32>],
}

impl Ids<'_> {
    /// Stages the events of one bucket of `part` in `merged`, renamed.
    fn move_events(&self, bucket: &Bucket, part: &StagedCopy, merged: &mut StagedCopy) {
        let kept = self.values.len();
        let mut index = 0;
        for chunk in &bucket.chunks {
            for staged in chunk {
                let mut moved = *staged;
                moved.event.customer = self.customers[staged.event.customer as usize];
                moved.event.touchpoint = self.touchpoints[staged.event.touchpoint as usize];
                let b = (moved.event.customer >> BUCKET_SHIFT) as usize;
                if merged.buckets.len() <= b {
                    merged.buckets.resize_with(b + 1, Bucket::default);
                }
                let to = &mut merged.buckets[b];
                let key = part.with_keys.then(|| bucket.keys[index]);
                let sub_us = part.with_sub_us.then(|| bucket.sub_us[index]);
                // Every event of the merged copy has a key (and nanoseconds)
                // when any part's has.
                to.push(
                    moved,
                    merged.with_keys.then(|| key.unwrap_or(0)),
                    merged.with_sub_us.then(|| sub_us.unwrap_or(0)),
                );
                for (k, ids) in self.values.iter().enumerate() {
                    let value = bucket.properties[index * kept + k];
                    to.properties.push(match value {
                        0 => 0,
                        v => ids[v as usize],
                    });
                }
                merged.total += 1;
                index += 1;
            }
        }
    }
}

impl Merged {
    /// The running totals of the parts (in the order their copies were
    /// given) added up, over the merged events.
    pub fn since_start(self, totals: Vec<RunningTotals>) -> SinceStart {
        let mut sum = RunningTotals {
            graph: super::JourneyGraph::new(),
            events: 0,
            customers: 0,
            sessions: 0,
            duplicates: 0,
            time_range_us: None,
            active: Vec::new(),
        };
        let mut open_at = vec![0u64; self.copy.touchpoints.len()];
        for (part, ids) in totals.into_iter().zip(&self.touchpoints) {
            sum.graph.merge(&part.graph);
            sum.events += part.events;
            sum.customers += part.customers;
            sum.sessions += part.sessions;
            sum.duplicates += part.duplicates;
            sum.time_range_us = match (sum.time_range_us, part.time_range_us) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (one, other) => one.or(other),
            };
            for (touchpoint, sessions) in part.active {
                if let Some(&id) = ids.get(touchpoint as usize) {
                    open_at[id as usize] += sessions;
                }
            }
        }
        sum.active = busiest_first(&open_at);
        sum.over(self.copy.build())
    }
}

/// The journeys since start of engines holding a stream's parts, with the
/// customers and events of each part's last hour when `with_events`; and
/// how many customers were found in more than one part.
pub fn merged_since_start(engines: &[&LiveEngine], with_events: bool) -> (SinceStart, u64) {
    let copies = engines
        .iter()
        .map(|e| match with_events {
            true => e.recent(None),
            false => e.without_events(),
        })
        .collect();
    let totals = engines.iter().map(|e| e.running_totals()).collect();
    match merge_copies(copies) {
        Some(merged) => {
            let split = merged.customers_split;
            (merged.since_start(totals), split)
        }
        None => (empty_since_start(), 0),
    }
}

/// Nothing at all: no part has reported yet.
fn empty_since_start() -> SinceStart {
    let engine = LiveEngine::new(super::EngineConfig::default(), 0);
    engine.since_start(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineConfig, EventBatch, batch::NewEvent};

    /// A batch of (customer, touchpoint, minute, event id) events.
    fn batch(events: &[&(&str, &str, i64, &str)]) -> EventBatch {
        let mut batch = EventBatch::with_capacity(events.len());
        for (customer, event, minute, id) in events {
            let event = NewEvent {
                customer,
                event,
                time_us: 1_700_000_000_000_000 + minute * 60_000_000,
                event_id: Some(id),
                session_id: None,
            };
            batch.push(event, Vec::new());
        }
        batch
    }

    #[test]
    fn parts_of_disjoint_customers_merge_into_the_whole() {
        let config = EngineConfig {
            session_timeout_us: Some(30 * 60_000_000),
            ..EngineConfig::default()
        };
        let events = [
            ("a", "home", 0, "1"),
            ("b", "home", 1, "2"),
            ("a", "cart", 2, "3"),
            ("c", "search", 3, "4"),
            ("b", "cart", 4, "5"),
            ("a", "buy", 5, "6"),
            ("a", "buy", 5, "6"),
            ("c", "home", 90, "7"),
            ("b", "buy", 95, "8"),
        ];
        let mut whole = LiveEngine::new(config.clone(), 60_000_000);
        whole.ingest(&batch(&events.iter().collect::<Vec<_>>()));
        let mut parts = [
            LiveEngine::new(config.clone(), 60_000_000),
            LiveEngine::new(config, 60_000_000),
        ];
        let (odd, even): (Vec<_>, Vec<_>) = events.iter().partition(|e| e.0 == "b");
        parts[0].ingest(&batch(&odd));
        parts[1].ingest(&batch(&even));
        for with_events in [false, true] {
            let want = whole.since_start(with_events).journeys;
            let (got, split) = merged_since_start(&[&parts[0], &parts[1]], with_events);
            assert_eq!(split, 0);
            let got = got.journeys;
            assert_eq!(got.events, want.events);
            assert_eq!(got.sessions, want.sessions);
            assert_eq!(got.customers, want.customers);
            assert_eq!(got.duplicates, want.duplicates);
            assert_eq!(got.time_range_us, want.time_range_us);
            assert_eq!(got.graph.edge_reports(), want.graph.edge_reports());
            assert_eq!(got.graph.node_reports(), want.graph.node_reports());
        }
        // The recent events, walked again, give the same journeys too.
        let copies = vec![parts[0].recent(None), parts[1].recent(None)];
        let walked = merge_copies(copies).expect("two parts").copy.build();
        let want = whole.recent(None).build();
        assert_eq!(walked.graph.edge_reports(), want.graph.edge_reports());
        assert_eq!(walked.events, want.events);
        // A customer in both parts is counted.
        let (_, split) = merged_since_start(&[&parts[0], &parts[0]], false);
        assert_eq!(split, 1);
    }
}
