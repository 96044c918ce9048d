//! The same generated file (with duplicates, late and malformed records) as
//! CSV, JSON lines and Parquet gives the transition counts, customers and
//! medians that DuckDB SQL computes on it.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{close, flags, summarize};
use duckdb::Connection;
use journeyscope::generate::{GenerateOptions, write_sample};
use journeyscope::reference::{Columns, transitions_sql};
use journeyscope::source::duck::sql_string;

type Reference = BTreeMap<(String, String), (u64, u64, Option<f64>)>;

fn duckdb_transitions(relation: &str, position: Option<&str>) -> (Reference, u64) {
    let conn = Connection::open_in_memory().unwrap();
    let columns = Columns {
        customer: "customer_id",
        event: "event",
        time: "timestamp",
        event_id: Some("event_id"),
        position,
    };
    let sql = transitions_sql(relation, &columns, Some(30 * 60 * 1_000_000));
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows: Vec<(String, String, i64, i64, Option<f64>)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let events: u64 = rows
        .iter()
        .filter(|r| r.1 != "END")
        .map(|r| r.2 as u64)
        .sum();
    let reference = rows
        .into_iter()
        .map(|(a, b, n, c, m)| ((a, b), (n as u64, c as u64, m)))
        .collect();
    (reference, events)
}

fn check(path: &Path, relation: &str, position: Option<&str>) {
    let summary = summarize(path, &flags());
    let (reference, events) = duckdb_transitions(relation, position);
    assert!(summary.duplicates > 0, "the file should hold duplicates");
    assert!(
        summary.rejected.total > 0,
        "the file should hold malformed records"
    );
    assert_eq!(summary.events, events, "{}", path.display());
    assert_eq!(summary.edges.len(), reference.len(), "{}", path.display());
    for e in &summary.edges {
        let (n, customers, median) = reference[&(e.from.clone(), e.to.clone())];
        assert_eq!(
            (e.transitions, e.customers),
            (n, customers),
            "{} → {}",
            e.from,
            e.to
        );
        match (e.time_s, median) {
            (None, None) => {}
            (Some(t), Some(m)) => assert!(
                close(t.median, m),
                "{} → {}: {} vs {m}",
                e.from,
                e.to,
                t.median
            ),
            other => panic!("{} → {}: {other:?}", e.from, e.to),
        }
    }
}

#[test]
fn csv_jsonl_and_parquet_agree_with_duckdb_sql() {
    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        events: 60_000,
        seed: 3,
        messy: true,
    };
    let csv = dir.path().join("events.csv");
    let jsonl = dir.path().join("events.jsonl");
    let parquet = dir.path().join("events.parquet");
    for path in [&csv, &jsonl, &parquet] {
        write_sample(path, &options).unwrap();
    }
    let text_columns = "(SELECT customer_id, event, TRY_CAST(\"timestamp\" AS TIMESTAMPTZ) AS \"timestamp\", event_id FROM {})";
    let csv_rel = text_columns.replace(
        "{}",
        &format!(
            "read_csv({}, all_varchar = true, ignore_errors = true)",
            sql_string(&csv.to_string_lossy())
        ),
    );
    let json_rel = text_columns.replace(
        "{}",
        &format!(
            "read_json({}, format = 'newline_delimited', ignore_errors = true, \
             columns = {{event_id: 'VARCHAR', customer_id: 'VARCHAR', event: 'VARCHAR', \"timestamp\": 'VARCHAR'}})",
            sql_string(&jsonl.to_string_lossy())
        ),
    );
    let parquet_rel = format!(
        "read_parquet({}, file_row_number = true)",
        sql_string(&parquet.to_string_lossy())
    );
    check(&csv, &csv_rel, None);
    check(&jsonl, &json_rel, None);
    check(&parquet, &parquet_rel, Some("file_row_number"));
}
