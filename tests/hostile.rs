//! Hostile and broken files, as a colleague's export might be: none loses
//! good records silently, writes over a file, leaks a control character to
//! a terminal or an export, or grows memory without limit. Each test runs
//! the real binary and compares with an independent reference (the same
//! events written cleanly) where there is one.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use journeyscope::generate::{GenerateOptions, write_sample};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_journeyscope");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn summary_json(path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["summarize", path.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// What two summaries must share when they hold the same events.
fn graph(s: &Value) -> (Value, Value, Value, Value) {
    (
        s["events"].clone(),
        s["sessions"].clone(),
        s["nodes"].clone(),
        s["edges"].clone(),
    )
}

fn clean_sample(dir: &Path, name: &str, events: usize) -> PathBuf {
    let path = dir.join(name);
    write_sample(
        &path,
        &GenerateOptions {
            events,
            seed: 3,
            messy: false,
        },
    )
    .unwrap();
    path
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_stray_quote_costs_one_row_not_the_rest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.csv");
    let mut text = String::from("customer_id,event,timestamp\nc0,\"home,2026-11-01T10:00:00Z\n");
    for i in 1..100_000 {
        text.push_str(&format!("c{i},home,2026-11-01T10:00:00Z\n"));
    }
    std::fs::write(&q, text).unwrap();
    let s = summary_json(&q, &[]);
    assert_eq!(s["events"], 99_999);
    assert_eq!(s["rejected"]["total"], 1);
    assert_eq!(s["rejected"]["by_reason"]["unparseable"], 1);
    assert_eq!(s["rejected"]["sample"][0]["position"], "line 2");

    // A quote at row 11 of a real file: the rest equals the file without it.
    let good = clean_sample(dir.path(), "good.csv", 3_000);
    let mut lines = lines_of(&good);
    let mut broken = lines.clone();
    broken[11] = broken[11].replacen(',', ",\"", 1);
    let broken_path = dir.path().join("broken.csv");
    write_lines(&broken_path, &broken);
    lines.remove(11);
    let reference = dir.path().join("reference.csv");
    write_lines(&reference, &lines);
    let got = summary_json(&broken_path, &[]);
    assert_eq!(graph(&got), graph(&summary_json(&reference, &[])));
    assert_eq!(got["rejected"]["total"], 1);
    assert_eq!(got["rejected"]["sample"][0]["position"], "line 12");
}

#[test]
fn real_multi_line_quoted_fields_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.csv");
    std::fs::write(
        &path,
        "customer_id,event,timestamp,note\n\
         c1,home,2026-11-01T10:00:00Z,\"first line\nsecond line\"\n\
         c1,cart,2026-11-01T10:01:00Z,plain\n",
    )
    .unwrap();
    let s = summary_json(&path, &[]);
    assert_eq!(s["events"], 2);
    assert_eq!(s["rejected"]["total"], 0);
}

#[test]
fn export_never_writes_over_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let events = clean_sample(dir.path(), "ev.csv", 500);
    let before = std::fs::read(&events).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&events, &link).unwrap();
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&events, &hard).unwrap();
    for out in [&events, &link, &hard] {
        let result = run(&[
            "export",
            events.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
        assert!(stderr(&result).contains("source"), "{}", stderr(&result));
        assert_eq!(std::fs::read(&events).unwrap(), before);
    }
    // Reading through the link and writing to the file is refused too.
    let result = run(&[
        "export",
        link.to_str().unwrap(),
        "--out",
        events.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert_eq!(std::fs::read(&events).unwrap(), before);
    // Another output is written, and nothing else appears beside it.
    let edges = dir.path().join("edges.csv");
    let result = run(&[
        "export",
        events.to_str().unwrap(),
        "--out",
        edges.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["edges.csv", "ev.csv", "hard.csv", "link.csv"]);
}

/// A file whose touchpoints are named to attack a spreadsheet, a terminal
/// and an XML parser.
fn hostile_names(dir: &Path) -> (PathBuf, Vec<&'static str>) {
    let names = vec![
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
        "=1+1",
        "nul\u{0}here",
        "esc\u{1b}[2Jclear",
        "bell\u{7}",
        "nonchar\u{fffe}",
    ];
    let path = dir.join("hostile.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for (c, customer) in ["a", "b"].iter().enumerate() {
        for (i, name) in names.iter().enumerate() {
            let line = serde_json::json!({
                "customer_id": customer,
                "event": name,
                "timestamp": 1_800_000_000 + c * 10_000 + i * 60,
            });
            writeln!(f, "{line}").unwrap();
        }
    }
    (path, names)
}

#[test]
fn csv_outputs_cannot_run_as_spreadsheet_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let (path, names) = hostile_names(dir.path());
    let out = run(&["summarize", path.to_str().unwrap(), "--format", "csv"]);
    assert!(out.status.success());
    let edges = dir.path().join("edges.csv");
    let exported = run(&[
        "export",
        path.to_str().unwrap(),
        "--out",
        edges.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    for text in [
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(&edges).unwrap(),
    ] {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for row in reader.records() {
            let row = row.unwrap();
            for cell in [&row[0], &row[1]] {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "`{cell}` would run as a formula"
                );
            }
        }
        for name in &names[..4] {
            assert!(text.contains(&format!("'{name}")), "{name} is not kept");
        }
    }
    // JSON keeps every name exactly.
    let json = summary_json(&path, &[]);
    let in_json: Vec<&str> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    for name in &names {
        assert!(in_json.contains(name), "{name:?} changed in JSON");
    }
}

#[test]
fn control_characters_reach_no_terminal_and_break_no_export() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = hostile_names(dir.path());
    let table = run(&["summarize", path.to_str().unwrap()]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    for bad in ['\u{0}', '\u{1b}', '\u{7}', '\u{fffe}'] {
        assert!(!text.contains(bad), "the table carries {bad:?}");
    }
    assert!(text.contains("esc\\u{1b}[2Jclear"), "{text}");

    let svg = dir.path().join("map.svg");
    let png = dir.path().join("map.png");
    let dot = dir.path().join("graph.dot");
    for out in [&svg, &png, &dot] {
        let result = run(&[
            "export",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(result.status.success(), "{}", stderr(&result));
    }
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&svg_text).expect("the SVG is valid XML");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let dot_bytes = std::fs::read(&dot).unwrap();
    assert!(!dot_bytes.contains(&0), "NUL in the DOT file");
    let graphviz = Command::new("dot")
        .args(["-Tsvg", dot.to_str().unwrap()])
        .output()
        .expect("Graphviz `dot` (installed by scripts/test)");
    assert!(graphviz.status.success(), "{}", stderr(&graphviz));

    // Header names are quoted in errors escaped.
    let header = dir.path().join("header.csv");
    std::fs::write(&header, "who\u{1b}[2J,what,when\n1,a,2020-01-01\n").unwrap();
    let failed = run(&["summarize", header.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    let message = stderr(&failed);
    assert!(!message.contains('\u{1b}'), "{message:?}");
    assert!(message.contains("who\\u{1b}[2J"), "{message}");
}

/// Peak resident memory of the largest child process this test binary has
/// waited for, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn no_input_grows_memory_without_limit() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 250 << 20;

    // 256 MiB of zeros, gzip-compressed, named like a CSV file.
    let zeros = dir.path().join("zeros.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&zeros).unwrap(),
        flate2::Compression::fast(),
    );
    let block = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&block).unwrap();
    }
    gz.finish().unwrap();
    let out = run(&["summarize", zeros.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).len() < 1000,
        "{} bytes of error",
        stderr(&out).len()
    );
    assert!(
        children_peak_rss() < limit,
        "{} MiB",
        children_peak_rss() >> 20
    );

    // Standard input that never ends and is not text.
    let mut child = Command::new(BIN)
        .args(["summarize", "/dev/zero"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!(status.code(), Some(1));
    assert!(children_peak_rss() < limit);

    // A 200 MB header, and a 200 MB line among good rows.
    let wide = dir.path().join("wide.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&wide).unwrap());
    for _ in 0..200 {
        f.write_all(&[b'x'; 1 << 20]).unwrap();
    }
    f.write_all(b",event,timestamp\nc1,home,1800000000\n")
        .unwrap();
    drop(f);
    let out = run(&["summarize", wide.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).len() < 1000);
    let long = dir.path().join("long.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&long).unwrap());
    f.write_all(b"customer_id,event,timestamp\nc1,home,1800000000\nc1,")
        .unwrap();
    for _ in 0..200 {
        f.write_all(&[b'y'; 1 << 20]).unwrap();
    }
    f.write_all(b",1800000060\nc1,cart,1800000120\n").unwrap();
    drop(f);
    let s = summary_json(&long, &[]);
    assert_eq!(s["events"], 2);
    assert_eq!(s["rejected"]["by_reason"]["oversized"], 1);
    assert!(
        children_peak_rss() < limit,
        "{} MiB",
        children_peak_rss() >> 20
    );

    // Hundreds of detection rows of almost 1 MiB each are not all held.
    let fat = dir.path().join("fat.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&fat).unwrap());
    let padding = "z".repeat(1_000_000);
    for i in 0..300 {
        writeln!(
            f,
            r#"{{"customer_id":"c{i}","event":"home","timestamp":1800000000,"pad":"{padding}"}}"#
        )
        .unwrap();
    }
    drop(f);
    let s = summary_json(&fat, &[]);
    assert_eq!(s["events"], 300);
    assert!(
        children_peak_rss() < limit,
        "{} MiB",
        children_peak_rss() >> 20
    );
}

#[test]
fn standard_input_and_fifos_are_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = clean_sample(dir.path(), "events.jsonl", 2_000);
    let reference = summary_json(&file, &[]);

    let mut child = Command::new(BIN)
        .args(["summarize", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::Builder::new()
        .name("stdin writer".into())
        .spawn(move || stdin.write_all(&bytes))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(graph(&from_stdin), graph(&reference));

    let fifo = dir.path().join("events.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let (fifo_path, source) = (fifo.clone(), file.clone());
    let writer = std::thread::Builder::new()
        .name("fifo writer".into())
        .spawn(move || {
            let bytes = std::fs::read(source).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(fifo_path)
                .and_then(|mut f| f.write_all(&bytes))
        })
        .unwrap();
    let from_fifo = summary_json(&fifo, &[]);
    writer.join().unwrap().unwrap();
    assert_eq!(graph(&from_fifo), graph(&reference));

    // A compressed Parquet file through a pipe is decompressed and read.
    let parquet = clean_sample(dir.path(), "events.parquet.zst", 2_000);
    let mut child = Command::new(BIN)
        .args(["summarize", "-", "--format", "json"])
        .stdin(std::fs::File::open(&parquet).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait().and_then(|_| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut text).map(|_| text)
    });
    let from_pipe: Value = serde_json::from_str(&out.unwrap()).unwrap();
    let parquet_reference = summary_json(&parquet, &[]);
    assert_eq!(graph(&from_pipe), graph(&parquet_reference));
}

#[test]
fn a_pretty_printed_json_array_reads_like_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let lines_file = clean_sample(dir.path(), "events.jsonl", 10_000);
    let reference = summary_json(&lines_file, &[]);
    let events: Vec<Value> = lines_of(&lines_file)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let array = dir.path().join("array.json");
    std::fs::write(&array, serde_json::to_string_pretty(&events).unwrap()).unwrap();
    assert_eq!(graph(&summary_json(&array, &[])), graph(&reference));

    // One object holding the array, larger than one record may be, with a
    // field its events inherit.
    let wrapped = dir.path().join("export.json");
    let object = serde_json::json!({"exported_at": "2026-11-30", "events": events});
    std::fs::write(&wrapped, serde_json::to_string_pretty(&object).unwrap()).unwrap();
    assert!(std::fs::metadata(&wrapped).unwrap().len() > 1 << 20);
    assert_eq!(graph(&summary_json(&wrapped, &[])), graph(&reference));

    // The same array on one line, longer than one record may be.
    let compact = dir.path().join("compact.json");
    std::fs::write(&compact, serde_json::to_string(&events).unwrap()).unwrap();
    assert!(std::fs::metadata(&compact).unwrap().len() > 1 << 20);
    assert_eq!(graph(&summary_json(&compact, &[])), graph(&reference));
}

#[test]
fn queries_cannot_write_or_reach_outside_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = clean_sample(dir.path(), "events.parquet", 1_000);
    let db = dir.path().join("shop.duckdb");
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE events AS SELECT * FROM read_parquet('{}')",
            parquet.display()
        ))
        .unwrap();
    }
    let stolen = dir.path().join("stolen.csv");
    for query in [
        format!(
            "SELECT * FROM events; COPY events TO '{}'",
            stolen.display()
        ),
        format!("COPY events TO '{}'", stolen.display()),
        format!("SELECT * FROM read_parquet('{}')", parquet.display()),
    ] {
        let out = run(&["summarize", db.to_str().unwrap(), "--query", &query]);
        assert!(!out.status.success(), "{query} was run");
        assert!(!stolen.exists(), "{query} wrote a file");
    }
    let fine = run(&[
        "summarize",
        db.to_str().unwrap(),
        "--query",
        "SELECT * FROM events WHERE event <> 'home';",
    ]);
    assert!(fine.status.success(), "{}", stderr(&fine));
}

#[test]
fn small_things_a_user_sees() {
    let dir = tempfile::tempdir().unwrap();
    // A byte order mark before JSON lines.
    let bom = dir.path().join("bom.jsonl");
    std::fs::write(
        &bom,
        "\u{feff}{\"customer_id\":\"c1\",\"event\":\"home\",\"timestamp\":1800000000}\n",
    )
    .unwrap();
    let s = summary_json(&bom, &[]);
    assert_eq!(
        (s["events"].clone(), s["rejected"]["total"].clone()),
        (1.into(), 0.into())
    );

    // Empty files and a header alone: 0 events, and the file is called empty.
    for (name, text) in [
        ("empty.csv", ""),
        ("empty.jsonl", ""),
        ("no-extension", ""),
        ("header.csv", "customer_id,event,timestamp\n"),
        ("blank.jsonl", "\n\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = run(&["summarize", path.to_str().unwrap(), "--format", "json"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let s: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s["events"], 0, "{name}");
        assert!(stderr(&out).contains("empty"), "{name}: {}", stderr(&out));
    }

    // An epoch beyond any calendar is a bad timestamp, not a null time.
    let far = dir.path().join("far.jsonl");
    std::fs::write(
        &far,
        "{\"customer_id\":\"c1\",\"event\":\"home\",\"timestamp\":1e308}\n\
         {\"customer_id\":\"c1\",\"event\":\"cart\",\"timestamp\":1800000000}\n",
    )
    .unwrap();
    let s = summary_json(&far, &[]);
    assert_eq!(s["events"], 1);
    assert_eq!(s["rejected"]["by_reason"]["bad_timestamp"], 1);
    assert!(s["last_event"].is_string());

    // A folder: one clear sentence, the cause said once.
    let out = run(&["summarize", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("folder"), "{message}");
    let missing = run(&["summarize", "/nonexistent/events.csv"]);
    let message = stderr(&missing);
    assert_eq!(message.matches("No such file").count(), 1, "{message}");
}
