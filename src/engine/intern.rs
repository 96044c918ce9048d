//! A compact string interner: every distinct name gets a dense `u32` id.
//!
//! All names live in one text buffer and the hash table holds only
//! (hash, id) pairs, so a million customers cost a few tens of bytes each,
//! not a heap allocation each. Names are told apart by a 64-bit hash
//! (foldhash, fixed seed): a lookup touches only the table, never the text,
//! which keeps interning fast when ids arrive in random order. Two distinct
//! names share a hash with probability about n²/2⁶⁵ (3·10⁻⁸ for a million
//! names).

use std::hash::BuildHasher;

use foldhash::quality::FixedState;
use hashbrown::HashTable;

/// Distinct strings, each with a dense id in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    text: String,
    /// End offset of each string in `text` (its start is the previous end).
    ends: Vec<u64>,
    table: HashTable<(u64, u32)>,
}

/// Saved as the list of names in id order.
impl serde::Serialize for Interner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// Read back from the list of names, each given its id again.
impl<'de> serde::Deserialize<'de> for Interner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        let mut interner = Interner::default();
        for name in &names {
            interner.intern(name);
        }
        Ok(interner)
    }
}

/// The 64-bit hash that identifies a name.
pub fn name_hash(name: &str) -> u64 {
    FixedState::with_seed(0x6a6f_7572_6e65_7973).hash_one(name)
}

impl Interner {
    /// The id of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        self.intern_hashed(name).0
    }

    /// The id of `name`, added if new, and its hash ([`name_hash`]).
    pub fn intern_hashed(&mut self, name: &str) -> (u32, u64) {
        let h = name_hash(name);
        if let Some(&(_, id)) = self.table.find(h, |(other, _)| *other == h) {
            return (id, h);
        }
        let id = self.ends.len() as u32;
        self.text.push_str(name);
        self.ends.push(self.text.len() as u64);
        self.table.insert_unique(h, (h, id), |(hash, _)| *hash);
        (id, h)
    }

    /// The id of `name`, if present.
    pub fn get(&self, name: &str) -> Option<u32> {
        let h = name_hash(name);
        self.table
            .find(h, |(other, _)| *other == h)
            .map(|(_, id)| *id)
    }

    /// The string with id `id` ("" if out of range).
    pub fn name(&self, id: u32) -> &str {
        let id = id as usize;
        let Some(&end) = self.ends.get(id) else {
            return "";
        };
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start as usize..end as usize]
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
