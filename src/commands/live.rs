//! `live --headless`: consume a topic and print the same JSON as
//! `summarize` (plus a `"kafka"` object with what was consumed) once the
//! topic has been quiet for `--until-idle`, or every `--every` as JSON lines.

use crate::engine::compute_variants;
use crate::engine::variants::goal_of;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::{BrokerArgs, LiveArgs, MappingArgs, OutputFormat, ValueArgs, ValueFormatArg};
use crate::engine::alerts::{Alert, AlertRule};
use crate::engine::live_compare::LiveComparison;
use crate::engine::live_range::EventRange;
use crate::engine::triggers::{Action, TriggerRule, TriggerStats};
use crate::report::{Summary, to_csv, to_dot, to_table};
use crate::settings::{default_alert_rules, read_alert_rules, read_rules_file};
use crate::source::values::{RegistrySpec, ValueFormat, ValuesSpec};

use crate::engine::kept::KeptEvents;
use crate::live::alert_out::{AlertOutputs, AlertTopic, DeliveryCounts};
use crate::live::merged::WorkersReport;
use crate::live::{LiveError, LiveRun, LiveSetup, LiveWindow, copy_shown};
use crate::source::Mapping;
use crate::source::kafka::{KafkaProgress, KafkaSpec, StartAt, client_property};

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

/// Reads a duration flag (3s, 10s, 1m).
pub fn duration(text: &str, flag: &str) -> Result<Duration, Failure> {
    parse_duration(text, flag, "3s, 10s or 1m")
}

/// `--topic`, which every command that reads or writes a topic needs.
pub fn topic_of(broker: &BrokerArgs) -> Result<&str, Failure> {
    broker
        .topic
        .as_deref()
        .ok_or_else(|| usage(anyhow!("give --topic, the topic to read")))
}

/// The Kafka spec of `broker`'s topic read from `from`.
pub fn spec_of(
    broker: &BrokerArgs,
    values: &ValueArgs,
    from: &str,
    detect_wait: &str,
) -> Result<KafkaSpec, Failure> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let properties = client_properties(broker)?;
    let from = StartAt::parse(from, now_ms).map_err(|e| usage(anyhow!(e)))?;
    let values = values_spec(values, &properties);
    Ok(KafkaSpec {
        detect_wait: duration(detect_wait, "detect-wait")?,
        values,
        ..KafkaSpec::new(&broker.brokers, topic_of(broker)?, from, properties)
    })
}

/// The Kafka spec the `live` flags describe.
pub fn kafka_spec(args: &LiveArgs) -> Result<KafkaSpec, Failure> {
    Ok(KafkaSpec {
        group: args.group.clone(),
        ..spec_of(&args.broker, &args.values, &args.from, &args.detect_wait)?
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
pub fn read_rules(
    path: Option<&std::path::Path>,
    settings: &Settings,
) -> Result<Vec<AlertRule>, Failure> {
    path.map_or(Ok(Vec::new()), |path| {
        read_alert_rules(path, settings.source.time_parser()).map_err(|e| usage(anyhow!(e)))
    })
}

/// The rules file a live run reads its alert rules and triggers from:
/// `--alerts FILE`, else `--rules FILE`.
fn rules_path(args: &LiveArgs) -> Option<&std::path::Path> {
    args.alerts.as_deref().or(args.mapping.rules.as_deref())
}

/// The `[[trigger]]` rules of the run's rules file (none without one).
fn read_triggers(args: &LiveArgs, settings: &Settings) -> Result<Vec<TriggerRule>, Failure> {
    match (args.alerts.as_deref(), args.mapping.rules.as_deref()) {
        (Some(path), _) => read_rules_file(path, settings.source.time_parser())
            .map(|file| file.triggers)
            .map_err(|e| usage(anyhow!(e))),
        // Read with the other mapping flags.
        (None, Some(_)) => Ok(settings.questions.triggers.clone()),
        (None, None) => Ok(Vec::new()),
    }
}

/// Where every action of the triggers goes: `--triggers-topic` (on
/// `brokers`, with the client `properties`) and `--triggers-webhook`.
pub(super) fn trigger_outputs(
    (topic, webhook): (Option<&str>, Option<&str>),
    brokers: &str,
    properties: &[(String, String)],
) -> Result<AlertOutputs, Failure> {
    let webhook = match webhook {
        None => None,
        Some(url) => match crate::settings::webhook_problem(url) {
            None => Some(url.to_owned()),
            Some(problem) => return Err(usage(anyhow!("--triggers-{problem}"))),
        },
    };
    if let Some(problem) = topic.and_then(|t| crate::settings::topic_problem(t, None)) {
        return Err(usage(anyhow!("--triggers-topic: {problem}")));
    }
    Ok(AlertOutputs {
        topic: topic.map(|topic| AlertTopic {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            properties: properties.to_vec(),
        }),
        webhook,
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

/// Where every alert goes besides its rule's own outputs: `--alerts-topic`
/// (on `brokers`, with the client `properties`) and `--alerts-webhook`.
pub fn alert_outputs(
    args: &LiveArgs,
    brokers: &str,
    properties: &[(String, String)],
) -> Result<AlertOutputs, Failure> {
    let webhook = args
        .alerts_webhook
        .as_deref()
        .map(webhook_url)
        .transpose()?;
    Ok(AlertOutputs {
        topic: args.alerts_topic.clone().map(|topic| AlertTopic {
            brokers: brokers.to_owned(),
            topic,
            properties: properties.to_vec(),
        }),
        webhook,
    })
}

/// What `live` flags ask for besides the topic: the settings (without a
/// live comparison among the segments compared) and what headless prints,
/// when, and which alerts it watches and delivers where (on `brokers`,
/// with the client `properties`).
pub(super) fn plan(
    args: &LiveArgs,
    brokers: &str,
    properties: &[(String, String)],
) -> Result<(Settings, Headless), Failure> {
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
    // Every alert goes to the flags' topic and webhook, besides its rule's
    // own outputs.
    let outputs = alert_outputs(args, brokers, properties)?;
    let until_idle = args
        .until_idle
        .as_deref()
        .map(|t| duration(t, "until-idle"))
        .transpose()?;
    let every = match (&args.every, until_idle, args.until_caught_up) {
        (Some(t), _, _) => Some(duration(t, "every")?),
        (None, None, false) => Some(Duration::from_secs(10)),
        (None, _, _) => None,
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
        alerts: read_rules(rules_path(args), &settings)?,
        outputs,
        triggers: read_triggers(args, &settings)?,
        trigger_outputs: trigger_outputs(
            (
                args.triggers_topic.as_deref(),
                args.triggers_webhook.as_deref(),
            ),
            brokers,
            properties,
        )?,
    };
    Ok((settings, run))
}

/// The rules the window watches and where its Alerts panel saves them:
/// the file given, or the user's own rules file.
pub(super) fn window_alerts(
    args: &LiveArgs,
    settings: &Settings,
    run: &Headless,
) -> Result<(Vec<AlertRule>, Option<std::path::PathBuf>), Failure> {
    match rules_path(args) {
        Some(path) => Ok((run.alerts.clone(), Some(path.to_owned()))),
        None => default_alert_rules(settings.source.time_parser()).map_err(|e| usage(anyhow!(e))),
    }
}

/// Runs `live`: the window, or with `--headless` the printed summaries.
pub fn live(args: &LiveArgs) -> Result<(), Failure> {
    let spec = kafka_spec(args)?;
    let (settings, run) = plan(args, &spec.brokers, &spec.properties)?;
    if !args.headless {
        let (alerts, alerts_file) = window_alerts(args, &settings, &run)?;
        let request = crate::app::live::LiveRequest {
            spec,
            state: args.state.clone(),
            lateness_us: run.lateness.as_micros() as i64,
            alerts,
            alerts_file,
            alert_outputs: run.outputs,
            triggers: run.triggers,
            trigger_outputs: run.trigger_outputs,
            merged: None,
        };
        return Ok(crate::ui::window::run(
            settings,
            Some(crate::app::Command::OpenKafka(Box::new(request))),
        )?);
    }
    headless(spec, settings, run)
}

/// What `live --headless` prints, and when.
pub(super) struct Headless {
    pub until_idle: Option<Duration>,
    pub every: Option<Duration>,
    pub format: OutputFormat,
    pub lateness: Duration,
    pub window: Option<Duration>,
    pub range: Option<EventRange>,
    pub state: Option<std::path::PathBuf>,
    pub compared: Option<LiveComparison>,
    pub alerts: Vec<AlertRule>,
    pub outputs: AlertOutputs,
    pub triggers: Vec<TriggerRule>,
    pub trigger_outputs: AlertOutputs,
}

/// Why the live loop stopped, as the command reports it: a source's
/// usage error or an unknown column is the user's to fix, as is a rule
/// that cannot be checked.
fn live_failure(e: LiveError) -> Failure {
    match e {
        LiveError::Source(e) => source_failure(e),
        LiveError::Rules(e) => usage(anyhow!(e)),
        LiveError::Delivery(e) => Failure::Failed(anyhow!("cannot start the alerts producer: {e}")),
        LiveError::Triggers(e) => usage(anyhow!("trigger rules: {e}")),
    }
}

/// The window the flags ask for: a fixed range, the last `--window`
/// (whole seconds, at least one), or since start.
fn shown_window(run: &Headless) -> LiveWindow {
    match (run.range, run.window) {
        (Some(range), _) => LiveWindow::Range(range),
        (None, Some(w)) => LiveWindow::Last(w.as_secs_f64().round().max(1.0) as u64),
        (None, None) => LiveWindow::SinceStart,
    }
}

/// What `engine` shows as `run` asks (a window, a fixed range or since
/// start, compared as asked), summarised under the source's `named` name
/// and columns, with who is here now; `last` for the last summary (a range
/// nothing of which was read is then refused).
pub(super) fn shown_summary(
    engine: &dyn KeptEvents,
    run: &Headless,
    settings: &Settings,
    named: (&str, &Mapping),
    last: bool,
) -> Result<(Summary, Vec<OpenSessions>), Failure> {
    let questions = &settings.questions;
    let with_events =
        questions.funnel.is_some() || questions.journey.is_some() || questions.variants.is_some();
    let (journeys, open) = match run.range {
        Some(range) => range_journeys(engine, range, last)?,
        None => copy_shown(engine, shown_window(run), with_events).build(),
    };
    let open_sessions = open
        .into_iter()
        .map(|(t, sessions)| OpenSessions {
            touchpoint: journeys.touchpoint_name(t).to_owned(),
            sessions,
        })
        .collect();
    let mut summary = Summary::new(
        named.0,
        named.1,
        &journeys,
        settings.questions.funnel.as_ref(),
    );
    summary.compare = compared(engine, run.compared, run.range, settings.questions.explain)?;
    summary.conformance = live_conformance(&journeys, questions.journey.as_ref());
    summary.variants = questions.variants.as_ref().map(|spec| {
        let goal = goal_of(&journeys, spec.goal.as_deref(), questions.funnel.as_ref());
        compute_variants(&journeys, spec, goal.as_ref())
    });
    Ok((summary, open_sessions))
}

/// The expected journey in the journeys shown, read at their newest event:
/// sessions still open and on it are counted apart.
pub(super) fn live_conformance(
    journeys: &crate::engine::Journeys,
    journey: Option<&crate::engine::ExpectedJourney>,
) -> Option<crate::engine::ConformanceReport> {
    let journey = journey?;
    let now = journeys
        .time_range_us
        .map_or(i64::MIN, |(_, newest)| newest);
    Some(crate::engine::conformance_report::compute_conformance_at(
        journeys, journey, now,
    ))
}

fn headless(spec: KafkaSpec, settings: Settings, run: Headless) -> Result<(), Failure> {
    let mut live = LiveRun::open(LiveSetup {
        spec,
        options: settings.source.clone(),
        config: settings.engine.clone(),
        lateness_us: run.lateness.as_micros() as i64,
        state: run.state.clone(),
        rules: run.alerts.clone(),
        outputs: run.outputs.clone(),
        triggers: run.triggers.clone(),
        trigger_outputs: run.trigger_outputs.clone(),
    })
    .map_err(live_failure)?;
    // Actions are printed as they fire (--every), or listed at the end.
    live.hand_back_actions(run.every.is_some() || run.format == OutputFormat::Json);
    let engine = live.engine_mut();
    if let Some(window) = run.window {
        engine.keep_at_least(window.as_micros() as i64);
    }
    if let Some(compared) = &run.compared {
        engine.keep_at_least(compared.keeps_us());
    }
    // A fixed range (and the stretch it is compared with) is kept whole
    // however old it gets.
    if let Some(range) = run.range {
        let back = run.compared.map_or(0, |c| c.back_us);
        engine.keep_from(Some(range.from_us - back));
    }
    let mut raised: Vec<Alert> = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    let mut last_print = Instant::now();
    loop {
        let step = live.step().map_err(live_failure)?;
        if run.every.is_some() {
            for alert in &step.alerts {
                let json = serde_json::to_string(alert).unwrap_or_default();
                print_line(&crate::format::json_printable(&json))?;
            }
            for action in &step.actions {
                let json = serde_json::to_string(action).unwrap_or_default();
                print_line(&crate::format::json_printable(&json))?;
            }
        }
        raised.extend(step.alerts);
        if actions.len() < MAX_ACTIONS_LISTED {
            actions.extend(step.actions);
        }
        let idle = run.until_idle.is_some_and(|quiet| live.is_idle(quiet));
        let due = run.every.is_some_and(|every| last_print.elapsed() >= every);
        if !(idle || due) {
            continue;
        }
        last_print = Instant::now();
        let engine = &live.session().engine;
        let source = &live.session().source;
        let named = (source.name(), source.mapping());
        let (summary, open_sessions) = shown_summary(engine, &run, &settings, named, idle)?;
        let counts = live_counts(
            &run,
            &settings,
            engine,
            (engine.out_of_order(), engine.settled_customers()),
            open_sessions,
        );
        let progress = source.progress();
        live.save_if_changed().map_err(live_failure)?;
        // Before the last summary, every queued alert is delivered (or
        // counted as not).
        let delivery = match idle {
            true => finish_delivery(&mut live),
            false => live.delivery(),
        };
        let alerts_so_far = (!run.alerts.is_empty()).then_some(AlertsOut {
            alerts: &raised,
            delivery,
        });
        let triggers = (!run.triggers.is_empty()).then(|| {
            TriggersOut::of(
                &live.session().engine.triggers().stats(),
                live.action_delivery(),
                (run.format == OutputFormat::Json).then_some(actions.as_slice()),
            )
        });
        let printed = Printed {
            summary: &summary,
            progress: &progress,
            counts: &counts,
            alerts: alerts_so_far.as_ref(),
            workers: None,
            triggers: triggers.as_ref(),
        };
        print(&printed, run.format, !idle)?;
        if idle {
            live.close().map_err(live_failure)?;
            return Ok(());
        }
    }
}

/// The counts only a stream has, of `engine` as `run` shows it: its
/// arrivals out of order and beyond the lateness, and its settled and
/// forgotten customers (`counted`), with who is here now.
pub(super) fn live_counts(
    run: &Headless,
    settings: &Settings,
    engine: &dyn KeptEvents,
    counted: ((u64, u64), (usize, u64)),
    open_sessions: Vec<OpenSessions>,
) -> LiveCounts {
    let ((reordered, late), (customers_settled, customers_forgotten)) = counted;
    LiveCounts {
        reordered,
        late,
        window_s: run
            .window
            .map(|w| w.as_secs_f64())
            .or(run.range.map(|r| r.len_us() as f64 / 1e6)),
        window_from: run.range.map(|r| rfc3339(r.from_us)),
        window_to: run.range.map(|r| rfc3339(r.to_us)),
        kept_s: engine.kept_s(),
        customers_settled,
        customers_forgotten,
        funnel_covers_s: settings
            .questions
            .funnel
            .as_ref()
            .map(|_| run.window.map_or(engine.kept_s(), |w| w.as_secs_f64())),
        open_sessions,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    workers: Option<&'a WorkersReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    triggers: Option<&'a TriggersOut<'a>>,
}

/// At most this many actions are listed in headless `live`'s final JSON.
const MAX_ACTIONS_LISTED: usize = 100_000;

/// What the triggers did, for the JSON: counts per rule, delivery, and
/// (with `--format json`) the actions.
#[derive(serde::Serialize)]
pub struct TriggersOut<'a> {
    /// Per rule: its name, kind and actions fired.
    pub rules: Vec<TriggerCount>,
    /// Delivered to the topic and the webhook, or not.
    pub delivery: DeliveryCounts,
    /// Fired and not yet confirmed delivered (saved with the state).
    pub queued: usize,
    /// Arrivals later than their partition's watermark.
    pub late: u64,
    /// Customers followed now.
    pub customers: usize,
    /// The actions, oldest first (the first 100,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<&'a [Action]>,
}

/// One rule's actions.
#[derive(serde::Serialize)]
pub struct TriggerCount {
    /// The rule.
    pub rule: String,
    /// Its kind.
    pub kind: String,
    /// Actions fired.
    pub actions: u64,
}

impl<'a> TriggersOut<'a> {
    /// What `stats` and `delivery` say, with `actions` when listed.
    pub fn of(
        stats: &TriggerStats,
        delivery: DeliveryCounts,
        actions: Option<&'a [Action]>,
    ) -> Self {
        TriggersOut {
            rules: stats
                .rules
                .iter()
                .map(|r| TriggerCount {
                    rule: r.rule.clone(),
                    kind: r.kind.clone(),
                    actions: r.actions,
                })
                .collect(),
            delivery,
            queued: stats.unsent,
            late: stats.late,
            customers: stats.customers,
            actions,
        }
    }
}

/// What one live summary prints.
pub struct Printed<'a> {
    /// The journeys shown.
    pub summary: &'a Summary,
    /// What was read of each partition.
    pub progress: &'a KafkaProgress,
    /// What only a stream has.
    pub counts: &'a LiveCounts,
    /// The alerts so far, when rules are watched.
    pub alerts: Option<&'a AlertsOut<'a>>,
    /// A merged view's workers.
    pub workers: Option<&'a WorkersReport>,
    /// The triggers, when rules are watched.
    pub triggers: Option<&'a TriggersOut<'a>>,
}

/// The summary JSON with a `"kafka"` object (consumed count, offsets,
/// lag) and a `"live"` object (late arrivals, window), and a merged view's
/// `"workers"`.
pub fn live_json(printed: &Printed<'_>, one_line: bool) -> String {
    let value = LiveJson {
        summary: printed.summary,
        kafka: printed.progress,
        live: printed.counts,
        open_sessions: &printed.counts.open_sessions,
        alerts: printed.alerts.map(|out| out.alerts),
        alert_delivery: printed.alerts.map(|out| &out.delivery),
        workers: printed.workers,
        triggers: printed.triggers,
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
fn finish_delivery(live: &mut LiveRun) -> DeliveryCounts {
    let counts = live.finish_delivery();
    if counts.undelivered > 0 {
        eprintln!(
            "alert delivery timed out: {} not delivered when the run ended (waited {} for the \
             alerts topic or webhook to answer)",
            crate::format::plural(counts.undelivered as usize, "alert"),
            crate::format::human_duration(crate::live::alert_out::FINISH_WAIT.as_secs_f64())
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
pub fn print_line(line: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Failed(e.into()))
}

/// Prints one summary in `format` (JSON on one line when `one_line`).
pub(super) fn print(
    printed: &Printed<'_>,
    format: OutputFormat,
    one_line: bool,
) -> Result<(), Failure> {
    let text = match format {
        OutputFormat::Json => live_json(printed, one_line),
        OutputFormat::Table => format!(
            "{}consumed {} messages; lag {}\n",
            to_table(printed.summary),
            printed.progress.consumed,
            printed
                .progress
                .partitions
                .iter()
                .map(|p| p.lag)
                .sum::<i64>()
        ),
        OutputFormat::Csv => to_csv(printed.summary),
        OutputFormat::Dot => to_dot(printed.summary),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Failed(e.into()))
}
