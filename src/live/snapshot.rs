//! One partition's journeys on the state topic: a worker's snapshot of the
//! partial journeys it holds for one input partition, with the offset they
//! cover inside the same message (the snapshot is the commit), and how the
//! topic's messages are read back into the latest snapshot per partition.
//!
//! A message is a magic, a format version, a [`SnapshotHeader`] in postcard
//! and a piece of the live state's own bytes
//! ([`crate::source::live_state::write_state`]). A state larger than one
//! message may be is split into numbered chunks: the chunks before the last
//! are keyed `JOB/TOPIC/PARTITION#SEQUENCE/N`, the last is keyed
//! `JOB/TOPIC/PARTITION` and completes the snapshot. All go to one
//! partition of the state topic, so a reader has every earlier chunk when
//! the last arrives.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The first bytes of a snapshot message.
pub const MAGIC: &[u8; 8] = b"JSCOPEsn";

/// The snapshot format written; messages of another are counted, never
/// merged.
pub const VERSION: u32 = 2;

/// A state topic message's bytes before its header.
const PREFIX_BYTES: usize = 12;

/// Chunks waiting for their last one are let go past this many bytes (a
/// state this large is refused anyway: see
/// [`crate::source::live_state::MAX_STATE_BYTES`]).
const MAX_HELD_BYTES: u64 = crate::source::live_state::MAX_STATE_BYTES;

/// And past this many chunks (a state of 4 GiB in the default 900 kB
/// chunks is under 5,000).
const MAX_HELD_CHUNKS: usize = 100_000;

/// At most this many problem messages are kept to show.
const PROBLEM_SAMPLE: usize = 10;

/// Which input partition a snapshot is of: job, topic, partition.
pub type PartKey = (String, String, i32);

/// What a snapshot says about itself, in every chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// The job: workers of one job share a mapping and merge together.
    pub job: String,
    /// The input topic.
    pub topic: String,
    /// The input partition.
    pub partition: i32,
    /// The next offset of the input partition: every message before it is
    /// in the state, none after.
    pub next_offset: i64,
    /// The input partition's end offset as last seen by the worker.
    pub input_end: Option<i64>,
    /// Events taken in (duplicates included).
    pub events: u64,
    /// The worker that published it (its client id).
    pub worker: String,
    /// When it was published (ms since the epoch, the worker's clock).
    pub published_ms: i64,
    /// How often its worker publishes (ms).
    pub every_ms: u64,
    /// Tells one snapshot's chunks from another's.
    pub sequence: u64,
    /// This message's chunk (0-based) and how many there are.
    pub chunk: u32,
    /// Chunks of the snapshot.
    pub chunks: u32,
    /// Bytes of the whole state.
    pub state_bytes: u64,
}

/// A whole snapshot: its header and the live state's bytes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// What the last chunk said.
    pub header: SnapshotHeader,
    /// The state, as [`crate::source::live_state::write_state`] wrote it.
    pub state: Vec<u8>,
}

/// The key of a partition's snapshot (its last chunk).
pub fn snapshot_key(job: &str, topic: &str, partition: i32) -> String {
    format!("{job}/{topic}/{partition}")
}

fn chunk_key(base: &str, sequence: u64, chunk: u32) -> String {
    format!("{base}#{sequence}/{chunk}")
}

/// The keys of the chunks before the last of a snapshot (what a newer
/// snapshot's publisher clears with tombstones).
pub fn chunk_keys(header: &SnapshotHeader) -> Vec<String> {
    let base = snapshot_key(&header.job, &header.topic, header.partition);
    (0..header.chunks.saturating_sub(1))
        .map(|k| chunk_key(&base, header.sequence, k))
        .collect()
}

/// The messages (key, value) of a snapshot of `state`, at most
/// `chunk_bytes` of state each, in the order to send them: the last one
/// completes it. `header`'s chunk fields are filled in here.
pub fn snapshot_messages(
    mut header: SnapshotHeader,
    state: &[u8],
    chunk_bytes: usize,
) -> Vec<(String, Vec<u8>)> {
    let pieces: Vec<&[u8]> = match state.is_empty() {
        true => vec![state],
        false => state.chunks(chunk_bytes.max(1)).collect(),
    };
    header.chunks = pieces.len() as u32;
    header.state_bytes = state.len() as u64;
    let base = snapshot_key(&header.job, &header.topic, header.partition);
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(k, piece)| {
            header.chunk = k as u32;
            let key = match k == last {
                true => base.clone(),
                false => chunk_key(&base, header.sequence, k as u32),
            };
            let mut value = Vec::with_capacity(piece.len() + 256);
            value.extend_from_slice(MAGIC);
            value.extend_from_slice(&VERSION.to_le_bytes());
            // Writing to a vector cannot fail.
            let _ = postcard::to_io(&header, &mut value);
            value.extend_from_slice(piece);
            (key, value)
        })
        .collect()
}

/// The header of a snapshot message, if it is one of this format.
pub fn header_of(value: &[u8]) -> Option<SnapshotHeader> {
    parse(value).ok().map(|(header, _)| header)
}

/// Why a message of the state topic was not merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmerged {
    /// Not a snapshot at all.
    NotASnapshot,
    /// A snapshot of another format version.
    OtherVersion,
    /// The last chunk arrived without the ones before it.
    Incomplete,
}

/// Messages of the state topic that were not merged: counted, with a few
/// shown.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateProblems {
    /// Messages that are not snapshots.
    pub not_snapshots: u64,
    /// Snapshots of another format version.
    pub other_versions: u64,
    /// Snapshots whose earlier chunks were missing.
    pub incomplete: u64,
    /// The first few: where, and why.
    pub sample: Vec<String>,
}

impl StateProblems {
    /// Problem messages so far.
    pub fn total(&self) -> u64 {
        self.not_snapshots + self.other_versions + self.incomplete
    }

    fn count(&mut self, why: Unmerged, at: String, detail: String) {
        match why {
            Unmerged::NotASnapshot => self.not_snapshots += 1,
            Unmerged::OtherVersion => self.other_versions += 1,
            Unmerged::Incomplete => self.incomplete += 1,
        }
        if self.sample.len() < PROBLEM_SAMPLE {
            self.sample
                .push(crate::format::printable(&format!("{at}: {detail}")).into_owned());
        }
    }
}

/// Reads a message's header and chunk, or says why it is not a snapshot.
fn parse(value: &[u8]) -> Result<(SnapshotHeader, &[u8]), (Unmerged, String)> {
    let not_one = |why: &str| (Unmerged::NotASnapshot, why.to_owned());
    if value.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        let start: String = String::from_utf8_lossy(&value[..value.len().min(24)]).into();
        return Err(not_one(&format!(
            "not a Journeyscope snapshot (it starts with `{start}`)"
        )));
    }
    let version = value
        .get(MAGIC.len()..PREFIX_BYTES)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes);
    if version != Some(VERSION) {
        return Err((
            Unmerged::OtherVersion,
            format!(
                "a snapshot of format {} (this Journeyscope reads format {VERSION}); run the \
                 workers and the viewer of one version",
                version.map_or("(unreadable)".to_owned(), |v| v.to_string())
            ),
        ));
    }
    postcard::take_from_bytes::<SnapshotHeader>(&value[PREFIX_BYTES..])
        .map_err(|e| not_one(&format!("a damaged snapshot header ({e})")))
}

/// Reads the state topic's messages in order and keeps the latest whole
/// snapshot of each input partition.
#[derive(Debug, Default)]
pub struct Assembler {
    /// Chunks before the last, by key, until their snapshot completes.
    chunks: HashMap<String, (SnapshotHeader, Vec<u8>)>,
    /// Their bytes.
    held_bytes: u64,
    latest: BTreeMap<PartKey, Snapshot>,
    /// Only this job's snapshots are held, when set.
    job: Option<String>,
    /// Messages not merged.
    pub problems: StateProblems,
}

impl Assembler {
    /// Takes one message (`at` names it in a problem); the partition whose
    /// snapshot it completed, if any. A message without a value (a
    /// tombstone) clears a chunk.
    pub fn take(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        at: impl FnOnce() -> String,
    ) -> Option<PartKey> {
        let Some(value) = value else {
            if let Some((_, bytes)) =
                key.and_then(|k| self.chunks.remove(String::from_utf8_lossy(k).as_ref()))
            {
                self.held_bytes = self.held_bytes.saturating_sub(bytes.len() as u64);
            }
            return None;
        };
        let (header, piece) = match parse(value) {
            Ok(parsed) => parsed,
            Err((why, detail)) => {
                self.problems.count(why, at(), detail);
                return None;
            }
        };
        if self.job.as_ref().is_some_and(|job| *job != header.job) {
            return None;
        }
        if header.chunk < header.chunks.saturating_sub(1) {
            let key = key.map_or_else(String::new, |k| String::from_utf8_lossy(k).into_owned());
            self.hold(key, header, piece, at);
            return None;
        }
        let Some(state) = self.gather(&header, piece) else {
            let detail = format!(
                "the snapshot of partition {} of `{}` (job `{}`) came without its first {} \
                 chunks",
                header.partition,
                header.topic,
                header.job,
                header.chunks.saturating_sub(1)
            );
            self.problems.count(Unmerged::Incomplete, at(), detail);
            return None;
        };
        let part = (header.job.clone(), header.topic.clone(), header.partition);
        self.latest.insert(part.clone(), Snapshot { header, state });
        Some(part)
    }

    /// Holds a chunk until its snapshot's last one; past
    /// [`MAX_HELD_BYTES`] held, every chunk held is let go (and counted).
    fn hold(
        &mut self,
        key: String,
        header: SnapshotHeader,
        piece: &[u8],
        at: impl FnOnce() -> String,
    ) {
        self.held_bytes += piece.len() as u64;
        if let Some((_, earlier)) = self.chunks.insert(key, (header, piece.to_vec())) {
            self.held_bytes = self.held_bytes.saturating_sub(earlier.len() as u64);
        }
        if self.held_bytes > MAX_HELD_BYTES || self.chunks.len() > MAX_HELD_CHUNKS {
            let dropped = self.chunks.len();
            self.chunks.clear();
            self.held_bytes = 0;
            let detail = format!(
                "{dropped} chunks held without their last one passed {} bytes and were let go",
                crate::format::thousands(MAX_HELD_BYTES)
            );
            self.problems.count(Unmerged::Incomplete, at(), detail);
        }
    }

    /// The state of the snapshot `last` completes, its earlier chunks taken
    /// out of those held; None when one is missing.
    fn gather(&mut self, last: &SnapshotHeader, piece: &[u8]) -> Option<Vec<u8>> {
        // More chunks than are held cannot all be there (and a header's
        // count is not trusted to make that many keys).
        if last.chunks.saturating_sub(1) as usize > self.chunks.len() {
            return None;
        }
        let keys = chunk_keys(last);
        let whole = keys.iter().all(|k| {
            self.chunks
                .get(k)
                .is_some_and(|(h, _)| h.sequence == last.sequence)
        });
        let mut state = Vec::new();
        if whole {
            for k in &keys {
                if let Some((_, bytes)) = self.chunks.remove(k) {
                    self.held_bytes = self.held_bytes.saturating_sub(bytes.len() as u64);
                    state.extend_from_slice(&bytes);
                }
            }
        }
        // Chunks of this partition's earlier snapshots will never complete.
        let base = format!("{}#", snapshot_key(&last.job, &last.topic, last.partition));
        let mut freed = 0;
        self.chunks.retain(|k, (h, bytes)| {
            let stale = k.starts_with(&base) && h.published_ms < last.published_ms;
            freed += if stale { bytes.len() as u64 } else { 0 };
            !stale
        });
        self.held_bytes = self.held_bytes.saturating_sub(freed);
        if !whole {
            return None;
        }
        state.extend_from_slice(piece);
        Some(state)
    }

    /// Holds only `job`'s snapshots from now on (and lets the others go).
    pub fn only_job(&mut self, job: &str) {
        self.latest.retain(|k, _| k.0 == job);
        self.chunks.retain(|_, (h, _)| h.job == job);
        self.held_bytes = self.chunks.values().map(|(_, b)| b.len() as u64).sum();
        self.job = Some(job.to_owned());
    }

    /// The latest whole snapshot of each input partition.
    pub fn latest(&self) -> &BTreeMap<PartKey, Snapshot> {
        &self.latest
    }

    /// The latest snapshot of one input partition.
    pub fn of(&self, job: &str, topic: &str, partition: i32) -> Option<&Snapshot> {
        self.latest
            .get(&(job.to_owned(), topic.to_owned(), partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(sequence: u64) -> SnapshotHeader {
        SnapshotHeader {
            job: "j".into(),
            topic: "shop".into(),
            partition: 3,
            next_offset: 42,
            input_end: Some(50),
            events: 40,
            worker: "w1".into(),
            published_ms: sequence as i64,
            every_ms: 2000,
            sequence,
            chunk: 0,
            chunks: 0,
            state_bytes: 0,
        }
    }

    fn feed(assembler: &mut Assembler, messages: &[(String, Vec<u8>)]) -> Vec<PartKey> {
        messages
            .iter()
            .filter_map(|(k, v)| assembler.take(Some(k.as_bytes()), Some(v), || k.clone()))
            .collect()
    }

    #[test]
    fn a_state_split_into_chunks_is_put_back_together() {
        let state: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let messages = snapshot_messages(header(1), &state, 3_000);
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[3].0, "j/shop/3");
        assert!(
            messages[..3]
                .iter()
                .all(|(k, _)| k.starts_with("j/shop/3#1/"))
        );
        let mut assembler = Assembler::default();
        let done = feed(&mut assembler, &messages);
        assert_eq!(done, vec![("j".to_owned(), "shop".to_owned(), 3)]);
        let got = assembler.of("j", "shop", 3).expect("whole");
        assert_eq!(got.state, state);
        assert_eq!(got.header.next_offset, 42);
        assert_eq!(assembler.problems.total(), 0);
        assert!(assembler.chunks.is_empty());
    }

    #[test]
    fn what_is_not_a_whole_snapshot_is_counted_and_never_kept() {
        let mut assembler = Assembler::default();
        let state = vec![7u8; 100];
        // The last chunk without the first.
        let messages = snapshot_messages(header(1), &state, 60);
        feed(&mut assembler, &messages[1..]);
        let mut other = snapshot_messages(header(2), &state, 1000);
        other[0].1[8] = 9;
        feed(&mut assembler, &other);
        let garbage = vec![("x".to_owned(), b"{\"hello\": 1}".to_vec())];
        feed(&mut assembler, &garbage);
        let p = &assembler.problems;
        assert_eq!((p.incomplete, p.other_versions, p.not_snapshots), (1, 1, 1));
        assert_eq!(p.sample.len(), 3);
        assert!(assembler.latest().is_empty());
        // A newer whole snapshot replaces nothing it should not.
        feed(&mut assembler, &snapshot_messages(header(3), &state, 1000));
        assert_eq!(assembler.latest().len(), 1);
    }
}
