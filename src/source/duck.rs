//! Parquet files and DuckDB databases, read through DuckDB in-process.
//!
//! Databases are opened read-only. The reading runs on its own thread and
//! streams Arrow batches, so a large table is never held whole in memory.

use crossbeam_channel::{Sender, bounded};
use duckdb::{AccessMode, Config, Connection};
use std::path::Path;

use crate::engine::EventBatch;

use super::arrow_rows::BatchFiller;
use super::input::Uncompressed;
use super::schema::{self, ColumnSample, Mapping};
use super::selection::{Selection, TimeKind};
use super::threaded::{ReaderEnd, ReaderLink};
use super::{DETECTION_SAMPLE, EventSource, SourceError, SourceOptions, TimeParser};

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
    let kind = described
        .iter()
        .find(|(n, _)| *n == mapping.time)
        .map_or(TimeKind::Text, |(_, t)| time_kind(t));
    Selection::new(
        mapping,
        kind,
        |name| described.iter().any(|(n, _)| n == name),
        options,
    )
}

/// The SQL expressions reading `selection`'s columns: text, and the time
/// by its kind.
fn select_list(selection: &Selection) -> String {
    let last = selection.columns.len() - 1;
    let expressions: Vec<String> = selection
        .columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let id = sql_identifier(name);
            match (i == last, selection.time_kind) {
                (false, _) | (true, TimeKind::Text) => format!("CAST({id} AS VARCHAR)"),
                (true, TimeKind::Instant) => format!("epoch_us({id})"),
                (true, TimeKind::Naive) => format!("epoch_us(CAST({id} AS TIMESTAMP))"),
                (true, TimeKind::InstantNs | TimeKind::NaiveNs) => format!("epoch_ns({id})"),
                (true, TimeKind::Integer) => format!("CAST({id} AS BIGINT)"),
                (true, TimeKind::Number) => format!("CAST({id} AS DOUBLE)"),
            }
        })
        .collect();
    expressions.join(", ")
}

/// Streams `selection` from `rel` as Arrow batches and maps each row into
/// event batches.
fn stream_events(
    conn: &Connection,
    rel: &str,
    selection: &Selection,
    parser: &TimeParser,
    end: &ReaderEnd,
) -> Result<(), SourceError> {
    let sql = format!("SELECT {} FROM {rel} AS src", select_list(selection));
    let mut stmt = conn.prepare(&sql).map_err(duck_error)?;
    let stream = stmt.stream_arrow([]).map_err(duck_error)?;
    let mut filler = BatchFiller::new(selection, parser, end.fresh_batch(), 0);
    for arrow in stream {
        let arrow = arrow.map_err(duck_error)?;
        if !filler.add_sending(arrow.columns(), end)? {
            return Ok(());
        }
    }
    if let Some(rest) = filler.rest() {
        let _ = end.batches.send(Ok(rest));
    }
    Ok(())
}
