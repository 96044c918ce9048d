//! Opening an input once: a file, a pipe, a FIFO or standard input (`-`).
//!
//! The first bytes are read into a buffer and looked at (compression,
//! format, a UTF-8 byte order mark) and then read again from that buffer,
//! so that a source that cannot be rewound is still read exactly once.
//! Formats that need random access (Parquet, DuckDB) use the file where it
//! is, or a private decompressed copy when it is compressed or not a
//! regular file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use super::SourceError;

/// The kinds of file Journeyscope reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON: one event (or array of events) per line, or one document
    /// holding an array of events.
    JsonLines,
    /// CSV, TSV or another delimiter.
    Delimited,
    /// Apache Parquet.
    Parquet,
    /// A DuckDB database file.
    DuckDb,
    /// An Avro object container file.
    Avro,
}

/// Compression wrapped around a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain.
    None,
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const UTF8_BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// Bytes looked at before deciding how to read an input.
const SNIFF_BYTES: usize = 64 * 1024;

/// Buffer of the readers handed to the text sources.
const READ_BUFFER: usize = 256 * 1024;

/// The path that means standard input.
pub const STDIN: &str = "-";

/// True when `path` names standard input (`-`).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

fn io_error(path: &Path, source: io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The decompressed bytes of a text input, read once.
pub type TextReader = Box<dyn BufRead + Send>;

/// An input, opened and sniffed.
pub enum Opened {
    /// An input of no bytes at all (whatever its name says).
    Empty {
        /// The format its name gives, if any.
        format: Option<Format>,
    },
    /// A text format, read as a stream.
    Text {
        /// JSON or delimited text.
        format: Format,
        /// The decompressed bytes, a byte order mark left out.
        reader: TextReader,
    },
    /// A format that needs random access, as a plain file on disk.
    File {
        /// Parquet or DuckDB.
        format: Format,
        /// The file, or a private decompressed copy of it.
        file: Uncompressed,
    },
}

impl Opened {
    /// The format found.
    pub fn format(&self) -> Format {
        match self {
            Opened::Text { format, .. } | Opened::File { format, .. } => *format,
            Opened::Empty { format } => format.unwrap_or(Format::Delimited),
        }
    }
}

/// Reads up to `n` bytes (fewer only at the end of the input) without
/// losing them: the returned reader yields them again, then the rest.
fn peek(mut reader: Box<dyn Read + Send>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(n.min(SNIFF_BYTES));
    (&mut reader).take(n as u64).read_to_end(&mut head)?;
    let again = Box::new(Cursor::new(head.clone()).chain(reader));
    Ok((head, again))
}

/// The format a file name names, under any `.gz`/`.zst` suffix.
pub fn format_by_name(path: &Path) -> Option<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let inner = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(&name);
    match inner.rsplit_once('.').map(|(_, ext)| ext) {
        Some("jsonl" | "ndjson" | "json") => Some(Format::JsonLines),
        Some("csv" | "tsv" | "tab" | "txt" | "psv") => Some(Format::Delimited),
        Some("parquet" | "pq") => Some(Format::Parquet),
        Some("duckdb" | "ddb" | "db") => Some(Format::DuckDb),
        Some("avro") => Some(Format::Avro),
        _ => None,
    }
}

/// The format the first (decompressed) bytes show.
fn format_by_content(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PAR1") {
        return Some(Format::Parquet);
    }
    if head.starts_with(b"Obj\x01") {
        return Some(Format::Avro);
    }
    if head.len() >= 12 && &head[8..12] == b"DUCK" {
        return Some(Format::DuckDb);
    }
    let text = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    if text.contains(&0) {
        return None;
    }
    Some(match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Format::JsonLines,
        _ => Format::Delimited,
    })
}

fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Opens `path` (or standard input for `-`) once: decompresses it, finds
/// its format by extension or, failing that, by content, and hands back a
/// stream of text or a file for DuckDB to open.
pub fn open(path: &Path) -> Result<Opened, SourceError> {
    let failed = |e| io_error(path, e);
    let (raw, regular): (Box<dyn Read + Send>, bool) = if is_stdin(path) {
        (Box::new(io::stdin()), false)
    } else {
        let file = File::open(path).map_err(failed)?;
        let meta = file.metadata().map_err(failed)?;
        if meta.is_dir() {
            return Err(SourceError::NotEvents(format!(
                "{} is a folder; give an event file or a DuckDB database",
                crate::format::printable(&path.display().to_string())
            )));
        }
        (Box::new(file), meta.is_file())
    };
    let (head, raw) = peek(raw, SNIFF_BYTES).map_err(failed)?;
    let compression = compression_of(&head);
    let decompressed: Box<dyn Read + Send> = match compression {
        Compression::None => raw,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw).map_err(failed)?),
    };
    let (head, decompressed) = match compression {
        Compression::None => (head, decompressed),
        _ => peek(decompressed, SNIFF_BYTES).map_err(failed)?,
    };
    if head.is_empty() {
        return Ok(Opened::Empty {
            format: format_by_name(path),
        });
    }
    let format = match format_by_name(path).or_else(|| format_by_content(&head)) {
        Some(format) => format,
        None => {
            return Err(SourceError::NotEvents(format!(
                "{} holds binary data, not events: Journeyscope reads JSON lines, CSV/TSV, \
                 Parquet, Avro and DuckDB files (optionally .gz or .zst)",
                crate::format::printable(&path.display().to_string())
            )));
        }
    };
    match format {
        Format::JsonLines | Format::Delimited | Format::Avro => {
            let mut reader = BufReader::with_capacity(READ_BUFFER, decompressed);
            if head.starts_with(UTF8_BOM) {
                // The BOM is in the buffer once filled (the head is read first).
                reader.fill_buf().map_err(failed)?;
                reader.consume(UTF8_BOM.len());
            }
            Ok(Opened::Text {
                format,
                reader: Box::new(reader),
            })
        }
        Format::Parquet | Format::DuckDb => {
            let file = if regular && compression == Compression::None {
                Uncompressed::Original(path.to_path_buf())
            } else {
                Uncompressed::copy(path, decompressed)?
            };
            Ok(Opened::File { format, file })
        }
    }
}

/// For an input that cannot be read twice (standard input, a pipe, a
/// FIFO): a private temporary copy of its bytes, as they are. None for a
/// regular file.
pub fn copy_if_not_a_file(path: &Path) -> Result<Option<tempfile::TempPath>, SourceError> {
    let failed = |e| io_error(path, e);
    if !is_stdin(path) {
        let meta = std::fs::metadata(path).map_err(failed)?;
        // A folder is refused where it is opened, with the reason.
        if meta.is_file() || meta.is_dir() {
            return Ok(None);
        }
    }
    let mut reader: Box<dyn Read + Send> = if is_stdin(path) {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(failed)?)
    };
    let mut temp = tempfile::Builder::new()
        .prefix("journeyscope-input-")
        .tempfile()
        .map_err(failed)?;
    io::copy(&mut reader, temp.as_file_mut()).map_err(failed)?;
    Ok(Some(temp.into_temp_path()))
}

/// A file in a format that needs random access: the original, or a
/// private decompressed copy (removed when dropped).
pub enum Uncompressed {
    /// The original file.
    Original(PathBuf),
    /// A temporary decompressed copy.
    Temporary(tempfile::NamedTempFile),
}

impl Uncompressed {
    /// Copies `reader` (the input `path`, decompressed) into a private
    /// temporary file.
    fn copy(path: &Path, mut reader: Box<dyn Read + Send>) -> Result<Self, SourceError> {
        let mut temp = tempfile::NamedTempFile::new().map_err(|e| io_error(path, e))?;
        io::copy(&mut reader, temp.as_file_mut()).map_err(|e| io_error(path, e))?;
        Ok(Uncompressed::Temporary(temp))
    }

    /// Where the plain bytes are.
    pub fn path(&self) -> &Path {
        match self {
            Uncompressed::Original(p) => p,
            Uncompressed::Temporary(t) => t.path(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name_and_by_content() {
        assert_eq!(
            format_by_name(Path::new("a/Events.CSV.gz")),
            Some(Format::Delimited)
        );
        assert_eq!(format_by_name(Path::new("x.json")), Some(Format::JsonLines));
        assert_eq!(format_by_name(Path::new("-")), None);
        assert_eq!(format_by_content(b"  [{\"a\":1}]"), Some(Format::JsonLines));
        assert_eq!(
            format_by_content(b"\xef\xbb\xbf{}"),
            Some(Format::JsonLines)
        );
        assert_eq!(format_by_content(b"a,b\n1,2"), Some(Format::Delimited));
        assert_eq!(format_by_content(b"PAR1...."), Some(Format::Parquet));
        assert_eq!(format_by_content(&[0u8; 64]), None);
    }

    #[test]
    fn peeked_bytes_are_read_again() {
        let data: Box<dyn Read + Send> = Box::new(Cursor::new(b"hello world".to_vec()));
        let (head, mut again) = peek(data, 5).unwrap();
        assert_eq!(head, b"hello");
        let mut all = String::new();
        again.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello world");
    }
}
