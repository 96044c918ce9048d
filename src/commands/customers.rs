//! `customers` and `timeline`: what the app shows of customers, headless.

use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;

use crate::cli::{CustomersArgs, ListFormat, SourceArgs, TimelineArgs, TimelineFormat};
use crate::engine::{Journeys, customer_rows, guess_conversion};
use crate::report::csv_text;
use crate::settings::Settings;
use crate::source::lookup::{CustomerRecord, customer_records};
use crate::source::{self, Mapping};

use super::{Failure, print_text, source_failure, source_settings, usage};

/// One customer as `customers` prints it.
#[derive(Debug, Serialize)]
struct CustomerLine<'a> {
    id: &'a str,
    sessions: u32,
    events: u32,
    last_touchpoint: &'a str,
    /// When their latest event happened (RFC 3339).
    last_seen: String,
    converted: bool,
}

/// What `customers` prints as JSON.
#[derive(Debug, Serialize)]
struct CustomersOut<'a> {
    customers: Vec<CustomerLine<'a>>,
}

/// What `timeline` prints as JSON.
#[derive(Debug, Serialize)]
struct TimelineOut<'a> {
    customer: &'a str,
    sessions: Vec<TimelineSession>,
}

/// `value` as pretty JSON and a line end.
fn json_text(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|e| Failure::Failed(e.into()))
}

/// The journeys of the source the command line names (within its
/// segment), with the settings and mapping they were read with.
fn journeys_of(args: &SourceArgs) -> Result<(Journeys, Settings, Mapping), Failure> {
    let settings = source_settings(args)?;
    let mut source = source::open(&args.path, &settings.source).map_err(source_failure)?;
    let journeys = source::load(source.as_mut(), &settings.source, settings.engine.clone())
        .map_err(source_failure)?;
    let journeys = journeys
        .with_segment(settings.questions.segment.clone())
        .map_err(usage)?;
    Ok((journeys, settings, source.mapping().clone()))
}

/// A touchpoint's id by its name, or what the touchpoints are called.
fn touchpoint(journeys: &Journeys, name: &str) -> Result<u32, Failure> {
    journeys.touchpoint_id(name).ok_or_else(|| {
        usage(anyhow!(
            "touchpoint `{}` not found; touchpoints are: {}",
            crate::format::printable(name),
            crate::format::printable(&touchpoint_names(journeys).join(", "))
        ))
    })
}

/// Every touchpoint's name but START and END, sorted.
fn touchpoint_names(journeys: &Journeys) -> Vec<&str> {
    let mut names: Vec<&str> = (0..journeys.touchpoint_count() as u32)
        .map(|t| journeys.touchpoint_name(t))
        .filter(|n| !crate::engine::is_terminal_name(n))
        .collect();
    names.sort_unstable();
    names
}

fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Runs `customers`.
pub fn customers(args: &CustomersArgs) -> Result<(), Failure> {
    let (journeys, ..) = journeys_of(&args.source)?;
    let conversion = match &args.converted_at {
        Some(name) => Some(touchpoint(&journeys, name)?),
        None => guess_conversion(&journeys),
    };
    let mut rows = customer_rows(&journeys, None, conversion);
    rows.sort_by(|a, b| {
        journeys
            .customer_name(a.customer)
            .cmp(journeys.customer_name(b.customer))
    });
    let lines: Vec<CustomerLine<'_>> = rows
        .iter()
        .map(|r| CustomerLine {
            id: journeys.customer_name(r.customer),
            sessions: r.sessions,
            events: r.events,
            last_touchpoint: journeys.touchpoint_name(r.last_touchpoint),
            last_seen: rfc3339(r.last_us),
            converted: r.converted,
        })
        .collect();
    let text = match args.format {
        ListFormat::Json => json_text(&CustomersOut { customers: lines })?,
        ListFormat::Csv => {
            let cells: Vec<Vec<String>> = lines
                .iter()
                .map(|l| {
                    vec![
                        l.id.to_owned(),
                        l.sessions.to_string(),
                        l.events.to_string(),
                        l.last_touchpoint.to_owned(),
                        l.last_seen.clone(),
                        l.converted.to_string(),
                    ]
                })
                .collect();
            csv_text(
                &[
                    "id",
                    "sessions",
                    "events",
                    "last_touchpoint",
                    "last_seen",
                    "converted",
                ],
                &cells,
            )
        }
    };
    print_text(&text)
}

/// One event of a timeline.
#[derive(Debug, Serialize)]
struct TimelineEvent {
    time: String,
    touchpoint: String,
    /// Every other field of its record, as the source holds it.
    properties: serde_json::Map<String, serde_json::Value>,
}

/// One session of a timeline.
#[derive(Debug, Serialize)]
struct TimelineSession {
    start: String,
    end: String,
    events: Vec<TimelineEvent>,
}

/// Runs `timeline`.
pub fn timeline(args: &TimelineArgs) -> Result<(), Failure> {
    let (journeys, settings, mapping) = journeys_of(&args.source)?;
    let Some(id) = journeys.customer_id(&args.customer_id) else {
        return Err(usage(anyhow!(
            "customer `{}` not found in {} ({} customers; `journeyscope customers` lists them)",
            crate::format::printable(&args.customer_id),
            crate::format::printable(&args.source.path.display().to_string()),
            crate::format::thousands(journeys.customer_count() as u64)
        )));
    };
    let records = records_of(&args.source.path, &settings, &mapping, &args.customer_id)?;
    let mut used = vec![false; records.len()];
    let sessions: Vec<TimelineSession> = journeys
        .sessions_of(id)
        .into_iter()
        .map(|session| TimelineSession {
            start: rfc3339(session.first().map_or(0, |e| e.time_us)),
            end: rfc3339(session.last().map_or(0, |e| e.time_us)),
            events: session
                .iter()
                .map(|e| TimelineEvent {
                    time: rfc3339(e.time_us),
                    touchpoint: journeys.touchpoint_name(e.touchpoint).to_owned(),
                    properties: properties_at(&records, &mut used, e.time_us),
                })
                .collect(),
        })
        .collect();
    let text = match args.format {
        TimelineFormat::Json => json_text(&TimelineOut {
            customer: &args.customer_id,
            sessions,
        })?,
        TimelineFormat::Table => timeline_table(&args.customer_id, &sessions),
    };
    print_text(&text)
}

/// The customer's records read again from the source (DuckDB and files
/// alike), for their properties.
fn records_of(
    path: &Path,
    settings: &Settings,
    mapping: &Mapping,
    customer: &str,
) -> Result<Vec<CustomerRecord>, Failure> {
    customer_records(path, &settings.source, mapping, customer, &|| false).map_err(source_failure)
}

/// The properties of the first record not used yet that happened at
/// `time_us` (duplicates the engine dropped leave theirs unused).
fn properties_at(
    records: &[CustomerRecord],
    used: &mut [bool],
    time_us: i64,
) -> serde_json::Map<String, serde_json::Value> {
    let Some(k) = (0..records.len()).find(|&k| !used[k] && records[k].time_us == time_us) else {
        return serde_json::Map::new();
    };
    used[k] = true;
    records[k]
        .properties
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect()
}

/// The timeline as text: a block per session, a line per event.
fn timeline_table(customer: &str, sessions: &[TimelineSession]) -> String {
    use std::fmt::Write as _;
    let printable = |s: &str| crate::format::printable(s).into_owned();
    let mut out = format!(
        "Customer {}: {}\n",
        printable(customer),
        crate::format::plural(sessions.len(), "session")
    );
    for (k, session) in sessions.iter().enumerate() {
        let _ = writeln!(
            out,
            "\nSession {} · {} to {} · {}",
            k + 1,
            session.start,
            session.end,
            crate::format::plural(session.events.len(), "event")
        );
        for event in &session.events {
            let properties: Vec<String> = event
                .properties
                .iter()
                .map(|(name, value)| {
                    format!(
                        "{}={}",
                        printable(name),
                        printable(value.as_str().unwrap_or(""))
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "  {}  {:<24} {}",
                event.time,
                printable(&event.touchpoint),
                properties.join("  ")
            );
        }
    }
    out
}
