//! Parquet files read by the arrow-rs Parquet reader, only the columns the
//! mapping needs. A file this reader cannot take exactly as DuckDB would
//! (a column type whose text DuckDB writes differently, a codec not built
//! in, INT96 times, names DuckDB would rename) is read through DuckDB, so
//! both give the same events.
//!
//! Row groups are read and mapped on two threads (lanes), the even ones on
//! one and the odd ones on the other; the engine takes their batches back
//! in the file's order, each row group ended by an empty batch.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use duckdb::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{
    DataType, Field, Fields, Float32Type, Float64Type, Schema, SchemaRef, TimeUnit,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::{Compression, Type as PhysicalType};
use parquet::file::metadata::ParquetMetaData;

use super::arrow_rows::BatchFiller;
use super::input::Uncompressed;
use super::schema::{self, ColumnSample, Mapping};
use super::selection::{Selection, TimeKind};
use super::threaded::{ReaderEnd, ReaderLink, return_freed_reader_memory};
use super::{BATCH_EVENTS, DETECTION_SAMPLE, EventSource, SourceError, SourceOptions};
use crate::background::on_two_threads;
use crate::engine::EventBatch;

/// Events from a Parquet file, read by the arrow-rs reader.
pub struct ParquetSource {
    name: String,
    mapping: Mapping,
    /// The reading threads; row group `g` is read by lane `g % lanes`.
    lanes: Vec<ReaderLink>,
    /// The row group whose batches come next.
    group: usize,
    /// Row groups in the file.
    groups: usize,
}

/// Threads reading row groups at once (the engine has a core besides).
const LANES: usize = 2;

/// Batches each lane may have waiting for the engine: two lanes hold as
/// many as one reader of any other kind.
const LANE_BATCHES: usize = 2;

/// How a Parquet file is to be read.
pub enum Opening {
    /// By the arrow-rs reader.
    Native(Box<ParquetSource>),
    /// Through DuckDB: the file (or the options) needs it.
    ThroughDuckDb(Uncompressed),
}

/// What the reader thread needs: which columns, in which order.
struct Plan {
    mapping: Mapping,
    selection: Selection,
    /// The top-level columns read, in the file's order.
    roots: Vec<usize>,
    /// For each selected column, its place among the columns read.
    order: Vec<usize>,
    /// The unit the time column is brought to, when it is a timestamp in
    /// seconds or milliseconds.
    time_cast: Option<DataType>,
    /// The file's metadata, read once, and its columns as they are read:
    /// text stored with a dictionary is read as one (its values decoded
    /// once per page, not per row).
    metadata: ArrowReaderMetadata,
}

impl ParquetSource {
    /// Opens the Parquet `file` (at `path` for the user): detects the
    /// mapping and starts reading, or hands the file back when DuckDB must
    /// read it.
    pub fn open(
        path: &Path,
        file: Uncompressed,
        options: &SourceOptions,
    ) -> Result<Opening, SourceError> {
        if options.parquet_through_duckdb {
            return Ok(Opening::ThroughDuckDb(file));
        }
        let Some(plan) = plan(file.path(), options)? else {
            return Ok(Opening::ThroughDuckDb(file));
        };
        let parser = Arc::new(options.time_parser_for(&plan.mapping));
        let groups = plan.metadata.metadata().num_row_groups();
        let mapping = plan.mapping.clone();
        let plan = Arc::new(plan);
        let file = Arc::new(file);
        let lanes = (0..LANES.min(groups).max(1))
            .map(|lane| {
                let (plan, parser, file) = (plan.clone(), parser.clone(), file.clone());
                ReaderLink::spawn_holding("parquet reader", LANE_BATCHES, move |end| {
                    let groups = (lane..groups).step_by(LANES);
                    if let Err(e) = read_groups(file.path(), groups, &plan, &parser, &end) {
                        let _ = end.batches.send(Err(e));
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Opening::Native(Box::new(ParquetSource {
            name: path.display().to_string(),
            mapping,
            lanes,
            group: 0,
            groups,
        })))
    }
}

impl EventSource for ParquetSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        while self.group < self.groups {
            let count = self.lanes.len();
            let lane = &mut self.lanes[self.group % count];
            match lane.next_batch()? {
                // The empty batch that ends a group holds no buffers.
                Some(batch) if batch.is_empty() && batch.rejected.is_empty() => {
                    self.group += 1;
                }
                Some(batch) => return Ok(Some(batch)),
                // A lane ends early only after sending why.
                None => return Err(SourceError::ReaderStopped("Parquet reader")),
            }
        }
        // The batches kept for reuse are not needed any more.
        self.lanes.clear();
        return_freed_reader_memory();
        Ok(None)
    }

    /// The batch goes to the lane reading ahead first (it is the one
    /// filling new batches while the engine takes the current group's),
    /// else to the current one: a batch that keeps its grown buffers
    /// spares the reader allocating and faulting in new ones.
    fn recycle(&mut self, mut batch: EventBatch) {
        let count = self.lanes.len();
        for step in 1..=count {
            match self.lanes[(self.group + step) % count].offer(batch) {
                None => return,
                Some(back) => batch = back,
            }
        }
    }
}

fn io_error(e: std::io::Error) -> SourceError {
    SourceError::Parquet(e.to_string())
}

fn parquet_error(e: parquet::errors::ParquetError) -> SourceError {
    SourceError::Parquet(e.to_string())
}

fn arrow_error(e: duckdb::arrow::error::ArrowError) -> SourceError {
    SourceError::Arrow(e)
}

/// The codecs built in; DuckDB reads the others.
fn codec_built_in(codec: Compression) -> bool {
    matches!(
        codec,
        Compression::UNCOMPRESSED
            | Compression::SNAPPY
            | Compression::GZIP(_)
            | Compression::ZSTD(_)
            | Compression::LZ4
            | Compression::LZ4_RAW
    )
}

/// What to read for the file at `path`, or None when DuckDB must read it.
fn plan(path: &Path, options: &SourceOptions) -> Result<Option<Plan>, SourceError> {
    let Ok(opened) = File::open(path) else {
        return Ok(None);
    };
    let Ok(sampled) = ArrowReaderMetadata::load(&opened, ArrowReaderOptions::new()) else {
        // Not a Parquet file this reader takes: DuckDB says why.
        return Ok(None);
    };
    let metadata = sampled.metadata().clone();
    let fields = sampled.schema().fields().clone();
    let codecs_built_in = metadata
        .row_groups()
        .iter()
        .flat_map(|group| group.columns())
        .all(|column| codec_built_in(column.compression()));
    let names_kept = fields.iter().enumerate().all(|(i, f)| {
        fields[..i]
            .iter()
            .all(|g| !g.name().eq_ignore_ascii_case(f.name()))
    });
    if !codecs_built_in || !names_kept || fields.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    let Some(columns) = sample(path, &sampled, &names)? else {
        return Ok(None);
    };
    let mapping = schema::detect(&columns, &options.overrides, &options.time_parser())?;
    let position = |name: &str| fields.iter().position(|f| f.name() == name);
    let Some(time_at) = position(&mapping.time) else {
        return Ok(None);
    };
    let Some((time_kind, time_cast)) = time_kind(fields[time_at].data_type()) else {
        return Ok(None);
    };
    if is_int96(&metadata, time_at) {
        return Ok(None);
    }
    let selection = Selection::new(
        &mapping,
        time_kind,
        |name| position(name).is_some(),
        options,
    );
    let mut wanted = Vec::new();
    for (i, name) in selection.columns.iter().enumerate() {
        let Some(at) = position(name) else {
            return Ok(None);
        };
        let is_time = i + 1 == selection.columns.len();
        if !is_time && !text_like(fields[at].data_type()) {
            return Ok(None);
        }
        wanted.push(at);
    }
    let mut roots = wanted.clone();
    roots.sort_unstable();
    roots.dedup();
    let schema = reading_schema(&fields, &wanted[..wanted.len() - 1], &metadata);
    let order = wanted
        .iter()
        .map(|at| roots.iter().position(|r| r == at).unwrap_or(0))
        .collect();
    let options = ArrowReaderOptions::new().with_schema(schema);
    let metadata = ArrowReaderMetadata::try_new(metadata, options).map_err(parquet_error)?;
    Ok(Some(Plan {
        mapping,
        selection,
        roots,
        order,
        time_cast,
        metadata,
    }))
}

/// The file's `fields` as they are read: the `text_columns` read that the
/// file stores with a dictionary are read as one.
fn reading_schema(
    fields: &Fields,
    text_columns: &[usize],
    metadata: &ParquetMetaData,
) -> SchemaRef {
    let fields: Vec<Field> = fields
        .iter()
        .enumerate()
        .map(|(at, field)| {
            let dictionary = text_columns.contains(&at)
                && field.data_type() == &DataType::Utf8
                && stored_with_dictionary(metadata, at);
            match dictionary {
                true => field.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                )),
                false => field.as_ref().clone(),
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// True when every row group holds the top-level column `at` with a
/// dictionary.
fn stored_with_dictionary(metadata: &ParquetMetaData, at: usize) -> bool {
    let schema = metadata.file_metadata().schema_descr();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&leaf| schema.get_column_root_idx(leaf) == at)
        .collect();
    let [leaf] = leaves[..] else {
        return false;
    };
    metadata
        .row_groups()
        .iter()
        .all(|group| group.column(leaf).dictionary_page_offset().is_some())
}

/// True when the top-level column `at` is stored as INT96 (old Impala
/// times, to the nanosecond here but to the microsecond in DuckDB).
fn is_int96(metadata: &ParquetMetaData, at: usize) -> bool {
    let schema = metadata.file_metadata().schema_descr();
    (0..schema.num_columns()).any(|leaf| {
        schema.get_column_root_idx(leaf) == at
            && schema.column(leaf).physical_type() == PhysicalType::INT96
    })
}

/// How a time column of type `ty` is read, as DuckDB reads it, and the
/// type it is first brought to; None when only DuckDB reads it.
fn time_kind(ty: &DataType) -> Option<(TimeKind, Option<DataType>)> {
    Some(match ty {
        DataType::Timestamp(TimeUnit::Nanosecond, zone) => match zone {
            Some(_) => (TimeKind::InstantNs, None),
            None => (TimeKind::NaiveNs, None),
        },
        DataType::Timestamp(unit, zone) => {
            let kind = match zone {
                Some(_) => TimeKind::Instant,
                None => TimeKind::Naive,
            };
            let cast = (*unit != TimeUnit::Microsecond)
                .then(|| DataType::Timestamp(TimeUnit::Microsecond, zone.clone()));
            (kind, cast)
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => (TimeKind::Integer, None),
        DataType::UInt64 | DataType::Float32 | DataType::Float64 => (TimeKind::Number, None),
        ty if text_like(ty) => (TimeKind::Text, None),
        _ => return None,
    })
}

/// A type whose values, as text, are what DuckDB's `CAST(… AS VARCHAR)`
/// gives: text, whole numbers and booleans.
fn text_like(ty: &DataType) -> bool {
    match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => {
            matches!(**values, DataType::Utf8 | DataType::LargeUtf8)
        }
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => true,
        _ => false,
    }
}

/// The first [`DETECTION_SAMPLE`] rows of every column (named `names`) of
/// the Parquet file at `path`, as DuckDB's text; None when a column's type
/// is one only DuckDB writes as it does. The columns are read in two
/// halves of about as many bytes, on two threads.
fn sample(
    path: &Path,
    metadata: &ArrowReaderMetadata,
    names: &[&str],
) -> Result<Option<Vec<ColumnSample>>, SourceError> {
    let halves = halves_by_size(metadata.metadata(), names.len());
    let read = |roots: &[usize]| sample_roots(path, metadata, names, roots);
    let (first, later) = on_two_threads("parquet sample", || read(&halves[0]), || read(&halves[1]));
    let (Some(first), Some(later)) = (first?, later?) else {
        return Ok(None);
    };
    let mut columns: Vec<(usize, ColumnSample)> = first.into_iter().chain(later).collect();
    columns.sort_by_key(|(root, _)| *root);
    Ok(Some(
        columns.into_iter().map(|(_, column)| column).collect(),
    ))
}

/// The top-level columns `0..roots` in two halves of about as many
/// bytes in the first row group.
fn halves_by_size(metadata: &ParquetMetaData, roots: usize) -> [Vec<usize>; 2] {
    let schema = metadata.file_metadata().schema_descr();
    let mut bytes = vec![0i64; roots];
    if let Some(group) = metadata.row_groups().first() {
        for (leaf, column) in group.columns().iter().enumerate() {
            let root = schema.get_column_root_idx(leaf);
            if let Some(b) = bytes.get_mut(root) {
                *b += column.compressed_size();
            }
        }
    }
    let total: i64 = bytes.iter().sum();
    let mut halves = [Vec::new(), Vec::new()];
    let mut so_far = 0;
    for (root, b) in bytes.into_iter().enumerate() {
        let half = usize::from(so_far * 2 >= total && root > 0);
        halves[half].push(root);
        so_far += b;
    }
    halves
}

/// The sampled values of the top-level columns `roots` (named by their
/// place in `names`), each with its place; None as for [`sample`].
fn sample_roots(
    path: &Path,
    metadata: &ArrowReaderMetadata,
    names: &[&str],
    roots: &[usize],
) -> Result<Option<Vec<(usize, ColumnSample)>>, SourceError> {
    let mut columns: Vec<(usize, ColumnSample)> = roots
        .iter()
        .map(|&root| {
            let column = ColumnSample {
                name: names.get(root).copied().unwrap_or_default().to_owned(),
                values: Vec::new(),
                is_timestamp_type: false,
                nested: false,
            };
            (root, column)
        })
        .collect();
    if roots.is_empty() {
        return Ok(Some(columns));
    }
    let file = File::open(path).map_err(io_error)?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(DETECTION_SAMPLE)
        .with_limit(DETECTION_SAMPLE)
        .build()
        .map_err(parquet_error)?;
    for batch in reader {
        let batch: RecordBatch = batch.map_err(arrow_error)?;
        for ((_, column), array) in columns.iter_mut().zip(batch.columns()) {
            let Some(values) = sample_texts(array, &mut column.is_timestamp_type)? else {
                return Ok(None);
            };
            column
                .values
                .extend(values.into_iter().filter(|v| !v.trim().is_empty()));
        }
    }
    Ok(Some(columns))
}

/// The non-null values of `array` as DuckDB writes them as text, or None;
/// timestamps and dates as numbers (detection reads only how many differ),
/// setting `is_timestamp_type`.
fn sample_texts(
    array: &ArrayRef,
    is_timestamp_type: &mut bool,
) -> Result<Option<Vec<String>>, SourceError> {
    let ty = array.data_type();
    let as_text = |array: &ArrayRef| -> Result<Vec<String>, SourceError> {
        let text = cast(array, &DataType::Utf8).map_err(arrow_error)?;
        Ok(text
            .as_string::<i32>()
            .iter()
            .flatten()
            .map(str::to_owned)
            .collect())
    };
    Ok(Some(match ty {
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            *is_timestamp_type = true;
            let numbers = cast(array, &DataType::Int64).map_err(arrow_error)?;
            as_text(&numbers)?
        }
        DataType::Float64 => {
            let values = array.as_primitive::<Float64Type>();
            match values.iter().flatten().map(double_text).collect() {
                Some(texts) => texts,
                None => return Ok(None),
            }
        }
        DataType::Float32 => {
            let values = array.as_primitive::<Float32Type>();
            match values.iter().flatten().map(float_text).collect() {
                Some(texts) => texts,
                None => return Ok(None),
            }
        }
        DataType::Null => Vec::new(),
        ty if text_like(ty) => as_text(array)?,
        _ => return Ok(None),
    }))
}

/// Where a double's text is the same as DuckDB's: no exponent in either.
fn plain_range(magnitude: f64) -> bool {
    magnitude == 0.0 || (1e-4..1e15).contains(&magnitude)
}

/// A DOUBLE as DuckDB writes it (shortest, with `.0` when whole), or None
/// outside the range where that is known.
fn double_text(value: f64) -> Option<String> {
    plain_range(value.abs()).then(|| format!("{value:?}"))
}

/// A FLOAT as DuckDB writes it, or None outside the known range.
fn float_text(value: f32) -> Option<String> {
    plain_range(f64::from(value).abs()).then(|| format!("{value:?}"))
}

/// Reads the row `groups` of the file at `path` into event batches: each
/// group's, then an empty batch.
fn read_groups(
    path: &Path,
    groups: impl Iterator<Item = usize>,
    plan: &Plan,
    parser: &super::TimeParser,
    end: &ReaderEnd,
) -> Result<(), SourceError> {
    let time_at = plan.order.len() - 1;
    let metadata = &plan.metadata;
    let row_groups = metadata.metadata().row_groups();
    for group in groups {
        let rows_before: i64 = row_groups[..group].iter().map(|g| g.num_rows()).sum();
        let opened = File::open(path).map_err(io_error)?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(opened, metadata.clone());
        let mask = ProjectionMask::roots(builder.parquet_schema(), plan.roots.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_row_groups(vec![group])
            .with_batch_size(BATCH_EVENTS)
            .build()
            .map_err(parquet_error)?;
        let mut filler = BatchFiller::new(
            &plan.selection,
            parser,
            end.fresh_batch(),
            u64::try_from(rows_before).unwrap_or(0),
        );
        for batch in reader {
            let batch = batch.map_err(arrow_error)?;
            let mut arrays: Vec<ArrayRef> = plan
                .order
                .iter()
                .map(|&at| batch.column(at).clone())
                .collect();
            if let Some(ty) = &plan.time_cast {
                arrays[time_at] = cast(&arrays[time_at], ty).map_err(arrow_error)?;
            }
            if !filler.add_sending(&arrays, end)? {
                return Ok(());
            }
        }
        let rest = filler.rest().into_iter();
        // The group's last events, then the empty batch that ends it.
        for batch in rest.chain(std::iter::once(EventBatch::with_capacity(0))) {
            if end.batches.send(Ok(batch)).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_outside_the_plain_range_are_left_to_duckdb() {
        assert_eq!(double_text(100.0).as_deref(), Some("100.0"));
        assert_eq!(double_text(0.25).as_deref(), Some("0.25"));
        assert_eq!(double_text(-3.5).as_deref(), Some("-3.5"));
        assert_eq!(double_text(1e20), None);
        assert_eq!(double_text(1e-7), None);
        assert_eq!(double_text(f64::NAN), None);
        assert_eq!(float_text(1.1).as_deref(), Some("1.1"));
    }
}
