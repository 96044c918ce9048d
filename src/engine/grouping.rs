//! A file's staged events grouped by customer: moved into per-customer
//! slots one bucket at a time, repeated event ids dropped, each customer's
//! events ordered by time.

use super::event::Event;
use super::property_column::PropertyColumn;
use super::staging::{BUCKET_SHIFT, Bucket, sort_by_time};
use super::value_ids::ValueIds;

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
    let mut columns = GroupColumns::with_capacity(total, with_keys, with_sub_us, kept);
    let (duplicates, len) = columns.group(buckets, with_ids, &mut offsets, customer_count);
    columns.into_grouped(offsets, duplicates, len)
}

/// Which of one customer's events repeat an event id already kept.
#[derive(Default)]
struct Deduplicator {
    /// The ids kept for a customer of few events, scanned.
    kept: Vec<u64>,
    /// The ids kept for a customer of many events.
    seen: rustc_hash::FxHashSet<u64>,
    /// True while the customer has few events.
    small: bool,
    /// Events dropped so far.
    duplicates: u64,
}

impl Deduplicator {
    /// Starts on a customer of `events` events.
    fn next_customer(&mut self, events: usize) {
        self.kept.clear();
        self.seen.clear();
        self.small = events <= 32;
    }

    /// True (and counted) when `id` (0: none) was kept for this customer
    /// already; else it is kept.
    fn repeated(&mut self, id: u64) -> bool {
        if id == 0 {
            return false;
        }
        let repeated = match self.small {
            true if self.kept.contains(&id) => true,
            true => {
                self.kept.push(id);
                false
            }
            false => !self.seen.insert(id),
        };
        self.duplicates += u64::from(repeated);
        repeated
    }
}

/// Where each customer's staged events will start once grouped (plus a
/// final end), and whether any staged event has an event id.
fn customer_offsets(buckets: &[Bucket], customer_count: usize) -> (Vec<usize>, bool) {
    let mut offsets = vec![0usize; customer_count + 1];
    let mut with_ids = false;
    for bucket in buckets {
        bucket.for_each_customer(|customer, with_id| {
            offsets[customer as usize + 1] += 1;
            with_ids |= with_id;
        });
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    (offsets, with_ids)
}

/// The events being grouped and what goes along with each, one slot per
/// event: filled in customer order and compacted, bucket by bucket, by
/// [`GroupColumns::group`]. A column nothing needs is left empty.
struct GroupColumns {
    events: Vec<Event>,
    /// Session keys; empty unless `with_keys`.
    keys: Vec<u32>,
    /// Only to order events within a microsecond: dropped once sorted.
    sub_us: Vec<u16>,
    /// Value ids of the kept properties, a run of `kept` per event.
    values: ValueIds,
    with_keys: bool,
    with_sub_us: bool,
    kept: usize,
}

impl GroupColumns {
    /// Empty columns with room for `total` events, allocating only the
    /// columns that are kept.
    fn with_capacity(total: usize, with_keys: bool, with_sub_us: bool, kept: usize) -> Self {
        GroupColumns {
            events: Vec::with_capacity(total),
            keys: Vec::with_capacity(if with_keys { total } else { 0 }),
            sub_us: Vec::with_capacity(if with_sub_us { total } else { 0 }),
            values: ValueIds::with_capacity(total * kept),
            with_keys,
            with_sub_us,
            kept,
        }
    }

    /// Moves the staged events of `buckets` into their customers' slots
    /// (starting at `offsets`), each customer's in source order, one bucket
    /// at a time; then, while the bucket's slots are fresh in the cache,
    /// drops each customer's repeated event ids (`with_ids`: the first in
    /// source order stays), moves the events kept down over the gaps and
    /// orders them by time. `offsets` become the starts of the compacted
    /// customers. Returns the duplicates dropped and the events kept.
    ///
    /// Each bucket's chunks are freed as they are consumed, so the staged
    /// events are never held twice, and its event ids are held only while
    /// it is grouped.
    fn group(
        &mut self,
        buckets: Vec<Bucket>,
        with_ids: bool,
        offsets: &mut [usize],
        customer_count: usize,
    ) -> (u64, usize) {
        let (with_keys, with_sub_us, kept) = (self.with_keys, self.with_sub_us, self.kept);
        let GroupColumns {
            events,
            keys,
            sub_us,
            values,
            ..
        } = self;
        // The bucket's event ids, by slot from its first.
        let mut ids: Vec<u64> = Vec::new();
        // The slots of a chunk's events.
        let mut slots: Vec<usize> = Vec::new();
        let mut deduplicator = Deduplicator::default();
        let mut write = 0usize;
        let mut grouped_customers = 0;
        for (b, bucket) in buckets.into_iter().enumerate() {
            let lo = (b << BUCKET_SHIFT).min(customer_count);
            let hi = ((b + 1) << BUCKET_SHIFT).min(customer_count);
            let (start, end) = (offsets[lo], offsets[hi]);
            events.resize(end, Event::default());
            if with_ids {
                ids.clear();
                ids.resize(end - start, 0);
            }
            if with_keys {
                keys.resize(end, 0);
            }
            if with_sub_us {
                sub_us.resize(end, 0);
            }
            values.resize(end * kept);
            let mut cursor: Vec<usize> = offsets[lo..hi].to_vec();
            bucket.drain_chunks(|bucket, first, chunk| {
                // Each event's slot, then what goes along with it.
                slots.clear();
                for s in chunk {
                    let slot = &mut cursor[s.event.customer as usize - lo];
                    events[*slot] = s.event;
                    if with_ids {
                        ids[*slot - start] = s.id_hash;
                    }
                    slots.push(*slot);
                    *slot += 1;
                }
                if with_keys {
                    for (k, &slot) in slots.iter().enumerate() {
                        keys[slot] = bucket.keys[first + k];
                    }
                }
                if with_sub_us {
                    for (k, &slot) in slots.iter().enumerate() {
                        sub_us[slot] = bucket.sub_us[first + k];
                    }
                }
                if kept > 0 {
                    values.scatter_runs(&bucket.properties, first, &slots, kept);
                }
            });
            for c in lo..hi {
                let (from, to) = (offsets[c], offsets[c + 1]);
                offsets[c] = write;
                deduplicator.next_customer(to - from);
                for read in from..to {
                    let id = if with_ids { ids[read - start] } else { 0 };
                    if deduplicator.repeated(id) {
                        continue;
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
                    (values, range.start),
                    kept,
                );
            }
            grouped_customers = hi;
        }
        // Customers after the last bucket have no events.
        for offset in &mut offsets[grouped_customers..] {
            *offset = write;
        }
        (deduplicator.duplicates, write)
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
        values.resize(len * kept);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::staging::Staged;

    /// Grouping gives each customer's events in source order without
    /// repeated ids (the first stays), then stably by time: checked against
    /// that rule applied customer by customer, over several buckets, with
    /// customers of many events and customers with none at the end.
    #[test]
    fn grouping_keeps_each_customers_first_ids_in_time_order() {
        let customer_count = (2 << BUCKET_SHIFT) + 500;
        let staged_customers = (2 << BUCKET_SHIFT) - 10;
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut source: Vec<Staged> = Vec::new();
        let mut seed = 11u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for _ in 0..400_000 {
            // A few customers with many events, the rest with few.
            let customer = match next(10) {
                0 => next(20) as u32,
                _ => next(staged_customers as u64) as u32,
            };
            let staged = Staged {
                event: Event {
                    time_us: next(50) as i64,
                    customer,
                    touchpoint: next(6) as u32,
                },
                id_hash: match next(4) {
                    0 => 0,
                    _ => crate::engine::intern::name_hash(&next(40).to_string()) | 1,
                },
            };
            let b = (customer >> BUCKET_SHIFT) as usize;
            if b >= buckets.len() {
                buckets.resize_with(b + 1, Bucket::default);
            }
            buckets[b].push(staged, None, None);
            source.push(staged);
        }
        let total = source.len();
        let grouped = group_by_customer(buckets, false, false, 0, total, customer_count);

        let mut expected_offsets = vec![0usize];
        let mut expected: Vec<Event> = Vec::new();
        let mut duplicates = 0u64;
        let mut by_customer: Vec<Vec<Staged>> = vec![Vec::new(); customer_count];
        for s in &source {
            by_customer[s.event.customer as usize].push(*s);
        }
        for events in &by_customer {
            let mut ids = Vec::new();
            let mut kept: Vec<Event> = Vec::new();
            for s in events {
                if s.id_hash != 0 && ids.contains(&s.id_hash) {
                    duplicates += 1;
                    continue;
                }
                ids.push(s.id_hash);
                kept.push(s.event);
            }
            kept.sort_by_key(|e| e.time_us);
            expected.extend(kept);
            expected_offsets.push(expected.len());
        }
        assert!(duplicates > 1000);
        assert_eq!(grouped.duplicates, duplicates);
        assert_eq!(grouped.offsets, expected_offsets);
        assert!(grouped.events == expected);
    }
}
