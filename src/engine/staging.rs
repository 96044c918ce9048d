//! Events as they are held between ingestion and the walk over them: in
//! buckets of customers, each a list of chunks in source order.

use super::event::Event;
use super::value_ids::{ValueIds, ValueIdsMut};

/// Customers `b << BUCKET_SHIFT ..` are staged together in bucket `b`, so
/// that grouping by customer at the end is one pass per bucket.
pub(super) const BUCKET_SHIFT: u32 = 14;

/// Events are staged in chunks of this many, so that growing never copies
/// (or doubles) everything held so far.
const CHUNK_EVENTS: usize = 1 << 16;

/// The staged events of one bucket of customers, in source order.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Bucket {
    /// The events, packed while they fit.
    events: StagedEvents,
    /// Session key per staged event; empty while no event had a session id.
    pub keys: Vec<u32>,
    /// Value ids (0: none) of the kept properties, a run of
    /// `kept_properties` per staged event; empty when none is kept.
    pub properties: ValueIds,
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
        self.events.push(staged);
        self.keys.extend(key);
        self.sub_us.extend(sub_us);
        self.len += 1;
    }

    /// Calls `f` with each staged event's customer and whether it has an
    /// event id, in source order.
    pub fn for_each_customer(&self, mut f: impl FnMut(u32, bool)) {
        match &self.events {
            StagedEvents::Packed { base, chunks } => {
                let base = base.unwrap_or(PackedBase::NONE);
                for p in chunks.iter().flatten() {
                    f(p.customer(base), p.has_id());
                }
            }
            StagedEvents::Wide(chunks) => {
                for s in chunks.iter().flatten() {
                    f(s.event.customer, s.id_hash != 0);
                }
            }
        }
    }

    /// The events held, counted from the chunks (a saved bucket's `len`
    /// is checked against it).
    pub fn held(&self) -> usize {
        self.events.len()
    }

    /// The staged events in source order.
    pub fn iter(&self) -> impl Iterator<Item = Staged> + '_ {
        self.events.iter()
    }

    /// Hands `f` the bucket (its session keys, nanoseconds and property
    /// values, by index), then the index of a chunk's first event and the
    /// chunk's staged events, chunk by chunk in source order, freeing each
    /// once it is read.
    pub fn drain_chunks(mut self, mut f: impl FnMut(&Bucket, usize, &[Staged])) {
        let mut first = 0;
        match std::mem::take(&mut self.events) {
            StagedEvents::Packed { base, chunks } => {
                let base = base.unwrap_or(PackedBase::NONE);
                let mut unpacked = Vec::with_capacity(CHUNK_EVENTS);
                for chunk in chunks {
                    unpacked.clear();
                    unpacked.extend(chunk.iter().map(|p| p.unpack(base)));
                    drop(chunk);
                    f(&self, first, &unpacked);
                    first += unpacked.len();
                }
            }
            StagedEvents::Wide(chunks) => {
                for chunk in chunks {
                    f(&self, first, &chunk);
                    first += chunk.len();
                }
            }
        }
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
        for (index, s) in self.iter().enumerate() {
            if (from_us..to_us).contains(&s.event.time_us) {
                copy.events.push(s);
                copy.len += 1;
                if with_keys {
                    copy.keys.push(self.keys[index]);
                }
                if with_sub_us {
                    copy.sub_us.push(self.sub_us[index]);
                }
                if kept > 0 {
                    copy.properties
                        .extend_from(&self.properties, index * kept..(index + 1) * kept);
                }
            }
        }
        copy
    }
}

/// A bucket's events: 16 bytes each while they fit the packed form (see
/// [`Packed`]), else as they are, 24 bytes each.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(from = "Vec<Vec<Staged>>")]
enum StagedEvents {
    /// Times from `base` on (None until the first event), the customers of
    /// one bucket.
    Packed {
        base: Option<PackedBase>,
        chunks: Vec<Vec<Packed>>,
    },
    Wide(Vec<Vec<Staged>>),
}

impl Default for StagedEvents {
    fn default() -> Self {
        StagedEvents::Packed {
            base: None,
            chunks: Vec::new(),
        }
    }
}

/// Saved as the events as they are, in one chunk (the packed form is only
/// memory), unpacked as they are written.
impl serde::Serialize for StagedEvents {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        /// The events as one chunk.
        struct Chunk<'a>(&'a StagedEvents);
        impl serde::Serialize for Chunk<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for staged in self.0.iter() {
                    seq.serialize_element(&staged)?;
                }
                seq.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(1))?;
        seq.serialize_element(&Chunk(self))?;
        seq.end()
    }
}

impl From<Vec<Vec<Staged>>> for StagedEvents {
    fn from(chunks: Vec<Vec<Staged>>) -> Self {
        let mut events = StagedEvents::default();
        chunks.into_iter().flatten().for_each(|s| events.push(s));
        events
    }
}

impl StagedEvents {
    /// Adds `staged` at the end, its event id's hash cut to what is kept
    /// (see [`kept_id_hash`]).
    #[inline]
    fn push(&mut self, mut staged: Staged) {
        staged.id_hash = kept_id_hash(staged.id_hash);
        if let StagedEvents::Packed {
            base: Some(base),
            chunks,
        } = self
            && let Some(packed) = Packed::pack(&staged, *base)
        {
            push_chunked(chunks, packed);
        } else {
            self.push_first_or_unfitting(staged);
        }
    }

    /// Adds the bucket's first event, or one that does not fit packed
    /// (the bucket is widened first), or one to a wide bucket.
    #[cold]
    fn push_first_or_unfitting(&mut self, staged: Staged) {
        match self {
            StagedEvents::Packed { base, chunks } if base.is_none() => {
                let first = PackedBase::around(&staged);
                match Packed::pack(&staged, first) {
                    Some(packed) => {
                        *base = Some(first);
                        push_chunked(chunks, packed);
                    }
                    None => *self = StagedEvents::Wide(vec![vec![staged]]),
                }
            }
            StagedEvents::Packed { .. } => {
                let mut wide = Vec::new();
                self.iter().for_each(|s| push_chunked(&mut wide, s));
                push_chunked(&mut wide, staged);
                *self = StagedEvents::Wide(wide);
            }
            StagedEvents::Wide(chunks) => push_chunked(chunks, staged),
        }
    }

    /// The events held.
    fn len(&self) -> usize {
        match self {
            StagedEvents::Packed { chunks, .. } => chunks.iter().map(Vec::len).sum(),
            StagedEvents::Wide(chunks) => chunks.iter().map(Vec::len).sum(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = Staged> + '_ {
        let (packed, wide, base): (&[Vec<Packed>], &[Vec<Staged>], _) = match self {
            StagedEvents::Packed { base, chunks } => (chunks.as_slice(), &[], *base),
            StagedEvents::Wide(chunks) => (&[], chunks.as_slice(), None),
        };
        let base = base.unwrap_or(PackedBase::NONE);
        packed
            .iter()
            .flatten()
            .map(move |p| p.unpack(base))
            .chain(wide.iter().flatten().copied())
    }
}

/// Adds `item` to the last chunk, or to a new one when it is full.
#[inline]
fn push_chunked<T>(chunks: &mut Vec<Vec<T>>, item: T) {
    match chunks.last_mut() {
        Some(chunk) if chunk.len() < CHUNK_EVENTS => chunk.push(item),
        _ => {
            let mut chunk = Vec::with_capacity(CHUNK_EVENTS);
            chunk.push(item);
            chunks.push(chunk);
        }
    }
}

/// What the events of one packed bucket share: times are counted from
/// `time_us`, customers from `customers` (the bucket's first).
#[derive(Debug, Clone, Copy)]
struct PackedBase {
    time_us: i64,
    customers: u32,
}

/// Bits of a packed time: 2⁴⁸ µs is about 8.9 years, centred on the
/// bucket's first event.
const TIME_BITS: u32 = 48;

impl PackedBase {
    /// The base of a bucket with no events.
    const NONE: PackedBase = PackedBase {
        time_us: 0,
        customers: 0,
    };

    /// The base of a bucket whose first event is `first`.
    fn around(first: &Staged) -> Self {
        PackedBase {
            time_us: first.event.time_us.saturating_sub(1 << (TIME_BITS - 1)),
            customers: first.event.customer & !((1 << BUCKET_SHIFT) - 1),
        }
    }
}

/// The part of an event id's hash a bucket keeps: its top 48 bits (never
/// all 0 for an event with an id), whether the bucket is packed or not, so
/// that the same id always looks the same.
fn kept_id_hash(h: u64) -> u64 {
    match h {
        0 => 0,
        h => (h >> 16).max(1) << 16 | 1,
    }
}

/// A staged event in 16 bytes: its time from the bucket's base (48 bits)
/// and its customer within the bucket (16 bits); the top 48 bits of its
/// event id's hash and its touchpoint (16 bits). Two different ids of one
/// customer look alike with probability 2⁻⁴⁸ (a customer of a million
/// events: 0.2%); events that do not fit (a touchpoint past 65,535, times
/// more than four years from the bucket's first) keep the bucket wide.
#[derive(Debug, Clone, Copy)]
struct Packed {
    time_customer: u64,
    id_touchpoint: u64,
}

impl Packed {
    fn pack(s: &Staged, base: PackedBase) -> Option<Packed> {
        let time = u64::try_from(s.event.time_us.checked_sub(base.time_us)?).ok()?;
        let customer = s.event.customer.checked_sub(base.customers)?;
        let touchpoint = u16::try_from(s.event.touchpoint).ok()?;
        if time >> TIME_BITS != 0 || customer >> BUCKET_SHIFT != 0 {
            return None;
        }
        let id = s.id_hash >> 16;
        Some(Packed {
            time_customer: time << 16 | u64::from(customer),
            id_touchpoint: id << 16 | u64::from(touchpoint),
        })
    }

    fn customer(self, base: PackedBase) -> u32 {
        base.customers + (self.time_customer & 0xffff) as u32
    }

    fn has_id(self) -> bool {
        self.id_touchpoint >> 16 != 0
    }

    fn unpack(self, base: PackedBase) -> Staged {
        let id = self.id_touchpoint >> 16;
        Staged {
            event: Event {
                time_us: base.time_us + (self.time_customer >> 16) as i64,
                customer: self.customer(base),
                touchpoint: (self.id_touchpoint & 0xffff) as u32,
            },
            id_hash: if id == 0 { 0 } else { id << 16 | 1 },
        }
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
/// last; session keys and `kept` property values per event (those of the
/// events from `first` on in `values`) move along when there are any.
pub(super) fn sort_by_time(
    events: &mut [Event],
    sub_us: &[u16],
    keys: &mut [u32],
    (values, first): (&mut ValueIdsMut<'_>, usize),
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
        values.reorder_runs(first, kept, &order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time_us: i64, customer: u32, touchpoint: u32, id_hash: u64) -> Staged {
        Staged {
            event: Event {
                time_us,
                customer,
                touchpoint,
            },
            id_hash,
        }
    }

    fn same(a: &[Staged], b: &[Staged]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(a, b)| (a.event == b.event) && (a.id_hash == 0) == (b.id_hash == 0))
    }

    /// A bucket gives back the events pushed, in order, whether they stay
    /// packed or one that does not fit (a far time, a touchpoint past
    /// 65,535) widens the bucket on the way; an event id reads back as
    /// the same kept hash either way, and saving and reading the bucket
    /// changes nothing.
    #[test]
    fn buckets_give_back_what_was_pushed_packed_or_not() {
        let year = 366 * 24 * 3600 * 1_000_000i64;
        let base = 1_700_000_000_000_000i64;
        let customers = 3 << BUCKET_SHIFT;
        // Within four years of the first, at `base`.
        let fitting: Vec<Staged> = std::iter::once(event(base, customers, 0, 0))
            .chain((1..200_000u64).map(|i| {
                let time = base + (i as i64 * 7_919_993 % (8 * year)) - 4 * year;
                let id = match i % 5 {
                    0 => 0,
                    _ => super::super::intern::name_hash(&i.to_string()) | 1,
                };
                event(
                    time,
                    customers + (i as u32 % (1 << BUCKET_SHIFT)),
                    i as u32 % 65_536,
                    id,
                )
            }))
            .collect();
        let far = event(base + 5 * year, customers + 3, 7, 0);
        let many_touchpoints = event(base, customers + 4, 70_000, 12_345);
        for odd in [None, Some(far), Some(many_touchpoints)] {
            let mut pushed = fitting.clone();
            pushed.extend(odd);
            pushed.extend(fitting.iter().take(10).copied());
            let mut bucket = Bucket::default();
            for s in &pushed {
                bucket.push(*s, None, None);
            }
            let read: Vec<Staged> = bucket.iter().collect();
            assert!(same(&read, &pushed));
            assert_eq!(
                matches!(bucket.events, StagedEvents::Wide(_)),
                odd.is_some()
            );
            // The same id reads back as the same hash, before and after
            // widening, and different ids as different hashes.
            let first = &read[..fitting.len()];
            let again = &read[read.len() - 10..];
            assert!(first.iter().zip(again).all(|(a, b)| a.id_hash == b.id_hash));
            let mut ids: Vec<u64> = first
                .iter()
                .map(|s| s.id_hash)
                .filter(|&h| h != 0)
                .collect();
            let with_ids = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), with_ids);

            let saved = postcard::to_allocvec(&bucket).unwrap();
            let back: Bucket = postcard::from_bytes(&saved).unwrap();
            assert!(same(&back.iter().collect::<Vec<_>>(), &pushed));
            let mut drained = Vec::new();
            back.drain_chunks(|_, first, chunk| {
                assert_eq!(first, drained.len());
                drained.extend_from_slice(chunk);
            });
            assert!(same(&drained, &pushed));
        }
    }
}
