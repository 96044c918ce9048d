//! Events as they are held between ingestion and the walk over them: in
//! buckets of customers, each a list of chunks in source order.

use super::event::Event;

/// Customers `b << BUCKET_SHIFT ..` are staged together in bucket `b`, so
/// that grouping by customer at the end is one pass per bucket.
pub(super) const BUCKET_SHIFT: u32 = 16;

/// Events are staged in chunks of this many, so that growing never copies
/// (or doubles) everything held so far.
const CHUNK_EVENTS: usize = 1 << 16;

/// The staged events of one bucket of customers, in source order.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Bucket {
    pub chunks: Vec<Vec<Staged>>,
    /// Session key per staged event; empty while no event had a session id.
    pub keys: Vec<u32>,
    /// Value ids (0: none) of the kept properties, a run of
    /// `kept_properties` per staged event; empty when none is kept.
    pub properties: Vec<u32>,
    /// Nanoseconds past each staged event's microsecond (0..=999), only to
    /// order a customer's events within a microsecond; empty while no event
    /// had any (2 bytes per event only for sources that give nanoseconds).
    pub sub_us: Vec<u16>,
    pub len: usize,
}
impl Bucket {
    /// Adds one event at the end, with its session key and nanoseconds
    /// where the bucket keeps them (None: not kept); its kept property
    /// values are the caller's to add.
    pub fn push(&mut self, staged: Staged, key: Option<u32>, sub_us: Option<u16>) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_EVENTS => chunk.push(staged),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_EVENTS);
                chunk.push(staged);
                self.chunks.push(chunk);
            }
        }
        self.keys.extend(key);
        self.sub_us.extend(sub_us);
        self.len += 1;
    }

    /// The events at or after `from_us`, with their session keys,
    /// nanoseconds and `kept` property values each; only what is kept is
    /// allocated.
    pub fn since(&self, from_us: i64, with_keys: bool, kept: usize) -> Bucket {
        self.between(from_us, i64::MAX, with_keys, kept)
    }

    /// Like [`Bucket::since`], only the events before `to_us`.
    pub fn between(&self, from_us: i64, to_us: i64, with_keys: bool, kept: usize) -> Bucket {
        let with_sub_us = !self.sub_us.is_empty();
        let mut copy = Bucket::default();
        let mut index = 0;
        for chunk in &self.chunks {
            let mut kept_events = Vec::new();
            for s in chunk {
                if (from_us..to_us).contains(&s.event.time_us) {
                    kept_events.push(*s);
                    if with_keys {
                        copy.keys.push(self.keys[index]);
                    }
                    if with_sub_us {
                        copy.sub_us.push(self.sub_us[index]);
                    }
                    if kept > 0 {
                        let at = index * kept;
                        copy.properties
                            .extend_from_slice(&self.properties[at..at + kept]);
                    }
                }
                index += 1;
            }
            if !kept_events.is_empty() {
                copy.len += kept_events.len();
                copy.chunks.push(kept_events);
            }
        }
        copy
    }
}

/// An event as staged during ingestion (24 bytes), with the hash of its
/// event id (0 = none).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Staged {
    pub event: Event,
    pub id_hash: u64,
}

/// Stable sort of one customer's events by time, nanoseconds within the
/// microsecond next (`sub_us`, empty when no event had any), source order
/// last; session keys and `kept` property values per event move along when
/// there are any.
pub(super) fn sort_by_time(
    events: &mut [Event],
    sub_us: &[u16],
    keys: &mut [u32],
    values: &mut [u32],
    kept: usize,
) {
    let at = |i: usize| (events[i].time_us, sub_us.get(i).copied().unwrap_or(0));
    if (1..events.len()).all(|i| at(i - 1) <= at(i)) {
        return;
    }
    if sub_us.is_empty() && keys.is_empty() && kept == 0 {
        events.sort_by_key(|e| e.time_us);
        return;
    }
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| at(i));
    let sorted: Vec<Event> = order.iter().map(|&i| events[i]).collect();
    events.copy_from_slice(&sorted);
    if !keys.is_empty() {
        let sorted: Vec<u32> = order.iter().map(|&i| keys[i]).collect();
        keys.copy_from_slice(&sorted);
    }
    if kept > 0 {
        let sorted: Vec<u32> = order
            .iter()
            .flat_map(|&i| values[i * kept..(i + 1) * kept].iter().copied())
            .collect();
        values.copy_from_slice(&sorted);
    }
}
