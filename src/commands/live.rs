//! `live --headless`: consume a topic and print the same JSON as
//! `summarize` (plus a `"kafka"` object with what was consumed) once the
//! topic has been quiet for `--until-idle`, or every `--every` as JSON lines.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::{BrokerArgs, LiveArgs, MappingArgs, OutputFormat, ValueArgs, ValueFormatArg};
use crate::engine::alerts::{Alert, AlertRule, Alerts};
use crate::engine::live_compare::LiveComparison;
use crate::engine::live_range::EventRange;
use crate::report::{Summary, to_csv, to_dot, to_table};
use crate::settings::{default_alert_rules, read_alert_rules};
use crate::source::values::{RegistrySpec, ValueFormat, ValuesSpec};

use crate::app::alert_out::{AlertOutputs, AlertSender, AlertTopic, DeliveryCounts};
use crate::source::kafka::{KafkaProgress, KafkaSpec, StartAt, client_property};
use crate::source::live_session::LiveSession;

use super::live_window::{compared, range_journeys, rfc3339, window_range};
use super::{Failure, Settings, parse_duration, settings, source_failure, usage};

/// Splits `-X key=value` flags.
pub fn client_properties(broker: &BrokerArgs) -> Result<Vec<(String, String)>, Failure> {
    broker
        .property
        .iter()
        .map(|p| client_property(p).map_err(|e| usage(anyhow!("-X: {e}"))))
        .collect()
}

fn duration(text: &str, flag: &str) -> Result<Duration, Failure> {
    parse_duration(text, flag, "3s, 10s or 1m")
}

/// The Kafka spec the `live` flags describe.
pub fn kafka_spec(args: &LiveArgs) -> Result<KafkaSpec, Failure> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let properties = client_properties(&args.broker)?;
    Ok(KafkaSpec {
        brokers: args.broker.brokers.clone(),
        topic: args.broker.topic.clone(),
        from: StartAt::parse(&args.from, now_ms).map_err(|e| usage(anyhow!(e)))?,
        group: args.group.clone(),
        detect_wait: duration(&args.detect_wait, "detect-wait")?,
        resume: Vec::new(),
        mapping: None,
        values: values_spec(&args.values, &properties),
        properties,
    })
}

/// What the value flags ask for (the registry's credentials and CA are
/// among the client properties).
pub fn values_spec(args: &ValueArgs, properties: &[(String, String)]) -> ValuesSpec {
    ValuesSpec {
        format: match args.value_format {
            ValueFormatArg::Auto => ValueFormat::Auto,
            ValueFormatArg::Json => ValueFormat::Json,
            ValueFormatArg::Avro => ValueFormat::Avro,
            ValueFormatArg::Protobuf => ValueFormat::Protobuf,
        },
        registry: args
            .schema_registry
            .as_deref()
            .map(|url| RegistrySpec::from_properties(url, properties)),
        schema: args.schema.clone(),
        message: args.message.clone(),
    }
}

/// `live --compare previous|DURATION`: the window against the one before
/// it, or against the same stretch that long earlier (the window is as
/// long as DURATION when no `--window` is given). None when `--compare`
/// names segments instead (or nothing).
fn live_comparison(
    compare: &[String],
    window: Option<Duration>,
) -> Result<Option<LiveComparison>, Failure> {
    let [only] = compare else {
        return Ok(None);
    };
    let us = |d: Duration| d.as_micros() as i64;
    let back = match only.trim() {
        "previous" => match window {
            Some(w) => w,
            None => {
                return Err(usage(anyhow!(
                    "--compare previous compares the window with the one before it: give \
                     --window too (5m, 15m, 1h)"
                )));
            }
        },
        text if text.starts_with(|c: char| c.is_ascii_digit()) => duration(text, "compare")?,
        _ => return Ok(None),
    };
    Ok(Some(LiveComparison {
        window_us: us(window.unwrap_or(back)),
        back_us: us(back),
    }))
}

/// The alert rules of `--alerts FILE` (none without it).
fn read_rules(
    path: Option<&std::path::Path>,
    settings: &Settings,
) -> Result<Vec<AlertRule>, Failure> {
    path.map_or(Ok(Vec::new()), |path| {
        read_alert_rules(path, settings.source.time_parser()).map_err(|e| usage(anyhow!(e)))
    })
}

/// `--alerts-webhook URL`, checked before anything starts as a rule's
/// webhook is (one that cannot be parsed would fail every alert).
fn webhook_url(text: &str) -> Result<String, Failure> {
    match crate::settings::webhook_problem(text) {
        None => Ok(text.to_owned()),
        Some(problem) => Err(usage(anyhow!("--alerts-{problem}"))),
    }
}

/// Runs `live`: the window, or with `--headless` the printed summaries.
pub fn live(args: &LiveArgs) -> Result<(), Failure> {
    let webhook = args
        .alerts_webhook
        .as_deref()
        .map(webhook_url)
        .transpose()?;
    let window = args
        .window
        .as_deref()
        .map(|w| duration(w, "window"))
        .transpose()?;
    let mut mapping = args.mapping.clone();
    let without_compare = MappingArgs {
        compare: Vec::new(),
        ..mapping.clone()
    };
    let range = window_range(args, &settings(&without_compare, None, None)?)?;
    let length = range.map(|r| Duration::from_micros(r.len_us() as u64));
    let compared = live_comparison(&args.mapping.compare, window.or(length))?;
    if compared.is_some() {
        mapping.compare.clear();
    }
    let settings = settings(&mapping, None, None)?;
    let spec = kafka_spec(args)?;
    // Every alert goes to the flags' topic and webhook, besides its rule's
    // own outputs.
    let outputs = AlertOutputs {
        topic: args.alerts_topic.clone().map(|topic| AlertTopic {
            brokers: spec.brokers.clone(),
            topic,
            properties: spec.properties.clone(),
        }),
        webhook,
    };
    if !args.headless {
        // The window's Alerts panel saves to the file given, or to the
        // user's own rules file.
        let (alerts, alerts_file) = match &args.alerts {
            Some(path) => (read_rules(Some(path), &settings)?, Some(path.clone())),
            None => {
                default_alert_rules(settings.source.time_parser()).map_err(|e| usage(anyhow!(e)))?
            }
        };
        let request = crate::app::live::LiveRequest {
            spec,
            state: args.state.clone(),
            lateness_us: duration(&args.lateness, "lateness")?.as_micros() as i64,
            alerts,
            alerts_file,
            alert_outputs: outputs,
        };
        return Ok(crate::ui::window::run(
            settings,
            Some(crate::app::Command::OpenKafka(Box::new(request))),
        )?);
    }
    let until_idle = args
        .until_idle
        .as_deref()
        .map(|t| duration(t, "until-idle"))
        .transpose()?;
    let every = match (&args.every, until_idle) {
        (Some(t), _) => Some(duration(t, "every")?),
        (None, None) => Some(Duration::from_secs(10)),
        (None, Some(_)) => None,
    };
    let run = Headless {
        until_idle,
        every,
        format: args.format,
        lateness: duration(&args.lateness, "lateness")?,
        window,
        range,
        state: args.state.clone(),
        compared,
        alerts: read_rules(args.alerts.as_deref(), &settings)?,
        outputs,
    };
    headless(&spec, settings, &run)
}

/// What `live --headless` prints, and when.
struct Headless {
    until_idle: Option<Duration>,
    every: Option<Duration>,
    format: OutputFormat,
    lateness: Duration,
    window: Option<Duration>,
    range: Option<EventRange>,
    state: Option<std::path::PathBuf>,
    compared: Option<LiveComparison>,
    alerts: Vec<AlertRule>,
    outputs: AlertOutputs,
}

fn headless(spec: &KafkaSpec, settings: Settings, run: &Headless) -> Result<(), Failure> {
    let mut session = LiveSession::open(
        spec,
        &settings.source,
        settings.engine.clone(),
        run.lateness.as_micros() as i64,
        run.state.clone(),
    )
    .map_err(source_failure)?;
    if let Some(window) = run.window {
        session.engine.keep_at_least(window.as_micros() as i64);
    }
    if let Some(compared) = &run.compared {
        session.engine.keep_at_least(compared.keeps_us());
    }
    // A fixed range (and the stretch it is compared with) is kept whole
    // however old it gets.
    if let Some(range) = run.range {
        let back = run.compared.map_or(0, |c| c.back_us);
        session.engine.keep_from(Some(range.from_us - back));
    }
    let mut alerts = Alerts::new(run.alerts.clone(), session.source.name());
    if !run.alerts.is_empty() {
        session.engine.keep_at_least(alerts.keeps_us());
    }
    let mut raised: Vec<Alert> = Vec::new();
    let mut sender =
        Some(AlertSender::start(&run.outputs).map_err(|e| Failure::Failed(anyhow!(e)))?);
    let mut last_data = Instant::now();
    let mut last_print = Instant::now();
    loop {
        // While rules catch up on event time, waiting for messages would
        // slow them down.
        let wait = match alerts.is_behind(&session.engine) && session.source.caught_up() {
            true => Duration::from_millis(1),
            false => Duration::from_millis(50),
        };
        if session.poll(wait).map_err(source_failure)? {
            last_data = Instant::now();
        }
        // While a replay catches up, its partitions stand hours apart in
        // event time: event-time rules are checked once they are read to
        // their ends (which, live, they always nearly are); lag rules always.
        if !run.alerts.is_empty() {
            let new = alerts
                .check(&session.engine, &session.source.stream_state())
                .map_err(|e| usage(anyhow!(e)))?;
            for alert in &new {
                if run.every.is_some() {
                    let json = serde_json::to_string(alert).unwrap_or_default();
                    print_line(&crate::format::json_printable(&json))?;
                }
                if let Some(sender) = &sender {
                    let own = run.alerts.iter().find(|r| r.name == alert.rule);
                    let own = own.map(|r| r.outputs.clone()).unwrap_or_default();
                    sender.send(
                        alert,
                        run.outputs
                            .destinations(&own, &spec.brokers, &spec.properties),
                    );
                }
            }
            raised.extend(new);
        }
        // Idle: nothing came for a while and nothing is left to read (a
        // reader still decoding, say waiting for a slow registry, is busy).
        let idle = run
            .until_idle
            .is_some_and(|idle| last_data.elapsed() >= idle)
            && session.source.read_to_the_end()
            && !session.source.is_verifying()
            && !(session.source.caught_up() && alerts.is_behind(&session.engine));
        let due = run.every.is_some_and(|every| last_print.elapsed() >= every);
        if !(idle || due) {
            continue;
        }
        last_print = Instant::now();
        let (journeys, open) = match run.range {
            Some(range) => range_journeys(&session.engine, range, idle)?,
            None => session.journeys_and_open(run.window, settings.questions.funnel.is_some()),
        };
        let open_sessions = open
            .into_iter()
            .map(|(t, sessions)| OpenSessions {
                touchpoint: journeys.touchpoint_name(t).to_owned(),
                sessions,
            })
            .collect();
        let source = &session.source;
        let mut summary = Summary::new(
            source.name(),
            source.mapping(),
            &journeys,
            settings.questions.funnel.as_ref(),
        );
        summary.compare = compared(
            &session.engine,
            run.compared,
            run.range,
            settings.questions.explain,
        )?;
        let (reordered, late) = session.engine.out_of_order();
        let (customers_settled, customers_forgotten) = session.engine.settled_customers();
        let live = LiveCounts {
            reordered,
            late,
            window_s: run
                .window
                .map(|w| w.as_secs_f64())
                .or(run.range.map(|r| r.len_us() as f64 / 1e6)),
            window_from: run.range.map(|r| rfc3339(r.from_us)),
            window_to: run.range.map(|r| rfc3339(r.to_us)),
            kept_s: session.engine.kept_s(),
            customers_settled,
            customers_forgotten,
            funnel_covers_s: settings.questions.funnel.as_ref().map(|_| {
                run.window
                    .map_or(session.engine.kept_s(), |w| w.as_secs_f64())
            }),
            open_sessions,
        };
        session.save().map_err(source_failure)?;
        // Before the last summary, every queued alert is delivered (or
        // counted as not).
        let delivery = match (idle, sender.take()) {
            (true, Some(done)) => Some(finish_delivery(done)),
            (false, Some(running)) => {
                let counts = running.counts();
                sender = Some(running);
                Some(counts)
            }
            (_, None) => None,
        };
        let alerts_so_far = (!run.alerts.is_empty()).then_some(AlertsOut {
            alerts: &raised,
            delivery: delivery.unwrap_or_default(),
        });
        print(
            &summary,
            &source.progress(),
            &live,
            alerts_so_far.as_ref(),
            run.format,
            !idle,
        )?;
        if idle {
            session.close();
            return Ok(());
        }
    }
}

/// Sessions open at one touchpoint: their last event is there, within the
/// session timeout of the newest event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpenSessions {
    /// The touchpoint.
    pub touchpoint: String,
    /// Sessions whose latest step it is.
    pub sessions: u64,
}

/// Counts only a stream has, printed beside the summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveCounts {
    /// Events that arrived after a newer event of the same customer.
    pub reordered: u64,
    /// Of those, the ones beyond the allowed lateness.
    pub late: u64,
    /// The time window in seconds; null for since start.
    pub window_s: Option<f64>,
    /// A fixed range's start (RFC 3339, UTC), with `--window-from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_from: Option<String>,
    /// A fixed range's end (the first instant after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_to: Option<String>,
    /// Seconds of event time kept for windows (less than asked for only
    /// when memory is short at high rates).
    pub kept_s: f64,
    /// Customers quiet since before the kept past, held only as what the
    /// totals since start need of them.
    pub customers_settled: usize,
    /// Settled customers forgotten past the limit: one of them who comes
    /// back counts as a new customer.
    pub customers_forgotten: u64,
    /// Seconds of event time the funnel covers, when there is one: the
    /// window, or since start the kept past (a funnel needs each
    /// customer's events).
    pub funnel_covers_s: Option<f64>,
    /// Who is here now: open sessions by the touchpoint of their latest
    /// step, busiest first (printed at the top level as `open_sessions`).
    #[serde(skip)]
    pub open_sessions: Vec<OpenSessions>,
}

/// The live JSON: the summary's fields with the stream's beside them,
/// written straight from the values (a tree of a million touchpoints built
/// first took gigabytes).
#[derive(serde::Serialize)]
struct LiveJson<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    kafka: &'a KafkaProgress,
    live: &'a LiveCounts,
    open_sessions: &'a [OpenSessions],
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<&'a [Alert]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert_delivery: Option<&'a DeliveryCounts>,
}

/// The summary JSON with a `"kafka"` object (consumed count, offsets,
/// lag) and a `"live"` object (late arrivals, window).
pub fn live_json(
    summary: &Summary,
    progress: &KafkaProgress,
    live: &LiveCounts,
    alerts: Option<&AlertsOut<'_>>,
    one_line: bool,
) -> String {
    let value = LiveJson {
        summary,
        kafka: progress,
        live,
        open_sessions: &live.open_sessions,
        alerts: alerts.map(|out| out.alerts),
        alert_delivery: alerts.map(|out| &out.delivery),
    };
    let text = if one_line {
        serde_json::to_string(&value)
    } else {
        serde_json::to_string_pretty(&value)
    };
    let text = text.unwrap_or_default();
    // Escaping copies the text only when something needed it.
    let mut out = match crate::format::json_printable(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(escaped) => escaped,
    };
    out.push('\n');
    out
}

/// Waits for the alerts still being delivered (a few seconds at most) and
/// says on standard error how many were given up.
fn finish_delivery(sender: AlertSender) -> DeliveryCounts {
    let counts = sender.finish();
    if counts.undelivered > 0 {
        eprintln!(
            "alert delivery timed out: {} not delivered when the run ended (waited {} for the \
             alerts topic or webhook to answer)",
            crate::format::plural(counts.undelivered as usize, "alert"),
            crate::format::human_duration(crate::app::alert_out::FINISH_WAIT.as_secs_f64())
        );
    }
    counts
}

/// The alerts raised so far and how their delivery went, for the JSON.
pub struct AlertsOut<'a> {
    /// Every alert, oldest first.
    pub alerts: &'a [Alert],
    /// Delivered to the topic and the webhook, or not.
    pub delivery: DeliveryCounts,
}

/// Prints one line to standard output at once.
fn print_line(line: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Failed(e.into()))
}

fn print(
    summary: &Summary,
    progress: &KafkaProgress,
    live: &LiveCounts,
    alerts: Option<&AlertsOut<'_>>,
    format: OutputFormat,
    one_line: bool,
) -> Result<(), Failure> {
    let text = match format {
        OutputFormat::Json => live_json(summary, progress, live, alerts, one_line),
        OutputFormat::Table => format!(
            "{}consumed {} messages; lag {}\n",
            to_table(summary),
            progress.consumed,
            progress.partitions.iter().map(|p| p.lag).sum::<i64>()
        ),
        OutputFormat::Csv => to_csv(summary),
        OutputFormat::Dot => to_dot(summary),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Failed(e.into()))
}
