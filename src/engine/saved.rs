//! Saving and restoring a [`JourneyBuilder`], so that a live view can stop
//! and resume without reading its stream again: one derived struct
//! ([`SavedBuilder`]) that borrows the builder to save it and owns what it
//! reads back, checked before it is used (a damaged file must not make the
//! engine index past its tables). Touchpoint rules and the session timeout
//! are not saved: they come from the settings the builder is restored with.

use std::borrow::Cow;
use std::io;

use serde::{Deserialize, Serialize};

use super::batch::{EARLIEST_US, LATEST_US, is_event_time};
use super::event::EngineConfig;
use super::ingest::JourneyBuilder;
use super::intern::Interner;
use super::rejected::RejectedLog;
use super::staging::{BUCKET_SHIFT, Bucket};
use super::value_ids::ValueIds;

/// What of a builder is saved.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedBuilder<'a> {
    customers: Cow<'a, Interner>,
    touchpoints: Cow<'a, Interner>,
    kept: Cow<'a, [String]>,
    values: Cow<'a, [Interner]>,
    with_keys: bool,
    buckets: Cow<'a, [Bucket]>,
    excluded: u64,
    rejected: Cow<'a, RejectedLog>,
    newest: Cow<'a, [i64]>,
    reordered: u64,
    late: u64,
    lateness_us: i64,
    watermark_us: Option<i64>,
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the state file is damaged ({what}); remove it to start over"),
    )
}

impl SavedBuilder<'_> {
    /// The allowed lateness the events were ordered by.
    pub fn lateness_us(&self) -> i64 {
        self.lateness_us
    }
}

impl JourneyBuilder {
    /// Everything ingested so far, to save (borrowed, not copied).
    pub fn saved(&self) -> SavedBuilder<'_> {
        SavedBuilder {
            customers: Cow::Borrowed(&self.customers),
            touchpoints: Cow::Borrowed(&self.touchpoints),
            kept: Cow::Borrowed(&self.config.kept_properties),
            values: Cow::Borrowed(&self.values),
            with_keys: self.with_keys,
            buckets: Cow::Borrowed(&self.buckets),
            excluded: self.excluded,
            rejected: Cow::Borrowed(&self.rejected),
            newest: Cow::Borrowed(&self.newest),
            reordered: self.reordered,
            late: self.late,
            lateness_us: self.lateness_us,
            watermark_us: self.watermark_us,
        }
    }

    /// A builder from what [`JourneyBuilder::saved`] saved, to go on with
    /// `config` (the touchpoint rules must be those it was saved with; the
    /// kept properties may differ).
    pub fn restore(saved: SavedBuilder<'_>, config: EngineConfig) -> io::Result<JourneyBuilder> {
        let kept_before: Vec<String> = saved.kept.to_vec();
        let values_before = saved.values.into_owned();
        if values_before.len() != kept_before.len() {
            return Err(damaged("values of other properties than it keeps"));
        }
        let mut builder = JourneyBuilder::new(config);
        builder.customers = saved.customers.into_owned();
        builder.touchpoints = saved.touchpoints.into_owned();
        builder.with_keys = saved.with_keys;
        builder.buckets = saved.buckets.into_owned();
        builder.with_sub_us = builder.buckets.iter().any(|b| !b.sub_us.is_empty());
        builder.excluded = saved.excluded;
        builder.rejected = saved.rejected.into_owned();
        builder.newest = saved.newest.into_owned();
        builder.reordered = saved.reordered;
        builder.late = saved.late;
        builder.lateness_us = saved.lateness_us;
        builder.watermark_us = saved.watermark_us;
        builder.staged = builder.buckets.iter().map(|b| b.len).sum();
        builder.keep_properties_of(&kept_before, values_before)?;
        builder.check()?;
        // A state saved with buckets of another size: each event is moved
        // to its customer's bucket.
        let misplaced = builder.buckets.iter().enumerate().any(|(b, bucket)| {
            bucket
                .iter()
                .any(|s| (s.event.customer >> BUCKET_SHIFT) as usize != b)
        });
        if misplaced {
            let same: Vec<u32> = (0..builder.customers.len() as u32).collect();
            builder.renumber_customers(&same);
        }
        Ok(builder)
    }

    /// Takes over the values of the properties kept before (`kept`, with
    /// their `values`) for the properties kept now: a property kept now but
    /// not before has no value on the events read before.
    fn keep_properties_of(&mut self, kept: &[String], values: Vec<Interner>) -> io::Result<()> {
        let now = self.config.kept_properties.clone();
        let from: Vec<Option<usize>> = now
            .iter()
            .map(|name| kept.iter().position(|k| k == name))
            .collect();
        let mut values: Vec<Option<Interner>> = values.into_iter().map(Some).collect();
        self.values = from
            .iter()
            .map(|f| f.and_then(|i| values[i].take()).unwrap_or_default())
            .collect();
        if from.iter().enumerate().all(|(i, f)| *f == Some(i)) && now.len() == kept.len() {
            return Ok(());
        }
        let (before, after) = (kept.len(), now.len());
        for bucket in &mut self.buckets {
            let held = bucket.held();
            if bucket.properties.len() != held * before {
                return Err(damaged("a bucket of another size than it says"));
            }
            let mut remapped = ValueIds::with_capacity(held * after);
            for e in 0..held {
                for f in &from {
                    remapped.push(f.map_or(0, |i| bucket.properties.get(e * before + i)));
                }
            }
            bucket.properties = remapped;
        }
        Ok(())
    }

    /// Refuses a builder read from a damaged file.
    fn check(&self) -> io::Result<()> {
        let (customers, touchpoints) = (self.customers.len(), self.touchpoints.len());
        let kept = self.config.kept_properties.len();
        if self.values.len() != kept {
            return Err(damaged("values of other properties than it keeps"));
        }
        for bucket in &self.buckets {
            let held = bucket.held();
            let keys_fit = !self.with_keys || bucket.keys.len() == held;
            let sub_us_fit = match self.with_sub_us {
                true => bucket.sub_us.len() == held && bucket.sub_us.iter().all(|ns| *ns < 1000),
                false => bucket.sub_us.is_empty(),
            };
            let values_fit = bucket.properties.len() == held * kept
                && (0..held * kept)
                    .all(|i| bucket.properties.get(i) as usize <= self.values[i % kept].len());
            if held != bucket.len || !keys_fit || !sub_us_fit || !values_fit {
                return Err(damaged("a bucket of another size than it says"));
            }
            let events_fit = bucket.iter().all(|s| {
                (s.event.customer as usize) < customers
                    && (s.event.touchpoint as usize) < touchpoints
                    && is_event_time(s.event.time_us)
            });
            if !events_fit {
                return Err(damaged("an event of an unknown customer or touchpoint"));
            }
        }
        let times_ok = self
            .newest
            .iter()
            .chain(self.watermark_us.iter())
            .all(|t| *t == i64::MIN || is_event_time(*t));
        let lateness_ok = (0..=LATEST_US - EARLIEST_US).contains(&self.lateness_us);
        let plausible = |n: u64| n <= 1 << 48;
        let counts_ok = [
            self.excluded,
            self.reordered,
            self.late,
            self.rejected.total,
        ]
        .into_iter()
        .chain(self.rejected.by_reason.values().copied())
        .all(plausible);
        if !times_ok || !lateness_ok || !counts_ok || self.newest.len() > customers {
            return Err(damaged(
                "a time outside the years 1 to 9999, or a count no stream could reach",
            ));
        }
        Ok(())
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
        whole.ingest_each(&batch(first), |_| true);
        whole.ingest_each(&batch(second), |_| true);

        let mut stopped = JourneyBuilder::new(EngineConfig::default());
        stopped.ingest_each(&batch(first), |_| true);
        let saved = postcard::to_stdvec(&stopped.saved()).unwrap();
        let read: SavedBuilder = postcard::from_bytes(&saved).unwrap();
        let mut resumed = JourneyBuilder::restore(read, EngineConfig::default()).unwrap();
        resumed.ingest_each(&batch(second), |_| true);

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

        assert!(postcard::from_bytes::<SavedBuilder>(&saved[..40]).is_err());
        let mut damaged: SavedBuilder = postcard::from_bytes(&saved).unwrap();
        damaged.touchpoints = Cow::Owned(Interner::default());
        assert!(JourneyBuilder::restore(damaged, EngineConfig::default()).is_err());
    }

    /// A state whose buckets hold other customers than this build's
    /// buckets do (saved by a build with larger buckets) is restored with
    /// each event in its customer's bucket, and gives the same journeys.
    #[test]
    fn a_state_of_another_bucket_size_is_restored_into_this_ones() {
        let customers = 3 << BUCKET_SHIFT;
        let mut batch = EventBatch::with_capacity(2 * customers);
        let names: Vec<String> = (0..customers).map(|c| format!("c{c}")).collect();
        for round in 0..2 {
            for (c, customer) in names.iter().enumerate() {
                batch.push(
                    NewEvent {
                        customer,
                        event: ["home", "search", "cart"][(c + round) % 3],
                        time_us: (c as i64 % 977 + round as i64 * 1000) * 1_000_000,
                        event_id: None,
                        session_id: None,
                    },
                    [("channel", ["app", "web"][c % 2])],
                );
            }
        }
        let config = || EngineConfig {
            kept_properties: vec!["channel".into()],
            ..EngineConfig::default()
        };
        let mut builder = JourneyBuilder::new(config());
        builder.ingest_each(&batch, |_| true);
        let expected = builder.clone().finish();

        // Every event in one bucket, as a build with buckets of at least
        // `customers` would have saved them.
        let mut one = Bucket::default();
        for bucket in &builder.buckets {
            for (index, staged) in bucket.iter().enumerate() {
                one.push(staged, None, None);
                one.properties
                    .extend_from(&bucket.properties, index..index + 1);
            }
        }
        builder.buckets = vec![one];
        let saved = postcard::to_stdvec(&builder.saved()).unwrap();
        let read: SavedBuilder = postcard::from_bytes(&saved).unwrap();
        let restored = JourneyBuilder::restore(read, config()).unwrap();
        assert_eq!(restored.buckets.len(), 3);
        let got = restored.finish();
        assert_eq!(got.graph.node_reports(), expected.graph.node_reports());
        assert_eq!(got.graph.edge_reports(), expected.graph.edge_reports());
        assert_eq!(
            (got.events, got.customers, got.sessions),
            (expected.events, expected.customers, expected.sessions)
        );
        let segment = |j: &crate::engine::Journeys| {
            let app = crate::engine::Segment::parse("channel=app", &|_| None).unwrap();
            j.with_segment(Some(app)).unwrap().sessions
        };
        assert_eq!(segment(&got), segment(&expected));
    }
}
