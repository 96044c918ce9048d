//! A live view's state on disk: the engine's events and the stream offsets
//! they cover, written atomically (a temporary file renamed over the old
//! one), so that a view stopped at any moment resumes without losing or
//! double-counting an event.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use crate::engine::binary::{get_bytes, get_i64, get_len, get_u32, put_bytes, put_i64, put_u64};
use crate::engine::{EngineConfig, LiveEngine};

use super::Mapping;

/// What a saved state holds besides the engine's events.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// (partition, next offset) for every partition read.
    pub covered: Vec<(i32, i64)>,
    /// The columns the events were mapped with.
    pub mapping: Mapping,
}

/// Writes `engine` and the offsets (partition, next offset) its events
/// cover to `path`, replacing any earlier state only once all is written.
pub fn save_state(
    path: &Path,
    engine: &LiveEngine,
    covered: &[(i32, i64)],
    mapping: &Mapping,
) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = std::path::PathBuf::from(temporary);
    {
        let file = File::create(&temporary)?;
        let mut w = BufWriter::new(file);
        engine.save(&mut w)?;
        put_u64(&mut w, covered.len() as u64)?;
        for (partition, offset) in covered {
            w.write_all(&partition.to_le_bytes())?;
            put_i64(&mut w, *offset)?;
        }
        put_bytes(
            &mut w,
            &serde_json::to_vec(mapping).map_err(io::Error::other)?,
        )?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

/// Reads a state written by [`save_state`]: the engine (to go on with
/// `config` and `lateness_us`, which must be those it was saved with) and
/// the offsets to resume from.
pub fn load_state(
    path: &Path,
    config: EngineConfig,
    lateness_us: i64,
) -> io::Result<(LiveEngine, Resume)> {
    let mut r = BufReader::new(File::open(path)?);
    let engine = LiveEngine::restore(&mut r, config, lateness_us)?;
    let count = get_len(&mut r, 1 << 20)?;
    let mut covered = Vec::with_capacity(count);
    for _ in 0..count {
        let partition = get_u32(&mut r)? as i32;
        covered.push((partition, get_i64(&mut r)?));
    }
    let mapping = serde_json::from_slice(&get_bytes(&mut r)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((engine, Resume { covered, mapping }))
}

/// Moves `covered` on to where a batch's `resume_at` says the stream goes
/// on, once the batch's events are in the engine.
pub fn advance(covered: &mut Vec<(i32, i64)>, resume_at: &[(i32, i64)]) {
    for &(partition, next) in resume_at {
        match covered.iter_mut().find(|(p, _)| *p == partition) {
            Some(slot) => slot.1 = next,
            None => covered.push((partition, next)),
        }
    }
}
