//! `journeyscope bench`: file → graph on generated Parquet files, timed
//! against DuckDB's own SQL computing the same sessionized transitions in
//! the same run. The engine runs in a child process so that its peak
//! memory is its own.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use duckdb::Connection;
use serde::{Deserialize, Serialize};

use super::Failure;
use crate::cli::BenchArgs;
use crate::engine::EngineConfig;
use crate::reference::{Columns, transitions_sql};
use crate::source::duck::sql_string;
use crate::source::{self, SourceOptions};

/// What the child process measures.
#[derive(Debug, Serialize, Deserialize)]
struct EngineRun {
    seconds: f64,
    events: u64,
    edges: usize,
    transitions: HashMap<String, u64>,
    peak_rss_bytes: u64,
    baseline_rss_bytes: u64,
    /// The highest anonymous resident memory, sampled every millisecond.
    peak_heap_bytes: u64,
    /// Anonymous resident memory before the source is opened.
    baseline_heap_bytes: u64,
    /// Seconds to open the source and detect its mapping.
    open_s: f64,
    /// Seconds the engine waited for the reader.
    wait_s: f64,
    /// Seconds spent ingesting batches.
    ingest_s: f64,
    /// Seconds to sort, sessionize and build the graph.
    finish_s: f64,
}

/// The process's peak resident memory so far, from /proc (Linux).
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Child side: build the graph of one file with default settings.
pub(super) fn engine_child(path: &Path) -> Result<(), Failure> {
    let baseline_rss_bytes = peak_rss_bytes();
    let baseline_heap_bytes = super::bench_heap::heap_bytes();
    let heap = super::bench_heap::HeapSampler::start();
    let start = Instant::now();
    let mut source = source::open(path, &SourceOptions::default()).map_err(|e| anyhow!(e))?;
    let opened = start.elapsed().as_secs_f64();
    let mut builder = crate::engine::JourneyBuilder::new(EngineConfig::default());
    let mut wait = 0.0;
    let mut ingest = 0.0;
    loop {
        let t = Instant::now();
        let Some(batch) = source.next_batch().map_err(|e| anyhow!(e))? else {
            break;
        };
        wait += t.elapsed().as_secs_f64();
        let t = Instant::now();
        builder.ingest(&batch);
        source.recycle(batch);
        ingest += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let journeys = builder.finish();
    let finish = t.elapsed().as_secs_f64();
    let seconds = start.elapsed().as_secs_f64();
    let peak_heap_bytes = heap.peak();
    let edges = journeys.graph.edge_reports();
    let run = EngineRun {
        seconds,
        events: journeys.events,
        edges: edges.len(),
        transitions: edges
            .iter()
            .map(|e| (format!("{} → {}", e.from, e.to), e.transitions))
            .collect(),
        peak_rss_bytes: peak_rss_bytes(),
        baseline_rss_bytes,
        peak_heap_bytes,
        baseline_heap_bytes,
        open_s: opened,
        wait_s: wait,
        ingest_s: ingest,
        finish_s: finish,
    };
    println!(
        "{}",
        serde_json::to_string(&run).map_err(anyhow::Error::from)?
    );
    Ok(())
}

/// Times the peers on the same file (pm4py up to a million events; the
/// best of as many runs as the engine's) and prints them beside the
/// engine's best.
fn print_peers(
    python: &Path,
    path: &Path,
    (n, runs): (usize, usize),
    engine: &EngineRun,
) -> anyhow::Result<()> {
    let peers = super::bench_floor::peers(python, path, n <= 1_000_000, runs)?;
    let agree = |t: &HashMap<String, u64>| {
        if *t == engine.transitions {
            "same transitions"
        } else {
            "OTHER transitions"
        }
    };
    println!(
        "{:>10} Polars (lazy): {:.3} s, engine {:.2}× faster, {}; Polars' own floor (read 3 columns, sort) {:.3} s",
        "",
        peers.polars_s,
        peers.polars_s / engine.seconds,
        agree(&peers.polars_transitions),
        peers.polars_floor_s
    );
    if let (Some(seconds), Some(transitions)) = (peers.pm4py_s, &peers.pm4py_transitions) {
        println!(
            "{:>10} pm4py (DFG + performance DFG): {:.3} s, engine {:.2}× faster, {}",
            "",
            seconds,
            seconds / engine.seconds,
            agree(transitions)
        );
    }
    Ok(())
}

fn run_engine(path: &Path) -> anyhow::Result<EngineRun> {
    let exe = std::env::current_exe().context("cannot find the journeyscope executable")?;
    let output = Command::new(exe)
        .arg("bench-engine")
        .arg(path)
        .output()
        .context("cannot start the engine child process")?;
    if !output.status.success() {
        bail!(
            "engine run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn run_duckdb(path: &Path) -> anyhow::Result<(f64, HashMap<String, u64>)> {
    let start = Instant::now();
    let conn = Connection::open_in_memory()?;
    let relation = format!(
        "read_parquet({}, file_row_number = true)",
        sql_string(&path.to_string_lossy())
    );
    let columns = Columns {
        customer: "customer_id",
        event: "event",
        time: "timestamp",
        event_id: Some("event_id"),
        position: Some("file_row_number"),
    };
    let sql = transitions_sql(
        &relation,
        &columns,
        Some(EngineConfig::default().session_timeout_us.unwrap_or(0)),
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let seconds = start.elapsed().as_secs_f64();
    Ok((
        seconds,
        rows.into_iter()
            .map(|(a, b, n)| (format!("{a} → {b}"), n as u64))
            .collect(),
    ))
}

pub(super) fn run(args: &BenchArgs) -> Result<(), Failure> {
    if args.workers {
        return super::bench_workers::run(args);
    }
    if args.kafka {
        let baseline = super::bench_kafka::run(args)?;
        if let (Some(url), Some(brokers)) = (&args.schema_registry, &args.brokers) {
            super::bench_formats::value_formats(brokers, url, &baseline, args.runs)?;
        }
        return Ok(());
    }
    if args.live_memory {
        super::bench_memory::run(super::bench_memory::DAY_CUSTOMERS);
        return Ok(());
    }
    if args.map {
        const FRAMES: usize = 200;
        println!(
            "journey map, 1400×860, {FRAMES} frames each (median and 95th percentile); budget 16 ms a frame"
        );
        for (touchpoints, edges) in [(200, 2_000), (1_000, 10_000)] {
            for (shown, filter) in [
                (
                    "main flow (as it opens)",
                    crate::layout::MapFilter::MAIN_FLOW,
                ),
                ("everything", crate::layout::MapFilter::EVERYTHING),
            ] {
                let m = super::bench_map::measure(touchpoints, edges, filter, FRAMES);
                println!(
                    "  {touchpoints} touchpoints, {edges} transitions, {shown}: frame {:.2} ms (p95 {:.2}), while dragged {:.2} ms, empty frame {:.2} ms; {} boxes and {} bands drawn; layout {:.0} ms off the UI thread; hidden: {}",
                    m.map_ms,
                    m.map_p95_ms,
                    m.pan_ms,
                    m.empty_ms,
                    m.boxes,
                    m.bands,
                    m.layout_ms,
                    m.hidden.as_deref().unwrap_or("nothing")
                );
            }
        }
        return Ok(());
    }
    if args.triggers {
        return super::bench_triggers::run(args);
    }
    if args.journeys {
        return super::bench_journeys::run(args);
    }
    let runs = args.runs.max(1);
    println!("file → graph, Parquet, 30-minute sessions, dedupe by event id; best of {runs} runs");
    println!(
        "{:>10} {:>10} {:>9} {:>9} {:>10} {:>9} {:>13} {:>12} {:>6}",
        "events",
        "engine s",
        "floor s",
        "× floor",
        "DuckDB s",
        "speed-up",
        "peak RSS MiB",
        "bytes/event",
        "agree"
    );
    for &n in &args.events {
        let path = super::bench_data::bench_file(args, n)?;
        let mut engine_best: Option<EngineRun> = None;
        let mut duck_best = f64::INFINITY;
        let mut duck_transitions = HashMap::new();
        let mut floor_best: Option<super::bench_floor::Floor> = None;
        for _ in 0..runs {
            let floor = super::bench_floor::floor(&path)?;
            if floor_best
                .as_ref()
                .is_none_or(|b| floor.seconds() < b.seconds())
            {
                floor_best = Some(floor);
            }
            let run = run_engine(&path)?;
            if engine_best.as_ref().is_none_or(|b| run.seconds < b.seconds) {
                engine_best = Some(run);
            }
            let (seconds, transitions) = run_duckdb(&path)?;
            duck_best = duck_best.min(seconds);
            duck_transitions = transitions;
        }
        let engine = engine_best.ok_or_else(|| anyhow!("no engine run"))?;
        let floor = floor_best.ok_or_else(|| anyhow!("no floor run"))?;
        let agree = engine.transitions == duck_transitions;
        let per_event =
            |peak: u64, start: u64| peak.saturating_sub(start) as f64 / engine.events.max(1) as f64;
        let bytes_per_event = per_event(engine.peak_heap_bytes, engine.baseline_heap_bytes);
        println!(
            "{:>10} {:>10.3} {:>9.3} {:>8.2}× {:>10.3} {:>8.2}× {:>13.1} {:>12.1} {:>6}",
            n,
            engine.seconds,
            floor.seconds(),
            engine.seconds / floor.seconds(),
            duck_best,
            duck_best / engine.seconds,
            engine.peak_rss_bytes as f64 / (1 << 20) as f64,
            bytes_per_event,
            if agree { "yes" } else { "NO" }
        );
        println!(
            "{:>10} engine: open {:.3} s, waiting for the reader {:.3} s, ingest {:.3} s, finish {:.3} s",
            "", engine.open_s, engine.wait_s, engine.ingest_s, engine.finish_s
        );
        println!(
            "{:>10} memory: heap peak {:.1} MiB; peak RSS over RSS at start (code pages included) {:.1} bytes/event",
            "",
            engine.peak_heap_bytes as f64 / (1 << 20) as f64,
            per_event(engine.peak_rss_bytes, engine.baseline_rss_bytes)
        );
        println!(
            "{:>10} floor: the Parquet reader reads customer, event and time in {:.3} s ({} rows), sorting them by customer and time {:.3} s",
            "", floor.read_s, floor.rows, floor.sort_s
        );
        if let Some(python) = &args.peers {
            print_peers(python, &path, (n, runs), &engine)?;
        }
    }
    println!(
        "bytes/event = (heap peak − heap at start) / accepted events; heap = anonymous resident memory (RssAnon), sampled every millisecond"
    );
    println!(
        "floor = the engine's Parquet reader (arrow-rs) reading the customer, event and time \
         columns and sorting them by customer and time, both on both cores; × floor = engine / floor"
    );
    Ok(())
}
