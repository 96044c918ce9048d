//! The floor of file → graph: what no engine can avoid. The Parquet reader
//! the engine uses (arrow-rs) reads the customer, event and time columns,
//! the row groups shared between both cores, and the rows are sorted by
//! customer and time, the two halves on a core each, then merged. Everything else the
//! engine does (event ids, sessions, the graph, timings) is on top.
//! Peers on the same work (Polars, pm4py) are timed by a script run with
//! the Python given.

use std::path::Path;
use std::time::Instant;

use std::fs::File;
use std::sync::Arc;

use duckdb::arrow::array::{Array, AsArray, RecordBatch};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The floor's two parts, in seconds.
pub(super) struct Floor {
    /// Reading the three columns.
    pub read_s: f64,
    /// Sorting the rows by customer and time.
    pub sort_s: f64,
    /// Rows read.
    pub rows: usize,
}

impl Floor {
    /// Reading and sorting.
    pub fn seconds(&self) -> f64 {
        self.read_s + self.sort_s
    }
}

/// Reads and sorts the generated file at `path`.
pub(super) fn floor(path: &Path) -> anyhow::Result<Floor> {
    let start = Instant::now();
    let groups = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?
        .metadata()
        .num_row_groups();
    let (even, odd): (Vec<usize>, Vec<usize>) = (0..groups).partition(|g| g % 2 == 0);
    let batches = std::thread::scope(|scope| -> anyhow::Result<Vec<RecordBatch>> {
        let other = std::thread::Builder::new()
            .name("floor reader".into())
            .spawn_scoped(scope, || read_groups(path, odd))?;
        let mut batches = read_groups(path, even)?;
        let rest = other
            .join()
            .map_err(|_| anyhow::anyhow!("the floor's reader failed"))??;
        batches.extend(rest);
        Ok(batches)
    })?;
    let read_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    // Each row as (the customer's first eight bytes, time, row): integers
    // compare fast; rows whose customers share those bytes are put in
    // order by the whole id after.
    let mut texts: Vec<&str> = Vec::new();
    let mut rows: Vec<(u64, i64, u32)> = Vec::new();
    for batch in &batches {
        let customers = batch.column(0).as_string::<i32>();
        let times = batch.column(2).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let time = match times.is_valid(row) {
                true => times.value(row),
                false => i64::MIN,
            };
            let customer = customers.value(row);
            rows.push((prefix(customer), time, texts.len() as u32));
            texts.push(customer);
        }
    }
    sort_on_two_cores(&mut rows)?;
    order_shared_prefixes(&mut rows, &texts);
    let sort_s = start.elapsed().as_secs_f64();
    // Sorted, or the figure would be of something else.
    let key = |r: &(u64, i64, u32)| (texts[r.2 as usize], r.1);
    if rows.windows(2).any(|w| key(&w[0]) > key(&w[1])) {
        anyhow::bail!("the floor's rows are not sorted");
    }
    Ok(Floor {
        read_s,
        sort_s,
        rows: rows.len(),
    })
}

/// The customer, event and time columns of the row `groups` of the file at
/// `path`, the time in microseconds.
fn read_groups(path: &Path, groups: Vec<usize>) -> anyhow::Result<Vec<RecordBatch>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    let names = ["customer_id", "event", "timestamp"];
    let fields = builder.schema().fields().clone();
    let roots: Vec<usize> = names
        .iter()
        .map(|name| {
            fields
                .iter()
                .position(|f| f.name() == name)
                .ok_or_else(|| anyhow::anyhow!("the bench file has no column `{name}`"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_batch_size(16 * 1024)
        .build()?;
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch?;
        // In the file's order, which is the names' order here.
        let time = cast(batch.column(2), &DataType::Int64)?;
        batches.push(RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("customer", DataType::Utf8, true),
                Field::new("event", DataType::Utf8, true),
                Field::new("time", DataType::Int64, true),
            ])),
            vec![batch.column(0).clone(), batch.column(1).clone(), time],
        )?);
    }
    Ok(batches)
}

/// The first eight bytes of `text` as a number that sorts as they do.
fn prefix(text: &str) -> u64 {
    let mut eight = [0u8; 8];
    let bytes = text.as_bytes();
    let n = bytes.len().min(8);
    eight[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(eight)
}

/// Runs of rows whose customers share their first eight bytes (and are
/// longer), sorted by the whole customer id and time.
fn order_shared_prefixes(rows: &mut [(u64, i64, u32)], texts: &[&str]) {
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && rows[end].0 == rows[start].0 {
            end += 1;
        }
        let run = &mut rows[start..end];
        if run.iter().any(|r| texts[r.2 as usize].len() > 8) {
            run.sort_unstable_by(|a, b| {
                (texts[a.2 as usize], a.1).cmp(&(texts[b.2 as usize], b.1))
            });
        }
        start = end;
    }
}

/// Sorts by customer then time: each half on a thread, then one merge.
fn sort_on_two_cores(rows: &mut Vec<(u64, i64, u32)>) -> anyhow::Result<()> {
    let key = |r: &(u64, i64, u32)| (r.0, r.1);
    let middle = rows.len() / 2;
    let (left, right) = rows.split_at_mut(middle);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let other = std::thread::Builder::new()
            .name("floor sort".into())
            .spawn_scoped(scope, || left.sort_unstable_by_key(key))?;
        right.sort_unstable_by_key(key);
        other
            .join()
            .map_err(|_| anyhow::anyhow!("the floor's sort failed"))
    })?;
    let mut merged = Vec::with_capacity(rows.len());
    let (mut i, mut j) = (0, middle);
    while i < middle && j < rows.len() {
        if key(&rows[j]) < key(&rows[i]) {
            merged.push(rows[j]);
            j += 1;
        } else {
            merged.push(rows[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&rows[i..middle]);
    merged.extend_from_slice(&rows[j..]);
    *rows = merged;
    Ok(())
}

/// What the peers measured on one file.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Peers {
    /// Polars reading the three columns and sorting them.
    pub polars_floor_s: f64,
    /// Polars (lazy) on the whole work.
    pub polars_s: f64,
    /// Its transitions, "from → to" and count.
    pub polars_transitions: std::collections::HashMap<String, u64>,
    /// pm4py's DFG and performance DFG, when it ran.
    pub pm4py_s: Option<f64>,
    /// Its transitions.
    pub pm4py_transitions: Option<std::collections::HashMap<String, u64>>,
}

/// The peers' script.
const PEERS_SCRIPT: &str = include_str!("../../benches/peers.py");

/// Runs the peers' script on `path` with `python`, the best of `runs`
/// (pm4py only when asked).
pub(super) fn peers(python: &Path, path: &Path, pm4py: bool, runs: usize) -> anyhow::Result<Peers> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("peers.py");
    std::fs::write(&script, PEERS_SCRIPT)?;
    let mut command = std::process::Command::new(python);
    command
        .arg(&script)
        .arg(path)
        .args(["--runs", &runs.to_string()]);
    if !pm4py {
        command.arg("--no-pm4py");
    }
    let output = command.output()?;
    if !output.status.success() {
        anyhow::bail!(
            "the peers' script failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}
