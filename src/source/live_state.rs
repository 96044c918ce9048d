//! A live view's state on disk: the engine's events and the stream offsets
//! they cover, written atomically (a temporary file renamed over the old
//! one), so that a view stopped at any moment resumes without losing or
//! double-counting an event.
//!
//! The file is a magic, a format version, and one derived struct
//! ([`StateFile`]) in postcard. A file of another version is refused with a
//! message that says so.

use std::borrow::Cow;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::{EngineConfig, LiveEngine, SavedEngine, StreamMark};

use super::Mapping;

/// The first bytes of a state file.
const MAGIC: &[u8; 8] = b"JSCOPEst";

/// The format written. States of other versions are refused.
pub const VERSION: u32 = 9;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            comparable: Vec::new(),
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

/// True when two mappings read the same columns alike (what a state
/// keeps of them; the columns seen beside them do not matter).
pub fn same_columns(a: &Mapping, b: &Mapping) -> bool {
    SavedMapping::from(a) == SavedMapping::from(b)
}

/// What a state holds besides the engine: the offsets its events cover,
/// the columns, the topic and the ids' key fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct Covering<'a> {
    /// Where every partition read goes on.
    pub covered: &'a [StreamMark],
    /// The columns the events were mapped with.
    pub mapping: &'a Mapping,
    /// The topic read.
    pub topic: &'a str,
    /// With `--pseudonymize`, the key's fingerprint.
    pub ids: Option<&'a str>,
}

/// Writes `engine` and what it covers to `path`, replacing any earlier
/// state only once all is written (through a temporary file of ours: see
/// [`crate::files`]; a new state is private to its user).
pub fn save_state(path: &Path, engine: &LiveEngine, covering: Covering<'_>) -> io::Result<()> {
    crate::files::write_with(path, crate::files::Kind::State, |file| {
        let mut w = BufWriter::new(file);
        write_state(&mut w, engine, covering)?;
        w.flush()
    })
}

/// Writes a state as [`save_state`] does, to any writer (a state topic's
/// snapshot holds these bytes).
pub fn write_state(
    w: &mut impl Write,
    engine: &LiveEngine,
    covering: Covering<'_>,
) -> io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    let state = StateFile {
        engine: engine.saved(),
        covered: Cow::Borrowed(covering.covered),
        mapping: covering.mapping.into(),
        topic: Cow::Borrowed(covering.topic),
        ids: covering.ids.map(Cow::Borrowed),
    };
    postcard::to_io(&state, w).map_err(io::Error::other)?;
    Ok(())
}

/// Reads the bytes [`write_state`] wrote (see [`load_state`]).
/// With `lateness_us` None, the engine goes on with the lateness it was
/// saved with (a viewer of others' states).
pub fn state_of_bytes(
    bytes: &[u8],
    config: EngineConfig,
    lateness_us: Option<i64>,
) -> io::Result<(LiveEngine, Resume)> {
    check_header(bytes.get(..HEADER_BYTES).unwrap_or(bytes))?;
    parse_state(bytes, config, lateness_us)
}

/// The largest state file read, in bytes: 4 GiB. A state is read whole and
/// the engine restored from it takes more memory again; a saved engine
/// holds tens of bytes per event, so this is well over a hundred million
/// events, beyond what a live view keeps. A larger file is not a state
/// Journeyscope could have saved and resumed, and reading it would only
/// fill the memory.
pub const MAX_STATE_BYTES: u64 = 4 << 30;

/// Reads a state written by [`save_state`]: the engine (to go on with
/// `config` and `lateness_us`, which must be those it was saved with) and
/// the offsets to resume from. Anything but a regular file (a device, a
/// pipe, a folder) is refused without reading it, and so is a file whose
/// first bytes are not a state's or that is larger than
/// [`MAX_STATE_BYTES`], before the rest is read.
pub fn load_state(
    path: &Path,
    config: EngineConfig,
    lateness_us: i64,
) -> io::Result<(LiveEngine, Resume)> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a pipe waits for a writer; without waiting, it is
        // opened, seen to be a pipe and refused.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(invalid(format!(
            "it is {}, not a saved state; give --state the path of a file (it is created if \
             missing)",
            crate::files::kind_of(&metadata)
        )));
    }
    let mut header = [0; HEADER_BYTES];
    let read = read_up_to(&mut file, &mut header)?;
    check_header(&header[..read])?;
    if metadata.len() > MAX_STATE_BYTES {
        return Err(invalid(format!(
            "it is {} bytes, more than the {} a saved state can be; it is not a state \
             Journeyscope could resume: remove it, or give another --state",
            crate::format::thousands(metadata.len()),
            crate::format::thousands(MAX_STATE_BYTES)
        )));
    }
    let mut bytes = header.to_vec();
    (&mut file).take(MAX_STATE_BYTES).read_to_end(&mut bytes)?;
    parse_state(&bytes, config, Some(lateness_us))
}

/// Reads a state as [`load_state`] does, from any reader (at most
/// [`MAX_STATE_BYTES`] of it).
pub fn read_state(
    r: &mut impl Read,
    config: EngineConfig,
    lateness_us: i64,
) -> io::Result<(LiveEngine, Resume)> {
    let mut header = [0; HEADER_BYTES];
    let read = read_up_to(r, &mut header)?;
    check_header(&header[..read])?;
    let mut bytes = header.to_vec();
    r.take(MAX_STATE_BYTES - HEADER_BYTES as u64)
        .read_to_end(&mut bytes)?;
    parse_state(&bytes, config, Some(lateness_us))
}

/// The magic and the version.
const HEADER_BYTES: usize = 12;

/// Fills `buffer` from `r` as far as `r` goes; how many bytes were read.
fn read_up_to(r: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match r.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Refuses what does not start as a state of this format.
fn check_header(header: &[u8]) -> io::Result<()> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let (magic, rest) = header
        .split_at_checked(MAGIC.len())
        .unwrap_or((header, &[]));
    if EARLIER_MAGICS.iter().any(|m| magic == *m) {
        return Err(invalid(
            "the state was saved by an earlier version of Journeyscope; remove it to start over"
                .into(),
        ));
    }
    if magic != MAGIC {
        return Err(invalid("not a saved Journeyscope state".into()));
    }
    let version = <[u8; 4]>::try_from(rest).ok().map(u32::from_le_bytes);
    if version != Some(VERSION) {
        return Err(invalid(format!(
            "the state was saved in format {} and this Journeyscope reads format {VERSION}; \
             remove it to start over",
            version.map_or("(unreadable)".to_owned(), |v| v.to_string())
        )));
    }
    Ok(())
}

/// The engine and offsets of a whole state file's bytes (header checked).
fn parse_state(
    bytes: &[u8],
    config: EngineConfig,
    lateness_us: Option<i64>,
) -> io::Result<(LiveEngine, Resume)> {
    let body = bytes.get(HEADER_BYTES..).unwrap_or_default();
    let state: StateFile = postcard::from_bytes(body).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the state file is damaged ({e}); remove it to start over"),
        )
    })?;
    let lateness_us = lateness_us.unwrap_or(state.engine.lateness_us());
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
        Mapping::named("customer_id", "event", "timestamp")
    }

    fn covering<'a>(covered: &'a [StreamMark], mapping: &'a Mapping) -> Covering<'a> {
        Covering {
            covered,
            mapping,
            topic: "orders",
            ids: None,
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
        save_state(&path, &engine, covering(&[mark], &mapping())).unwrap();
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
        other[8] = 99;
        assert!(read(&other).unwrap_err().to_string().contains("format 99"));
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

    fn load(path: &Path) -> io::Result<(LiveEngine, Resume)> {
        load_state(path, EngineConfig::default(), 10_000_000)
    }

    /// Loads `path`, which must be refused within a second with a message
    /// containing `says`.
    fn refused_quickly(path: &Path, says: &str) {
        let started = std::time::Instant::now();
        let message = load(path).map(|_| ()).unwrap_err().to_string();
        assert!(
            started.elapsed().as_secs_f64() < 1.0,
            "{:?}",
            started.elapsed()
        );
        assert!(message.contains(says), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_pipes_and_folders_are_refused_without_reading_them() {
        refused_quickly(Path::new("/dev/zero"), "it is a device, not a saved state");
        refused_quickly(Path::new("/dev/full"), "it is a device");
        let dir = tempfile::tempdir().unwrap();
        refused_quickly(dir.path(), "it is a folder");
        // A pipe nobody writes to: opening it for reading would wait.
        let fifo = dir.path().join("state.fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string and mode.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        refused_quickly(&fifo, "it is a pipe");
    }

    #[test]
    fn a_huge_file_is_refused_by_its_header_or_size_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        // 20 GB of nothing (sparse): reading it would take minutes.
        let zeros = dir.path().join("zeros.state");
        std::fs::File::create(&zeros)
            .unwrap()
            .set_len(20_000_000_000)
            .unwrap();
        refused_quickly(&zeros, "not a saved Journeyscope state");
        // The same with a state's first bytes.
        let headed = dir.path().join("headed.state");
        std::fs::write(&headed, &saved_bytes()[..HEADER_BYTES]).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&headed)
            .unwrap()
            .set_len(20_000_000_000)
            .unwrap();
        refused_quickly(&headed, "20,000,000,000 bytes, more than the 4,294,967,296");
        // A real state still loads.
        let state = dir.path().join("real.state");
        std::fs::write(&state, saved_bytes()).unwrap();
        assert_eq!(load(&state).unwrap().1.topic.as_deref(), Some("orders"));
    }

    #[cfg(unix)]
    #[test]
    fn a_new_state_is_private_and_an_existing_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.state");
        let engine = LiveEngine::new(EngineConfig::default(), 10_000_000);
        let save = || save_state(&path, &engine, covering(&[], &mapping())).unwrap();
        let mode = || std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        save();
        assert_eq!(mode() & 0o077, 0);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        save();
        assert_eq!(mode(), 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
