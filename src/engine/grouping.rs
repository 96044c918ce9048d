//! A file's staged events grouped by customer: moved into per-customer
//! slots one bucket at a time, repeated event ids dropped, each customer's
//! events ordered by time.

use super::event::Event;
use super::property_column::PropertyColumn;
use super::staging::{BUCKET_SHIFT, Bucket, sort_by_time};

/// Events grouped by customer, de-duplicated and in order.
pub(super) struct Grouped {
    /// Each customer's events in (time, source position) order.
    pub events: Vec<Event>,
    /// Session key of each event; empty when no event had a session id.
    pub session_keys: Vec<u32>,
    /// Start of each customer's events, plus a final end.
    pub offsets: Vec<usize>,
    /// Events dropped because the customer already had their event id.
    pub duplicates: u64,
    /// Each kept property along `events`.
    pub properties: Vec<PropertyColumn>,
}

/// Groups staged events by customer (keeping source order), drops repeated
/// event ids per customer (the first in source order stays), then orders
/// each customer's events by time. Chunks are freed as they are consumed.
pub(super) fn group_by_customer(
    buckets: Vec<Bucket>,
    with_keys: bool,
    with_sub_us: bool,
    kept: usize,
    total: usize,
    customer_count: usize,
) -> Grouped {
    let (mut offsets, with_ids) = customer_offsets(&buckets, customer_count);
    let mut columns = GroupColumns::with_capacity(total, with_ids, with_keys, with_sub_us, kept);
    columns.scatter(buckets, &offsets, customer_count);
    let (duplicates, len) = columns.dedup_and_sort(&mut offsets, customer_count);
    columns.into_grouped(offsets, duplicates, len)
}

/// Where each customer's staged events will start once grouped (plus a
/// final end), and whether any staged event has an event id.
fn customer_offsets(buckets: &[Bucket], customer_count: usize) -> (Vec<usize>, bool) {
    let mut offsets = vec![0usize; customer_count + 1];
    let mut with_ids = false;
    for s in buckets.iter().flat_map(|b| b.chunks.iter().flatten()) {
        offsets[s.event.customer as usize + 1] += 1;
        with_ids |= s.id_hash != 0;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    (offsets, with_ids)
}

/// The events being grouped and what goes along with each, one slot per
/// event: filled in customer order by [`GroupColumns::scatter`], then
/// compacted and ordered by [`GroupColumns::dedup_and_sort`]. A column
/// nothing needs is left empty.
struct GroupColumns {
    events: Vec<Event>,
    /// Event id hashes (0: none); empty unless `with_ids`.
    ids: Vec<u64>,
    /// Session keys; empty unless `with_keys`.
    keys: Vec<u32>,
    /// Only to order events within a microsecond: dropped once sorted.
    sub_us: Vec<u16>,
    /// Value ids of the kept properties, a run of `kept` per event.
    values: Vec<u32>,
    with_ids: bool,
    with_keys: bool,
    with_sub_us: bool,
    kept: usize,
}

impl GroupColumns {
    /// Empty columns with room for `total` events, allocating only the
    /// columns that are kept.
    fn with_capacity(
        total: usize,
        with_ids: bool,
        with_keys: bool,
        with_sub_us: bool,
        kept: usize,
    ) -> Self {
        GroupColumns {
            events: Vec::with_capacity(total),
            ids: Vec::with_capacity(if with_ids { total } else { 0 }),
            keys: Vec::with_capacity(if with_keys { total } else { 0 }),
            sub_us: Vec::with_capacity(if with_sub_us { total } else { 0 }),
            values: Vec::with_capacity(total * kept),
            with_ids,
            with_keys,
            with_sub_us,
            kept,
        }
    }

    /// Moves the staged events of `buckets` into their customers' slots
    /// (starting at `offsets`), each customer's in source order.
    fn scatter(&mut self, buckets: Vec<Bucket>, offsets: &[usize], customer_count: usize) {
        let (with_ids, with_keys, with_sub_us, kept) =
            (self.with_ids, self.with_keys, self.with_sub_us, self.kept);
        let GroupColumns {
            events,
            ids,
            keys,
            sub_us,
            values,
            ..
        } = self;
        // One bucket at a time: its customers' slots form one region of the
        // final arrays, and its chunks are freed as they are consumed, so the
        // staged events are never held twice.
        for (b, bucket) in buckets.into_iter().enumerate() {
            let lo = (b << BUCKET_SHIFT).min(customer_count);
            let hi = ((b + 1) << BUCKET_SHIFT).min(customer_count);
            let end = offsets[hi];
            events.resize(end, Event::default());
            if with_ids {
                ids.resize(end, 0);
            }
            if with_keys {
                keys.resize(end, 0);
            }
            if with_sub_us {
                sub_us.resize(end, 0);
            }
            values.resize(end * kept, 0);
            let mut cursor: Vec<usize> = offsets[lo..hi].to_vec();
            let mut index = 0;
            for chunk in bucket.chunks {
                for s in chunk {
                    let slot = &mut cursor[s.event.customer as usize - lo];
                    events[*slot] = s.event;
                    if with_ids {
                        ids[*slot] = s.id_hash;
                    }
                    if with_keys {
                        keys[*slot] = bucket.keys[index];
                    }
                    if with_sub_us {
                        sub_us[*slot] = bucket.sub_us[index];
                    }
                    if kept > 0 {
                        values[*slot * kept..(*slot + 1) * kept]
                            .copy_from_slice(&bucket.properties[index * kept..(index + 1) * kept]);
                    }
                    *slot += 1;
                    index += 1;
                }
            }
        }
    }

    /// Drops each customer's repeated event ids (the first in source order
    /// stays), moving the events kept down over the gaps, and orders each
    /// customer's events by time. `offsets` become the starts of the
    /// compacted customers. Returns the duplicates dropped and the number
    /// of events kept.
    fn dedup_and_sort(&mut self, offsets: &mut [usize], customer_count: usize) -> (u64, usize) {
        let (with_ids, with_keys, with_sub_us, kept) =
            (self.with_ids, self.with_keys, self.with_sub_us, self.kept);
        let GroupColumns {
            events,
            ids,
            keys,
            sub_us,
            values,
            ..
        } = self;
        let mut duplicates = 0u64;
        let mut seen = rustc_hash::FxHashSet::default();
        let mut write = 0usize;
        for c in 0..customer_count {
            let (start, end) = (offsets[c], offsets[c + 1]);
            offsets[c] = write;
            // Small customers are checked by a scan of their kept ids, large ones
            // through a set.
            let small = end - start <= 32;
            seen.clear();
            for read in start..end {
                let id = if with_ids { ids[read] } else { 0 };
                if id != 0 {
                    let repeated = if small {
                        ids[offsets[c]..write].contains(&id)
                    } else {
                        !seen.insert(id)
                    };
                    if repeated {
                        duplicates += 1;
                        continue;
                    }
                }
                if with_ids {
                    ids[write] = id;
                }
                events[write] = events[read];
                if with_keys {
                    keys[write] = keys[read];
                }
                if with_sub_us {
                    sub_us[write] = sub_us[read];
                }
                if kept > 0 {
                    values.copy_within(read * kept..(read + 1) * kept, write * kept);
                }
                write += 1;
            }
            let range = offsets[c]..write;
            sort_by_time(
                &mut events[range.clone()],
                sub_us.get(range.clone()).unwrap_or_default(),
                if with_keys {
                    &mut keys[range.clone()]
                } else {
                    &mut []
                },
                &mut values[range.start * kept..range.end * kept],
                kept,
            );
        }
        offsets[customer_count] = write;
        (duplicates, write)
    }

    /// The first `len` events (those kept) as [`Grouped`], with `offsets`
    /// and `duplicates` as counted, and each kept property's values along
    /// the events.
    fn into_grouped(self, offsets: Vec<usize>, duplicates: u64, len: usize) -> Grouped {
        let GroupColumns {
            mut events,
            mut keys,
            mut values,
            with_keys,
            kept,
            ..
        } = self;
        events.truncate(len);
        events.shrink_to_fit();
        keys.truncate(if with_keys { len } else { 0 });
        keys.shrink_to_fit();
        values.truncate(len * kept);
        let properties = (0..kept)
            .map(|p| PropertyColumn::from_runs(&values, kept, p))
            .collect();
        Grouped {
            events,
            session_keys: keys,
            offsets,
            duplicates,
            properties,
        }
    }
}
