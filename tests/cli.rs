//! The command line as users and scripts run it: the summary JSON contract,
//! exit statuses, compressed files, DuckDB databases, rules and funnels.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::shared_data;
use duckdb::Connection;
use journeyscope::generate::{GenerateOptions, write_sample};
use serde_json::Value;

fn journeyscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json_summary(args: &[&str]) -> Value {
    let mut all = vec!["summarize"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = journeyscope(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn summary_json_keeps_the_contract() {
    let s = json_summary(&[
        path_str(&shared_data("running-example.csv")),
        "--session-timeout",
        "none",
    ]);
    for key in [
        "source",
        "mapping",
        "events",
        "customers",
        "sessions",
        "duplicates",
        "rejected",
        "nodes",
        "edges",
        "funnel",
    ] {
        assert!(s.get(key).is_some(), "missing {key}");
    }
    for key in ["customer", "event", "time"] {
        assert!(s["mapping"][key].is_string());
    }
    for key in ["total", "by_reason", "sample"] {
        assert!(s["rejected"].get(key).is_some());
    }
    assert!(s["funnel"].is_null());
    let nodes = s["nodes"].as_array().unwrap();
    assert_eq!(nodes.first().unwrap()["name"], "START");
    assert_eq!(nodes.last().unwrap()["name"], "END");
    for key in ["name", "events", "sessions", "customers", "exits"] {
        assert!(nodes[1].get(key).is_some());
    }
    for e in s["edges"].as_array().unwrap() {
        for key in ["from", "to", "transitions", "customers", "share", "time_s"] {
            assert!(e.get(key).is_some());
        }
        let ends = e["from"] == "START" || e["to"] == "END";
        assert_eq!(e["time_s"].is_null(), ends, "{e}");
        if !ends {
            for key in ["count", "mean", "min", "max", "median", "p90", "p99"] {
                assert!(e["time_s"][key].is_number());
            }
        }
    }
    assert_eq!(s["events"], 42);
}

#[test]
fn exit_status_tells_usage_from_unreadable_sources() {
    let missing = journeyscope(&["summarize", "/nonexistent/events.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/events.csv"));
    let csv = shared_data("running-example.csv");
    let bad_flag = journeyscope(&["summarize", path_str(&csv), "--session-timeout", "soon"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    let unknown = journeyscope(&["summarize", path_str(&csv), "--customer", "client"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("`client`") && stderr.contains("case:concept:name"),
        "{stderr}"
    );
    let no_args = journeyscope(&["summarize"]);
    assert_eq!(no_args.status.code(), Some(2));
}

#[test]
fn failed_detection_names_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.csv");
    std::fs::write(&path, "who,what,when\n1,a,2020-01-01\n").unwrap();
    let out = journeyscope(&["summarize", path_str(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("who, what, when") && stderr.contains("--customer"),
        "{stderr}"
    );
}

#[test]
fn compressed_files_give_the_same_summary() {
    let dir = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        events: 5_000,
        seed: 5,
        messy: true,
    };
    let mut summaries = Vec::new();
    for name in [
        "e.jsonl",
        "e.jsonl.gz",
        "e.jsonl.zst",
        "e.csv",
        "e.csv.gz",
        "e.tsv.zst",
        "e.parquet",
        "e.parquet.zst",
    ] {
        let path = dir.path().join(name);
        write_sample(&path, &options).unwrap();
        let mut s = json_summary(&[path_str(&path)]);
        s["source"] = Value::Null;
        s["mapping"] = Value::Null;
        s["rejected"] = Value::Null;
        summaries.push((name, s));
    }
    for (name, s) in &summaries[1..] {
        assert_eq!(s, &summaries[0].1, "{name} differs from {}", summaries[0].0);
    }
}

fn duckdb_file(dir: &Path, tables: &[&str]) -> std::path::PathBuf {
    let parquet = dir.join("events.parquet");
    write_sample(
        &parquet,
        &GenerateOptions {
            events: 4_000,
            seed: 9,
            messy: false,
        },
    )
    .unwrap();
    let db = dir.join("shop.duckdb");
    let conn = Connection::open(&db).unwrap();
    for t in tables {
        conn.execute_batch(&format!(
            "CREATE TABLE {t} AS SELECT * FROM read_parquet('{}')",
            parquet.display()
        ))
        .unwrap();
    }
    drop(conn);
    db
}

#[test]
fn duckdb_database_by_table_query_or_only_table_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let parquet_summary = {
        let db = duckdb_file(dir.path(), &["events"]);
        let before = std::fs::read(&db).unwrap();
        let only = json_summary(&[path_str(&db)]);
        let by_table = json_summary(&[path_str(&db), "--table", "events"]);
        assert_eq!(only["edges"], by_table["edges"]);
        let query = json_summary(&[
            path_str(&db),
            "--query",
            "SELECT * FROM events WHERE event <> 'home'",
        ]);
        assert!(query["events"].as_u64() < only["events"].as_u64());
        assert!(
            query["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["name"] != "home")
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "the database was modified"
        );
        assert!(!dir.path().join("shop.duckdb.wal").exists());
        only
    };
    let direct = json_summary(&[path_str(&dir.path().join("events.parquet"))]);
    assert_eq!(direct["edges"], parquet_summary["edges"]);

    let two = tempfile::tempdir().unwrap();
    let db = duckdb_file(two.path(), &["events", "orders"]);
    let out = journeyscope(&["summarize", path_str(&db)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("events, orders") && stderr.contains("--table"),
        "{stderr}"
    );
}

#[test]
fn demo_headless_summarizes_the_bundled_sample() {
    let out = journeyscope(&["demo", "--headless", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(s["events"].as_u64().unwrap() > 50_000);
    assert!(s["duplicates"].as_u64().unwrap() > 0);
    assert!(s["rejected"]["total"].as_u64().unwrap() > 0);
    let names: Vec<&str> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    for touchpoint in [
        "search",
        "product_view",
        "add_to_cart",
        "checkout",
        "purchase",
        "support_ticket",
    ] {
        assert!(
            names.contains(&touchpoint),
            "{touchpoint} missing from {names:?}"
        );
    }
    let table = journeyscope(&["demo", "--headless"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("Touchpoints"));
}

#[test]
fn timezone_flag_moves_zoneless_times() {
    let sepsis = shared_data("sepsis.csv");
    let utc = json_summary(&[path_str(&sepsis)]);
    let amsterdam = json_summary(&[path_str(&sepsis), "--timezone", "Europe/Amsterdam"]);
    assert_eq!(utc["first_event"], "2013-11-07T08:18:29Z");
    assert_eq!(amsterdam["first_event"], "2013-11-07T07:18:29Z");
    assert_eq!(
        utc["edges"].as_array().unwrap().len(),
        amsterdam["edges"].as_array().unwrap().len()
    );
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn edge_count(s: &Value, from: &str, to: &str) -> u64 {
    s["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == from && e["to"] == to)
        .map_or(0, |e| e["transitions"].as_u64().unwrap())
}

#[test]
fn touchpoint_rules_and_collapse() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "pages.csv",
        "user_id,event,page_path,ts\n\
         u1,page_view,/product/1,2024-01-01T10:00:00Z\n\
         u1,page_view,/product/2,2024-01-01T10:01:00Z\n\
         u1,heartbeat,,2024-01-01T10:01:30Z\n\
         u1,page_view,/cart,2024-01-01T10:02:00Z\n\
         u2,pv,/cart,2024-01-01T11:00:00Z\n",
    );
    let p = path_str(&csv);
    let split = json_summary(&[
        p,
        "--split-by",
        "page_view:page_path",
        "--exclude",
        "heartbeat",
        "--rename",
        "^pv$=page_view",
    ]);
    assert_eq!(split["excluded"], 1);
    assert_eq!(
        edge_count(&split, "page_view: /product/1", "page_view: /product/2"),
        1
    );
    assert_eq!(
        edge_count(&split, "page_view: /product/2", "page_view: /cart"),
        1
    );
    assert_eq!(edge_count(&split, "START", "page_view: /cart"), 1);
    let grouped = json_summary(&[
        p,
        "--exclude",
        "heartbeat",
        "--rename",
        "^pv$=page_view",
        "--collapse-repeats",
    ]);
    assert_eq!(edge_count(&grouped, "START", "page_view"), 2);
    assert_eq!(edge_count(&grouped, "page_view", "END"), 2);
    assert_eq!(edge_count(&grouped, "page_view", "page_view"), 0);
}

#[test]
fn funnel_counts_customers_in_order_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "funnel.csv",
        "customer_id,event,timestamp\n\
         a,view,2024-01-01T10:00:00Z\na,cart,2024-01-01T10:01:00Z\na,buy,2024-01-01T10:03:00Z\n\
         b,view,2024-01-01T10:00:00Z\nb,cart,2024-01-01T10:05:00Z\nb,buy,2024-01-01T13:00:00Z\n\
         c,cart,2024-01-01T09:00:00Z\nc,view,2024-01-01T10:00:00Z\n\
         d,view,2024-01-01T10:00:00Z\n",
    );
    let s = json_summary(&[
        path_str(&csv),
        "--funnel",
        "view,cart,buy",
        "--within",
        "1h",
    ]);
    let steps = s["funnel"]["steps"].as_array().unwrap();
    let customers: Vec<u64> = steps
        .iter()
        .map(|x| x["customers"].as_u64().unwrap())
        .collect();
    assert_eq!(customers, vec![4, 2, 1]);
    assert_eq!(steps[1]["conversion_from_previous"], 0.5);
    assert_eq!(steps[2]["conversion_from_first"], 0.25);
    assert_eq!(steps[1]["drop_off"], 2);
    assert_eq!(steps[1]["median_time_s"], 180.0);
    assert_eq!(steps[2]["median_time_s"], 120.0);
    // a took 1 min and b 5: 60 + 0.9 × 240 s.
    assert_eq!(steps[1]["p90_time_s"], 276.0);
    assert!(steps[0]["p90_time_s"].is_null());
}

#[test]
fn nested_json_forms_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write(
        dir.path(),
        "segment.jsonl",
        "{\"userId\":null,\"anonymousId\":\"anon1\",\"event\":\"Viewed\",\"timestamp\":\"2024-01-01T10:00:00+01:00\",\"messageId\":\"m1\",\"properties\":{\"sku\":\"A\"}}\n\
         {\"userId\":\"u1\",\"anonymousId\":\"anon1\",\"event\":\"Bought\",\"timestamp\":\"2024-01-01T10:05:00+01:00\",\"messageId\":\"m2\",\"properties\":{\"sku\":\"A\"}}\n\
         {\"userId\":\"u1\",\"anonymousId\":\"anon1\",\"event\":\"Bought\",\"timestamp\":\"2024-01-01T10:05:00+01:00\",\"messageId\":\"m2\",\"properties\":{\"sku\":\"A\"}}\n",
    );
    let s = json_summary(&[path_str(&segment), "--split-by", "Viewed:sku"]);
    assert_eq!(s["mapping"]["customer"], "userId");
    assert_eq!(s["duplicates"], 1);
    assert_eq!(s["customers"], 2);
    assert_eq!(edge_count(&s, "START", "Viewed: A"), 1);

    let nested = write(
        dir.path(),
        "sessions.jsonl",
        "{\"session\":7,\"events\":[{\"aid\":1,\"ts\":1659304800025,\"type\":\"clicks\"},{\"aid\":2,\"ts\":1659304801025,\"type\":\"carts\"}]}\n\
         [{\"customer\":\"x\",\"event\":\"a\",\"time\":1396437466.94},{\"customer\":\"x\",\"event\":\"b\",\"time\":1396437467.94}]\n",
    );
    let s = json_summary(&[
        path_str(&nested),
        "--customer",
        "session",
        "--event",
        "type",
        "--time",
        "ts",
    ]);
    assert_eq!(s["events"], 2);
    assert_eq!(s["rejected"]["total"], 2, "the array line has no `session`");
    assert_eq!(edge_count(&s, "clicks", "carts"), 1);
}

#[test]
fn delimiters_are_sniffed_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let rows = "customer_id|event|timestamp\na|x|2024-01-01 10:00:00\na|y|2024-01-01 10:01:00\n";
    let pipe = write(dir.path(), "pipe.txt", rows);
    assert_eq!(edge_count(&json_summary(&[path_str(&pipe)]), "x", "y"), 1);
    let tabs = write(dir.path(), "tabs.tsv", &rows.replace('|', "\t"));
    assert_eq!(
        edge_count(
            &json_summary(&[path_str(&tabs), "--delimiter", "tab"]),
            "x",
            "y"
        ),
        1
    );
}

#[test]
fn other_output_formats() {
    let csv = shared_data("running-example.csv");
    let out = journeyscope(&[
        "summarize",
        path_str(&csv),
        "--format",
        "csv",
        "--session-timeout",
        "none",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("from,to,transitions"));
    assert_eq!(text.lines().count(), 1 + 19);
    let out = journeyscope(&["summarize", path_str(&csv), "--format", "dot"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("digraph") && text.contains("\"register request\" -> "));
    let out = journeyscope(&["summarize", path_str(&csv)]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("case:concept:name")
    );
}

#[test]
fn explicit_session_ids_override_the_idle_gap() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "sessions.csv",
        "user_id,session_id,event,timestamp\n\
         u,s1,home,2024-01-01T10:00:00Z\n\
         u,s1,search,2024-01-01T12:00:00Z\n\
         u,s2,home,2024-01-01T12:01:00Z\n",
    );
    let s = json_summary(&[path_str(&csv)]);
    assert_eq!(s["mapping"]["session_id"], "session_id");
    assert_eq!(
        s["sessions"], 2,
        "two session ids, although a 2-hour gap lies inside s1"
    );
    assert_eq!(edge_count(&s, "home", "search"), 1);
    assert_eq!(edge_count(&s, "search", "END"), 1);
}

#[test]
fn ga4_export_with_epoch_microseconds() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "ga4.csv",
        "event_date,event_timestamp,event_name,user_pseudo_id,platform\n\
         20240101,1704103200000000,page_view,123.456,WEB\n\
         20240101,1704103260500000,add_to_cart,123.456,WEB\n",
    );
    let s = json_summary(&[path_str(&csv)]);
    assert_eq!(s["mapping"]["convention"], "ga4");
    assert_eq!(s["first_event"], "2024-01-01T10:00:00Z");
    let edge = s["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "page_view")
        .unwrap();
    assert_eq!(edge["time_s"]["median"], 60.5);
}

/// Without a display the window is not tried: one message says what to
/// install or run instead, and the exit status says it failed.
#[test]
fn without_a_display_the_window_says_what_to_do() {
    let out = Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .arg("demo")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no display to open the window on"),
        "{stderr}"
    );
    assert!(stderr.contains("journeyscope demo --headless"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("EventLoop"),
        "{stderr}"
    );
}
