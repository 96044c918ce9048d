//! A compact string interner: every distinct name gets a dense `u32` id.
//!
//! All names live in one text buffer and the hash table holds only
//! (hash, id) pairs, so a million customers cost a few tens of bytes each,
//! not a heap allocation each. Names are told apart by a 64-bit hash
//! (foldhash, fixed seed): a lookup touches only the table, never the text,
//! which keeps interning fast when ids arrive in random order. Two distinct
//! names share a hash with probability about n²/2⁶⁵ (3·10⁻⁸ for a million
//! names).
//!
//! The table is open addressing with linear probing, so the slot a hash
//! starts at is known before the lookup: a caller that knows the hashes of
//! the names to come asks for their slots early ([`Interner::prefetch`]),
//! and a million customers arriving in random order cost a memory fetch
//! in parallel with others instead of one after another.

use std::hash::BuildHasher;

use foldhash::quality::FixedState;

/// Distinct strings, each with a dense id in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    text: String,
    /// End offset of each string in `text` (its start is the previous
    /// end), its low [`END_BITS`] bits.
    ends: Vec<u32>,
    /// The first id whose end lies past each further 2^[`END_BITS`] bytes
    /// of `text` (none while the text is shorter).
    wraps: Vec<u32>,
    /// A power of two of slots (or none), at most three quarters used.
    slots: Vec<Slot>,
    /// 64 less log2 of the slots: a hash's top bits are its first slot.
    shift: u32,
}

/// A name's hash and id, or an empty slot: 12 bytes (the hash in two
/// halves, so that no padding is held per slot).
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: [u32; 2],
    id: u32,
}

impl Slot {
    fn new(hash: u64, id: u32) -> Self {
        Slot {
            hash: [hash as u32, (hash >> 32) as u32],
            id,
        }
    }

    fn hash(&self) -> u64 {
        u64::from(self.hash[0]) | u64::from(self.hash[1]) << 32
    }
}

/// The id of an empty slot.
const EMPTY: u32 = u32::MAX;

/// Bits of each end offset held in [`Interner::ends`] (fewer in tests, so
/// that wrapping is tried).
const END_BITS: u32 = if cfg!(test) { 8 } else { 32 };

const EMPTY_SLOT: Slot = Slot {
    hash: [0, 0],
    id: EMPTY,
};

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
        (self.intern_with_hash(name, h), h)
    }

    /// The id of `name`, whose [`name_hash`] is `h`, added if new.
    pub fn intern_with_hash(&mut self, name: &str, h: u64) -> u32 {
        let at = match self.find(h) {
            Ok(id) => return id,
            Err(at) if (self.ends.len() + 1) * 4 <= self.slots.len() * 3 => at,
            Err(_) => {
                self.grow();
                match self.find(h) {
                    Ok(id) => return id,
                    Err(at) => at,
                }
            }
        };
        let id = self.ends.len() as u32;
        self.text.push_str(name);
        let end = self.text.len();
        while end >> END_BITS > self.wraps.len() {
            self.wraps.push(id);
        }
        self.ends.push((end & ((1 << END_BITS) - 1)) as u32);
        self.slots[at] = Slot::new(h, id);
        id
    }

    /// Where the string with id `id` (held) ends in the text.
    fn end(&self, id: usize) -> usize {
        let wrapped = self.wraps.partition_point(|&w| w as usize <= id);
        wrapped << END_BITS | self.ends[id] as usize
    }

    /// Asks the processor to fetch the slot where a lookup of hash `h`
    /// starts, so that a lookup soon after finds it in the cache.
    pub fn prefetch(&self, h: u64) {
        if self.slots.is_empty() {
            return;
        }
        let at = (h >> self.shift) as usize;
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let slot: *const Slot = &self.slots[at];
            // SAFETY: a prefetch neither reads nor faults; it only hints
            // the processor, here at a slot inside the table.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot.cast::<i8>()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = at;
    }

    /// The id of the name hashed `h`, or the empty slot where it would go.
    fn find(&self, h: u64) -> Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let mut at = (h >> self.shift) as usize;
        loop {
            let slot = self.slots[at];
            if slot.id == EMPTY {
                return Err(at);
            }
            if slot.hash() == h {
                return Ok(slot.id);
            }
            at = (at + 1) & mask;
        }
    }

    /// Doubles the slots (16 at first) and places every name again.
    fn grow(&mut self) {
        let count = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; count]);
        self.shift = 64 - count.trailing_zeros();
        for slot in old.into_iter().filter(|s| s.id != EMPTY) {
            if let Err(at) = self.find(slot.hash()) {
                self.slots[at] = slot;
            }
        }
    }

    /// The id of `name`, if present.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.find(name_hash(name)).ok()
    }

    /// The string with id `id` ("" if out of range).
    pub fn name(&self, id: u32) -> &str {
        let id = id as usize;
        if id >= self.ends.len() {
            return "";
        }
        let start = if id == 0 { 0 } else { self.end(id - 1) };
        &self.text[start..self.end(id)]
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
    fn hashes_starting_at_the_last_slot_wrap_around() {
        let mut i = Interner::default();
        i.prefetch(7);
        let last = [u64::MAX, u64::MAX - 1, u64::MAX - 2, u64::MAX - 3];
        for (n, h) in last.iter().enumerate() {
            assert_eq!(i.intern_with_hash(&format!("n{n}"), *h), n as u32);
        }
        for (n, h) in last.iter().enumerate() {
            i.prefetch(*h);
            assert_eq!(i.intern_with_hash("anything", *h), n as u32);
        }
        assert_eq!(i.len(), 4);
        assert_eq!(i.name(3), "n3");
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

    /// Names read back whole however far into the text they lie: the
    /// ends held wrap every 2^END_BITS bytes (256 in tests), and a name
    /// may be empty or longer than one wrap.
    #[test]
    fn names_read_back_across_wrapped_ends() {
        let names: Vec<String> = (0..3_000)
            .map(|n| match n % 97 {
                0 => String::new(),
                1 => format!("{n}-{}", "x".repeat(700)),
                _ => format!("name-{n}-{}", "y".repeat(n % 13)),
            })
            .collect();
        let mut i = Interner::default();
        let ids: Vec<u32> = names.iter().map(|n| i.intern(n)).collect();
        assert!(i.wraps.len() > 100);
        for (name, id) in names.iter().zip(&ids) {
            assert_eq!(i.name(*id), name);
        }
        let distinct: Vec<&str> = i.iter().collect();
        let mut expected: Vec<&str> = Vec::new();
        for name in &names {
            if !expected.contains(&name.as_str()) {
                expected.push(name);
            }
        }
        assert_eq!(distinct, expected);
    }
}
