//! Opening files: format by extension or content, transparent gzip/zstd.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::SourceError;

/// The kinds of file Journeyscope reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object (or array of objects) per line.
    JsonLines,
    /// CSV, TSV or another delimiter.
    Delimited,
    /// Apache Parquet.
    Parquet,
    /// A DuckDB database file.
    DuckDb,
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

fn io_error(path: &Path, source: io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn head(path: &Path, n: usize) -> Result<Vec<u8>, SourceError> {
    let mut bytes = Vec::with_capacity(n);
    File::open(path)
        .and_then(|f| f.take(n as u64).read_to_end(&mut bytes))
        .map_err(|e| io_error(path, e))?;
    Ok(bytes)
}

/// The compression of a file, from its first bytes.
pub fn detect_compression(path: &Path) -> Result<Compression, SourceError> {
    let bytes = head(path, 4)?;
    Ok(if bytes.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if bytes.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// The format of a file, from its extension (under any .gz/.zst) or its
/// first bytes.
pub fn detect_format(path: &Path) -> Result<Format, SourceError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let inner = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(&name);
    let by_extension = match inner.rsplit_once('.').map(|(_, ext)| ext) {
        Some("jsonl" | "ndjson" | "json") => Some(Format::JsonLines),
        Some("csv" | "tsv" | "tab" | "txt" | "psv") => Some(Format::Delimited),
        Some("parquet" | "pq") => Some(Format::Parquet),
        Some("duckdb" | "ddb" | "db") => Some(Format::DuckDb),
        _ => None,
    };
    if let Some(format) = by_extension {
        head(path, 1)?;
        return Ok(format);
    }
    let raw = head(path, 16)?;
    if raw.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if raw.len() >= 12 && &raw[8..12] == b"DUCK" {
        return Ok(Format::DuckDb);
    }
    let mut reader = open_text(path)?;
    let start = reader.fill_buf().map_err(|e| io_error(path, e))?;
    if start.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    let first = start.iter().find(|b| !b.is_ascii_whitespace());
    Ok(match first {
        Some(b'{' | b'[') => Format::JsonLines,
        _ => Format::Delimited,
    })
}

/// A buffered reader of the file's (decompressed) bytes.
pub fn open_text(path: &Path) -> Result<Box<dyn BufRead + Send>, SourceError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let capacity = 256 * 1024;
    Ok(match detect_compression(path)? {
        Compression::None => Box::new(BufReader::with_capacity(capacity, file)),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            capacity,
            flate2::read::MultiGzDecoder::new(file),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            capacity,
            zstd::stream::read::Decoder::new(file).map_err(|e| io_error(path, e))?,
        )),
    })
}

/// A compressed file decompressed into a private temporary file (for
/// formats that need random access, such as Parquet); the temporary file is
/// removed when dropped. Plain files are used where they are.
pub enum Uncompressed {
    /// The original file.
    Original(PathBuf),
    /// A temporary decompressed copy.
    Temporary(tempfile::NamedTempFile),
}

impl Uncompressed {
    /// Decompresses `path` if it is compressed.
    pub fn of(path: &Path) -> Result<Self, SourceError> {
        if detect_compression(path)? == Compression::None {
            return Ok(Uncompressed::Original(path.to_path_buf()));
        }
        let mut reader = open_text(path)?;
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
