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
    pub len: usize,
}
impl Bucket {
    /// The events at or after `from_us`, with their session keys; only
    /// what is kept is allocated.
    pub fn since(&self, from_us: i64, with_keys: bool) -> Bucket {
        let mut copy = Bucket::default();
        let mut index = 0;
        for chunk in &self.chunks {
            let mut kept = Vec::new();
            for s in chunk {
                if s.event.time_us >= from_us {
                    kept.push(*s);
                    if with_keys {
                        copy.keys.push(self.keys[index]);
                    }
                }
                index += 1;
            }
            if !kept.is_empty() {
                copy.len += kept.len();
                copy.chunks.push(kept);
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
