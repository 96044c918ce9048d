//! A live view's state on disk: the engine's events and the stream offsets
//! they cover, written atomically (a temporary file renamed over the old
//! one), so that a view stopped at any moment resumes without losing or
//! double-counting an event.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::engine::binary::{get_bytes, get_i64, get_len, get_u32, put_bytes, put_i64, put_u64};
use crate::engine::{EngineConfig, LiveEngine, StreamMark};

use super::Mapping;

/// What a saved state holds besides the engine's events.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// Where every partition read goes on.
    pub covered: Vec<StreamMark>,
    /// The columns the events were mapped with.
    pub mapping: Mapping,
    /// The topic read (None in states saved before it was kept).
    pub topic: Option<String>,
}

/// What identifies the stream a state was read from.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Origin {
    topic: Option<String>,
    /// The timestamp of the last message read, per partition.
    last_timestamps_ms: Vec<(i32, Option<i64>)>,
    /// The end offset last seen, per partition.
    high_watermarks: Vec<(i32, Option<i64>)>,
}

/// Writes `engine` and the offsets (partition, next offset) its events
/// cover to `path`, replacing any earlier state only once all is written.
pub fn save_state(
    path: &Path,
    engine: &LiveEngine,
    covered: &[StreamMark],
    mapping: &Mapping,
    topic: &str,
) -> io::Result<()> {
    // A private temporary file beside the state (never a file of the user's).
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temporary = tempfile::Builder::new()
        .prefix(".journeyscope-state-")
        .tempfile_in(dir)?;
    {
        let mut w = BufWriter::new(temporary.as_file());
        engine.save(&mut w)?;
        put_u64(&mut w, covered.len() as u64)?;
        for mark in covered {
            w.write_all(&mark.partition.to_le_bytes())?;
            put_i64(&mut w, mark.next_offset)?;
        }
        put_bytes(
            &mut w,
            &serde_json::to_vec(mapping).map_err(io::Error::other)?,
        )?;
        let origin = Origin {
            topic: Some(topic.to_owned()),
            last_timestamps_ms: covered
                .iter()
                .map(|m| (m.partition, m.last_timestamp_ms))
                .collect(),
            high_watermarks: covered
                .iter()
                .map(|m| (m.partition, m.high_watermark))
                .collect(),
        };
        put_bytes(
            &mut w,
            &serde_json::to_vec(&origin).map_err(io::Error::other)?,
        )?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
    }
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a state written by [`save_state`]: the engine (to go on with
/// `config` and `lateness_us`, which must be those it was saved with) and
/// the offsets to resume from.
pub fn load_state(
    path: &Path,
    config: EngineConfig,
    lateness_us: i64,
) -> io::Result<(LiveEngine, Resume)> {
    read_state(&mut BufReader::new(File::open(path)?), config, lateness_us)
}

/// Reads a state as [`load_state`] does, from any reader.
pub fn read_state(
    r: &mut impl Read,
    config: EngineConfig,
    lateness_us: i64,
) -> io::Result<(LiveEngine, Resume)> {
    let mut r = r;
    let engine = LiveEngine::restore(&mut r, config, lateness_us)?;
    let count = get_len(&mut r, 1 << 20)?;
    let mut covered = Vec::with_capacity(count);
    for _ in 0..count {
        let partition = get_u32(&mut r)? as i32;
        covered.push(StreamMark {
            partition,
            next_offset: get_i64(&mut r)?,
            last_timestamp_ms: None,
            high_watermark: None,
        });
    }
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidData, e);
    let mapping = serde_json::from_slice(&get_bytes(&mut r)?).map_err(invalid)?;
    // States written before the origin was kept end here.
    let origin: Origin = match get_bytes(&mut r) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(invalid)?,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Origin::default(),
        Err(e) => return Err(e),
    };
    for mark in &mut covered {
        let of = |list: &[(i32, Option<i64>)]| {
            list.iter()
                .find(|(p, _)| *p == mark.partition)
                .and_then(|(_, v)| *v)
        };
        mark.last_timestamp_ms = of(&origin.last_timestamps_ms);
        mark.high_watermark = of(&origin.high_watermarks);
    }
    Ok((
        engine,
        Resume {
            covered,
            mapping,
            topic: origin.topic,
        },
    ))
}

/// Moves `covered` on to where a batch's `resume_at` says the stream goes
/// on, once the batch's events are in the engine.
pub fn advance(covered: &mut Vec<StreamMark>, resume_at: &[StreamMark]) {
    for mark in resume_at {
        match covered.iter_mut().find(|m| m.partition == mark.partition) {
            Some(slot) => *slot = *mark,
            None => covered.push(*mark),
        }
    }
}
