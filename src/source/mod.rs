//! Sources turn the outside world into engine batches.
//!
//! Every source (JSON lines, CSV/TSV, Parquet, DuckDB; later Kafka)
//! implements [`EventSource`]: it detects its [`Mapping`], then yields
//! [`EventBatch`]es of mapped events and rejected records until it is
//! exhausted. Sources only read: a user's file or database is never written.

pub mod delimited;
pub mod duck;
pub mod input;
pub mod jsonl;
pub mod kafka;
pub mod live_session;
pub mod live_state;
pub mod lookup;
pub mod record;
pub mod schema;
pub mod threaded;
pub mod timestamp;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use thiserror::Error;

use crate::engine::{EngineConfig, EventBatch, JourneyBuilder, Journeys};
pub use input::Format;
pub use schema::{Mapping, MappingOverrides, SchemaError};
pub use timestamp::TimeParser;

/// Events per batch handed to the engine.
pub const BATCH_EVENTS: usize = 16 * 1024;

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

/// Records read before the mapping is decided.
pub const DETECTION_SAMPLE: usize = 1000;

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
}

impl SourceOptions {
    /// The timestamp parser these options imply.
    pub fn time_parser(&self) -> TimeParser {
        TimeParser::new(self.timezone)
    }
}

/// Why a source cannot be read (bad records are not errors: they are
/// rejected and counted).
#[derive(Debug, Error)]
pub enum SourceError {
    /// The file cannot be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A live state file cannot be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    LiveState {
        /// "resume from" or "save the state to".
        action: &'static str,
        /// The state file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// No usable mapping.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// DuckDB refused the file, table or query.
    #[error("DuckDB: {0}")]
    DuckDb(String),
    /// The options do not fit this source.
    #[error("{0}")]
    Usage(String),
    /// The Kafka client or broker refused.
    #[error("Kafka: {0}")]
    Kafka(String),
    /// Reading was cancelled.
    #[error("loading was cancelled")]
    Cancelled,
    /// The reader thread stopped unexpectedly.
    #[error("the reader stopped unexpectedly: {0}")]
    Reader(String),
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
}

/// Opens a file or DuckDB database; the format comes from the extension or,
/// failing that, the first bytes.
pub fn open(path: &Path, options: &SourceOptions) -> Result<Box<dyn EventSource>, SourceError> {
    let format = input::detect_format(path)?;
    if !matches!(format, Format::DuckDb) && (options.table.is_some() || options.query.is_some()) {
        return Err(SourceError::Usage(
            "--table and --query apply to DuckDB database files only".into(),
        ));
    }
    match format {
        Format::JsonLines => threaded::spawn(jsonl::JsonLinesSource::open(path, options)?),
        Format::Delimited => threaded::spawn(delimited::DelimitedSource::open(path, options)?),
        Format::Parquet => Ok(Box::new(duck::DuckSource::parquet(path, options)?)),
        Format::DuckDb => Ok(Box::new(duck::DuckSource::database(path, options)?)),
    }
}

/// Reads a whole source into the engine and finishes it.
pub fn load(source: &mut dyn EventSource, config: EngineConfig) -> Result<Journeys, SourceError> {
    load_with_progress(source, config, |_, _| true)?.ok_or(SourceError::Cancelled)
}

/// Like [`load`], calling `progress(events read, records rejected)` after
/// every batch; returns None when `progress` returns false (cancelled).
pub fn load_with_progress(
    source: &mut dyn EventSource,
    config: EngineConfig,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<Option<Journeys>, SourceError> {
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
