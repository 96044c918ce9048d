//! `live --state-topic S`: the journeys the workers of a job
//! publish, merged: in the live screen, or with `--headless` printed as
//! `live --headless` prints a topic's (the same
//! windows, comparisons and alert rules, plus a `"workers"` object), every
//! `--every` or once every partition of the input topic is covered
//! (`--until-caught-up`).

use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::app::live::{LiveRequest, MergedRequest};
use crate::cli::LiveArgs;
use crate::engine::alerts::Alert;
use crate::live::merged::MergedView;
use crate::live::merged_alerts::MergedAlerts;
use crate::live::state_topic::StateTopic;
use crate::source::kafka::{KafkaSpec, StartAt};
use crate::source::schema::no_columns;

use super::live::{
    AlertsOut, Printed, client_properties, live_counts, plan, print, print_line, shown_summary,
    window_alerts,
};
use super::{Failure, source_failure, usage};

/// Flags that read a topic themselves, which a merged view does not.
fn refuse_topic_flags(args: &LiveArgs) -> Result<(), Failure> {
    let given = [
        ("--topic", args.broker.topic.is_some()),
        ("--group", args.group.is_some()),
        ("--state", args.state.is_some()),
        ("--until-idle", args.until_idle.is_some()),
    ];
    match given.iter().find(|(_, on)| *on) {
        Some((flag, _)) => Err(usage(anyhow!(
            "{flag} reads a topic itself; with --state-topic the workers read it (give \
             --until-caught-up to stop once they have)"
        ))),
        None => Ok(()),
    }
}

/// Runs `live --state-topic` (headless only).
pub fn merged(args: &LiveArgs, state_topic: &str) -> Result<(), Failure> {
    refuse_topic_flags(args)?;
    let properties = client_properties(&args.broker)?;
    let (settings, run) = plan(args, &args.broker.brokers, &properties)?;
    let spec = KafkaSpec::new(
        &args.broker.brokers,
        state_topic,
        StartAt::Earliest,
        properties,
    );
    if !args.headless {
        let (alerts, alerts_file) = window_alerts(args, &settings, &run)?;
        let request = LiveRequest {
            spec,
            state: None,
            lateness_us: run.lateness.as_micros() as i64,
            alerts,
            alerts_file,
            alert_outputs: run.outputs,
            triggers: Vec::new(),
            trigger_outputs: Default::default(),
            merged: Some(MergedRequest {
                state_topic: state_topic.to_owned(),
                job: args.job.clone(),
            }),
        };
        return Ok(crate::ui::window::run(
            settings,
            Some(crate::app::Command::OpenKafka(Box::new(request))),
        )?);
    }
    let state = StateTopic {
        spec,
        name: state_topic.to_owned(),
    };
    let mut view = MergedView::open(state, args.job.clone(), settings.engine.clone())
        .map_err(source_failure)?;
    let mut rules = MergedAlerts::start(run.alerts.clone(), state_topic, run.outputs.clone())
        .map_err(|e| Failure::Failed(anyhow!("cannot start the alerts producer: {e}")))?;
    let mut raised: Vec<Alert> = Vec::new();
    let mut last_print = Instant::now();
    loop {
        view.poll(Duration::from_millis(200))
            .map_err(source_failure)?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let new = rules.check(&view, now_ms).map_err(|e| usage(anyhow!(e)))?;
        if run.every.is_some() {
            for alert in &new {
                let json = serde_json::to_string(alert).unwrap_or_default();
                print_line(&crate::format::json_printable(&json))?;
            }
        }
        raised.extend(new);
        let done = args.until_caught_up && view.caught_up() && !rules.is_behind(&view);
        let due = run.every.is_some_and(|e| last_print.elapsed() >= e);
        if !(done || due) {
            continue;
        }
        last_print = Instant::now();
        let name = format!(
            "kafka://{}/{} (merged from {state_topic})",
            args.broker.brokers,
            view.input_topic().unwrap_or("?")
        );
        let mapping = view.mapping().cloned().unwrap_or_else(no_columns);
        let engine = view.engine();
        let (summary, open) = shown_summary(engine, &run, &settings, (&name, &mapping), done)?;
        let counted = (engine.out_of_order(), engine.settled_customers());
        let counts = live_counts(&run, &settings, engine, counted, open);
        let workers = view.workers(now_ms);
        let delivery = match done {
            true => rules.finish(),
            false => rules.delivery(),
        };
        let alerts = (!rules.rules().is_empty()).then_some(AlertsOut {
            alerts: &raised,
            delivery,
        });
        let printed = Printed {
            summary: &summary,
            progress: &view.progress(),
            counts: &counts,
            alerts: alerts.as_ref(),
            workers: Some(&workers),
            triggers: None,
        };
        print(&printed, run.format, !done)?;
        if done {
            return Ok(());
        }
    }
}
