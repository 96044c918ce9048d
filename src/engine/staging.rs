//! Events as they are held between ingestion and the walk over them: in
//! buckets of customers, each a list of chunks in source order.

use super::event::Event;

/// Customers `b << BUCKET_SHIFT ..` are staged together in bucket `b`, so
/// that grouping by customer at the end is one pass per bucket.
pub(super) const BUCKET_SHIFT: u32 = 16;

/// The staged events of one bucket of customers, in source order.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Bucket {
    pub chunks: Vec<Vec<Staged>>,
    /// Session key per staged event; empty while no event had a session id.
    pub keys: Vec<u32>,
    /// Value ids (0: none) of the kept properties, a run of
    /// `kept_properties` per staged event; empty when none is kept.
    pub properties: Vec<u32>,
    pub len: usize,
}
impl Bucket {
    /// The events at or after `from_us`, with their session keys and
    /// `kept` property values each; only what is kept is allocated.
    pub fn since(&self, from_us: i64, with_keys: bool, kept: usize) -> Bucket {
        self.between(from_us, i64::MAX, with_keys, kept)
    }

    /// Like [`Bucket::since`], only the events before `to_us`.
    pub fn between(&self, from_us: i64, to_us: i64, with_keys: bool, kept: usize) -> Bucket {
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
