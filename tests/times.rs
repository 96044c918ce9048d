//! Times at their edges, read by the real binary: epoch numbers whose unit
//! only the whole column can tell, events a nanosecond apart, and local
//! times that a daylight-saving change skipped or showed twice. Each
//! expected journey and time is worked out by hand in the test.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_journeyscope");

fn summarize(path: &Path, extra: &[&str], format: &str) -> Output {
    let out = Command::new(BIN)
        .args(["summarize", path.to_str().unwrap(), "--format", format])
        .args(extra)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn summary_json(path: &Path, extra: &[&str]) -> Value {
    serde_json::from_slice(&summarize(path, extra, "json").stdout).expect("JSON")
}

fn table(path: &Path, extra: &[&str]) -> String {
    String::from_utf8(summarize(path, extra, "table").stdout).unwrap()
}

/// The transitions of a summary, as "from→to" (each made at least once).
fn moves(s: &Value) -> Vec<String> {
    let mut moves: Vec<String> = s["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}→{}",
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap()
            )
        })
        .collect();
    moves.sort();
    moves
}

/// The transition `from` → `to` of a summary.
fn edge<'s>(s: &'s Value, from: &str, to: &str) -> &'s Value {
    s["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == from && e["to"] == to)
        .unwrap_or_else(|| panic!("no {from} → {to}"))
}

/// The moves of one journey through `steps`, START and END included.
fn journey(steps: &[&str]) -> Vec<String> {
    let mut path = vec!["START"];
    path.extend_from_slice(steps);
    path.push("END");
    let mut moves: Vec<String> = path
        .windows(2)
        .map(|w| format!("{}→{}", w[0], w[1]))
        .collect();
    moves.sort();
    moves
}

/// A record: customer, event, time as written.
type Row<'a> = (&'a str, &'a str, &'a str);

/// Writes the rows as JSON lines, the time as a JSON string when `quoted`,
/// else as a bare number.
fn write_jsonl(path: &Path, rows: &[Row], quoted: bool) {
    let text: String = rows
        .iter()
        .map(|(c, e, t)| match quoted {
            true => {
                format!("{{\"customer_id\":\"{c}\",\"event\":\"{e}\",\"timestamp\":\"{t}\"}}\n")
            }
            false => format!("{{\"customer_id\":\"{c}\",\"event\":\"{e}\",\"timestamp\":{t}}}\n"),
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

fn write_csv(path: &Path, rows: &[Row]) {
    let mut text = String::from("customer_id,event,timestamp\n");
    for (c, e, t) in rows {
        text.push_str(&format!("{c},{e},{t}\n"));
    }
    std::fs::write(path, text).unwrap();
}

// ---- Epoch units, by the range the whole column fits ----

/// Epoch seconds up to the last second of the year 9999: that number alone
/// looks like milliseconds (a time of 1978), the column says seconds.
#[test]
fn a_column_of_epoch_seconds_reaching_the_year_9999_is_read_as_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        ("c1", "home", "1790000000"),
        ("c1", "cart", "1790000060"),
        ("c2", "home", "1790000120"),
        ("c2", "cart", "253402300799"),
    ];
    for (name, quoted) in [("s.jsonl", false), ("s.csv", true)] {
        let path = dir.path().join(name);
        match name.ends_with(".csv") {
            true => write_csv(&path, &rows),
            false => write_jsonl(&path, &rows, quoted),
        }
        let s = summary_json(&path, &[]);
        assert_eq!(s["events"], 4, "{name}");
        assert_eq!(s["rejected"]["total"], 0, "{name}");
        // 1790000000 s is 2026-09-21T14:13:20Z.
        assert_eq!(s["first_event"], "2026-09-21T14:13:20Z", "{name}");
        assert_eq!(s["last_event"], "9999-12-31T23:59:59Z", "{name}");
        assert_eq!(s["mapping"]["time_unit"], "seconds", "{name}");
        assert!(
            table(&path, &[]).contains("time=timestamp (epoch seconds)"),
            "{name}"
        );
    }
}

#[test]
fn a_column_of_epoch_milliseconds_is_read_as_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ms.csv");
    write_csv(
        &path,
        &[
            ("c1", "home", "1790000000000"),
            ("c1", "cart", "1790000060500"),
            ("c2", "home", "1790000000250"),
        ],
    );
    let s = summary_json(&path, &[]);
    assert_eq!(s["mapping"]["time_unit"], "milliseconds");
    assert_eq!(s["first_event"], "2026-09-21T14:13:20Z");
    assert_eq!(s["last_event"], "2026-09-21T14:14:20.500Z");
    assert_eq!(edge(&s, "home", "cart")["time_s"]["median"], 60.5);
}

/// A column of seconds with one value in milliseconds: the column is
/// seconds (three of four values say so), and the millisecond value, after
/// the year 9999 in seconds, is rejected with why, not read as another
/// unit.
#[test]
fn a_value_of_another_unit_than_its_column_is_rejected_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    write_jsonl(
        &path,
        &[
            ("c1", "home", "1790000000"),
            ("c1", "cart", "1790000060"),
            ("c1", "buy", "1790000120000"),
            ("c2", "home", "1790000180"),
        ],
        false,
    );
    let s = summary_json(&path, &[]);
    assert_eq!(s["events"], 3);
    assert_eq!(s["rejected"]["by_reason"]["bad_timestamp"], 1);
    assert_eq!(s["mapping"]["time_unit"], "seconds");
    let rejected = &s["rejected"]["sample"][0];
    assert_eq!(rejected["position"], "line 3");
    let detail = rejected["detail"].as_str().unwrap();
    assert!(
        detail.contains("1790000120000")
            && detail.contains("epoch seconds, the unit of the time column"),
        "{detail}"
    );
}

// ---- Order within a microsecond ----

/// Two events of one customer a nanosecond apart, written later first: the
/// journey follows time (home → cart), as ISO text and as epoch
/// nanoseconds, in JSON lines and CSV.
#[test]
fn events_a_nanosecond_apart_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let iso = [
        ("c1", "cart", "2026-11-27T10:15:00.000000002Z"),
        ("c1", "home", "2026-11-27T10:15:00.000000001Z"),
    ];
    // 2026-11-27T10:15:00Z is 1795774500 s.
    let ns = [
        ("c1", "cart", "1795774500000000002"),
        ("c1", "home", "1795774500000000001"),
    ];
    let files: [(&str, &[Row], bool); 4] = [
        ("iso.jsonl", &iso, true),
        ("iso.csv", &iso, true),
        ("ns.jsonl", &ns, false),
        ("ns.csv", &ns, false),
    ];
    for (name, rows, quoted) in files {
        let path = dir.path().join(name);
        match name.ends_with(".csv") {
            true => write_csv(&path, rows),
            false => write_jsonl(&path, rows, quoted),
        }
        let s = summary_json(&path, &[]);
        assert_eq!(s["events"], 2, "{name}");
        assert_eq!(moves(&s), journey(&["home", "cart"]), "{name}");
        assert_eq!(s["first_event"], "2026-11-27T10:15:00Z", "{name}");
    }
}

/// The same in native nanosecond types: DuckDB's TIMESTAMP_NS, and Parquet
/// timestamps in nanoseconds (which DuckDB writes from it).
#[test]
fn native_nanosecond_timestamps_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.duckdb");
    let parquet = dir.path().join("events.parquet");
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE events AS SELECT * FROM (VALUES \
               ('c1', 'cart', '2026-11-27 10:15:00.000000002'::TIMESTAMP_NS), \
               ('c1', 'home', '2026-11-27 10:15:00.000000001'::TIMESTAMP_NS)) \
               AS t(customer_id, event, \"timestamp\"); \
             COPY events TO '{}' (FORMAT parquet);",
            parquet.display()
        ))
        .unwrap();
    }
    for path in [&db, &parquet] {
        let s = summary_json(path, &[]);
        assert_eq!(s["events"], 2, "{}", path.display());
        assert_eq!(moves(&s), journey(&["home", "cart"]), "{}", path.display());
    }
}

// ---- Daylight-saving gaps and overlaps ----

/// On 2026-03-29 Berlin's clocks jump from 02:00 (CET, +1) to 03:00 (CEST,
/// +2), at 01:00 UTC. a at 01:50 CET is 00:50 UTC, c at 03:10 CEST is 01:10
/// UTC, and b at 02:30 never happened on a Berlin clock. Read with the
/// offset before the jump it would be 01:30 UTC, after c; with the one
/// after it 00:30 UTC, before a. Read as the jump (01:00 UTC) it keeps
/// a → b → c, and it is counted.
#[test]
fn a_local_time_the_clock_skipped_keeps_its_place_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gap.csv");
    write_csv(
        &path,
        &[
            ("c1", "c", "2026-03-29 03:10:00"),
            ("c1", "b", "2026-03-29 02:30:00"),
            ("c1", "a", "2026-03-29 01:50:00"),
        ],
    );
    let zone = ["--timezone", "Europe/Berlin"];
    let s = summary_json(&path, &zone);
    assert_eq!(moves(&s), journey(&["a", "b", "c"]));
    assert_eq!(s["first_event"], "2026-03-29T00:50:00Z");
    assert_eq!(s["last_event"], "2026-03-29T01:10:00Z");
    assert_eq!(edge(&s, "b", "c")["time_s"]["median"], 600.0);
    assert_eq!(s["rejected"]["total"], 0);
    assert_eq!(s["rejected"]["times_adjusted"]["gap"], 1);
    assert_eq!(s["rejected"]["times_adjusted"]["overlap"], 0);
    let table = table(&path, &zone);
    assert!(
        table.contains("1 skipped local time in a daylight-saving gap"),
        "{table}"
    );
}

/// On 2026-10-25 Berlin's clocks go back from 03:00 (CEST, +2) to 02:00
/// (CET, +1), at 01:00 UTC: 02:30 happened twice, at 00:30 and 01:30 UTC.
/// It is read as the earlier, and counted.
#[test]
fn a_local_time_the_clock_showed_twice_is_the_earlier_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overlap.jsonl");
    write_jsonl(
        &path,
        &[
            ("c1", "c", "2026-10-25T03:10:00"),
            ("c1", "b", "2026-10-25T02:30:00"),
            ("c1", "a", "2026-10-25T01:50:00"),
        ],
        true,
    );
    let zone = ["--timezone", "Europe/Berlin", "--session-timeout", "none"];
    let s = summary_json(&path, &zone);
    // (Read as the earlier instant before this was counted too.)
    assert_eq!(moves(&s), journey(&["a", "b", "c"]));
    // a at 01:50 CEST is 23:50 UTC the day before; c at 03:10 CET 02:10 UTC.
    assert_eq!(s["first_event"], "2026-10-24T23:50:00Z");
    assert_eq!(s["last_event"], "2026-10-25T02:10:00Z");
    assert_eq!(edge(&s, "a", "b")["time_s"]["median"], 2400.0);
    assert_eq!(s["rejected"]["times_adjusted"]["gap"], 0);
    assert_eq!(s["rejected"]["times_adjusted"]["overlap"], 1);
    assert!(table(&path, &zone).contains("1 ambiguous local time in a daylight-saving overlap"));
}
