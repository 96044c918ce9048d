//! `live --state-topic S --headless`: the journeys the workers of a job
//! publish, merged, printed as `summarize` prints a file's (plus a
//! `"workers"` object), every `--every` or once every partition of the
//! input topic is covered (`--until-caught-up`).

use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::{LiveArgs, OutputFormat};
use crate::live::merged::{MergedView, WorkersReport};
use crate::live::state_topic::StateTopic;
use crate::report::{Summary, to_csv, to_dot, to_table};
use crate::source::kafka::{KafkaSpec, StartAt};
use crate::source::schema::Mapping;

use super::live::{OpenSessions, client_properties, duration, print_line};
use super::{Failure, settings, source_failure, usage};

/// The merged JSON: the summary's fields, the workers' and who is here now.
#[derive(serde::Serialize)]
struct MergedJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    workers: &'a WorkersReport,
    open_sessions: &'a [OpenSessions],
}

/// The columns before any worker has reported: none.
fn no_mapping() -> Mapping {
    Mapping {
        customer: String::new(),
        customer_fallback: None,
        event: String::new(),
        time: String::new(),
        time_unit: None,
        event_id: None,
        session_id: None,
        channel: None,
        convention: String::new(),
        columns: Vec::new(),
        comparable: Vec::new(),
    }
}

/// Runs `live --state-topic` (headless only).
pub fn merged(args: &LiveArgs, state_topic: &str) -> Result<(), Failure> {
    if !args.headless {
        return Err(usage(anyhow!(
            "--state-topic is shown with --headless (printed as JSON); the window shows a \
             topic read directly"
        )));
    }
    let settings = settings(&args.mapping, None, None)?;
    let properties = client_properties(&args.broker)?;
    let spec = KafkaSpec::new(
        &args.broker.brokers,
        state_topic,
        StartAt::Earliest,
        properties,
    );
    let state = StateTopic {
        spec,
        name: state_topic.to_owned(),
    };
    let every = match (&args.every, args.until_caught_up) {
        (Some(t), _) => Some(duration(t, "every")?),
        (None, false) => Some(Duration::from_secs(10)),
        (None, true) => None,
    };
    let mut view = MergedView::open(state, args.job.clone(), settings.engine.clone())
        .map_err(source_failure)?;
    let with_events = settings.questions.funnel.is_some();
    let mut last_print = Instant::now();
    loop {
        view.poll(Duration::from_millis(200))
            .map_err(source_failure)?;
        let done = args.until_caught_up && view.caught_up();
        let due = every.is_some_and(|e| last_print.elapsed() >= e);
        if !(done || due) {
            continue;
        }
        last_print = Instant::now();
        let (since, split) = view.since_start(with_events);
        let journeys = &since.journeys;
        let mapping = view.mapping().cloned().unwrap_or_else(no_mapping);
        let name = format!(
            "kafka://{}/{} (merged from {state_topic})",
            args.broker.brokers,
            view.input_topic().unwrap_or("?")
        );
        let summary = Summary::new(
            &name,
            &mapping,
            journeys,
            settings.questions.funnel.as_ref(),
        );
        let open: Vec<OpenSessions> = since
            .active
            .iter()
            .map(|&(t, sessions)| OpenSessions {
                touchpoint: journeys.touchpoint_name(t).to_owned(),
                sessions,
            })
            .collect();
        let workers = view.workers(chrono::Utc::now().timestamp_millis(), split);
        let text = match args.format {
            OutputFormat::Json => {
                let value = MergedJson {
                    summary: &summary,
                    workers: &workers,
                    open_sessions: &open,
                };
                let text = match done {
                    true => serde_json::to_string_pretty(&value),
                    false => serde_json::to_string(&value),
                };
                text.map_err(|e| Failure::Failed(e.into()))?
            }
            OutputFormat::Table => format!(
                "{}partitions reported {} of {}, behind {}",
                to_table(&summary),
                workers.reported,
                workers.partitions,
                workers.behind
            ),
            OutputFormat::Csv => to_csv(&summary),
            OutputFormat::Dot => to_dot(&summary),
        };
        print_line(crate::format::json_printable(&text).trim_end())?;
        if done {
            return Ok(());
        }
    }
}
