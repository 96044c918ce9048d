//! A file's staged events grouped by customer: moved into per-customer
//! slots one bucket at a time, repeated event ids dropped, each customer's
//! events ordered by time. Past [`PARALLEL_GROUP_EVENTS`] two threads
//! take the buckets in turn, each compacting a bucket in that bucket's own
//! slots of the columns; the buckets then move down over the gaps their
//! dropped duplicates left.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use super::event::Event;
use super::property_column::PropertyColumn;
use super::staging::{BUCKET_SHIFT, Bucket, sort_by_time};
use super::value_ids::{ValueIds, ValueIdsMut};
use crate::background::on_two_threads;

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

/// Events from which grouping is shared between two threads.
const PARALLEL_GROUP_EVENTS: usize = 200_000;

/// Groups staged events by customer (keeping source order), drops repeated
/// event ids per customer (the first in source order stays), then orders
/// each customer's events by time. Chunks are freed as they are consumed.
pub(super) fn group_by_customer(
    buckets: Vec<Bucket>,
    with_keys: bool,
    with_sub_us: bool,
    kept: usize,
    customer_count: usize,
) -> Grouped {
    let total = buckets.iter().map(|b| b.len).sum();
    let wide = buckets.iter().any(|b| b.properties.is_wide());
    let mut columns = GroupColumns::zeroed(total, with_keys, with_sub_us, kept, wide);
    let mut offsets = vec![0usize; customer_count + 1];
    let (duplicates, len) = columns.group(buckets, &mut offsets);
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

/// Counts each staged event of `buckets` (the first of which holds
/// customer `first_customer`) at `counts[customer - first_customer + 1]`;
/// true when any has an event id.
fn count_customers(buckets: &[Bucket], counts: &mut [usize], first_customer: usize) -> bool {
    let mut with_ids = false;
    for bucket in buckets {
        bucket.for_each_customer(|customer, with_id| {
            counts[customer as usize - first_customer + 1] += 1;
            with_ids |= with_id;
        });
    }
    with_ids
}

/// The events being grouped and what goes along with each, one slot per
/// staged event: filled in customer order and compacted by
/// [`GroupColumns::group`]. A column nothing needs is left empty. Made of
/// zeroed memory, whose pages are only taken as they are written: as the
/// staged chunks they replace are freed.
struct GroupColumns {
    events: Vec<Event>,
    /// Session keys; empty unless `with_keys`.
    keys: Vec<u32>,
    /// Only to order events within a microsecond: dropped once sorted.
    sub_us: Vec<u16>,
    /// Value ids of the kept properties, a run of `kept` per event.
    values: ValueIds,
    kept: usize,
}

/// The customers of one bucket, to be grouped at once.
struct Unit<'a> {
    bucket: Bucket,
    /// Its customers.
    customers: Range<usize>,
    /// Their slots.
    part: Part<'a>,
    /// Where each of them starts, to become where their kept events start.
    offsets: &'a mut [usize],
}

/// What grouping a unit needs to know of them all.
#[derive(Clone, Copy)]
struct Shape {
    with_ids: bool,
    kept: usize,
}

/// What one thread's units need as they are grouped, kept from unit to
/// unit.
#[derive(Default)]
struct Scratch {
    /// The unit's event ids, by slot from its first.
    ids: Vec<u64>,
    /// The slots of a chunk's events, from the unit's first.
    slots: Vec<usize>,
    /// The index in the bucket of a chunk's events.
    indices: Vec<usize>,
    /// The next slot of each customer.
    cursor: Vec<usize>,
    deduplicator: Deduplicator,
}

/// The slots of some consecutive customers in the columns, from event
/// `base` on.
struct Part<'a> {
    base: usize,
    events: &'a mut [Event],
    keys: &'a mut [u32],
    sub_us: &'a mut [u16],
    values: ValueIdsMut<'a>,
}

impl<'a> Part<'a> {
    /// The slots before event `at` and those from it on.
    fn split_at(self, at: usize, kept: usize) -> (Part<'a>, Part<'a>) {
        let mid = at - self.base;
        let (events, later_events) = self.events.split_at_mut(mid);
        let cut = |len: usize| mid.min(len);
        let (keys, later_keys) = self.keys.split_at_mut(cut(self.keys.len()));
        let (sub_us, later_sub_us) = self.sub_us.split_at_mut(cut(self.sub_us.len()));
        let (values, later_values) = self.values.split_at(mid * kept);
        (
            Part {
                base: self.base,
                events,
                keys,
                sub_us,
                values,
            },
            Part {
                base: at,
                events: later_events,
                keys: later_keys,
                sub_us: later_sub_us,
                values: later_values,
            },
        )
    }
}

impl GroupColumns {
    /// Columns of `total` zeroed slots, only those that are kept.
    fn zeroed(total: usize, with_keys: bool, with_sub_us: bool, kept: usize, wide: bool) -> Self {
        GroupColumns {
            events: bytemuck::zeroed_vec(total),
            keys: vec![0; if with_keys { total } else { 0 }],
            sub_us: vec![0; if with_sub_us { total } else { 0 }],
            values: ValueIds::zeroed(total * kept, wide),
            kept,
        }
    }

    /// All the slots.
    fn whole(&mut self) -> Part<'_> {
        Part {
            base: 0,
            events: &mut self.events,
            keys: &mut self.keys,
            sub_us: &mut self.sub_us,
            values: self.values.as_mut(),
        }
    }

    /// Moves the staged events of `buckets` into their customers' slots
    /// and compacts them (see [`group_unit`]), setting `offsets` to the
    /// starts of the compacted customers (and the end). Past
    /// [`PARALLEL_GROUP_EVENTS`] two threads take the buckets in turn; each
    /// is compacted in its own slots, which then move down to follow the
    /// bucket before. Returns the duplicates dropped and the events kept.
    fn group(&mut self, buckets: Vec<Bucket>, offsets: &mut [usize]) -> (u64, usize) {
        let customer_count = offsets.len() - 1;
        let total = self.events.len();
        let parallel = total >= PARALLEL_GROUP_EVENTS;
        let first_customer = |b: usize| (b << BUCKET_SHIFT).min(customer_count);
        let grouped_customers = first_customer(buckets.len());

        // Where each customer starts, counted on two threads (each bucket
        // counts its own customers).
        let half = buckets.len() / 2;
        let with_ids = match parallel && half > 0 {
            true => {
                // Customer `c` is counted at `c + 1`.
                let (first, later) = offsets.split_at_mut(first_customer(half) + 1);
                let (first_ids, later_ids) = on_two_threads(
                    "journey grouping",
                    || count_customers(&buckets[..half], first, 0),
                    || count_customers(&buckets[half..], later, first_customer(half) + 1),
                );
                first_ids || later_ids
            }
            false => count_customers(&buckets, offsets, 0),
        };
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }

        // The units: a bucket each, in customer order.
        let kept = self.kept;
        let shape = Shape { with_ids, kept };
        let mut units: Vec<Unit<'_>> = Vec::with_capacity(buckets.len());
        let mut rest_part = self.whole();
        let mut rest_offsets = &mut offsets[..customer_count];
        for (b, bucket) in buckets.into_iter().enumerate() {
            let (lo, hi) = (first_customer(b), first_customer(b + 1));
            let end = rest_offsets.get(hi - lo).copied().unwrap_or(total);
            let (part, later) = rest_part.split_at(end, kept);
            let (unit_offsets, later_offsets) = rest_offsets.split_at_mut(hi - lo);
            units.push(Unit {
                bucket,
                customers: lo..hi,
                part,
                offsets: unit_offsets,
            });
            (rest_part, rest_offsets) = (later, later_offsets);
        }

        // Each unit grouped, by whichever thread is free.
        let queue = Mutex::new(units.into_iter().enumerate());
        let work = || {
            let mut scratch = Scratch::default();
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((i, unit)) = next else {
                    return done;
                };
                let (customers, start) = (unit.customers.clone(), unit.part.base);
                let (duplicates, end) = group_unit(unit, shape, &mut scratch);
                done.push((i, customers, start..end, duplicates));
            }
        };
        let mut done = match parallel {
            true => {
                let (mut mine, theirs) = on_two_threads("journey grouping", work, work);
                mine.extend(theirs);
                mine
            }
            false => work(),
        };
        drop(queue);
        done.sort_unstable_by_key(|(i, ..)| *i);

        // Each unit's kept events moved down to follow the unit before.
        let mut len = 0;
        let mut duplicates = 0;
        for (_, customers, kept_events, dropped) in done {
            let gap = kept_events.start - len;
            if gap > 0 {
                for offset in &mut offsets[customers] {
                    *offset -= gap;
                }
                self.move_down(kept_events.clone(), len);
            }
            len += kept_events.len();
            duplicates += dropped;
        }
        // Customers after the last bucket have no events.
        for offset in &mut offsets[grouped_customers..] {
            *offset = len;
        }
        (duplicates, len)
    }

    /// Moves the slots `from` down to start at `to`.
    fn move_down(&mut self, from: Range<usize>, to: usize) {
        self.events.copy_within(from.clone(), to);
        if !self.keys.is_empty() {
            self.keys.copy_within(from.clone(), to);
        }
        if !self.sub_us.is_empty() {
            self.sub_us.copy_within(from.clone(), to);
        }
        let kept = self.kept;
        self.values
            .copy_within(from.start * kept..from.end * kept, to * kept);
    }

    /// The first `len` events (those kept) as [`Grouped`], with `offsets`
    /// and `duplicates` as counted, and each kept property's values along
    /// the events.
    fn into_grouped(self, offsets: Vec<usize>, duplicates: u64, len: usize) -> Grouped {
        let GroupColumns {
            mut events,
            mut keys,
            mut values,
            kept,
            ..
        } = self;
        events.truncate(len);
        events.shrink_to_fit();
        keys.truncate(len);
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

/// Moves the staged events of a bucket into their customers' slots, each
/// customer's in source order, freeing the bucket's chunks as they are
/// consumed (so that the staged events are never held twice); then, while
/// the slots are fresh in the cache, drops each customer's repeated event
/// ids (`with_ids`: the first in source order stays), moves the events
/// kept down over the gaps and orders them by time. The unit's offsets
/// become the starts of its compacted customers. Returns the duplicates
/// dropped and the end of the events kept.
fn group_unit(unit: Unit<'_>, shape: Shape, scratch: &mut Scratch) -> (u64, usize) {
    let Shape { with_ids, kept } = shape;
    let Unit {
        bucket,
        customers,
        part,
        offsets,
    } = unit;
    let Part {
        base,
        events,
        keys,
        sub_us,
        mut values,
    } = part;
    let (with_keys, with_sub_us) = (!keys.is_empty(), !sub_us.is_empty());
    let Scratch {
        ids,
        slots,
        indices,
        cursor,
        deduplicator,
    } = scratch;
    if with_ids {
        ids.clear();
        ids.resize(events.len(), 0);
    }
    cursor.clear();
    cursor.extend(offsets.iter().map(|&o| o - base));
    bucket.drain_chunks(|bucket, first, chunk| {
        // Each event's slot, then what goes along with it.
        slots.clear();
        for s in chunk {
            let slot = &mut cursor[s.event.customer as usize - customers.start];
            events[*slot] = s.event;
            if with_ids {
                ids[*slot] = s.id_hash;
            }
            slots.push(*slot);
            *slot += 1;
        }
        if with_keys {
            for (&slot, key) in slots.iter().zip(&bucket.keys[first..]) {
                keys[slot] = *key;
            }
        }
        if with_sub_us {
            for (&slot, ns) in slots.iter().zip(&bucket.sub_us[first..]) {
                sub_us[slot] = *ns;
            }
        }
        if kept > 0 {
            indices.clear();
            indices.extend(first..first + chunk.len());
            values.scatter_runs(&bucket.properties, indices, slots, kept);
        }
    });
    let mut write = 0;
    for c in 0..offsets.len() {
        let from = offsets[c] - base;
        let to = offsets.get(c + 1).map_or(events.len(), |&o| o - base);
        offsets[c] = base + write;
        let start = write;
        deduplicator.next_customer(to - from);
        for read in from..to {
            let id = if with_ids { ids[read] } else { 0 };
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
        let range = start..write;
        sort_by_time(
            &mut events[range.clone()],
            sub_us.get(range.clone()).unwrap_or_default(),
            keys.get_mut(range.clone()).unwrap_or_default(),
            (&mut values, range.start),
            kept,
        );
    }
    let duplicates = std::mem::take(&mut deduplicator.duplicates);
    (duplicates, base + write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::staging::Staged;

    /// Grouping gives each customer's events in source order without
    /// repeated ids (the first stays), then stably by time, each with its
    /// session key and kept values: checked against that rule applied
    /// customer by customer, over several buckets grouped on two threads,
    /// with customers of many events and customers with none at the end.
    #[test]
    fn grouping_keeps_each_customers_first_ids_in_time_order() {
        let customer_count = (5 << BUCKET_SHIFT) + 500;
        let staged_customers = (5 << BUCKET_SHIFT) - 10;
        let mut buckets: Vec<Bucket> = Vec::new();
        // Each staged event with its session key and two kept values.
        let mut source: Vec<(Staged, u32, [u32; 2])> = Vec::new();
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
            let key = next(3) as u32;
            let values = [next(5) as u32, next(300) as u32];
            let b = (customer >> BUCKET_SHIFT) as usize;
            if b >= buckets.len() {
                buckets.resize_with(b + 1, Bucket::default);
            }
            buckets[b].push(staged, Some(key), None);
            values.iter().for_each(|&v| buckets[b].properties.push(v));
            source.push((staged, key, values));
        }
        assert!(buckets.len() >= 5);
        let grouped = group_by_customer(buckets, true, false, 2, customer_count);

        let mut expected_offsets = vec![0usize];
        let mut expected: Vec<(Event, u32, [u32; 2])> = Vec::new();
        let mut duplicates = 0u64;
        let mut by_customer: Vec<Vec<(Staged, u32, [u32; 2])>> = vec![Vec::new(); customer_count];
        for s in &source {
            by_customer[s.0.event.customer as usize].push(*s);
        }
        for events in &by_customer {
            let mut ids = Vec::new();
            let mut kept: Vec<(Event, u32, [u32; 2])> = Vec::new();
            for (s, key, values) in events {
                if s.id_hash != 0 && ids.contains(&s.id_hash) {
                    duplicates += 1;
                    continue;
                }
                ids.push(s.id_hash);
                kept.push((s.event, *key, *values));
            }
            kept.sort_by_key(|(e, ..)| e.time_us);
            expected.extend(kept);
            expected_offsets.push(expected.len());
        }
        assert!(duplicates > 1000);
        assert_eq!(grouped.duplicates, duplicates);
        assert_eq!(grouped.offsets, expected_offsets);
        let got: Vec<(Event, u32, [u32; 2])> = (0..grouped.events.len())
            .map(|i| {
                let values = [grouped.properties[0].at(i), grouped.properties[1].at(i)];
                (grouped.events[i], grouped.session_keys[i], values)
            })
            .collect();
        assert!(got == expected);
    }
}
