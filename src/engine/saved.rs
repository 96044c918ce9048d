//! Saving and restoring a [`JourneyBuilder`], so that a live view can stop
//! and resume without reading its stream again. The format is a compact
//! little-endian binary: names, staged events, counts and the rejected
//! records (as JSON). Touchpoint rules and the session timeout are not
//! saved: they come from the settings the builder is restored with.

use std::io::{self, Read, Write};

use super::batch::{EARLIEST_US, LATEST_US, is_event_time};
use super::binary::{
    LIMIT, get_bytes, get_i64, get_len, get_u32, get_u64, put_bytes, put_i64, put_u64,
};
use super::event::{EngineConfig, Event};
use super::ingest::JourneyBuilder;
use super::intern::Interner;
use super::rejected::RejectedLog;
use super::staging::{Bucket, Staged};

const MAGIC: &[u8; 8] = b"JSCOPE02";

/// States written before the live engine kept running totals.
const OLD_MAGIC: &[u8; 8] = b"JSCOPE01";

fn put_names(w: &mut impl Write, names: &Interner) -> io::Result<()> {
    put_u64(w, names.len() as u64)?;
    for name in names.iter() {
        put_bytes(w, name.as_bytes())?;
    }
    Ok(())
}

fn get_names(r: &mut impl Read) -> io::Result<Interner> {
    let n = get_len(r, LIMIT)?;
    let mut names = Interner::default();
    for _ in 0..n {
        let bytes = get_bytes(r)?;
        let name =
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        names.intern(&name);
    }
    Ok(names)
}

impl JourneyBuilder {
    /// Writes everything ingested so far.
    pub fn save(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(MAGIC)?;
        put_names(w, &self.customers)?;
        put_names(w, &self.touchpoints)?;
        w.write_all(&[self.with_keys as u8])?;
        put_u64(w, self.buckets.len() as u64)?;
        for bucket in &self.buckets {
            put_u64(w, bucket.len as u64)?;
            for s in bucket.chunks.iter().flatten() {
                put_i64(w, s.event.time_us)?;
                w.write_all(&s.event.customer.to_le_bytes())?;
                w.write_all(&s.event.touchpoint.to_le_bytes())?;
                put_u64(w, s.id_hash)?;
            }
            if self.with_keys {
                for key in &bucket.keys {
                    w.write_all(&key.to_le_bytes())?;
                }
            }
        }
        put_u64(w, self.excluded)?;
        let rejected = serde_json::to_vec(&self.rejected).map_err(io::Error::other)?;
        put_bytes(w, &rejected)?;
        put_u64(w, self.newest.len() as u64)?;
        for t in &self.newest {
            put_i64(w, *t)?;
        }
        put_u64(w, self.reordered)?;
        put_u64(w, self.late)?;
        put_i64(w, self.lateness_us)?;
        put_i64(w, self.watermark_us.unwrap_or(i64::MIN))?;
        Ok(())
    }

    /// Reads a builder written by [`JourneyBuilder::save`], to go on with
    /// `config` (the touchpoint rules must be those it was saved with).
    pub fn restore(r: &mut impl Read, config: EngineConfig) -> io::Result<JourneyBuilder> {
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic == OLD_MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the state was saved by an older version; remove the file to start over",
            ));
        }
        if &magic != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a saved Journeyscope state",
            ));
        }
        let mut builder = JourneyBuilder::new(config);
        builder.customers = get_names(r)?;
        builder.touchpoints = get_names(r)?;
        let mut flag = [0u8; 1];
        r.read_exact(&mut flag)?;
        builder.with_keys = flag[0] != 0;
        let buckets = get_len(r, LIMIT)?;
        for _ in 0..buckets {
            let len = get_len(r, LIMIT)?;
            let mut bucket = Bucket::default();
            let mut chunk = Vec::new();
            for _ in 0..len {
                let time_us = get_i64(r)?;
                let customer = get_u32(r)?;
                let touchpoint = get_u32(r)?;
                let id_hash = get_u64(r)?;
                if customer as usize >= builder.customers.len()
                    || touchpoint as usize >= builder.touchpoints.len()
                    || !is_event_time(time_us)
                {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the state file is damaged (an event of an unknown customer or \
                         touchpoint); remove it to start over",
                    ));
                }
                chunk.push(Staged {
                    event: Event {
                        time_us,
                        customer,
                        touchpoint,
                    },
                    id_hash,
                });
            }
            if builder.with_keys {
                for _ in 0..len {
                    bucket.keys.push(get_u32(r)?);
                }
            }
            bucket.len = len;
            builder.staged += len;
            bucket.chunks.push(chunk);
            builder.buckets.push(bucket);
        }
        builder.excluded = get_u64(r)?;
        let rejected: RejectedLog = serde_json::from_slice(&get_bytes(r)?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        builder.rejected = rejected;
        let newest = get_len(r, LIMIT)?;
        for _ in 0..newest {
            builder.newest.push(get_i64(r)?);
        }
        builder.reordered = get_u64(r)?;
        builder.late = get_u64(r)?;
        builder.lateness_us = get_i64(r)?;
        let watermark = get_i64(r)?;
        builder.watermark_us = (watermark != i64::MIN).then_some(watermark);
        let times_ok = builder
            .newest
            .iter()
            .chain(builder.watermark_us.iter())
            .all(|t| *t == i64::MIN || is_event_time(*t));
        let lateness_ok = (0..=LATEST_US - EARLIEST_US).contains(&builder.lateness_us);
        let plausible = |n: u64| n <= 1 << 48;
        let counts_ok = [
            builder.excluded,
            builder.reordered,
            builder.late,
            builder.rejected.total,
        ]
        .into_iter()
        .chain(builder.rejected.by_reason.values().copied())
        .all(plausible);
        if !times_ok || !lateness_ok || !counts_ok || builder.newest.len() > builder.customers.len()
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the state file is damaged (a time outside the years 1 to 9999); remove it \
                 to start over",
            ));
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EventBatch, NewEvent, RejectReason, Rejected};

    #[test]
    fn a_restored_builder_goes_on_as_if_never_stopped() {
        let rows: Vec<(String, &str, i64, Option<String>)> = (0..400)
            .map(|i| {
                (
                    format!("c{}", i % 37),
                    ["home", "search", "cart", "purchase"][i % 4],
                    (i as i64 * 7919 % 3600) * 1_000_000,
                    (i % 5 != 0).then(|| format!("e{}", i % 370)),
                )
            })
            .collect();
        let batch = |rows: &[(String, &str, i64, Option<String>)]| {
            let mut b = EventBatch::with_capacity(rows.len());
            for (customer, event, time_us, id) in rows {
                b.push(
                    NewEvent {
                        customer,
                        event,
                        time_us: *time_us,
                        event_id: id.as_deref(),
                        session_id: None,
                    },
                    Vec::new(),
                );
            }
            b.reject(Rejected::new(
                "line 3",
                RejectReason::BadTimestamp,
                "x",
                "y",
            ));
            b
        };
        let (first, second) = rows.split_at(250);
        let mut whole = JourneyBuilder::new(EngineConfig::default());
        whole.ingest_each(&batch(first), |_, _, _| true);
        whole.ingest_each(&batch(second), |_, _, _| true);

        let mut stopped = JourneyBuilder::new(EngineConfig::default());
        stopped.ingest_each(&batch(first), |_, _, _| true);
        let mut saved = Vec::new();
        stopped.save(&mut saved).unwrap();
        let mut resumed =
            JourneyBuilder::restore(&mut saved.as_slice(), EngineConfig::default()).unwrap();
        resumed.ingest_each(&batch(second), |_, _, _| true);

        assert_eq!(resumed.out_of_order(), whole.out_of_order());
        assert_eq!(resumed.watermark_us(), whole.watermark_us());
        let (a, b) = (resumed.finish(), whole.finish());
        assert_eq!(a.graph.node_reports(), b.graph.node_reports());
        assert_eq!(a.graph.edge_reports(), b.graph.edge_reports());
        assert_eq!(
            (a.events, a.duplicates, a.rejected.total),
            (b.events, b.duplicates, b.rejected.total)
        );
        assert!(b.duplicates > 0);

        assert!(JourneyBuilder::restore(&mut &saved[..40], EngineConfig::default()).is_err());
        assert!(
            JourneyBuilder::restore(&mut &b"not a state"[..], EngineConfig::default()).is_err()
        );
    }
}
