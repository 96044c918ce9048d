//! The kept properties' values of the events the triggers hold, each
//! combination once (a session reads those of its first event). Unused
//! combinations are dropped now and then ([`Properties::compact`]), so a
//! property with many values does not grow the table for ever.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Each combination of values, by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Properties {
    /// Each combination: one value (or none) per kept property.
    combos: Vec<Box<[Option<Box<str>>]>>,
    /// Each combination's key (the values, each its length and bytes).
    #[serde(skip)]
    index: FxHashMap<Box<[u8]>, u32>,
    #[serde(skip)]
    scratch: Vec<u8>,
}

/// Combinations held before unused ones are dropped.
pub(super) const COMPACT_PAST: usize = 1 << 16;

impl Properties {
    /// The key of `values`: unambiguous whatever the values hold.
    fn key<'v>(scratch: &mut Vec<u8>, values: impl Iterator<Item = Option<&'v str>>) {
        scratch.clear();
        for value in values {
            match value.filter(|v| !v.is_empty()) {
                Some(v) => {
                    scratch.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    scratch.extend_from_slice(v.as_bytes());
                }
                None => scratch.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
    }

    /// The id of `values` (one per kept property).
    pub fn id_of<'v>(&mut self, values: impl Iterator<Item = Option<&'v str>> + Clone) -> u32 {
        Properties::key(&mut self.scratch, values.clone());
        if let Some(&id) = self.index.get(self.scratch.as_slice()) {
            return id;
        }
        let id = self.combos.len() as u32;
        let combo: Box<[Option<Box<str>>]> = values
            .map(|v| v.filter(|v| !v.is_empty()).map(Box::from))
            .collect();
        self.combos.push(combo);
        self.index.insert(self.scratch.as_slice().into(), id);
        id
    }

    /// Builds the index again (after a restore).
    pub fn reindex(&mut self) {
        let mut scratch = Vec::new();
        self.index = (0u32..)
            .zip(&self.combos)
            .map(|(id, combo)| {
                Properties::key(&mut scratch, combo.iter().map(|v| v.as_deref()));
                (scratch.as_slice().into(), id)
            })
            .collect();
    }

    /// The value of kept property `index` in combination `id`.
    pub fn value(&self, id: u32, index: usize) -> Option<&str> {
        self.combos.get(id as usize)?.get(index)?.as_deref()
    }

    /// Combinations held.
    pub fn len(&self) -> usize {
        self.combos.len()
    }

    /// Keeps only the combinations `used` says are in use, with new ids;
    /// returns each old id's new one (`u32::MAX`: dropped).
    pub fn compact(&mut self, used: &[bool]) -> Vec<u32> {
        let mut new_ids = Vec::with_capacity(self.combos.len());
        let mut kept = Vec::new();
        for (id, combo) in std::mem::take(&mut self.combos).into_iter().enumerate() {
            match used.get(id).copied().unwrap_or(false) {
                true => {
                    new_ids.push(kept.len() as u32);
                    kept.push(combo);
                }
                false => new_ids.push(u32::MAX),
            }
        }
        self.combos = kept;
        self.reindex();
        new_ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_any_characters_keep_apart_and_compacting_renumbers() {
        let mut p = Properties::default();
        let a = p.id_of([Some("a\u{1f}b"), Some("c")].into_iter());
        let b = p.id_of([Some("a"), Some("b\u{1f}c")].into_iter());
        let none = p.id_of([None, Some("")].into_iter());
        assert_ne!(a, b);
        assert_eq!(p.id_of([Some("a"), Some("b\u{1f}c")].into_iter()), b);
        assert_eq!(p.value(a, 0), Some("a\u{1f}b"));
        assert_eq!((p.value(none, 0), p.value(none, 1)), (None, None));
        let new_ids = p.compact(&[false, true, true]);
        assert_eq!(new_ids, vec![u32::MAX, 0, 1]);
        assert_eq!(p.value(0, 1), Some("b\u{1f}c"));
        assert_eq!(p.id_of([Some("a"), Some("b\u{1f}c")].into_iter()), 0);
    }
}
