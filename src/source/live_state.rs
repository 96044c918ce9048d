//! A live view's state on disk: the engine's events and the stream offsets
//! they cover, written atomically (a temporary file renamed over the old
//! one), so that a view stopped at any moment resumes without losing or
//! double-counting an event.
//!
//! The file is a magic, a format version, and one derived struct
//! ([`StateFile`]) in postcard. A file of another version is refused with a
//! message that says so.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{EngineConfig, LiveEngine, SavedEngine, StreamMark};

use super::Mapping;

/// The first bytes of a state file.
const MAGIC: &[u8; 8] = b"JSCOPEst";

/// The format written. States of other versions are refused.
const VERSION: u32 = 6;

/// The first bytes of the states that earlier versions wrote.
const EARLIER_MAGICS: [&[u8; 8]; 2] = [b"JSCOPE01", b"JSCOPE02"];

/// What a saved state holds besides the engine's events.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// Where every partition read goes on.
    pub covered: Vec<StreamMark>,
    /// The columns the events were mapped with.
    pub mapping: Mapping,
    /// The topic read.
    pub topic: Option<String>,
    /// With `--pseudonymize`, the key's fingerprint (see
    /// [`super::pseudonym::Pseudonymizer::fingerprint`]); None for raw ids.
    pub ids: Option<String>,
}

/// The columns, as a state file keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedMapping {
    customer: String,
    customer_fallback: Option<String>,
    event: String,
    time: String,
    time_unit: Option<super::EpochUnit>,
    event_id: Option<String>,
    session_id: Option<String>,
    channel: Option<String>,
    convention: String,
}

impl From<&Mapping> for SavedMapping {
    fn from(m: &Mapping) -> Self {
        SavedMapping {
            customer: m.customer.clone(),
            customer_fallback: m.customer_fallback.clone(),
            event: m.event.clone(),
            time: m.time.clone(),
            time_unit: m.time_unit,
            event_id: m.event_id.clone(),
            session_id: m.session_id.clone(),
            channel: m.channel.clone(),
            convention: m.convention.clone(),
        }
    }
}

impl From<SavedMapping> for Mapping {
    fn from(m: SavedMapping) -> Self {
        Mapping {
            customer: m.customer,
            customer_fallback: m.customer_fallback,
            event: m.event,
            time: m.time,
            time_unit: m.time_unit,
            event_id: m.event_id,
            session_id: m.session_id,
            channel: m.channel,
            convention: m.convention,
            columns: Vec::new(),
        }
    }
}

/// Everything a state file holds, borrowed to write and owned when read.
#[derive(Debug, Serialize, Deserialize)]
pub struct StateFile<'a> {
    engine: SavedEngine<'a>,
    covered: Cow<'a, [StreamMark]>,
    mapping: SavedMapping,
    topic: Cow<'a, str>,
    ids: Option<Cow<'a, str>>,
}

/// Writes `engine` and the offsets its events cover to `path`, replacing
/// any earlier state only once all is written.
pub fn save_state(
    path: &Path,
    engine: &LiveEngine,
    covered: &[StreamMark],
    mapping: &Mapping,
    topic: &str,
    ids: Option<&str>,
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
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        let state = StateFile {
            engine: engine.saved(),
            covered: Cow::Borrowed(covered),
            mapping: mapping.into(),
            topic: Cow::Borrowed(topic),
            ids: ids.map(Cow::Borrowed),
        };
        postcard::to_io(&state, &mut w).map_err(io::Error::other)?;
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
    read_state(&mut File::open(path)?, config, lateness_us)
}

/// Reads a state as [`load_state`] does, from any reader.
pub fn read_state(
    r: &mut impl Read,
    config: EngineConfig,
    lateness_us: i64,
) -> io::Result<(LiveEngine, Resume)> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let (magic, rest) = bytes.split_at_checked(MAGIC.len()).unwrap_or((&bytes, &[]));
    if EARLIER_MAGICS.iter().any(|m| magic == *m) {
        return Err(invalid(
            "the state was saved by an earlier version of Journeyscope; remove it to start over"
                .into(),
        ));
    }
    if magic != MAGIC {
        return Err(invalid("not a saved Journeyscope state".into()));
    }
    let (version, body) = rest.split_at_checked(4).unwrap_or((&[], &[]));
    let version = <[u8; 4]>::try_from(version).ok().map(u32::from_le_bytes);
    if version != Some(VERSION) {
        return Err(invalid(format!(
            "the state was saved in format {} and this Journeyscope reads format {VERSION}; \
             remove it to start over",
            version.map_or("(unreadable)".to_owned(), |v| v.to_string())
        )));
    }
    let state: StateFile = postcard::from_bytes(body).map_err(|e| {
        invalid(format!(
            "the state file is damaged ({e}); remove it to start over"
        ))
    })?;
    let engine = LiveEngine::restore(state.engine, config, lateness_us)?;
    Ok((
        engine,
        Resume {
            covered: state.covered.into_owned(),
            mapping: state.mapping.into(),
            topic: Some(state.topic.into_owned()),
            ids: state.ids.map(Cow::into_owned),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EventBatch, NewEvent};

    fn mapping() -> Mapping {
        Mapping {
            customer: "customer_id".into(),
            customer_fallback: None,
            event: "event".into(),
            time: "timestamp".into(),
            time_unit: None,
            event_id: None,
            session_id: None,
            channel: None,
            convention: "aliases".into(),
            columns: Vec::new(),
        }
    }

    fn saved_bytes() -> Vec<u8> {
        let mut engine = LiveEngine::new(EngineConfig::default(), 10_000_000);
        let mut batch = EventBatch::with_capacity(2);
        for (event, time_us) in [("home", 0), ("cart", 60_000_000)] {
            let new = NewEvent {
                customer: "c1",
                event,
                time_us,
                event_id: None,
                session_id: None,
            };
            batch.push(new, Vec::new());
        }
        engine.ingest(&batch);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let mark = StreamMark {
            partition: 0,
            next_offset: 2,
            last_timestamp_ms: Some(5),
            high_watermark: Some(2),
        };
        save_state(&path, &engine, &[mark], &mapping(), "orders", None).unwrap();
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn a_state_reads_back_and_other_formats_are_refused_by_name() {
        let bytes = saved_bytes();
        let read = |b: &[u8]| read_state(&mut &b[..], EngineConfig::default(), 10_000_000);
        let (_, resume) = read(&bytes).unwrap();
        assert_eq!(resume.topic.as_deref(), Some("orders"));
        assert_eq!(resume.covered[0].next_offset, 2);
        assert_eq!(resume.mapping.customer, "customer_id");
        let mut other = bytes.clone();
        other[8] = 9;
        assert!(read(&other).unwrap_err().to_string().contains("format 9"));
        let earlier = [b"JSCOPE02".as_slice(), &bytes[8..]].concat();
        assert!(
            read(&earlier)
                .unwrap_err()
                .to_string()
                .contains("earlier version")
        );
        assert!(
            read(&bytes[..bytes.len() / 2])
                .unwrap_err()
                .to_string()
                .contains("damaged")
        );
        assert!(read(b"not a state").is_err());
    }
}
