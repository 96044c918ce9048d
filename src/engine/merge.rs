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
use super::kept::KeptEvents;
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
    let parts: Vec<StagedCopy> = std::iter::once(first).chain(parts).collect();
    // Every event gets a key (and nanoseconds) when any part's has, so
    // both are known before any event moves.
    merged.with_keys = parts.iter().any(|p| p.with_keys);
    merged.with_sub_us = parts.iter().any(|p| p.with_sub_us);
    let mut touchpoints = Vec::new();
    let mut customers_split = 0;
    for part in parts {
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
    /// Per kept property: each value's id among the merged values (a
    /// staged value id is one more: 0 is no value).
    values: &'a [Vec<u32>],
}

impl Ids<'_> {
    /// Stages the events of one bucket of `part` in `merged`, renamed.
    fn move_events(&self, bucket: &Bucket, part: &StagedCopy, merged: &mut StagedCopy) {
        let kept = self.values.len();
        for (index, staged) in bucket.iter().enumerate() {
            let mut moved = staged;
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
            // Value ids are the interner's plus one (0: no value).
            for (k, ids) in self.values.iter().enumerate() {
                let value = bucket.properties.get(index * kept + k);
                to.properties.push(match value {
                    0 => 0,
                    v => ids[v as usize - 1] + 1,
                });
            }
            merged.total += 1;
        }
    }
}

impl Merged {
    /// The running totals of the parts (in the order their copies were
    /// given) added up, over the merged events.
    pub fn since_start(self, totals: Vec<RunningTotals>) -> SinceStart {
        let sum = sum_totals(totals, &self.touchpoints, self.copy.touchpoints.len());
        sum.over(self.copy.build())
    }
}

/// The parts' running totals added up; `ids` maps each part's touchpoint
/// ids to the merged ones (of `touchpoints` names).
fn sum_totals(totals: Vec<RunningTotals>, ids: &[Vec<u32>], touchpoints: usize) -> RunningTotals {
    let mut sum = RunningTotals {
        graph: super::JourneyGraph::new(),
        events: 0,
        customers: 0,
        sessions: 0,
        duplicates: 0,
        time_range_us: None,
        active: Vec::new(),
    };
    let mut open_at = vec![0u64; touchpoints];
    for (part, ids) in totals.into_iter().zip(ids) {
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
    sum
}

/// Customers held by more than one of `engines` (each should hold its own
/// customers: a topic keyed by customer keeps each in one partition).
pub fn customers_in_several<'a>(engines: impl IntoIterator<Item = &'a LiveEngine>) -> u64 {
    let mut customers = Interner::default();
    engines
        .into_iter()
        .map(|e| merge_names(&mut customers, e.customer_names()).1)
        .sum()
}

/// Engines that each hold a part of one stream (customers apart), read as
/// one stream: every copy is the parts' copies put together, every total
/// the parts' added up.
#[derive(Default)]
pub struct MergedEngine {
    /// The parts by name, in name order.
    parts: Vec<(String, LiveEngine)>,
    /// Per part: its touchpoint ids' ids among the merged names.
    touchpoint_ids: Vec<Vec<u32>>,
    touchpoints: usize,
    customers_split: u64,
    /// Bumped each time parts change (customer ids change with them).
    numbering: u64,
}

impl MergedEngine {
    /// Puts in the parts given (by name), each replacing the part of its
    /// name.
    pub fn insert(&mut self, parts: impl IntoIterator<Item = (String, LiveEngine)>) {
        for (name, engine) in parts {
            match self.parts.binary_search_by(|(n, _)| n.cmp(&name)) {
                Ok(k) => self.parts[k].1 = engine,
                Err(k) => self.parts.insert(k, (name, engine)),
            }
        }
        let mut touchpoints = Interner::default();
        self.touchpoint_ids.clear();
        for (_, part) in &self.parts {
            let ids = merge_names(&mut touchpoints, part.touchpoint_names()).0;
            self.touchpoint_ids.push(ids);
        }
        self.customers_split = customers_in_several(self.engines());
        self.touchpoints = touchpoints.len();
        self.numbering += 1;
    }

    /// Bumped each time the parts change: the merged customer ids change
    /// with them, and a customer picked before is found again by name.
    pub fn numbering(&self) -> u64 {
        self.numbering
    }

    /// The parts, by name.
    pub fn parts(&self) -> impl Iterator<Item = (&str, &LiveEngine)> {
        self.parts.iter().map(|(n, e)| (n.as_str(), e))
    }

    fn engines(&self) -> impl Iterator<Item = &LiveEngine> {
        self.parts.iter().map(|(_, e)| e)
    }

    /// Customers held by more than one part.
    pub fn customers_split(&self) -> u64 {
        self.customers_split
    }

    /// Events taken in, duplicates included.
    pub fn taken(&self) -> u64 {
        self.engines().map(LiveEngine::taken).sum()
    }

    /// Duplicates dropped since start.
    pub fn duplicates(&self) -> u64 {
        self.engines().map(LiveEngine::duplicates).sum()
    }

    /// Arrivals out of order, and those of them beyond the lateness.
    pub fn out_of_order(&self) -> (u64, u64) {
        self.engines().fold((0, 0), |(a, b), p| {
            let (c, d) = p.out_of_order();
            (a + c, b + d)
        })
    }

    /// Settled customers, and those forgotten past the limit.
    pub fn settled_customers(&self) -> (usize, u64) {
        self.engines().fold((0, 0), |(a, b), p| {
            let (c, d) = p.settled_customers();
            (a + c, b + d)
        })
    }

    /// The journeys since start, with the customers and events of the last
    /// hour when `with_events`.
    pub fn since_start(&self, with_events: bool) -> SinceStart {
        let base = match with_events {
            true => self.recent(None),
            false => self.without_events(),
        };
        self.running_totals().over(base.build())
    }

    fn merged(&self, copy: impl Fn(&LiveEngine) -> StagedCopy) -> StagedCopy {
        match merge_copies(self.engines().map(copy).collect()) {
            Some(merged) => merged.copy,
            None => LiveEngine::new(super::EngineConfig::default(), 0).without_events(),
        }
    }
}

impl KeptEvents for MergedEngine {
    fn watermark_us(&self) -> Option<i64> {
        self.engines().filter_map(LiveEngine::watermark_us).max()
    }
    fn lateness_us(&self) -> i64 {
        self.engines()
            .map(LiveEngine::lateness_us)
            .max()
            .unwrap_or(0)
    }
    /// Kept in every part from here on.
    fn kept_from_us(&self) -> i64 {
        self.engines()
            .map(LiveEngine::kept_from_us)
            .max()
            .unwrap_or(i64::MIN)
    }
    fn kept_s(&self) -> f64 {
        match self.watermark_us() {
            Some(w) => w.saturating_sub(self.kept_from_us()) as f64 / 1e6,
            None => super::live::KEEP_RECENT_US as f64 / 1e6,
        }
    }
    fn oldest_kept_us(&self) -> Option<i64> {
        self.engines().filter_map(LiveEngine::oldest_kept_us).min()
    }
    fn recent(&self, from_us: Option<i64>) -> StagedCopy {
        // One window for every part: the last hour before the newest event
        // of all, when none is given.
        let last_hour = self
            .watermark_us()
            .map(|w| w.saturating_sub(super::live::KEEP_RECENT_US));
        let from = from_us.or(last_hour);
        self.merged(|p| p.recent(from))
    }
    fn recent_between(&self, from_us: i64, to_us: i64) -> StagedCopy {
        self.merged(|p| p.recent_between(from_us, to_us))
    }
    fn without_events(&self) -> StagedCopy {
        self.merged(LiveEngine::without_events)
    }
    fn running_totals(&self) -> RunningTotals {
        let totals = self.engines().map(LiveEngine::running_totals).collect();
        sum_totals(totals, &self.touchpoint_ids, self.touchpoints)
    }
    fn rejected_between(&self, from_us: i64, to_us: i64) -> u64 {
        self.engines()
            .map(|p| p.rejected_between(from_us, to_us))
            .sum()
    }
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
            // Two channels, so that the kept property's values differ by part.
            let channel = if *minute > 40 { "app" } else { "web" };
            batch.push(event, vec![("channel", channel)]);
        }
        batch
    }

    #[test]
    fn a_part_with_session_ids_merges_with_one_without() {
        let config = EngineConfig::default();
        let with_ids = |customer: &str, ids: bool| {
            let mut batch = EventBatch::with_capacity(4);
            for (k, event) in ["home", "cart", "home", "buy"].iter().enumerate() {
                let session = format!("s{}", k / 2);
                let new = NewEvent {
                    customer,
                    event,
                    time_us: 1_700_000_000_000_000 + k as i64 * 60_000_000,
                    event_id: None,
                    session_id: ids.then_some(session.as_str()),
                };
                batch.push(new, Vec::new());
            }
            batch
        };
        let mut whole = LiveEngine::new(config.clone(), 60_000_000);
        let mut parts = [
            LiveEngine::new(config.clone(), 60_000_000),
            LiveEngine::new(config, 60_000_000),
        ];
        // The part without session ids comes first.
        parts[0].ingest(&with_ids("a", false));
        parts[1].ingest(&with_ids("b", true));
        whole.ingest(&with_ids("a", false));
        whole.ingest(&with_ids("b", true));
        let mut merged = MergedEngine::default();
        merged.insert([
            ("0".into(), parts[0].clone()),
            ("1".into(), parts[1].clone()),
        ]);
        let all = Some(i64::MIN);
        let got = merged.recent(all).build();
        let want = whole.recent(all).build();
        assert_eq!(got.sessions, want.sessions);
        assert_eq!(got.sessions, 3);
        assert_eq!(got.graph.edge_reports(), want.graph.edge_reports());
    }

    #[test]
    fn parts_of_disjoint_customers_merge_into_the_whole() {
        let config = EngineConfig {
            session_timeout_us: Some(30 * 60_000_000),
            kept_properties: vec!["channel".into()],
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
            ("c", "home", 50, "7"),
            ("b", "buy", 55, "8"),
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
            let mut merged = MergedEngine::default();
            merged.insert([
                ("a".into(), parts[0].clone()),
                ("b".into(), parts[1].clone()),
            ]);
            assert_eq!(merged.customers_split(), 0);
            let got = merged.since_start(with_events).journeys;
            assert_eq!(got.events, want.events);
            assert_eq!(got.sessions, want.sessions);
            assert_eq!(got.customers, want.customers);
            assert_eq!(got.duplicates, want.duplicates);
            assert_eq!(got.time_range_us, want.time_range_us);
            assert_eq!(got.graph.edge_reports(), want.graph.edge_reports());
            assert_eq!(got.graph.node_reports(), want.graph.node_reports());
        }
        // The recent events, walked again, give the same journeys too.
        let all = Some(i64::MIN);
        let copies = vec![parts[0].recent(all), parts[1].recent(all)];
        let walked = merge_copies(copies).expect("two parts").copy.build();
        let want = whole.recent(all).build();
        assert_eq!(walked.graph.edge_reports(), want.graph.edge_reports());
        assert_eq!(walked.events, want.events);
        // And so do their segments by a kept property.
        for text in ["channel=web", "channel=app"] {
            let segment = || Some(crate::engine::Segment::parse(text, &|_| None).unwrap());
            let got = walked.with_segment(segment()).unwrap();
            let want = want.with_segment(segment()).unwrap();
            assert!(want.sessions > 0, "{text}");
            assert_eq!(got.sessions, want.sessions, "{text}");
            assert_eq!(
                got.graph.edge_reports(),
                want.graph.edge_reports(),
                "{text}"
            );
        }
        // A customer in both parts is counted.
        let mut twice = MergedEngine::default();
        twice.insert([
            ("a".into(), parts[0].clone()),
            ("b".into(), parts[0].clone()),
        ]);
        assert_eq!(twice.customers_split(), 1);
    }
}
