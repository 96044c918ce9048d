//! The built-in Parquet reader gives what DuckDB gives: for files written
//! by DuckDB with each time type, codec and kind of bad row, the whole
//! summary (mapping, events, transitions, timings, rejected rows and their
//! text) is the same read either way, and the files the built-in reader
//! cannot take exactly are handed to DuckDB.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{flags, settings_of};
use duckdb::Connection;
use journeyscope::cli::MappingArgs;
use journeyscope::commands::summarize_path;
use journeyscope::source::SourceOptions;
use journeyscope::source::duck::sql_string;
use journeyscope::source::input::Uncompressed;
use journeyscope::source::parquet_file::{Opening, ParquetSource};

/// Rows with duplicates (every 50th row again at the end), missing
/// customers, blank events, times out of order, and a few-valued channel.
const ROWS: &str = "WITH base AS (SELECT i,
    'e' || (i % 4500) AS event_id,
    CASE WHEN i % 97 = 0 THEN NULL ELSE 'c' || (i * 13 % 251) END AS customer_id,
    CASE WHEN i % 89 = 0 THEN '  '
         ELSE ['home', 'search', 'product', 'cart', 'checkout', 'purchase'][1 + (i * 7 % 6)] END AS event,
    TIMESTAMP '2026-11-01 08:00:00' + to_microseconds((i * 7919 % 200000) * 1000 + i % 3) AS t0,
    ['web', 'app', 'email'][1 + i % 3] AS channel,
    i % 2 = 0 AS is_returning,
    (i % 5) * 2.5 AS price
FROM range(5000) t(i))
SELECT * EXCLUDE (i) FROM (SELECT * FROM base UNION ALL SELECT * FROM base WHERE i % 50 = 0)";

/// Writes `ROWS` with the time column as `time` (SQL over `t0`) to `path`.
fn write(conn: &Connection, path: &Path, time: &str, codec: &str, extra: &str) {
    let sql = format!(
        "COPY (SELECT event_id, customer_id, event, {time} AS \"timestamp\", channel{extra} FROM ({ROWS})) \
         TO {} (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 1024)",
        sql_string(&path.to_string_lossy())
    );
    conn.execute_batch(&sql).unwrap();
}

/// Summarizes `path` with `args` through the built-in reader and through
/// DuckDB, and checks they agree; true when the built-in reader read it.
fn same_either_way(path: &Path, args: &MappingArgs) -> bool {
    let settings = settings_of(args);
    let native = matches!(
        ParquetSource::open(
            path,
            Uncompressed::Original(path.to_owned()),
            &settings.source
        )
        .unwrap(),
        Opening::Native(_)
    );
    let label = path.display().to_string();
    let built_in = summarize_path(path, &label, settings_of(args)).unwrap();
    let mut through_duckdb = settings_of(args);
    through_duckdb.source.parquet_through_duckdb = true;
    let duckdb = summarize_path(path, &label, through_duckdb).unwrap();
    assert!(duckdb.events > 3000, "{label}: {} events", duckdb.events);
    assert!(duckdb.rejected.total > 0, "{label}: nothing rejected");
    assert!(duckdb.duplicates > 0, "{label}: no duplicates");
    assert_eq!(built_in, duckdb, "{label}");
    native
}

#[test]
fn every_time_type_and_codec_reads_as_duckdb_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open_in_memory().unwrap();
    let times = [
        ("timestamp", "t0"),
        ("timestamptz", "CAST(t0 AS TIMESTAMPTZ)"),
        ("timestamp_ms", "CAST(t0 AS TIMESTAMP_MS)"),
        (
            "timestamp_ns",
            "CAST(t0 AS TIMESTAMP_NS) + to_microseconds(0)",
        ),
        ("epoch_ms", "epoch_ms(t0)"),
        ("epoch_s_double", "epoch_us(t0) / 1e6"),
        ("epoch_s_int", "CAST(epoch(t0) AS INTEGER)"),
        ("iso_text", "strftime(t0, '%Y-%m-%dT%H:%M:%S.%fZ')"),
    ];
    for (name, time) in times {
        let path = dir.path().join(format!("{name}.parquet"));
        write(&conn, &path, time, "zstd", "");
        assert!(same_either_way(&path, &flags()), "{name} went to DuckDB");
        let zoned = MappingArgs {
            timezone: Some("America/New_York".into()),
            ..flags()
        };
        assert!(same_either_way(&path, &zoned), "{name} in a zone");
    }
    for codec in ["snappy", "gzip", "uncompressed", "lz4"] {
        let path = dir.path().join(format!("{codec}.parquet"));
        write(&conn, &path, "t0", codec, ", is_returning");
        assert!(same_either_way(&path, &flags()), "{codec} went to DuckDB");
    }
}

#[test]
fn what_the_reader_cannot_take_exactly_goes_to_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open_in_memory().unwrap();
    // A codec not built in.
    let brotli = dir.path().join("brotli.parquet");
    write(&conn, &brotli, "t0", "brotli", "");
    assert!(!same_either_way(&brotli, &flags()));
    // A few-valued number kept for comparing: DuckDB's text for it is
    // DuckDB's to write.
    let price = dir.path().join("price.parquet");
    write(&conn, &price, "t0", "zstd", ", price");
    assert!(!same_either_way(&price, &flags()));
    // A date as the time.
    let date = dir.path().join("date.parquet");
    write(&conn, &date, "CAST(t0 AS DATE)", "zstd", "");
    assert!(!same_either_way(&date, &flags()));
    // The customer as a number is text DuckDB and the reader write alike.
    let numbered = dir.path().join("numbered.parquet");
    let sql = format!(
        "COPY (SELECT event_id, CAST(substr(customer_id, 2) AS BIGINT) AS customer_id, event, \
         t0 AS \"timestamp\" FROM ({ROWS})) TO {} (FORMAT parquet)",
        sql_string(&numbered.to_string_lossy())
    );
    conn.execute_batch(&sql).unwrap();
    assert!(same_either_way(&numbered, &flags()));
}

#[test]
fn a_forced_duckdb_read_is_not_native() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open_in_memory().unwrap();
    let path = dir.path().join("events.parquet");
    write(&conn, &path, "t0", "zstd", "");
    let options = SourceOptions {
        parquet_through_duckdb: true,
        ..SourceOptions::default()
    };
    let opened =
        ParquetSource::open(&path, Uncompressed::Original(path.clone()), &options).unwrap();
    assert!(matches!(opened, Opening::ThroughDuckDb(_)));
}

/// Customers stored with a dictionary in some row groups and plainly in
/// the others (DuckDB stores a row group's column plainly when its values
/// hardly repeat, as in the bench files' last row group) read as DuckDB
/// reads them, whichever holds most rows.
#[test]
fn a_column_stored_with_a_dictionary_in_some_row_groups_reads_as_duckdb_reads_it() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open_in_memory().unwrap();
    // Customers who never come back: each row its own.
    let unique = |rows: usize| {
        format!(
            "SELECT 'u' || i AS event_id, 'u' || i AS customer_id, 'home' AS event, \
             TIMESTAMP '2026-11-02 08:00:00' + to_microseconds(i * 1000) AS t0, 'web' AS channel \
             FROM range({rows}) t(i)"
        )
    };
    let repeating = format!("SELECT event_id, customer_id, event, t0, channel FROM ({ROWS})");
    let cases = [
        (
            "mostly_dictionary",
            format!("{repeating} UNION ALL {}", unique(1024)),
        ),
        (
            "mostly_plain",
            format!("{repeating} UNION ALL {}", unique(12 * 1024)),
        ),
    ];
    for (name, rows) in cases {
        let path = dir.path().join(format!("{name}.parquet"));
        let sql = format!(
            "COPY (SELECT event_id, customer_id, event, t0 AS \"timestamp\", channel FROM ({rows})) \
             TO {} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1024)",
            sql_string(&path.to_string_lossy())
        );
        conn.execute_batch(&sql).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        let with_dictionary: Vec<bool> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|group| group.column(1).dictionary_page_offset().is_some())
            .collect();
        assert!(
            with_dictionary.contains(&true) && with_dictionary.contains(&false),
            "{name}: {with_dictionary:?}"
        );
        assert!(same_either_way(&path, &flags()), "{name} went to DuckDB");
    }
}
