//! The value ids of kept properties along staged or grouped events, a run
//! of `kept` per event: one byte each while every id is below 256 (a
//! channel, a device, a country), four once one is not. Read and written
//! as plain `u32`s, so that the narrow form is only a matter of memory.

use serde::{Deserialize, Serialize};

/// Value ids (0: no value), narrow while they fit in a byte.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "Vec<u32>")]
pub(super) enum ValueIds {
    /// Every id below 256.
    Narrow(Vec<u8>),
    /// Some id of 256 or more.
    Wide(Vec<u32>),
}

impl Default for ValueIds {
    fn default() -> Self {
        ValueIds::Narrow(Vec::new())
    }
}

impl From<Vec<u32>> for ValueIds {
    fn from(ids: Vec<u32>) -> Self {
        match ids.iter().all(|&id| id <= u32::from(u8::MAX)) {
            true => ValueIds::Narrow(ids.into_iter().map(|id| id as u8).collect()),
            false => ValueIds::Wide(ids),
        }
    }
}

/// Saved as plain `u32`s, widened as they are written.
impl Serialize for ValueIds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ValueIds::Narrow(ids) => serializer.collect_seq(ids.iter().map(|&id| u32::from(id))),
            ValueIds::Wide(ids) => ids.serialize(serializer),
        }
    }
}

impl ValueIds {
    /// Room for `capacity` ids from the start.
    pub fn with_capacity(capacity: usize) -> Self {
        ValueIds::Narrow(Vec::with_capacity(capacity))
    }

    /// The ids held.
    pub fn len(&self) -> usize {
        match self {
            ValueIds::Narrow(ids) => ids.len(),
            ValueIds::Wide(ids) => ids.len(),
        }
    }

    /// The `i`th id.
    pub fn get(&self, i: usize) -> u32 {
        match self {
            ValueIds::Narrow(ids) => u32::from(ids[i]),
            ValueIds::Wide(ids) => ids[i],
        }
    }

    /// Adds `id` at the end, widening first when it needs to.
    pub fn push(&mut self, id: u32) {
        match self {
            ValueIds::Narrow(ids) => match u8::try_from(id) {
                Ok(id) => ids.push(id),
                Err(_) => {
                    self.widen();
                    self.push(id);
                }
            },
            ValueIds::Wide(ids) => ids.push(id),
        }
    }

    /// Adds the ids `range` of `other` at the end.
    pub fn extend_from(&mut self, other: &ValueIds, range: std::ops::Range<usize>) {
        match (&mut *self, other) {
            (ValueIds::Narrow(to), ValueIds::Narrow(from)) => to.extend_from_slice(&from[range]),
            (ValueIds::Wide(to), ValueIds::Wide(from)) => to.extend_from_slice(&from[range]),
            (ValueIds::Wide(to), ValueIds::Narrow(from)) => {
                to.extend(from[range].iter().map(|&id| u32::from(id)));
            }
            (ValueIds::Narrow(_), ValueIds::Wide(from)) => {
                for &id in &from[range] {
                    self.push(id);
                }
            }
        }
    }

    /// Copies the ids `from` over those starting at `to`.
    pub fn copy_within(&mut self, from: std::ops::Range<usize>, to: usize) {
        self.as_mut().copy_within(from, to);
    }

    /// Holds `len` ids: cut, or filled up with 0 (no value).
    pub fn resize(&mut self, len: usize) {
        match self {
            ValueIds::Narrow(ids) => ids.resize(len, 0),
            ValueIds::Wide(ids) => ids.resize(len, 0),
        }
    }

    /// `len` ids of 0 (no value), one byte each unless `wide`; their
    /// memory is only taken as they are written.
    pub fn zeroed(len: usize, wide: bool) -> Self {
        match wide {
            true => ValueIds::Wide(vec![0; len]),
            false => ValueIds::Narrow(vec![0; len]),
        }
    }

    /// True when the ids take four bytes each.
    pub fn is_wide(&self) -> bool {
        matches!(self, ValueIds::Wide(_))
    }

    /// The ids, to write in place.
    pub fn as_mut(&mut self) -> ValueIdsMut<'_> {
        match self {
            ValueIds::Narrow(ids) => ValueIdsMut::Narrow(ids),
            ValueIds::Wide(ids) => ValueIdsMut::Wide(ids),
        }
    }

    fn widen(&mut self) {
        if let ValueIds::Narrow(ids) = self {
            *self = ValueIds::Wide(ids.iter().map(|&id| u32::from(id)).collect());
        }
    }
}

/// Value ids to write in place: all or part of a [`ValueIds`], never
/// widened.
pub(super) enum ValueIdsMut<'a> {
    /// Every id below 256.
    Narrow(&'a mut [u8]),
    /// Four bytes each.
    Wide(&'a mut [u32]),
}

impl<'a> ValueIdsMut<'a> {
    /// The ids before `mid` and those from it on.
    pub fn split_at(self, mid: usize) -> (ValueIdsMut<'a>, ValueIdsMut<'a>) {
        match self {
            ValueIdsMut::Narrow(ids) => {
                let (a, b) = ids.split_at_mut(mid);
                (ValueIdsMut::Narrow(a), ValueIdsMut::Narrow(b))
            }
            ValueIdsMut::Wide(ids) => {
                let (a, b) = ids.split_at_mut(mid);
                (ValueIdsMut::Wide(a), ValueIdsMut::Wide(b))
            }
        }
    }

    /// Copies the runs of `kept` ids of the events `events` of `other` to
    /// the runs of events `slots` here, one for one. These ids must be
    /// wide when `other`'s are: they are not widened.
    pub fn scatter_runs(
        &mut self,
        other: &ValueIds,
        events: &[usize],
        slots: &[usize],
        kept: usize,
    ) {
        fn scatter<T: Copy, U: Copy>(
            to: &mut [T],
            from: &[U],
            events: &[usize],
            slots: &[usize],
            kept: usize,
            convert: impl Fn(U) -> T,
        ) {
            for (&event, &slot) in events.iter().zip(slots) {
                let from = &from[event * kept..(event + 1) * kept];
                for (to, from) in to[slot * kept..(slot + 1) * kept].iter_mut().zip(from) {
                    *to = convert(*from);
                }
            }
        }
        match (self, other) {
            (ValueIdsMut::Narrow(to), ValueIds::Narrow(from)) => {
                scatter(to, from, events, slots, kept, |id| id);
            }
            (ValueIdsMut::Wide(to), ValueIds::Narrow(from)) => {
                scatter(to, from, events, slots, kept, u32::from);
            }
            (ValueIdsMut::Wide(to), ValueIds::Wide(from)) => {
                scatter(to, from, events, slots, kept, |id| id);
            }
            (ValueIdsMut::Narrow(to), ValueIds::Wide(from)) => {
                debug_assert!(false, "narrow ids given wide ones to hold");
                scatter(to, from, events, slots, kept, |id| {
                    u8::try_from(id).unwrap_or(u8::MAX)
                });
            }
        }
    }

    /// Copies the ids `from` over those starting at `to`.
    pub fn copy_within(&mut self, from: std::ops::Range<usize>, to: usize) {
        match self {
            ValueIdsMut::Narrow(ids) => ids.copy_within(from, to),
            ValueIdsMut::Wide(ids) => ids.copy_within(from, to),
        }
    }

    /// Puts the runs of `kept` ids of the events from `start` in the order
    /// `order` gives (the `k`th run becomes the run `order[k]` was).
    pub fn reorder_runs(&mut self, start: usize, kept: usize, order: &[usize]) {
        fn apply<T: Copy>(ids: &mut [T], start: usize, kept: usize, order: &[usize]) {
            let runs = &mut ids[start * kept..(start + order.len()) * kept];
            let sorted: Vec<T> = order
                .iter()
                .flat_map(|&i| runs[i * kept..(i + 1) * kept].iter().copied())
                .collect();
            runs.copy_from_slice(&sorted);
        }
        match self {
            ValueIdsMut::Narrow(ids) => apply(ids, start, kept, order),
            ValueIdsMut::Wide(ids) => apply(ids, start, kept, order),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids as plain `u32`s, through what is saved.
    fn plain(ids: &ValueIds) -> Vec<u32> {
        postcard::from_bytes(&postcard::to_allocvec(ids).unwrap()).unwrap()
    }

    /// Every operation gives what the same operation on plain `u32`s
    /// gives, whether the ids are narrow, widened on the way, or mixed.
    #[test]
    fn ids_read_as_plain_u32s_through_widening() {
        let mut expected: Vec<u32> = Vec::new();
        let mut ids = ValueIds::default();
        for i in 0..600u32 {
            let id = match i {
                0..300 => i % 7,
                _ => i,
            };
            expected.push(id);
            ids.push(id);
            if i == 299 {
                assert!(matches!(ids, ValueIds::Narrow(_)));
            }
        }
        assert!(matches!(ids, ValueIds::Wide(_)));
        assert_eq!(plain(&ids), expected);
        assert_eq!(
            postcard::to_allocvec(&ids).unwrap(),
            postcard::to_allocvec(&expected).unwrap()
        );

        let narrow = ValueIds::from(vec![1, 2, 3, 4]);
        let mut copy = ValueIds::default();
        copy.extend_from(&narrow, 1..3);
        copy.extend_from(&ids, 598..600);
        assert_eq!(plain(&copy), vec![2, 3, 598, 599]);
        copy.as_mut().scatter_runs(&narrow, &[1, 2], &[1, 0], 1);
        assert_eq!(plain(&copy), vec![3, 2, 598, 599]);
        copy.as_mut().scatter_runs(&narrow, &[1], &[0], 2);
        copy.copy_within(0..2, 2);
        assert_eq!(plain(&copy), vec![3, 4, 3, 4]);
        copy.as_mut()
            .scatter_runs(&ValueIds::from(vec![1000]), &[0], &[1], 1);
        copy.as_mut().reorder_runs(0, 2, &[1, 0]);
        assert_eq!(plain(&copy), vec![3, 4, 3, 1000]);
        let mut narrow = ValueIds::zeroed(4, false);
        let source = ValueIds::from(vec![3, 4, 5, 6]);
        let (mut low, mut high) = narrow.as_mut().split_at(2);
        low.scatter_runs(&source, &[1], &[0], 2);
        high.scatter_runs(&source, &[0], &[0], 2);
        high.reorder_runs(0, 1, &[1, 0]);
        assert_eq!(plain(&narrow), vec![5, 6, 4, 3]);
        assert!(!narrow.is_wide() && ValueIds::zeroed(1, true).is_wide());
        copy.resize(5);
        assert_eq!(copy.get(4), 0);
        assert_eq!(ValueIds::from(vec![255, 0]), ValueIds::Narrow(vec![255, 0]));
        assert_eq!(ValueIds::from(vec![256]), ValueIds::Wide(vec![256]));
    }
}
