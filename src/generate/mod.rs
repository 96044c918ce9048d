//! Realistic e-commerce sample data: customers visiting a shop on several
//! channels during November 2026 (with a Black Friday peak), searching,
//! browsing, filling and abandoning carts, buying, contacting support and
//! returning goods, plus the messy parts of real data (duplicates, late
//! events, malformed records).
//!
//! Output is deterministic for a given [`GenerateOptions::seed`].

mod calendar;
mod catalog;
mod journey;
mod model;
mod stream;
mod write;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use stream::SampleStream;
pub use write::{WriteOptions, write_sample_with};

/// Options for the generator.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of records written in total (good events, duplicates and
    /// malformed records).
    pub events: usize,
    /// Seed of the random generator; the same seed gives the same output.
    pub seed: u64,
    /// Add duplicates (~1 %), late events (~1 %) and malformed records
    /// (~0.1 %).
    pub messy: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            events: 100_000,
            seed: 7,
            messy: true,
        }
    }
}

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleEvent {
    /// Unique id of the event, e.g. `e-3f9a0c1d2b4e5f60`; duplicates reuse it.
    pub event_id: String,
    /// Customer id, e.g. `C0012345`.
    pub customer_id: String,
    /// Touchpoint name, e.g. `product_view`.
    pub event: &'static str,
    /// When it happened, epoch microseconds UTC (whole milliseconds).
    pub timestamp_us: i64,
    /// Channel: `web`, `app`, `email`, `ads`, `social`, `store` or
    /// `call_centre`.
    pub channel: &'static str,
    /// Other properties: `sku`, `category`, `price`, `amount`, `query`,
    /// `page_path`, `order_id`, `reason` (those that apply).
    pub properties: Vec<(&'static str, String)>,
}

impl SampleEvent {
    /// The value of a property, if present.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The event as one JSON object (no trailing newline), in the layout of
    /// the JSON lines files.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        write::push_json(&mut out, self, None);
        out
    }
}

/// A record as it is written to a file: a good event, or a deliberately
/// broken one.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleRecord {
    /// A well-formed event (first emission or duplicate).
    Event(SampleEvent),
    /// A deliberately broken record.
    Malformed(MalformedKind),
}

/// How a malformed record is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// The timestamp is not a time (`not-a-time`, or NULL in Parquet).
    BadTimestamp,
    /// The customer id is absent (or empty / NULL).
    MissingCustomer,
    /// The record cannot be parsed (truncated JSON, wrong CSV field count).
    Unparseable,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GenerateReport {
    /// All records written.
    pub records: usize,
    /// Good events written once each (including late ones).
    pub events: usize,
    /// Exact re-emissions of earlier events.
    pub duplicates: usize,
    /// Good events written after events that happened later.
    pub late: usize,
    /// Malformed records.
    pub malformed: usize,
}

/// Errors of [`write_sample`].
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Reading or writing a file failed.
    #[error("could not write the sample file: {0}")]
    Io(#[from] std::io::Error),
    /// The file name does not end in a supported extension.
    #[error(
        "unsupported output format for {0:?}: use a name ending in .jsonl, .ndjson, .json, .csv, \
         .tsv or .parquet, optionally followed by .gz or .zst (e.g. sample.jsonl.zst)"
    )]
    UnsupportedFormat(String),
    /// DuckDB failed while writing Parquet.
    #[error("DuckDB could not write the Parquet file: {0}")]
    DuckDb(String),
    /// The output path cannot be passed to DuckDB.
    #[error("the path {0:?} is not valid UTF-8; choose a different output path for Parquet")]
    InvalidPath(String),
    /// More records were requested than the generator supports.
    #[error("{0} events requested; at most {max} are supported", max = MAX_EVENTS)]
    TooManyEvents(usize),
}

/// Largest supported [`GenerateOptions::events`].
pub const MAX_EVENTS: usize = u32::MAX as usize - 1;

/// Generates all records in file order, with counts of what they contain.
///
/// Holds every record in memory; for large samples use [`SampleStream`] or
/// [`write_sample`].
///
/// # Panics
/// If `opts.events` exceeds [`MAX_EVENTS`].
pub fn generate(opts: &GenerateOptions) -> (Vec<SampleRecord>, GenerateReport) {
    let mut stream = SampleStream::new(opts);
    let records: Vec<SampleRecord> = stream.by_ref().collect();
    (records, stream.report().clone())
}

/// Writes a sample file; the format comes from the extension: `.jsonl`,
/// `.ndjson`, `.json`, `.csv`, `.tsv` or `.parquet`, optionally followed by
/// `.gz` or `.zst` (e.g. `sample.jsonl.zst`, `sample.csv.gz`).
///
/// The file is written under a temporary name next to `path` and renamed
/// when complete, so a failed run leaves no partial file.
pub fn write_sample(path: &Path, opts: &GenerateOptions) -> Result<GenerateReport, GenerateError> {
    write_sample_with(path, opts, &WriteOptions::default())
}
