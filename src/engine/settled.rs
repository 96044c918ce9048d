//! Customers quiet for long, kept with only what the running totals need
//! of them, so that a stream's memory follows the customers of the recent
//! past rather than every customer ever seen.
//!
//! A customer is settled once its last event is older than the kept past
//! and the session timeout: its open session has been ended in the totals
//! for good (no later event can continue it), and what remains is what the
//! totals need if it comes back — that it was counted already, and the
//! touchpoints and transitions it took (so that it is not counted again
//! among their customers). That is 24 bytes in a table keyed by the name's
//! hash plus its sets, delta-coded in one arena per shard: 50 to 75 bytes a
//! customer in all, as the tables fill.
//!
//! Past a limit, the customers settled the longest ago are forgotten (and
//! counted): one who comes back after that counts as a new customer.

use std::collections::BTreeMap;

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

/// Shards by the name hash's top bits: each grows (and is compacted) on its
/// own, so no step copies the whole store.
const SHARDS: usize = 64;

const HOUR_US: i64 = 3600 * 1_000_000;

/// Settled customers kept when nothing else is asked (at most 3.7 GB).
pub const DEFAULT_SETTLED_LIMIT: usize = 50_000_000;

/// What the totals need of a customer that comes back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Settled {
    /// Time of its last event.
    pub last_us: i64,
    /// Session key of its last event (0 = no session id).
    pub key: u32,
    /// Touchpoints it reached, ascending.
    pub nodes: Vec<u32>,
    /// Transitions (edge ids) it took, ascending.
    pub edges: Vec<u32>,
}

/// One customer in a shard's table; its sets are in the shard's arena at
/// `at`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Entry {
    hash: u64,
    last_us: i64,
    key: u32,
    at: u32,
}

#[derive(Debug, Clone, Default)]
struct Shard {
    table: HashTable<Entry>,
    /// The sets of every entry, each as postcard varints: the number of
    /// nodes, their gaps, the number of edges, their gaps.
    arena: Vec<u8>,
    /// Bytes of the arena no entry points at any more.
    dead: usize,
}

/// Ascending ids, written as their gaps from the previous one (a
/// sequence of varints, read back as a `Vec<u32>`).
struct Gaps<'a>(&'a [u32]);

impl Serialize for Gaps<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut previous = 0;
        serializer.collect_seq(self.0.iter().map(|&id| {
            let gap = id.wrapping_sub(previous);
            previous = id;
            gap
        }))
    }
}

/// Gaps back to ascending ids.
fn ids(gaps: Vec<u32>) -> Vec<u32> {
    let mut id = 0u32;
    gaps.into_iter()
        .map(|gap| {
            id = id.saturating_add(gap);
            id
        })
        .collect()
}

/// Writes two ascending sets at the end of `arena` and says where.
fn append(arena: &mut Vec<u8>, nodes: &[u32], edges: &[u32]) -> u32 {
    let at = arena.len();
    // Writing to memory cannot fail; were it to, the sets would read as
    // empty rather than as another customer's.
    if postcard::to_io(&(Gaps(nodes), Gaps(edges)), &mut *arena).is_err() {
        arena.truncate(at);
    }
    at as u32
}

/// The sets stored at `at` in `arena` and the bytes they take.
fn read_sets(arena: &[u8], at: u32) -> Option<(Vec<u32>, Vec<u32>, usize)> {
    let from = arena.get(at as usize..)?;
    let ((nodes, edges), rest): ((Vec<u32>, Vec<u32>), _) = postcard::take_from_bytes(from).ok()?;
    Some((ids(nodes), ids(edges), from.len() - rest.len()))
}

impl Shard {
    /// The sets stored at `at` and the bytes they take.
    fn read(&self, at: u32) -> Option<(Vec<u32>, Vec<u32>, usize)> {
        read_sets(&self.arena, at)
    }

    /// Writes the sets at the arena's end and says where.
    fn write(&mut self, nodes: &[u32], edges: &[u32]) -> u32 {
        append(&mut self.arena, nodes, edges)
    }

    /// Copies the live sets to a new arena once more than half is dead.
    fn compact_if_wasteful(&mut self) {
        if self.dead * 2 <= self.arena.len() {
            return;
        }
        let old = std::mem::take(&mut self.arena);
        for entry in self.table.iter_mut() {
            let (nodes, edges, _) = read_sets(&old, entry.at).unwrap_or_default();
            entry.at = append(&mut self.arena, &nodes, &edges);
        }
        self.dead = 0;
    }
}

/// The settled customers of a stream, by the hash of their name.
#[derive(Debug, Clone)]
pub(super) struct SettledCustomers {
    shards: Vec<Shard>,
    /// Settled customers by the hour of their last event, to forget the
    /// quietest first.
    by_hour: BTreeMap<i64, u64>,
    len: usize,
    limit: usize,
    /// Customers forgotten past the limit.
    pub forgotten: u64,
}

impl Default for SettledCustomers {
    fn default() -> Self {
        SettledCustomers {
            shards: vec![Shard::default(); SHARDS],
            by_hour: BTreeMap::new(),
            len: 0,
            limit: DEFAULT_SETTLED_LIMIT,
            forgotten: 0,
        }
    }
}

/// The shard of a name hash, by bits the tables use for neither the
/// bucket (the low bits) nor the tag they keep per bucket (the top seven).
fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize % SHARDS
}

impl SettledCustomers {
    /// Customers settled and not come back.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Keeps at most `limit` settled customers (the quietest forgotten).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        self.forget_past_limit();
    }

    /// Bytes held: tables, arenas and the hour counts.
    pub fn heap_bytes(&self) -> usize {
        let table = |t: &HashTable<Entry>| {
            let buckets = if t.capacity() == 0 {
                0
            } else {
                (t.capacity() * 8 / 7).next_power_of_two()
            };
            buckets * (std::mem::size_of::<Entry>() + 1)
        };
        self.shards
            .iter()
            .map(|s| table(&s.table) + s.arena.capacity())
            .sum::<usize>()
            + self.by_hour.len() * 48
    }

    /// Keeps `customer` (by its name's hash), settled.
    pub fn insert(&mut self, hash: u64, customer: &Settled) {
        let shard = &mut self.shards[shard_of(hash)];
        let at = shard.write(&customer.nodes, &customer.edges);
        let entry = Entry {
            hash,
            last_us: customer.last_us,
            key: customer.key,
            at,
        };
        let replaced = match shard.table.entry(hash, |e| e.hash == hash, |e| e.hash) {
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(entry);
                None
            }
            // Not expected (a customer that comes back is taken out): the
            // newer replaces it.
            hashbrown::hash_table::Entry::Occupied(mut occupied) => {
                Some(std::mem::replace(occupied.get_mut(), entry))
            }
        };
        if let Some(old) = replaced {
            shard.dead += read_sets(&shard.arena, old.at).map_or(0, |(_, _, n)| n);
            self.uncount(old.last_us);
        }
        *self
            .by_hour
            .entry(customer.last_us.div_euclid(HOUR_US))
            .or_default() += 1;
        self.len += 1;
        self.forget_past_limit();
    }

    /// Takes back the customer of name hash `hash`, if settled.
    pub fn take(&mut self, hash: u64) -> Option<Settled> {
        let shard = &mut self.shards[shard_of(hash)];
        let entry = shard
            .table
            .find_entry(hash, |e| e.hash == hash)
            .ok()?
            .remove()
            .0;
        let (nodes, edges, bytes) = shard.read(entry.at).unwrap_or_default();
        shard.dead += bytes;
        shard.compact_if_wasteful();
        self.uncount(entry.last_us);
        Some(Settled {
            last_us: entry.last_us,
            key: entry.key,
            nodes,
            edges,
        })
    }

    /// One settled customer less, of last event at `last_us`.
    fn uncount(&mut self, last_us: i64) {
        let hour = last_us.div_euclid(HOUR_US);
        if let Some(n) = self.by_hour.get_mut(&hour) {
            *n -= 1;
            if *n == 0 {
                self.by_hour.remove(&hour);
            }
        }
        self.len -= 1;
    }

    /// Past the limit, forgets the customers of the quietest hours until an
    /// eighth is free again.
    fn forget_past_limit(&mut self) {
        if self.len <= self.limit {
            return;
        }
        let target = self.limit - self.limit / 8;
        let mut left = self.len;
        let mut before_hour = i64::MIN;
        for (&hour, &n) in &self.by_hour {
            if left <= target {
                break;
            }
            left -= n as usize;
            before_hour = hour + 1;
        }
        let before_us = before_hour.saturating_mul(HOUR_US);
        for shard in &mut self.shards {
            let mut dead = 0;
            let arena = &shard.arena;
            shard.table.retain(|e| {
                let keep = e.last_us >= before_us;
                if !keep {
                    dead += read_sets(arena, e.at).map_or(0, |(_, _, bytes)| bytes);
                }
                keep
            });
            shard.dead += dead;
            shard.compact_if_wasteful();
        }
        self.by_hour = self.by_hour.split_off(&before_hour);
        let kept: usize = self.shards.iter().map(|s| s.table.len()).sum();
        self.forgotten += (self.len - kept) as u64;
        self.len = kept;
    }

    /// Every settled customer (its hash and what is kept), to check or
    /// save.
    fn iter(&self) -> impl Iterator<Item = (u64, Settled)> + '_ {
        self.shards.iter().flat_map(|shard| {
            shard.table.iter().map(|e| {
                let (nodes, edges, _) = shard.read(e.at).unwrap_or_default();
                (
                    e.hash,
                    Settled {
                        last_us: e.last_us,
                        key: e.key,
                        nodes,
                        edges,
                    },
                )
            })
        })
    }

    /// True when every kept set names a touchpoint below `touchpoints` and a
    /// transition below `edges`, and every time is an event time.
    pub fn check(&self, touchpoints: usize, edges: usize) -> bool {
        self.shards.iter().all(|shard| {
            shard.table.iter().all(|e| {
                super::batch::is_event_time(e.last_us)
                    && shard.read(e.at).is_some_and(|(n, d, _)| {
                        n.iter().all(|&id| (id as usize) < touchpoints)
                            && d.iter().all(|&id| (id as usize) < edges)
                    })
            })
        })
    }
}

/// One settled customer as saved: hash, last time, key, sets.
type SavedCustomer = (u64, i64, u32, Vec<u32>, Vec<u32>);

/// Saved as the list of customers and the count forgotten.
#[derive(Serialize, Deserialize)]
struct SavedSettled {
    customers: Vec<SavedCustomer>,
    forgotten: u64,
}

impl Serialize for SettledCustomers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SavedSettled {
            customers: self
                .iter()
                .map(|(hash, s)| (hash, s.last_us, s.key, s.nodes, s.edges))
                .collect(),
            forgotten: self.forgotten,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SettledCustomers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let saved = SavedSettled::deserialize(deserializer)?;
        let mut settled = SettledCustomers {
            limit: usize::MAX,
            ..SettledCustomers::default()
        };
        for (hash, last_us, key, mut nodes, mut edges) in saved.customers {
            nodes.sort_unstable();
            nodes.dedup();
            edges.sort_unstable();
            edges.dedup();
            let customer = Settled {
                last_us,
                key,
                nodes,
                edges,
            };
            settled.insert(hash, &customer);
        }
        settled.limit = DEFAULT_SETTLED_LIMIT;
        settled.forgotten = saved.forgotten;
        Ok(settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(last_us: i64, nodes: &[u32], edges: &[u32]) -> Settled {
        Settled {
            last_us,
            key: 7,
            nodes: nodes.to_vec(),
            edges: edges.to_vec(),
        }
    }

    #[test]
    fn a_settled_customer_comes_back_whole() {
        let mut store = SettledCustomers::default();
        let a = customer(5 * HOUR_US, &[0, 1, 2, 70, 4000], &[0, 3, 900]);
        store.insert(11, &a);
        store.insert(12 | 1 << 63, &customer(HOUR_US, &[0, 1], &[]));
        assert_eq!(store.len(), 2);
        assert_eq!(store.take(11), Some(a));
        assert_eq!(store.take(11), None);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn past_the_limit_the_quietest_are_forgotten() {
        let mut store = SettledCustomers::default();
        store.set_limit(80);
        for c in 0..100u64 {
            let hash = c.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            store.insert(
                hash,
                &customer(c as i64 * HOUR_US, &[0, 1, c as u32 + 2], &[1]),
            );
        }
        assert!(store.len() <= 80 && store.len() >= 60, "{}", store.len());
        assert_eq!(store.forgotten as usize + store.len(), 100);
        // The quietest went first: the newest are all still there.
        let newest = 99u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        assert_eq!(store.take(newest).map(|s| s.nodes), Some(vec![0, 1, 101]));
        let oldest = 0u64;
        assert_eq!(store.take(oldest), None);
    }

    #[test]
    fn arenas_are_compacted_as_customers_come_back() {
        let mut store = SettledCustomers::default();
        for round in 0..20 {
            for c in 0..1000u64 {
                store.insert(
                    c << 40 | c,
                    &customer(round, &[0, 1, 2, 3, 500], &[0, 1, 2]),
                );
            }
            for c in 0..1000u64 {
                assert!(store.take(c << 40 | c).is_some());
            }
        }
        let arena: usize = store.shards.iter().map(|s| s.arena.len()).sum();
        assert!(arena < 1000 * 20, "arena of {arena} bytes");
    }

    #[test]
    fn saved_and_read_back() {
        let mut store = SettledCustomers::default();
        store.insert(3, &customer(HOUR_US, &[0, 1, 9], &[2, 64]));
        store.forgotten = 4;
        let bytes = postcard::to_allocvec(&store).unwrap();
        let mut back: SettledCustomers = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.forgotten, 4);
        assert_eq!(back.take(3), Some(customer(HOUR_US, &[0, 1, 9], &[2, 64])));
    }
}
