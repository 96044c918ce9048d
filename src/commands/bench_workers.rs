//! `journeyscope bench --workers --brokers HOST:PORT`: 1, 2 and 4 workers
//! (processes sharing this machine's cores) reading one 8-partition topic
//! of generated events, timed until the merged view covers every
//! partition's end, against one live reader of the same topic in the same
//! run (and a plain consumer, to check the broker); then the merged view's
//! time to put 64 partitions together, and a snapshot's size against the
//! events it covers.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::BenchArgs;
use crate::engine::merge::MergedEngine;
use crate::engine::{EngineConfig, LiveEngine, StreamMark};
use crate::live::state_topic::{Follower, StateTopic};
use crate::source::SourceOptions;
use crate::source::kafka::{KafkaSpec, StartAt};
use crate::source::live_state::{Covering, write_state};

use super::bench_kafka::{live_ingest, plain_consumer_of, produce_sample_to};
use super::{Failure, usage};

/// Partitions of the input topic.
const PARTITIONS: i32 = 8;

/// Partitions the merged view puts together in the merge timing.
const MERGED_PARTS: usize = 64;

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(anyhow!("{e}"))
}

/// Runs the benchmark.
pub(super) fn run(args: &BenchArgs) -> Result<(), Failure> {
    let brokers = args
        .brokers
        .as_deref()
        .ok_or_else(|| usage(anyhow!("bench --workers needs --brokers HOST:PORT")))?;
    let events = args.events.first().copied().unwrap_or(2_000_000);
    let (topic, _dir, file, total) = produce_sample_to(brokers, events, "workers", PARTITIONS)?;
    let plain_s = plain_consumer_of(brokers, &topic, PARTITIONS, total)?;
    println!(
        "  plain librdkafka consumer:  {:>10.0} events/s (the broker's pace)",
        total as f64 / plain_s
    );
    let (live_s, _) = live_ingest(brokers, &topic, total)?;
    let live_rate = total as f64 / live_s;
    println!("  one live reader:            {live_rate:>10.0} events/s (the baseline)");
    for workers in [1, 2, 4] {
        let run = time_workers(brokers, &topic, workers, total)?;
        let settled = match run.settled {
            Some((seconds, events)) => {
                let rate = events as f64 / seconds;
                format!(
                    "{rate:>9.0} events/s once the group settled ({:.2}× the live reader)",
                    rate / live_rate
                )
            }
            None => "the group settled only once the topic was read".to_owned(),
        };
        println!(
            "  {workers} worker(s): {settled}; {:.1} s from start to covered, group join \
             included; snapshots {:.1} bytes per event",
            run.wall_s,
            run.bytes as f64 / total as f64
        );
    }
    merge_time(&file)?;
    Ok(())
}

/// One worker's round line, as the bench read it.
struct Heard {
    at: Instant,
    worker: usize,
    partitions: usize,
    events: u64,
}

/// How a run of workers went.
struct WorkersRun {
    /// Start to every partition covered, seconds.
    wall_s: f64,
    /// From the moment every worker held its partitions to covered: the
    /// seconds and the events taken in meanwhile (None when the group
    /// settled only once the topic was read).
    settled: Option<(f64, u64)>,
    /// Bytes of the last snapshots.
    bytes: u64,
}

/// Reads a worker's round lines (`--every-line`) and hands them over.
fn listen(
    child: &mut Child,
    worker: usize,
    heard: crossbeam_channel::Sender<Heard>,
) -> Result<(), Failure> {
    use std::io::BufRead;
    let Some(out) = child.stdout.take() else {
        return Ok(());
    };
    crate::background::start(
        "bench worker lines",
        move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let Ok(round) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let partitions = round["partitions"].as_array().map_or(0, Vec::len);
                let events = round["events"].as_u64().unwrap_or(0);
                let said = Heard {
                    at: Instant::now(),
                    worker,
                    partitions,
                    events,
                };
                if heard.send(said).is_err() {
                    break;
                }
            }
            Ok(())
        },
        |_| {},
    )
    .map(|_| ())
    .map_err(failed)
}

/// Starts `count` workers on `topic` and waits until the merged view
/// covers every partition's end.
fn time_workers(
    brokers: &str,
    topic: &str,
    count: usize,
    total: u64,
) -> Result<WorkersRun, Failure> {
    let run = format!(
        "{}-{count}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    let state = format!("journeyscope-bench-state-{run}");
    let group = format!("journeyscope-bench-group-{run}");
    let exe = std::env::current_exe().map_err(failed)?;
    let started = Instant::now();
    let (tell, heard) = crossbeam_channel::bounded::<Heard>(1024);
    let mut children: Vec<Child> = Vec::new();
    for worker in 0..count {
        let mut child = Command::new(&exe)
            .args(["worker", "--brokers", brokers, "--topic", topic])
            .args(["--group", &group, "--state-topic", &state])
            .args(["--every", "1s", "--lateness", "5m", "--every-line"])
            .args([
                "-X",
                "session.timeout.ms=6000",
                "-X",
                "heartbeat.interval.ms=500",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(failed)?;
        listen(&mut child, worker, tell.clone())?;
        children.push(child);
    }
    drop(tell);
    let spec = KafkaSpec::new(brokers, &state, StartAt::Earliest, Vec::new());
    let state = StateTopic { spec, name: state };
    // Only the snapshots' headers are read (restoring them would take the
    // cores the workers are measured on).
    let outcome = (|| {
        state.create_if_missing().map_err(failed)?;
        let mut follower = Follower::open(&state).map_err(failed)?;
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut latest: Vec<(usize, u64)> = vec![(0, 0); count];
        let mut settled_at: Option<(Instant, u64)> = None;
        loop {
            follower.poll(Duration::from_millis(20)).map_err(failed)?;
            for said in heard.try_iter() {
                latest[said.worker] = (said.partitions, said.events);
                let held: usize = latest.iter().map(|(p, _)| p).sum();
                let everyone = latest.iter().all(|(p, _)| *p > 0) || count > PARTITIONS as usize;
                if settled_at.is_none() && held == PARTITIONS as usize && everyone {
                    settled_at = Some((said.at, latest.iter().map(|(_, e)| e).sum()));
                }
            }
            let snapshots = follower.assembler().latest();
            let covered: u64 = snapshots.values().map(|s| s.header.events).sum();
            if covered >= total {
                let now = Instant::now();
                let bytes = snapshots.values().map(|s| s.state.len() as u64).sum();
                let settled = settled_at
                    .filter(|(_, events)| *events < total)
                    .map(|(at, events)| ((now - at).as_secs_f64(), total - events));
                return Ok(WorkersRun {
                    wall_s: started.elapsed().as_secs_f64(),
                    settled,
                    bytes,
                });
            }
            if Instant::now() > deadline {
                return Err(failed(
                    "the workers did not cover the topic within 10 minutes",
                ));
            }
        }
    })();
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    outcome
}

/// Splits the file's events into [`MERGED_PARTS`] engines by customer and
/// times putting them together and building the journeys since start;
/// prints a snapshot's size against the events it covers.
fn merge_time(file: &std::path::Path) -> Result<(), Failure> {
    let config = EngineConfig {
        session_timeout_us: Some(30 * 60 * 1_000_000),
        ..EngineConfig::default()
    };
    let mut parts: Vec<LiveEngine> = (0..MERGED_PARTS)
        .map(|_| LiveEngine::new(config.clone(), 300 * 1_000_000))
        .collect();
    let mut source = crate::source::open(file, &SourceOptions::default()).map_err(failed)?;
    while let Some(batch) = source.next_batch().map_err(failed)? {
        for (k, part) in split_by_customer(&batch, MERGED_PARTS).iter().enumerate() {
            parts[k].ingest(part);
        }
    }
    let mapping = source.mapping().clone();
    let mut state = Vec::new();
    let mark = StreamMark {
        partition: 0,
        next_offset: 0,
        last_timestamp_ms: None,
        high_watermark: None,
    };
    let covering = Covering {
        covered: std::slice::from_ref(&mark),
        mapping: &mapping,
        topic: "shop",
        ids: None,
    };
    write_state(&mut state, &parts[0], covering).map_err(failed)?;
    let per_part = parts[0].taken();
    // What the merged view spends on each snapshot that arrives.
    let restoring = Instant::now();
    let restored = crate::source::live_state::state_of_bytes(&state, config.clone(), None);
    let restore_s = restoring.elapsed().as_secs_f64();
    restored.map_err(failed)?;
    let named: Vec<(String, LiveEngine)> = parts
        .into_iter()
        .enumerate()
        .map(|(k, e)| (format!("part {k:02}"), e))
        .collect();
    let started = Instant::now();
    let mut merged = MergedEngine::default();
    merged.insert(named);
    let insert_s = started.elapsed().as_secs_f64();
    let built = Instant::now();
    let since = merged.since_start(false);
    let build_s = built.elapsed().as_secs_f64();
    let with = Instant::now();
    let _ = merged.since_start(true);
    let with_s = with.elapsed().as_secs_f64();
    println!(
        "merged view, {MERGED_PARTS} partitions of {} events: put together in {:.1} ms, \
         journeys since start in {:.1} ms ({:.1} ms with the last hour's customers)",
        since.journeys.events,
        insert_s * 1e3,
        build_s * 1e3,
        with_s * 1e3
    );
    println!(
        "snapshot of one partition: {} bytes for {per_part} events ({:.1} bytes per event), \
         restored by the merged view in {:.1} ms",
        state.len(),
        state.len() as f64 / per_part.max(1) as f64,
        restore_s * 1e3
    );
    Ok(())
}

/// The events of `batch` split into `parts` batches by customer.
fn split_by_customer(
    batch: &crate::engine::EventBatch,
    parts: usize,
) -> Vec<crate::engine::EventBatch> {
    let mut out: Vec<crate::engine::EventBatch> = (0..parts)
        .map(|_| crate::engine::EventBatch::with_capacity(batch.len() / parts + 1))
        .collect();
    for event in batch.iter() {
        let k = (crate::engine::intern::name_hash(event.customer) % parts as u64) as usize;
        let new = crate::engine::NewEvent {
            customer: event.customer,
            event: event.event,
            time_us: event.time_us,
            event_id: event.event_id,
            session_id: event.session_id,
        };
        out[k].push_with_sub_us(new, event.sub_us_ns, event.properties());
    }
    out
}
