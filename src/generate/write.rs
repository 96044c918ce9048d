//! Sample file writers: JSON lines, CSV/TSV and Parquet (through DuckDB),
//! plain or compressed with gzip or zstd.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::calendar::push_rfc3339_ms;
use super::stream::{Item, SampleStream};
use super::{
    GenerateError, GenerateOptions, GenerateReport, MAX_EVENTS, MalformedKind, SampleEvent,
};

/// How a sample file is written, beyond what its name says.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Compression level: `.gz` 0–9 (default 6), `.zst` 1–22 (default 3).
    /// Higher levels make smaller files (useful for bundled data) but are
    /// slower.
    pub compression_level: Option<i32>,
}

/// Property columns of the CSV/TSV and Parquet layouts, in order.
const PROPERTY_COLUMNS: [&str; 8] = [
    "sku",
    "category",
    "price",
    "amount",
    "query",
    "page_path",
    "order_id",
    "reason",
];

/// Fixed columns of the CSV/TSV layout, before the properties.
const FIXED_COLUMNS: [&str; 5] = ["event_id", "customer_id", "event", "timestamp", "channel"];

/// File layout chosen from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Delimited(u8),
    Parquet,
}

/// Compression chosen from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

/// How timestamps are written in delimited files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeStyle {
    /// `2026-11-27T10:15:00.123Z`.
    Rfc3339,
    /// Epoch microseconds, for loading into DuckDB.
    Micros,
}

/// Writes a sample file like [`super::write_sample`], with extra options.
pub fn write_sample_with(
    path: &Path,
    opts: &GenerateOptions,
    options: &WriteOptions,
) -> Result<GenerateReport, GenerateError> {
    let (format, compression) = detect(path)?;
    if opts.events > MAX_EVENTS {
        return Err(GenerateError::TooManyEvents(opts.events));
    }
    write_file(path, opts, format, compression, options.compression_level).map_err(|e| match e {
        GenerateError::Io(e) => {
            GenerateError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        }
        other => other,
    })
}

/// Detects format and compression from the file name.
fn detect(path: &Path) -> Result<(Format, Compression), GenerateError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (stem, compression) = if let Some(s) = name.strip_suffix(".gz") {
        (s, Compression::Gzip)
    } else if let Some(s) = name.strip_suffix(".zst") {
        (s, Compression::Zstd)
    } else {
        (name.as_str(), Compression::None)
    };
    let format = match stem.rsplit_once('.').map(|(_, ext)| ext) {
        Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
        Some("csv") => Format::Delimited(b','),
        Some("tsv") => Format::Delimited(b'\t'),
        Some("parquet") => Format::Parquet,
        _ => return Err(GenerateError::UnsupportedFormat(path.display().to_string())),
    };
    Ok((format, compression))
}

/// Generates and writes the file under a temporary name, then renames it.
fn write_file(
    path: &Path,
    opts: &GenerateOptions,
    format: Format,
    compression: Compression,
    level: Option<i32>,
) -> Result<GenerateReport, GenerateError> {
    let partial = TempFile::beside(path, "partial");
    let mut stream = SampleStream::new(opts);
    match format {
        Format::JsonLines => {
            let mut sink = Sink::create(&partial.path, compression, level)?;
            write_json_lines(&mut stream, &mut sink)?;
            sink.finish()?;
        }
        Format::Delimited(delimiter) => {
            let sink = Sink::create(&partial.path, compression, level)?;
            write_delimited(&mut stream, sink, delimiter, TimeStyle::Rfc3339)?.finish()?;
        }
        Format::Parquet => {
            let csv = TempFile::beside(path, "csv");
            let sink = Sink::create(&csv.path, Compression::None, None)?;
            write_delimited(&mut stream, sink, b',', TimeStyle::Micros)?.finish()?;
            stream.release_memory();
            if compression == Compression::None {
                parquet_from_csv(&csv.path, &partial.path)?;
            } else {
                let parquet = TempFile::beside(path, "parquet");
                parquet_from_csv(&csv.path, &parquet.path)?;
                drop(csv);
                let mut sink = Sink::create(&partial.path, compression, level)?;
                io::copy(&mut File::open(&parquet.path)?, &mut sink)?;
                sink.finish()?;
            }
        }
    }
    partial.persist(path)?;
    Ok(stream.report().clone())
}

/// Writes one JSON object per line.
fn write_json_lines(stream: &mut SampleStream, sink: &mut impl Write) -> io::Result<()> {
    let mut line = String::with_capacity(512);
    while let Some(item) = stream.next_item() {
        line.clear();
        match &item {
            Item::Event(e) => push_json(&mut line, e, None),
            Item::Malformed(kind, e) => push_json(&mut line, e, Some(*kind)),
        }
        line.push('\n');
        sink.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Appends the JSON object of an event, broken as `broken` says.
pub(crate) fn push_json(out: &mut String, e: &SampleEvent, broken: Option<MalformedKind>) {
    out.push_str("{\"event_id\":");
    push_json_str(out, &e.event_id);
    if broken == Some(MalformedKind::Unparseable) {
        let cut = e
            .customer_id
            .char_indices()
            .nth(3)
            .map_or(e.customer_id.len(), |(i, _)| i);
        out.push_str(",\"customer_id\":\"");
        out.push_str(&e.customer_id[..cut]);
        return;
    }
    if broken != Some(MalformedKind::MissingCustomer) {
        out.push_str(",\"customer_id\":");
        push_json_str(out, &e.customer_id);
    }
    out.push_str(",\"event\":");
    push_json_str(out, e.event);
    out.push_str(",\"timestamp\":\"");
    if broken == Some(MalformedKind::BadTimestamp) {
        out.push_str("not-a-time");
    } else {
        push_rfc3339_ms(out, e.timestamp_us);
    }
    out.push_str("\",\"channel\":");
    push_json_str(out, e.channel);
    out.push_str(",\"properties\":{");
    for (i, (key, value)) in e.properties.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, key);
        out.push(':');
        if matches!(*key, "price" | "amount") && is_plain_number(value) {
            out.push_str(value);
        } else {
            push_json_str(out, value);
        }
    }
    out.push_str("}}");
}

/// True for a decimal like `49.99` that is valid JSON as it stands.
fn is_plain_number(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'))
}

/// Appends a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes CSV/TSV with a header; returns the sink so it can be finished.
fn write_delimited<W: Write>(
    stream: &mut SampleStream,
    sink: W,
    delimiter: u8,
    style: TimeStyle,
) -> io::Result<W> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(sink);
    let mut header = [""; 13];
    header[..5].copy_from_slice(&FIXED_COLUMNS);
    header[5..].copy_from_slice(&PROPERTY_COLUMNS);
    if style == TimeStyle::Micros {
        header[3] = "ts_us";
    }
    w.write_record(header)?;
    let mut ts = String::with_capacity(32);
    while let Some(item) = stream.next_item() {
        let (e, mut broken) = match &item {
            Item::Event(e) => (e, None),
            Item::Malformed(kind, e) => (e, Some(*kind)),
        };
        if broken == Some(MalformedKind::Unparseable) {
            if style == TimeStyle::Rfc3339 {
                w.write_record([e.event_id.as_str(), &e.customer_id, e.event])?;
                continue;
            }
            // Typed columns cannot hold an unparseable row.
            broken = Some(MalformedKind::MissingCustomer);
        }
        ts.clear();
        match (broken, style) {
            (Some(MalformedKind::BadTimestamp), TimeStyle::Rfc3339) => ts.push_str("not-a-time"),
            (Some(MalformedKind::BadTimestamp), TimeStyle::Micros) => {}
            (_, TimeStyle::Rfc3339) => push_rfc3339_ms(&mut ts, e.timestamp_us),
            (_, TimeStyle::Micros) => {
                let _ = write!(ts, "{}", e.timestamp_us);
            }
        }
        let mut row = [""; 13];
        row[0] = &e.event_id;
        if broken != Some(MalformedKind::MissingCustomer) {
            row[1] = &e.customer_id;
        }
        row[2] = e.event;
        row[3] = &ts;
        row[4] = e.channel;
        for (key, value) in &e.properties {
            if let Some(i) = PROPERTY_COLUMNS.iter().position(|c| c == key) {
                row[5 + i] = value;
            }
        }
        w.write_record(row)?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// Converts the temporary CSV (epoch-microsecond timestamps) to Parquet.
fn parquet_from_csv(csv: &Path, out: &Path) -> Result<(), GenerateError> {
    let db = |e: duckdb::Error| GenerateError::DuckDb(e.to_string());
    let conn = duckdb::Connection::open_in_memory().map_err(db)?;
    // One thread keeps memory low and the row order trivially preserved;
    // on small machines it is also the fastest.
    conn.execute_batch("SET threads = 1").map_err(db)?;
    let sql = format!(
        "COPY (SELECT event_id, customer_id, event, make_timestamp(ts_us) AS \"timestamp\", \
         channel, sku, category, price, amount, query, page_path, order_id, reason \
         FROM read_csv({src}, header = true, auto_detect = false, delim = ',', quote = '\"', \
         escape = '\"', columns = {{'event_id': 'VARCHAR', 'customer_id': 'VARCHAR', \
         'event': 'VARCHAR', 'ts_us': 'BIGINT', 'channel': 'VARCHAR', 'sku': 'VARCHAR', \
         'category': 'VARCHAR', 'price': 'DOUBLE', 'amount': 'DOUBLE', 'query': 'VARCHAR', \
         'page_path': 'VARCHAR', 'order_id': 'VARCHAR', 'reason': 'VARCHAR'}})) \
         TO {dst} (FORMAT parquet, COMPRESSION zstd)",
        src = sql_string(csv)?,
        dst = sql_string(out)?,
    );
    conn.execute_batch(&sql).map_err(db)
}

/// A path as a single-quoted SQL string literal.
fn sql_string(path: &Path) -> Result<String, GenerateError> {
    let s = path
        .to_str()
        .ok_or_else(|| GenerateError::InvalidPath(path.display().to_string()))?;
    Ok(format!("'{}'", s.replace('\'', "''")))
}

/// Output file, optionally compressed, behind a buffer.
struct Sink {
    inner: BufWriter<Encoder>,
}

/// The compression layer of a [`Sink`].
enum Encoder {
    Plain(File),
    Gzip(flate2::write::GzEncoder<File>),
    Zstd(zstd::Encoder<'static, File>),
}

impl Sink {
    /// Creates (truncates) `path`.
    fn create(path: &Path, compression: Compression, level: Option<i32>) -> io::Result<Self> {
        let file = File::create(path)?;
        let encoder = match compression {
            Compression::None => Encoder::Plain(file),
            Compression::Gzip => {
                let level = level.unwrap_or(6).clamp(0, 9) as u32;
                Encoder::Gzip(flate2::write::GzEncoder::new(
                    file,
                    flate2::Compression::new(level),
                ))
            }
            Compression::Zstd => Encoder::Zstd(zstd::Encoder::new(file, level.unwrap_or(3))?),
        };
        Ok(Self {
            inner: BufWriter::with_capacity(1 << 20, encoder),
        })
    }

    /// Flushes everything and completes the compressed stream.
    fn finish(self) -> io::Result<()> {
        let encoder = self.inner.into_inner().map_err(|e| e.into_error())?;
        let mut file = match encoder {
            Encoder::Plain(file) => file,
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
        };
        file.flush()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

/// A file next to the target that is removed unless it is persisted.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    /// A hidden, unique name beside `target`.
    fn beside(target: &Path, tag: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.{}-{n}.{tag}", std::process::id()));
        Self { path, keep: false }
    }

    /// Renames the file to `target`.
    fn persist(mut self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            // A temporary file that is already gone needs no removing.
            let _ = fs::remove_file(&self.path);
        }
    }
}
