//! `bench --journeys`: the variants and an expected journey on the same
//! generated Parquet files as `bench`, against plain `summarize` of each,
//! in the same run: the whole command with and without them, and the
//! computation alone on journeys already built.

use std::time::Instant;

use anyhow::anyhow;

use super::Failure;
use crate::cli::BenchArgs;
use crate::engine::variants::goal_of;
use crate::engine::{ExpectedJourney, VariantsSpec, compute_conformance, compute_variants};
use crate::report::Questions;
use crate::settings::Settings;
use crate::source;

/// The journey timed: the generated shop's checkout.
const CHECKOUT: &str = "product_view > add_to_cart > view_cart? > checkout > payment > purchase";

/// The best of `runs` timings of `f`, in seconds, and its last result.
fn best<T>(runs: usize, mut f: impl FnMut() -> Result<T, Failure>) -> Result<(f64, T), Failure> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let value = f()?;
        best = best.min(started.elapsed().as_secs_f64());
        last = Some(value);
    }
    Ok((best, last.ok_or_else(|| anyhow!("no run"))?))
}

/// `summarize`'s settings when no flag is given.
fn defaults() -> Result<Settings, Failure> {
    super::settings(&crate::cli::MappingArgs::defaults(), None, None)
}

pub(super) fn run(args: &BenchArgs) -> Result<(), Failure> {
    let runs = args.runs.max(1);
    let journey = ExpectedJourney::parse(Some("checkout"), CHECKOUT).map_err(|e| anyhow!(e))?;
    let variants = VariantsSpec::default();
    println!(
        "variants (top {}) and the journey `{CHECKOUT}` against plain summarize, \
         same files and run, best of {runs}",
        variants.top
    );
    println!(
        "{:>12} {:>11} {:>17} {:>17} {:>13} {:>13} {:>10} {:>12}",
        "events",
        "summarize s",
        "+ --variants s",
        "+ --journey s",
        "variants s",
        "journey s",
        "variants",
        "conforming"
    );
    for &n in &args.events {
        let path = super::bench_data::bench_file(args, n)?;
        let label = path.display().to_string();
        let summarize = |questions: Questions| {
            let mut settings = defaults()?;
            settings.questions = questions;
            super::summarize_path(&path, &label, settings)
        };
        let (plain_s, _) = best(runs, || summarize(Questions::default()))?;
        let (with_variants_s, _) = best(runs, || {
            summarize(Questions {
                variants: Some(variants.clone()),
                ..Questions::default()
            })
        })?;
        let (with_journey_s, _) = best(runs, || {
            summarize(Questions {
                journey: Some(journey.clone()),
                ..Questions::default()
            })
        })?;
        // The computation alone, on journeys built once.
        let settings = defaults()?;
        let mut opened = source::open(&path, &settings.source).map_err(|e| anyhow!(e))?;
        let journeys = source::load(opened.as_mut(), &settings.source, settings.engine.clone())
            .map_err(|e| anyhow!(e))?;
        let (variants_s, report) = best(runs, || {
            let goal = goal_of(&journeys, None, None);
            Ok(compute_variants(&journeys, &variants, goal.as_ref()))
        })?;
        let (journey_s, conformance) = best(runs, || Ok(compute_conformance(&journeys, &journey)))?;
        let ratio = |s: f64| format!("{s:.3} ({:.2}×)", s / plain_s);
        println!(
            "{:>12} {:>11.3} {:>17} {:>17} {:>13} {:>13} {:>10} {:>12}",
            n,
            plain_s,
            ratio(with_variants_s),
            ratio(with_journey_s),
            format!("{variants_s:.3} ({:.0} %)", variants_s / plain_s * 100.0),
            format!("{journey_s:.3} ({:.0} %)", journey_s / plain_s * 100.0),
            report.variants,
            conformance.conforming
        );
    }
    println!(
        "ratios: the whole command against plain summarize; percentages: the computation \
         alone against plain summarize"
    );
    Ok(())
}
