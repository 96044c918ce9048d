//! Sources turn the outside world into engine batches.
//!
//! Every source (JSON lines, CSV/TSV, Parquet, DuckDB; later Kafka)
//! implements [`EventSource`]: it detects its [`Mapping`], then yields
//! [`EventBatch`]es of mapped events and rejected records until it is
//! exhausted. Sources only read: a user's file or database is never written.

#[cfg(feature = "full")]
mod arrow_rows;
pub mod avro_file;
pub mod csv_records;
pub mod delimited;
#[cfg(feature = "full")]
pub mod duck;
pub mod epoch;
pub mod input;
pub mod json_document;
pub mod json_layout;
pub mod json_tree;
pub mod jsonl;
#[cfg(feature = "full")]
pub mod kafka;
pub mod lines;
pub mod live_state;
pub mod lookup;
#[cfg(feature = "full")]
pub mod parquet_file;
pub mod pseudonym;
pub mod record;
pub mod schema;
#[cfg(feature = "full")]
mod selection;
pub mod threaded;
pub mod timestamp;
pub mod values;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use thiserror::Error;

use crate::engine::{EngineConfig, EventBatch, JourneyBuilder, Journeys};
pub use epoch::EpochUnit;
pub use input::{Format, Opened};
pub use schema::{DETECTION_SAMPLE, Mapping, MappingOverrides, SchemaError};
pub use timestamp::TimeParser;

/// Events per batch handed to the engine: enough that handing over costs
/// nothing per event, few enough that the batches in flight between the
/// readers and the engine stay small beside the events the engine keeps
/// (halving them from 16K cut the peak of a 10M-event Parquet file by
/// about 9 MiB).
pub const BATCH_EVENTS: usize = 8 * 1024;

/// Consumed batches kept for reuse by a source (at most two), cleared as
/// they come back.
#[derive(Debug, Default)]
pub(crate) struct SpareBatches(Vec<EventBatch>);

impl SpareBatches {
    /// An empty batch, reusing a returned one when there is one.
    pub fn take(&mut self) -> EventBatch {
        self.0
            .pop()
            .unwrap_or_else(|| EventBatch::with_capacity(BATCH_EVENTS))
    }

    /// Keeps `batch` for reuse.
    pub fn put(&mut self, mut batch: EventBatch) {
        if self.0.len() < 2 {
            batch.clear();
            self.0.push(batch);
        }
    }
}

/// How to read a source.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Column names that override detection.
    pub overrides: MappingOverrides,
    /// CSV delimiter; sniffed when None.
    pub delimiter: Option<u8>,
    /// Zone of timestamps written without one (UTC when None).
    pub timezone: Option<Tz>,
    /// DuckDB: the table or view to read.
    pub table: Option<String>,
    /// DuckDB: a SQL query whose rows are the events.
    pub query: Option<String>,
    /// Properties the touchpoint rules need.
    pub wanted_properties: Vec<String>,
    /// Customer ids are replaced by their pseudonyms as they are read.
    pub pseudonymize: Option<pseudonym::Pseudonymizer>,
    /// Properties whose values are shown as `hidden` (`--hide-property`).
    pub hidden_properties: Vec<String>,
    /// True once the user chose which columns to keep for comparing (the
    /// window's "Keep for comparing"): the few-valued columns detection
    /// finds ([`Mapping::comparable`]) are then not kept besides.
    pub keep_only_chosen: bool,
    /// DuckDB (databases and Parquet files): the most memory it may use, a
    /// size (4GB) or a share of the machine's (25%); None for
    /// [`DUCKDB_MEMORY_LIMIT`].
    pub duckdb_memory_limit: Option<String>,
    /// Parquet files are read through DuckDB even where the built-in
    /// reader could read them (to check one against the other).
    pub parquet_through_duckdb: bool,
}

/// The memory DuckDB may use unless `--duckdb-memory-limit` says otherwise:
/// a quarter of the machine's. DuckDB's own default, 80%, leaves too little
/// for the journeys the engine builds from what it reads; a scan needs far
/// less, and a query's sort or join that needs more spills as much to disk
/// (see `duck.rs`) before it stops with an error naming the flag.
pub const DUCKDB_MEMORY_LIMIT: &str = "25%";

impl SourceOptions {
    /// True when records are masked as they are read (pseudonyms, hidden
    /// properties): the engine then withholds the text of a rejected
    /// record that could not be masked.
    pub fn masks_records(&self) -> bool {
        self.pseudonymize.is_some() || !self.hidden_properties.is_empty()
    }

    /// The timestamp parser these options imply, before a mapping is
    /// known (epoch numbers by their size).
    pub fn time_parser(&self) -> TimeParser {
        TimeParser::new(self.timezone)
    }

    /// The timestamp parser for records mapped with `mapping`: epoch
    /// numbers in the unit decided for its time column.
    pub fn time_parser_for(&self, mapping: &Mapping) -> TimeParser {
        self.time_parser().with_epoch_unit(mapping.time_unit)
    }

    /// The few-valued columns kept for comparing by default (none once the
    /// user chose, and never a hidden one).
    fn comparable<'m>(&self, mapping: &'m Mapping) -> impl Iterator<Item = &'m String> {
        mapping
            .comparable
            .iter()
            .filter(|c| !self.keep_only_chosen && !self.hidden_properties.contains(c))
    }

    /// The engine's `configured` kept properties with the columns kept for
    /// comparing by default, each once.
    pub fn kept_properties(&self, mapping: &Mapping, configured: &[String]) -> Vec<String> {
        let mut kept = configured.to_vec();
        for column in self.comparable(mapping) {
            if !kept.contains(column) {
                kept.push(column.clone());
            }
        }
        kept
    }

    /// The properties each event carries into the engine, as (property
    /// name, column): the wanted properties under their own names, and the
    /// mapped channel column as `channel` (kept per session for segments).
    pub fn property_columns(&self, mapping: &Mapping) -> Vec<(String, String)> {
        let mut columns: Vec<(String, String)> = Vec::new();
        for name in self
            .wanted_properties
            .iter()
            .chain(self.comparable(mapping))
        {
            if !columns.iter().any(|(n, _)| n == name) {
                columns.push((name.clone(), name.clone()));
            }
        }
        if let Some(channel) = &mapping.channel
            && !columns.iter().any(|(name, _)| name == CHANNEL)
        {
            columns.push((CHANNEL.to_owned(), channel.clone()));
        }
        columns
    }
}

/// The property name under which the mapped channel column reaches the
/// engine.
pub const CHANNEL: &str = "channel";

/// Why a source cannot be read (bad records are not errors: they are
/// rejected and counted).
#[derive(Debug, Error)]
pub enum SourceError {
    /// The file cannot be opened or read.
    #[error("cannot read {}", crate::format::printable(&path.display().to_string()))]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A live state file cannot be read or written.
    #[error("cannot {action} {}", crate::format::printable(&path.display().to_string()))]
    LiveState {
        /// "resume from" or "save the state to".
        action: &'static str,
        /// The state file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A document broke in a way its reader cannot recover from: the rest
    /// of it is not read, and the user is told where.
    #[error("{} cannot be read past line {line}: {detail}", crate::format::printable(&path.display().to_string()))]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line where the broken value starts.
        line: u64,
        /// What is wrong there, and what to do.
        detail: String,
    },
    /// The input is not an event file a source can read (binary data, a
    /// folder, a header longer than any record may be).
    #[error("{0}")]
    NotEvents(String),
    /// No usable mapping.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// DuckDB refused the file, table or query.
    #[cfg(feature = "full")]
    #[error("DuckDB cannot read it")]
    DuckDb(#[source] duckdb::Error),
    /// A DuckDB query needed more memory than it may use.
    #[cfg(feature = "full")]
    #[error(
        "DuckDB needed more memory than --duckdb-memory-limit {limit} lets it use (and as much \
         again on disk); give a larger limit, e.g. --duckdb-memory-limit 8GB or 50%, or a \
         lighter query"
    )]
    DuckDbMemory {
        /// The limit in force.
        limit: String,
        /// DuckDB's own words.
        source: duckdb::Error,
    },
    /// DuckDB's columns could not be read as the mapping needs them.
    #[cfg(feature = "full")]
    #[error("DuckDB's answer cannot be read")]
    Arrow(#[source] duckdb::arrow::error::ArrowError),
    /// The Parquet reader failed (the file is damaged or cut short).
    #[cfg(feature = "full")]
    #[error("the Parquet file cannot be read: {0}")]
    Parquet(String),
    /// The options do not fit this source.
    #[error("{0}")]
    Usage(String),
    /// The Kafka client or broker refused. Kept as text, the client
    /// property values removed: the client's own error quotes them.
    #[error("Kafka: {0}")]
    Kafka(String),
    /// The topic being read was deleted.
    #[error("{0}")]
    TopicGone(String),
    /// A stream is not the one a saved state was reading.
    #[error("{0}")]
    TopicChanged(String),
    /// Reading was cancelled.
    #[error("loading was cancelled")]
    Cancelled,
    /// A reader thread could not start, or failed (it panicked): why.
    #[error("{0}")]
    ReaderFailed(String),
    /// A reader thread stopped without saying why.
    #[error("the {0} stopped unexpectedly")]
    ReaderStopped(&'static str),
}

/// A source of events: mapping first, then batches until exhausted.
pub trait EventSource: Send {
    /// What is being read, for reports ("data/events.csv").
    fn name(&self) -> &str;
    /// The columns chosen for each role.
    fn mapping(&self) -> &Mapping;
    /// The next batch, or None when the source is exhausted.
    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError>;
    /// Hands a consumed batch back so that its memory can be reused.
    fn recycle(&mut self, _batch: EventBatch) {}
    /// True when the input holds no records at all (an empty file, or a
    /// header alone): a summary then says "the file is empty".
    fn is_empty_input(&self) -> bool {
        false
    }
}

/// A source with nothing in it: an empty file of any format.
struct EmptySource {
    name: String,
    mapping: Mapping,
}

impl EventSource for EmptySource {
    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        Ok(None)
    }

    fn is_empty_input(&self) -> bool {
        true
    }
}

/// Opens a file, a DuckDB database, or standard input (`-`), reading it
/// once; the format comes from the extension or, failing that, the first
/// bytes.
pub fn open(path: &Path, options: &SourceOptions) -> Result<Box<dyn EventSource>, SourceError> {
    from_opened(path, input::open(path)?, options)
}

/// The source of an input already opened (see [`input::open`]).
pub fn from_opened(
    path: &Path,
    opened: Opened,
    options: &SourceOptions,
) -> Result<Box<dyn EventSource>, SourceError> {
    if !matches!(opened.format(), Format::DuckDb)
        && (options.table.is_some() || options.query.is_some())
    {
        return Err(SourceError::Usage(
            "--table and --query apply to DuckDB database files only".into(),
        ));
    }
    match opened {
        Opened::Empty { format: _ } => Ok(Box::new(EmptySource {
            name: path.display().to_string(),
            mapping: Mapping::of_empty(&[], &options.overrides, &options.time_parser())?,
        })),
        Opened::Text {
            format: Format::Delimited,
            reader,
        } => threaded::spawn(delimited::DelimitedSource::open(path, reader, options)?),
        Opened::Text {
            format: Format::Avro,
            reader,
        } => threaded::spawn(avro_file::AvroFileSource::open(path, reader, options)?),
        Opened::Text { reader, .. } => {
            threaded::spawn(jsonl::JsonLinesSource::open(path, reader, options)?)
        }
        #[cfg(feature = "full")]
        Opened::File {
            format: Format::DuckDb,
            file,
        } => Ok(Box::new(duck::DuckSource::database(path, file, options)?)),
        #[cfg(feature = "full")]
        Opened::File { file, .. } => {
            match parquet_file::ParquetSource::open(path, file, options)? {
                parquet_file::Opening::Native(source) => Ok(source),
                parquet_file::Opening::ThroughDuckDb(file) => {
                    Ok(Box::new(duck::DuckSource::parquet(path, file, options)?))
                }
            }
        }
        #[cfg(not(feature = "full"))]
        Opened::File { .. } => Err(SourceError::Usage(
            "this build reads no Parquet or DuckDB files".into(),
        )),
    }
}

/// Reads a whole source, opened with `options`, into the engine and
/// finishes it.
pub fn load(
    source: &mut dyn EventSource,
    options: &SourceOptions,
    config: EngineConfig,
) -> Result<Journeys, SourceError> {
    load_with_progress(source, options, config, |_, _| true)?.ok_or(SourceError::Cancelled)
}

/// Like [`load`], calling `progress(events read, records rejected)` after
/// every batch; returns None when `progress` returns false (cancelled).
/// The columns the source keeps for comparing by default are kept by the
/// engine too.
pub fn load_with_progress(
    source: &mut dyn EventSource,
    options: &SourceOptions,
    mut config: EngineConfig,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<Option<Journeys>, SourceError> {
    config.kept_properties = options.kept_properties(source.mapping(), &config.kept_properties);
    let mut builder = JourneyBuilder::new(config);
    while let Some(batch) = source.next_batch()? {
        builder.ingest(&batch);
        source.recycle(batch);
        if !progress(builder.len() as u64, builder.rejected_total()) {
            return Ok(None);
        }
    }
    Ok(Some(builder.finish()))
}
