//! Parquet files and DuckDB databases, read through DuckDB in-process.
//!
//! Databases are opened read-only. The reading runs on its own thread and
//! streams Arrow batches, so a large table is never held whole in memory.

use crossbeam_channel::{Sender, bounded};
use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Float64Type, Int64Type};
use duckdb::{AccessMode, Config, Connection};
use std::path::Path;

use crate::engine::EventBatch;

use super::input::Uncompressed;
use super::record::{Field, Record, RecordPlan, text_field};
use super::schema::{self, ColumnSample, Mapping};
use super::threaded::{ReaderEnd, ReaderLink};
use super::{BATCH_EVENTS, DETECTION_SAMPLE, EventSource, SourceError, SourceOptions, TimeParser};

/// Events from a Parquet file or a DuckDB table, view or query.
pub struct DuckSource {
    name: String,
    mapping: Mapping,
    link: ReaderLink,
}

enum Target {
    Parquet(Uncompressed),
    Database(Uncompressed),
}

fn duck_error(e: duckdb::Error) -> SourceError {
    SourceError::DuckDb(e)
}

/// The most memory DuckDB may use: `--duckdb-memory-limit`, or the default.
fn memory_limit(options: &SourceOptions) -> &str {
    options
        .duckdb_memory_limit
        .as_deref()
        .unwrap_or(super::DUCKDB_MEMORY_LIMIT)
}

/// DuckDB's error when a query needed more than the memory limit (and as
/// much spilled), said as the flag that raises it.
fn out_of_memory(e: SourceError, limit: &str) -> SourceError {
    match e {
        SourceError::DuckDb(e) if e.to_string().contains("Out of Memory Error") => {
            SourceError::DuckDbMemory {
                limit: limit.to_owned(),
                source: e,
            }
        }
        e => e,
    }
}

/// `'text'` as a SQL string literal.
pub fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"name"` as a SQL identifier.
pub fn sql_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl DuckSource {
    /// Reads a Parquet file (`file`, the input `path` or its decompressed copy).
    pub fn parquet(
        path: &Path,
        file: Uncompressed,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        Self::start(path, Target::Parquet(file), options)
    }

    /// Reads a DuckDB database: `--table`, `--query`, or its only table.
    pub fn database(
        path: &Path,
        file: Uncompressed,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        Self::start(path, Target::Database(file), options)
    }

    fn start(path: &Path, target: Target, options: &SourceOptions) -> Result<Self, SourceError> {
        let (mapping_tx, mapping_rx) = bounded(1);
        let options = options.clone();
        let link = ReaderLink::spawn("duckdb reader", move |end| {
            let mut mapping_sent = false;
            if let Err(e) = read(&target, &options, &mut mapping_sent, &mapping_tx, &end) {
                let e = out_of_memory(e, memory_limit(&options));
                // Before the mapping is known the error goes to `start`, after to the stream.
                let _ = match mapping_sent {
                    false => mapping_tx.send(Err(e)).is_ok(),
                    true => end.batches.send(Err(e)).is_ok(),
                };
            }
            drop(target);
        })?;
        let mapping = match mapping_rx.recv() {
            Ok(Ok(mapping)) => mapping,
            Ok(Err(e)) => return Err(e),
            // The reader ended before the mapping: its failure is in the stream.
            Err(_) => {
                let mut link = link;
                return Err(match link.next_batch() {
                    Err(e) => e,
                    Ok(_) => SourceError::ReaderStopped("DuckDB reader"),
                });
            }
        };
        Ok(DuckSource {
            name: path.display().to_string(),
            mapping,
            link,
        })
    }
}

impl EventSource for DuckSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        self.link.next_batch()
    }

    fn recycle(&mut self, batch: EventBatch) {
        self.link.recycle(batch);
    }
}

/// The relation (as a parenthesised SQL expression) holding the events.
fn relation(
    conn: &Connection,
    target: &Target,
    options: &SourceOptions,
) -> Result<String, SourceError> {
    if let Target::Parquet(file) = target {
        let path = file.path().to_string_lossy();
        return Ok(format!(
            "(SELECT * FROM read_parquet({}))",
            sql_string(&path)
        ));
    }
    match (&options.table, &options.query) {
        (Some(_), Some(_)) => Err(SourceError::Usage(
            "give --table or --query, not both".into(),
        )),
        (_, Some(query)) => Ok(format!("({})", one_select(conn, query)?)),
        (Some(table), None) => Ok(format!("(SELECT * FROM {})", sql_identifier(table))),
        (None, None) => {
            let mut stmt = conn
                .prepare(
                    "SELECT table_schema, table_name FROM information_schema.tables \
                     WHERE table_schema NOT IN ('information_schema', 'pg_catalog') \
                     ORDER BY table_schema, table_name",
                )
                .map_err(duck_error)?;
            let tables: Vec<(String, String)> = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(duck_error)?
                .collect::<Result<_, _>>()
                .map_err(duck_error)?;
            match tables.as_slice() {
                [] => Err(SourceError::Usage(
                    "the database has no tables or views".into(),
                )),
                [(schema, table)] => Ok(format!(
                    "(SELECT * FROM {}.{})",
                    sql_identifier(schema),
                    sql_identifier(table)
                )),
                many => {
                    let names: Vec<String> = many.iter().map(|(_, t)| t.clone()).collect();
                    Err(SourceError::Usage(format!(
                        "the database has several tables ({}); pass --table NAME or --query SQL",
                        names.join(", ")
                    )))
                }
            }
        }
    }
}

/// The user's `--query` as one read-only statement: DuckDB parses it, and
/// it must be exactly one SELECT (no `; COPY …`, no INSERT, no PRAGMA).
fn one_select(conn: &Connection, query: &str) -> Result<String, SourceError> {
    let query = query.trim().trim_end_matches(';').trim();
    let refused = |why: &str| {
        SourceError::Usage(format!(
            "--query must be one SELECT statement ({why}); Journeyscope only reads the database"
        ))
    };
    let parsed: String = conn
        .query_row("SELECT json_serialize_sql(?::VARCHAR)", [query], |row| {
            row.get(0)
        })
        .map_err(duck_error)?;
    let parsed: serde_json::Value = serde_json::from_str(&parsed).map_err(|e| {
        SourceError::Usage(format!(
            "--query: DuckDB's reading of it cannot be read ({e})"
        ))
    })?;
    if parsed["error"].as_bool() == Some(true) {
        let message = parsed["error_message"]
            .as_str()
            .unwrap_or("it does not parse");
        return Err(refused(&crate::format::excerpt(message, 200)));
    }
    match parsed["statements"].as_array().map(Vec::len) {
        Some(1) => Ok(query.to_owned()),
        Some(n) => Err(refused(&format!("it holds {n} statements"))),
        None => Err(refused("it does not parse")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeKind {
    /// TIMESTAMP WITH TIME ZONE: an instant.
    Instant,
    /// TIMESTAMP / DATE without zone: read in the configured zone.
    Naive,
    /// TIMESTAMPTZ_NS (Parquet's nanosecond instants): to the nanosecond.
    InstantNs,
    /// TIMESTAMP_NS: a wall-clock time to the nanosecond.
    NaiveNs,
    /// A whole number that fits 64 bits: epoch seconds, ms, µs or ns in
    /// the column's unit, exactly.
    Integer,
    /// Any other number: epoch seconds, ms, µs or ns in the column's unit.
    Number,
    /// Anything else, read as text.
    Text,
}

impl TimeKind {
    /// A native time type, which needs no unit.
    fn is_native(self) -> bool {
        matches!(
            self,
            TimeKind::Instant | TimeKind::Naive | TimeKind::InstantNs | TimeKind::NaiveNs
        )
    }
}

fn time_kind(duck_type: &str) -> TimeKind {
    let t = duck_type.to_uppercase();
    if t == "TIMESTAMPTZ_NS" || t == "TIMESTAMP_NS WITH TIME ZONE" {
        TimeKind::InstantNs
    } else if t == "TIMESTAMP_NS" {
        TimeKind::NaiveNs
    } else if t.starts_with("TIMESTAMP WITH TIME ZONE") || t == "TIMESTAMPTZ" {
        TimeKind::Instant
    } else if t.starts_with("TIMESTAMP") || t == "DATE" {
        TimeKind::Naive
    } else if [
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
    ]
    .contains(&t.as_str())
    {
        TimeKind::Integer
    } else if ["HUGEINT", "UBIGINT", "FLOAT", "DOUBLE"].contains(&t.as_str())
        || t.starts_with("DECIMAL")
    {
        TimeKind::Number
    } else {
        TimeKind::Text
    }
}

/// A DuckDB connection, and the private folder it spills to (removed after
/// the connection is closed: fields drop in order).
struct Connected {
    conn: Connection,
    _spill: Option<(crate::files::Registered, tempfile::TempDir)>,
}

/// Opens DuckDB for `target` within the memory limit: read-only, one
/// thread, and for a query, nothing outside the database.
fn connect(target: &Target, options: &SourceOptions) -> Result<Connected, SourceError> {
    // What passes the memory limit DuckDB spills to a folder: by default
    // beside the database (`shop.duckdb.tmp`) or in the working folder. Here
    // a private one in the system's temporary folder, removed when reading
    // ends or when a signal ends the process. Without one (none can be
    // made), nothing spills.
    let spill = match tempfile::Builder::new()
        .prefix("journeyscope-duckdb-")
        .tempdir()
    {
        Ok(folder) => {
            let registered = crate::files::register(folder.path().to_path_buf())
                .map_err(|_| SourceError::Cancelled)?;
            Some((registered, folder))
        }
        Err(e) => {
            log::warn!("DuckDB cannot spill to disk: no temporary folder ({e})");
            None
        }
    };
    let spill_folder = spill.as_ref().map_or(String::new(), |(_, d)| {
        d.path().to_string_lossy().into_owned()
    });
    let limit = memory_limit(options);
    let config = Config::default()
        .max_memory(limit)
        .map_err(|e| {
            SourceError::Usage(format!(
                "--duckdb-memory-limit {limit} is not a size DuckDB reads ({e}); give a size \
                 such as 4GB or 500MB, or a share of the memory such as 25%"
            ))
        })?
        .with("temp_directory", &spill_folder)
        .map_err(duck_error)?;
    let conn = match target {
        Target::Parquet(_) => Connection::open_in_memory_with_flags(config),
        // A query of the user's may read the database only: nothing outside
        // it (COPY … TO, read_csv, ATTACH), and no setting can turn that back.
        Target::Database(file) => config
            .access_mode(AccessMode::ReadOnly)
            .and_then(|config| match options.query {
                Some(_) => config.enable_external_access(false),
                None => Ok(config),
            })
            .and_then(|config| Connection::open_with_flags(file.path(), config)),
    }
    .map_err(duck_error)?;
    // The scan is simple; with one DuckDB thread, decoding runs on this
    // reader thread while the engine ingests on the other core.
    conn.execute_batch("SET threads = 1").map_err(duck_error)?;
    // What spills is bounded as the memory is: a runaway query fills
    // neither the memory nor the disk.
    let limit_bytes: String = conn
        .query_row("SELECT current_setting('memory_limit')", [], |row| {
            row.get(0)
        })
        .map_err(duck_error)?;
    conn.execute_batch(&format!(
        "SET max_temp_directory_size = {}",
        sql_string(&limit_bytes)
    ))
    .map_err(duck_error)?;
    if options.query.is_some() {
        conn.execute_batch("SET lock_configuration = true")
            .map_err(duck_error)?;
    }
    Ok(Connected {
        conn,
        _spill: spill,
    })
}

/// The select list that reads the mapped columns, the plan that turns its
/// rows into events, and how its time column is read.
struct Selection {
    /// The SQL expressions selected, in order; the plan's keys index them.
    select: Vec<String>,
    /// Where each field of an event is among `select`.
    plan: RecordPlan<usize>,
    /// How the time column (the last in `select`) is read.
    time_kind: TimeKind,
}

/// Reads `target`: detects the mapping from a sample, sends it on
/// `mapping_tx` (setting `mapping_sent`), then streams the events to `end`.
fn read(
    target: &Target,
    options: &SourceOptions,
    mapping_sent: &mut bool,
    mapping_tx: &Sender<Result<Mapping, SourceError>>,
    end: &ReaderEnd,
) -> Result<(), SourceError> {
    let connected = connect(target, options)?;
    let conn = &connected.conn;
    let rel = relation(conn, target, options)?;
    let described = describe(conn, &rel)?;
    let columns = sample_columns(conn, &rel, &described)?;
    let mapping = schema::detect(&columns, &options.overrides, &options.time_parser())?;
    let selection = selection_for(&mapping, &described, options);
    let parser: TimeParser = options.time_parser_for(&mapping);
    if mapping_tx.send(Ok(mapping)).is_err() {
        return Ok(());
    }
    *mapping_sent = true;
    stream_events(conn, &rel, &selection, &parser, end)
}

/// The name and DuckDB type of each column of the relation `rel`.
fn describe(conn: &Connection, rel: &str) -> Result<Vec<(String, String)>, SourceError> {
    let mut stmt = conn
        .prepare(&format!("DESCRIBE SELECT * FROM {rel} AS src"))
        .map_err(duck_error)?;
    let described: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(duck_error)?
        .collect::<Result<_, _>>()
        .map_err(duck_error)?;
    Ok(described)
}

/// The columns of `rel` (as `described`) for detection: each with its
/// non-blank values, as text, from the first `DETECTION_SAMPLE` rows.
fn sample_columns(
    conn: &Connection,
    rel: &str,
    described: &[(String, String)],
) -> Result<Vec<ColumnSample>, SourceError> {
    let as_text: Vec<String> = described
        .iter()
        .map(|(name, _)| format!("CAST({} AS VARCHAR)", sql_identifier(name)))
        .collect();
    let mut columns: Vec<ColumnSample> = described
        .iter()
        .map(|(name, ty)| ColumnSample {
            name: name.clone(),
            values: Vec::new(),
            is_timestamp_type: time_kind(ty).is_native(),
            nested: false,
        })
        .collect();
    if !as_text.is_empty() {
        let sql = format!(
            "SELECT {} FROM {rel} AS src LIMIT {DETECTION_SAMPLE}",
            as_text.join(", ")
        );
        let mut stmt = conn.prepare(&sql).map_err(duck_error)?;
        let mut rows = stmt.query([]).map_err(duck_error)?;
        while let Some(row) = rows.next().map_err(duck_error)? {
            for (i, column) in columns.iter_mut().enumerate() {
                if let Ok(Some(v)) = row.get::<_, Option<String>>(i)
                    && !v.trim().is_empty()
                {
                    column.values.push(v);
                }
            }
        }
    }
    Ok(columns)
}

/// What to select for `mapping` from the columns `described`: every field
/// as text, and the time last, read by its DuckDB type.
fn selection_for(
    mapping: &Mapping,
    described: &[(String, String)],
    options: &SourceOptions,
) -> Selection {
    let type_of = |name: &str| {
        described
            .iter()
            .find(|(n, _)| n == name)
            .map_or("VARCHAR", |(_, t)| t.as_str())
    };

    let mut select = Vec::new();
    let mut text_column = |name: &str| {
        select.push(format!("CAST({} AS VARCHAR)", sql_identifier(name)));
        select.len() - 1
    };
    let customer = text_column(&mapping.customer);
    let customer_fallback = mapping.customer_fallback.as_deref().map(&mut text_column);
    let event = text_column(&mapping.event);
    let event_id = mapping.event_id.as_deref().map(&mut text_column);
    let session_id = mapping.session_id.as_deref().map(&mut text_column);
    let properties: Vec<(String, usize)> = options
        .property_columns(mapping)
        .into_iter()
        .filter(|(_, column)| described.iter().any(|(n, _)| n == column))
        .map(|(p, column)| {
            let at = text_column(&column);
            (p, at)
        })
        .collect();
    let time_id = sql_identifier(&mapping.time);
    let kind = time_kind(type_of(&mapping.time));
    select.push(match kind {
        TimeKind::Instant => format!("epoch_us({time_id})"),
        TimeKind::Naive => format!("epoch_us(CAST({time_id} AS TIMESTAMP))"),
        TimeKind::InstantNs | TimeKind::NaiveNs => format!("epoch_ns({time_id})"),
        TimeKind::Integer => format!("CAST({time_id} AS BIGINT)"),
        TimeKind::Number => format!("CAST({time_id} AS DOUBLE)"),
        TimeKind::Text => format!("CAST({time_id} AS VARCHAR)"),
    });
    let plan = RecordPlan {
        customer,
        customer_fallback,
        event,
        time: select.len() - 1,
        event_id,
        session_id,
        hidden: super::record::Hidden::new(&options.hidden_properties, |name| {
            properties
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, at)| *at)
        }),
        properties,
        pseudonyms: options.pseudonymize.clone(),
    };
    Selection {
        select,
        plan,
        time_kind: kind,
    }
}

/// Streams `selection` from `rel` as Arrow batches and maps each row into
/// an event batch, sent to `end` once it holds `BATCH_EVENTS` (the last
/// when the rows end).
fn stream_events(
    conn: &Connection,
    rel: &str,
    selection: &Selection,
    parser: &TimeParser,
    end: &ReaderEnd,
) -> Result<(), SourceError> {
    let plan = &selection.plan;
    let sql = format!("SELECT {} FROM {rel} AS src", selection.select.join(", "));
    let mut stmt = conn.prepare(&sql).map_err(duck_error)?;
    let stream = stmt.stream_arrow([]).map_err(duck_error)?;
    let mut batch = end.fresh_batch();
    let mut row_number = 0u64;
    for arrow in stream {
        let arrow = arrow.map_err(duck_error)?;
        let columns = ArrowColumns::new(&arrow, selection.time_kind, plan.time)?;
        for row in 0..arrow.num_rows() {
            row_number += 1;
            let record = ArrowRow {
                columns: &columns,
                row,
            };
            plan.apply(&record, parser, || format!("row {row_number}"), &mut batch);
        }
        if batch.len() + batch.rejected.len() >= BATCH_EVENTS {
            let full = std::mem::replace(&mut batch, end.fresh_batch());
            if end.batches.send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() || !batch.rejected.is_empty() {
        // A closed channel: the reading was cancelled, nobody waits.
        let _ = end.batches.send(Ok(batch));
    }
    Ok(())
}

enum Column {
    Text(duckdb::arrow::array::StringArray),
    /// Microseconds; `naive` when the type had no zone.
    Micros {
        values: duckdb::arrow::array::Int64Array,
        naive: bool,
    },
    /// Nanoseconds; `naive` when the type had no zone.
    Nanos {
        values: duckdb::arrow::array::Int64Array,
        naive: bool,
    },
    /// Whole epoch numbers, in the column's unit.
    Integer(duckdb::arrow::array::Int64Array),
    Float(duckdb::arrow::array::Float64Array),
}

struct ArrowColumns {
    columns: Vec<Column>,
}

impl ArrowColumns {
    fn new(
        batch: &RecordBatch,
        time_kind: TimeKind,
        time_index: usize,
    ) -> Result<Self, SourceError> {
        let arrow_error = SourceError::Arrow;
        let columns = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, array)| {
                Ok(match (i == time_index, time_kind) {
                    (true, TimeKind::Instant | TimeKind::Naive) => {
                        let array = cast(array, &DataType::Int64).map_err(arrow_error)?;
                        Column::Micros {
                            values: array.as_primitive::<Int64Type>().clone(),
                            naive: time_kind == TimeKind::Naive,
                        }
                    }
                    (true, TimeKind::InstantNs | TimeKind::NaiveNs) => {
                        let array = cast(array, &DataType::Int64).map_err(arrow_error)?;
                        Column::Nanos {
                            values: array.as_primitive::<Int64Type>().clone(),
                            naive: time_kind == TimeKind::NaiveNs,
                        }
                    }
                    (true, TimeKind::Integer) => {
                        let array = cast(array, &DataType::Int64).map_err(arrow_error)?;
                        Column::Integer(array.as_primitive::<Int64Type>().clone())
                    }
                    (true, TimeKind::Number) => {
                        let array = cast(array, &DataType::Float64).map_err(arrow_error)?;
                        Column::Float(array.as_primitive::<Float64Type>().clone())
                    }
                    _ => {
                        let array = cast(array, &DataType::Utf8).map_err(arrow_error)?;
                        Column::Text(array.as_string::<i32>().clone())
                    }
                })
            })
            .collect::<Result<_, SourceError>>()?;
        Ok(ArrowColumns { columns })
    }
}

struct ArrowRow<'a> {
    columns: &'a ArrowColumns,
    row: usize,
}

impl Record<usize> for ArrowRow<'_> {
    fn field(&self, key: &usize) -> Field<'_> {
        let row = self.row;
        match &self.columns.columns[*key] {
            Column::Text(a) if a.is_valid(row) => text_field(a.value(row)),
            Column::Micros { values, naive } if values.is_valid(row) => match naive {
                true => Field::LocalTimestampUs(values.value(row)),
                false => Field::TimestampUs(values.value(row)),
            },
            Column::Nanos { values, naive } if values.is_valid(row) => match naive {
                true => Field::LocalTimestampNs(values.value(row)),
                false => Field::TimestampNs(values.value(row)),
            },
            Column::Integer(a) if a.is_valid(row) => Field::Integer(a.value(row)),
            Column::Float(a) if a.is_valid(row) => Field::Number(a.value(row)),
            _ => Field::Missing,
        }
    }

    fn raw_text(&self) -> String {
        let values: Vec<String> = (0..self.columns.columns.len())
            .map(|i| match self.field(&i) {
                Field::Text(t) => t.into_owned(),
                Field::TimestampUs(us) | Field::LocalTimestampUs(us) => us.to_string(),
                Field::TimestampNs(ns) | Field::LocalTimestampNs(ns) => ns.to_string(),
                Field::Integer(n) => n.to_string(),
                Field::Number(n) => n.to_string(),
                _ => "NULL".to_owned(),
            })
            .collect();
        values.join(", ")
    }
}
