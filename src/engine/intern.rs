//! A compact string interner: every distinct name gets a dense `u32` id.
//!
//! All names live in one text buffer and the hash table holds only ids, so a
//! million customers cost a few tens of bytes each, not a heap allocation
//! each.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Distinct strings, each with a dense id in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    text: String,
    /// End offset of each string in `text` (its start is the previous end).
    ends: Vec<u64>,
    table: HashTable<u32>,
}

fn hash(name: &str) -> u64 {
    FxBuildHasher.hash_one(name)
}

impl Interner {
    /// The id of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        let h = hash(name);
        let Interner { text, ends, table } = self;
        let lookup = |id: &u32| str_at(text, ends, *id) == name;
        if let Some(id) = table.find(h, lookup) {
            return *id;
        }
        let id = ends.len() as u32;
        text.push_str(name);
        ends.push(text.len() as u64);
        table.insert_unique(h, id, |id| hash(str_at(text, ends, *id)));
        id
    }

    /// The id of `name`, if present.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.table
            .find(hash(name), |id| self.name(*id) == name)
            .copied()
    }

    /// The string with id `id` ("" if out of range).
    pub fn name(&self, id: u32) -> &str {
        str_at(&self.text, &self.ends, id)
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// All strings in id order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|id| self.name(id))
    }

    /// Bytes held (text, offsets and table), for memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 8 + self.table.capacity() * 5
    }
}

fn str_at<'a>(text: &'a str, ends: &[u64], id: u32) -> &'a str {
    let id = id as usize;
    let Some(&end) = ends.get(id) else { return "" };
    let start = if id == 0 { 0 } else { ends[id - 1] };
    &text[start as usize..end as usize]
}

impl<S: AsRef<str>> FromIterator<S> for Interner {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut interner = Interner::default();
        for s in iter {
            interner.intern(s.as_ref());
        }
        interner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_stable() {
        let mut i = Interner::default();
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern("a"), 1);
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern(""), 2);
        assert_eq!(i.get("a"), Some(1));
        assert_eq!(i.get("zz"), None);
        assert_eq!(i.name(1), "a");
        assert_eq!(i.name(2), "");
        assert_eq!(i.name(9), "");
        assert_eq!(i.iter().collect::<Vec<_>>(), vec!["b", "a", ""]);
    }

    #[test]
    fn survives_growth() {
        let mut i = Interner::default();
        for n in 0..10_000 {
            assert_eq!(i.intern(&format!("customer-{n}")), n);
        }
        for n in (0..10_000).rev() {
            assert_eq!(i.get(&format!("customer-{n}")), Some(n));
        }
    }
}
