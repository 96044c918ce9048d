//! Exports: the SVG map parses and names every shown touchpoint, the DOT is
//! accepted by Graphviz, the CSV's counts equal the engine's, the JSON is
//! the summary.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{flags, shared_data, summarize};
use journeyscope::export::export;
use journeyscope::report::Summary;

fn exported(summary: &Summary, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    export(summary, &path, &[]).unwrap();
    (dir, path)
}

fn sample() -> Summary {
    summarize(&shared_data("receipt.csv"), &flags())
}

#[test]
fn svg_map_parses_and_names_every_touchpoint() {
    let summary = sample();
    let (_dir, path) = exported(&summary, "map.svg");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    for node in &summary.nodes {
        assert!(
            labels.contains(&node.name.as_str()),
            "{} is not labelled",
            node.name
        );
    }
    let width: f32 = doc
        .root_element()
        .attribute("width")
        .unwrap()
        .parse()
        .unwrap();
    assert!(width > 800.0);
}

#[test]
fn dot_is_accepted_by_graphviz() {
    let summary = sample();
    let (_dir, path) = exported(&summary, "graph.dot");
    let out = Command::new("dot")
        .arg("-Tsvg")
        .arg(&path)
        .output()
        .expect("Graphviz `dot` is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(svg.contains("Confirmation of receipt"));
}

#[test]
fn csv_counts_equal_the_engine() {
    let summary = sample();
    let (_dir, path) = exported(&summary, "edges.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), summary.edges.len());
    for (row, edge) in rows.iter().zip(&summary.edges) {
        assert_eq!((&row[0], &row[1]), (edge.from.as_str(), edge.to.as_str()));
        assert_eq!(row[2].parse::<u64>().unwrap(), edge.transitions);
        assert_eq!(row[3].parse::<u64>().unwrap(), edge.customers);
    }
}

#[test]
fn json_export_is_the_summary_and_unknown_formats_are_refused() {
    let summary = sample();
    let (_dir, path) = exported(&summary, "graph.json");
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
    assert_eq!(value, expected);
    assert_eq!(
        value["edges"].as_array().unwrap().len(),
        summary.edges.len()
    );
    let err = export(&summary, Path::new("/tmp/map.bmp"), &[]).unwrap_err();
    assert!(err.to_string().contains(".svg"));
}

#[test]
fn export_command_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("map.svg");
    let status = Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args([
            "export",
            shared_data("running-example.csv").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("register request")
    );
}

/// Reads (width, height) from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn png_map_is_at_least_1600_pixels_wide_and_in_proportion() {
    let summary = sample();
    let (_dir, path) = exported(&summary, "map.png");
    let (width, height) = png_size(&std::fs::read(&path).unwrap());
    assert!(
        width >= journeyscope::export::PNG_MIN_WIDTH,
        "{width} px wide"
    );
    // Same proportions as the SVG it is drawn from.
    let (_svg_dir, svg_path) = exported(&summary, "map.svg");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let attr = |name: &str| -> f32 { doc.root_element().attribute(name).unwrap().parse().unwrap() };
    let (svg_w, svg_h) = (attr("width"), attr("height"));
    let expected_height = svg_h * width as f32 / svg_w;
    assert!(
        (height as f32 - expected_height).abs() <= 2.0,
        "{width}×{height} for a {svg_w}×{svg_h} map"
    );
    // Not blank: the picture has more than the background colour.
    let raw = std::fs::read(&path).unwrap();
    assert!(raw.len() > 20_000, "{} bytes", raw.len());
}

#[test]
fn rejected_records_export_as_csv_and_json() {
    let summary = summarize(&shared_data("receipt.csv"), &flags());
    let mut log = summary.rejected.clone();
    log.record(&journeyscope::engine::Rejected::new(
        "line 7",
        journeyscope::engine::RejectReason::BadTimestamp,
        "`soon` is not a timestamp",
        "a,b,soon",
    ));
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("rejected.csv");
    journeyscope::export::write_rejected(&log, &csv_path, &[]).unwrap();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), log.sample.len());
    let last = rows.last().unwrap();
    assert_eq!(
        (&last[0], &last[1], &last[3]),
        ("line 7", "bad_timestamp", "a,b,soon")
    );
    let json_path = dir.path().join("rejected.json");
    journeyscope::export::write_rejected(&log, &json_path, &[]).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["total"], log.total);
    assert_eq!(
        json["by_reason"]["bad_timestamp"],
        log.count(journeyscope::engine::RejectReason::BadTimestamp)
    );
}
