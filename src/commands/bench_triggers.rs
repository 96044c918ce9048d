//! `bench --triggers`: per-customer triggers measured against what they
//! ride on, in the same run. On the generated Parquet files: ten rules
//! backtested on journeys already built, against building them (what
//! `summarize` does first). The live engine's memory per customer with
//! twenty rules against none, on the same batches. With `--brokers`: live
//! ingest running twenty rules against none and against a plain consumer
//! of the same topic.

use std::time::Instant;

use anyhow::anyhow;

use super::Failure;
use super::bench_kafka::{live_ingest, live_ingest_triggers, plain_consumer, produce_sample_to};
use crate::cli::BenchArgs;
use crate::engine::triggers::{Keep, TriggerRule, backtest};
use crate::engine::{EngineConfig, LiveEngine};
use crate::source::{self, SourceOptions};

/// Twenty rules a shop would run (the first `n`): stalls on the way to
/// paying, carts abandoned, sequences worth a message, and the checkout
/// left, each for the sessions it concerns.
const RULES: [&str; 20] = [
    "kind = \"stall\"\nat = \"view_cart\"\nafter = \"5m\"\nunless = [\"purchase\"]",
    "kind = \"abandon\"\ndid = [\"add_to_cart\"]\nunless = [\"purchase\"]",
    "kind = \"sequence\"\nsteps = [\"purchase\", \"support_ticket\"]\nwithin = \"1h\"",
    "kind = \"off_path\"\njourney = \"checkout\"\nsegment = \"did:add_to_cart\"",
    "kind = \"stall\"\nat = \"checkout\"\nafter = \"10m\"\nunless = [\"purchase\"]",
    "kind = \"abandon\"\ndid = [\"checkout\"]\nunless = [\"purchase\"]",
    "kind = \"sequence\"\nsteps = [\"add_to_cart\", \"remove_from_cart\"]\nwithin = \"30m\"",
    "kind = \"stall\"\nat = \"payment\"\nafter = \"5m\"\nunless = [\"purchase\"]",
    "kind = \"abandon\"\ndid = [\"view_cart\", \"login\"]\nunless = [\"purchase\"]",
    "kind = \"sequence\"\nsteps = [\"purchase\", \"return_request\"]\nwithin = \"1h\"",
    "kind = \"stall\"\nat = \"add_to_cart\"\nafter = \"20m\"\nunless = [\"checkout\", \"purchase\"]",
    "kind = \"abandon\"\ndid = [\"wishlist\"]\nunless = [\"add_to_cart\"]\nsegment = \"channel=web\"",
    "kind = \"sequence\"\nsteps = [\"checkout\", \"view_cart\", \"checkout\"]\nwithin = \"15m\"",
    "kind = \"stall\"\nat = \"login\"\nafter = \"15m\"\nunless = [\"purchase\"]\nsegment = \"channel=app\"",
    "kind = \"abandon\"\ndid = [\"payment\"]\nunless = [\"purchase\"]",
    "kind = \"sequence\"\nsteps = [\"support_ticket\", \"support_ticket\"]\nwithin = \"1h\"",
    "kind = \"stall\"\nat = \"wishlist\"\nafter = \"25m\"\nunless = [\"add_to_cart\"]",
    "kind = \"off_path\"\njourney = \"checkout\"\nsegment = \"did:checkout\"",
    "kind = \"sequence\"\nsteps = [\"newsletter_signup\", \"purchase\"]\nwithin = \"1h\"",
    "kind = \"abandon\"\ndid = [\"store_visit\"]\nunless = [\"purchase\"]",
];

/// The first `n` of [`RULES`], with the journey they follow.
fn rules(n: usize) -> Result<Vec<TriggerRule>, Failure> {
    let mut text = String::from(
        "[[journey]]\nname = \"checkout\"\nsteps = \"product_view > add_to_cart > view_cart? > \
         checkout > payment > purchase\"\n",
    );
    for (k, body) in RULES.iter().take(n).enumerate() {
        text.push_str(&format!("\n[[trigger]]\nname = \"rule {k}\"\n{body}\n"));
    }
    let file = crate::settings::rules_file(&text, Default::default()).map_err(|e| anyhow!(e))?;
    Ok(file.triggers)
}

pub(super) fn run(args: &BenchArgs) -> Result<(), Failure> {
    let runs = args.runs.max(1);
    let ten = rules(10)?;
    println!(
        "ten trigger rules backtested on journeys already built, against building them (best of {runs})"
    );
    println!(
        "{:>12} {:>10} {:>12} {:>10} {:>10} {:>12}",
        "events", "build s", "backtest s", "ratio", "actions", "events/s"
    );
    for &n in &args.events {
        let path = super::bench_data::bench_file(args, n)?;
        let settings = super::settings(&crate::cli::MappingArgs::defaults(), None, None)?;
        let (mut build_s, mut backtest_s) = (f64::INFINITY, f64::INFINITY);
        let mut actions = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let mut opened = source::open(&path, &settings.source).map_err(|e| anyhow!(e))?;
            let journeys = source::load(opened.as_mut(), &settings.source, settings.engine.clone())
                .map_err(|e| anyhow!(e))?;
            build_s = build_s.min(started.elapsed().as_secs_f64());
            let started = Instant::now();
            let done = backtest(&journeys, ten.clone(), "bench", Keep::Latest(10))
                .map_err(|e| anyhow!(e.0))?;
            backtest_s = backtest_s.min(started.elapsed().as_secs_f64());
            actions = done.rules.iter().map(|r| r.actions).sum::<u64>();
        }
        println!(
            "{n:>12} {build_s:>10.2} {backtest_s:>12.2} {:>9.2}× {actions:>10} {:>12.0}",
            backtest_s / build_s,
            n as f64 / backtest_s
        );
    }
    memory(args)?;
    if let Some(brokers) = args.brokers.as_deref() {
        live(brokers, args, runs)?;
    }
    Ok(())
}

/// The live engine's memory with twenty rules against none, on the same
/// batches of the first file size (at most a million events).
fn memory(args: &BenchArgs) -> Result<(), Failure> {
    let n = args
        .events
        .first()
        .copied()
        .unwrap_or(1_000_000)
        .min(1_000_000);
    let path = super::bench_data::bench_file(args, n)?;
    let mut opened = source::open(&path, &SourceOptions::default()).map_err(|e| anyhow!(e))?;
    let mut batches = Vec::new();
    while let Some(batch) = opened.next_batch().map_err(|e| anyhow!(e))? {
        batches.push(batch);
    }
    let config = EngineConfig {
        kept_properties: vec!["channel".into()],
        ..EngineConfig::default()
    };
    let mut measured = Vec::new();
    for rules in [Vec::new(), self::rules(20)?] {
        let watching = !rules.is_empty();
        let before = super::bench_memory::rss_bytes();
        let started = Instant::now();
        let mut engine = LiveEngine::new(config.clone(), 10_000_000);
        engine.set_triggers(rules).map_err(|e| anyhow!(e.0))?;
        let (mut most_bytes, mut most_followed) = (0usize, 0usize);
        for batch in &batches {
            engine.ingest(batch);
            engine.triggers_mut().drop_fired();
            let followed = engine.triggers().followed();
            if followed > most_followed {
                (most_bytes, most_followed) = (engine.triggers().bytes(), followed);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let customers = engine.since_start(false).journeys.customers;
        let rss = super::bench_memory::rss_bytes().saturating_sub(before);
        measured.push((watching, seconds, rss, customers, most_bytes, most_followed));
        drop(engine);
    }
    for (watching, seconds, rss, customers, bytes, followed) in &measured {
        let what = if *watching { "20 rules" } else { "no rules" };
        println!(
            "live engine, {what}: {:.0} events/s, {:.0} bytes per customer ({customers} customers){}",
            n as f64 / seconds,
            *rss as f64 / (*customers).max(1) as f64,
            match watching {
                true => format!(
                    "; the triggers held {:.0} bytes per customer followed at most \
                     ({followed} followed: those whose session is open or whose stall is due)",
                    *bytes as f64 / (*followed).max(1) as f64
                ),
                false => String::new(),
            }
        );
    }
    Ok(())
}

/// Live ingest with twenty rules against none and the plain consumer, the
/// runs of each in turn on one topic.
fn live(brokers: &str, args: &BenchArgs, runs: usize) -> Result<(), Failure> {
    let events = super::bench_kafka::live_events(args);
    let (topic, _dir, _file, total) = produce_sample_to(brokers, events, "triggers", 4)?;
    let twenty = rules(20)?;
    let (mut plain, mut alone, mut with) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut actions = 0;
    for run in 1..=runs {
        let p = plain_consumer(brokers, &topic, total)?;
        let (a, _) = live_ingest(brokers, &topic, total)?;
        let (w, _, fired) = live_ingest_triggers(brokers, &topic, total, twenty.clone())?;
        println!(
            "run {run}: plain consumer {:.0}/s · live ingest {:.0}/s · with 20 trigger rules {:.0}/s ({fired} actions)",
            total as f64 / p,
            total as f64 / a,
            total as f64 / w
        );
        (plain, alone, with, actions) = (plain.min(p), alone.min(a), with.min(w), fired);
    }
    println!(
        "live ingest with 20 trigger rules: {:.0} events/s = {:.2}× the plain consumer's {:.0}/s, \
         {:.2}× live ingest without rules ({:.0}/s); {actions} actions (best of {runs})",
        total as f64 / with,
        plain / with,
        total as f64 / plain,
        alone / with,
        total as f64 / alone,
    );
    Ok(())
}
