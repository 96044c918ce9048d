//! What each subcommand does. `main.rs` only parses and reports errors.

mod bench;
mod bench_kafka;
pub mod bench_map;
pub mod live;
mod produce;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::app::Command as AppCommand;
use crate::cli::{
    Cli, Command, DemoArgs, ExportArgs, GenerateArgs, MappingArgs, OutputFormat, SourceArgs,
    SummarizeArgs,
};
use crate::engine::{EngineConfig, FunnelSpec, TouchpointRules};
use crate::generate::{GenerateOptions, WriteOptions, write_sample_with};
use crate::report::{Summary, to_csv, to_dot, to_table};
use crate::source::{self, MappingOverrides, SourceError, SourceOptions};

/// The bundled sample data (see `sample_data/README.md`).
pub const SAMPLE_DATA: &[u8] = include_bytes!("../../sample_data/ecommerce.jsonl.zst");
/// File name of the bundled sample data.
pub const SAMPLE_NAME: &str = "ecommerce.jsonl.zst";

/// How a command failed, which decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// The command line asks for something impossible (exit status 2).
    Usage(anyhow::Error),
    /// The work could not be done, e.g. the source cannot be read (exit status 1).
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Failed(e)
    }
}

fn usage(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Usage(e.into())
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        None => Ok(crate::app::run(
            settings(&MappingArgs::defaults(), None, None)?,
            None,
        )?),
        Some(Command::Open(args)) => {
            let settings = settings(&args.mapping, args.table.clone(), args.query.clone())?;
            // The app reads a source again (timelines, new rules): what
            // cannot be read twice is copied first.
            let open =
                match source::input::copy_if_not_a_file(&args.path).map_err(source_failure)? {
                    Some(copy) => AppCommand::OpenCopy {
                        copy: std::sync::Arc::new(copy),
                        label: args.path.display().to_string(),
                    },
                    None => AppCommand::OpenPath(args.path.clone()),
                };
            Ok(crate::app::run(settings, Some(open))?)
        }
        Some(Command::Summarize(args)) => summarize(&args),
        Some(Command::Export(args)) => export(&args),
        Some(Command::Demo(args)) => demo(&args),
        Some(Command::Live(args)) => live::live(&args),
        Some(Command::Produce(args)) => produce::produce(&args),
        Some(Command::Generate(args)) => generate(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::BenchEngine { path }) => bench::engine_child(&path),
    }
}

/// A journey configuration and source options from the mapping flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How to read.
    pub source: SourceOptions,
    /// How to build journeys.
    pub engine: EngineConfig,
    /// The funnel asked for.
    pub funnel: Option<FunnelSpec>,
}

/// Reads the duration given to `--flag`; a mistake is explained with
/// `examples` ("30m, 1h or 90s").
fn parse_duration(text: &str, flag: &str, examples: &str) -> Result<std::time::Duration, Failure> {
    humantime::parse_duration(text.trim())
        .map_err(|e| usage(anyhow!("--{flag} `{text}`: {e} (write it like {examples})")))
}

fn parse_duration_us(text: &str, flag: &str) -> Result<i64, Failure> {
    let d = parse_duration(text, flag, "30m, 1h or 90s")?;
    Ok(d.as_micros().min(i64::MAX as u128) as i64)
}

/// Interprets the mapping flags.
pub fn settings(
    args: &MappingArgs,
    table: Option<String>,
    query: Option<String>,
) -> Result<Settings, Failure> {
    let rules =
        TouchpointRules::parse(&args.rename, &args.split_by, &args.exclude).map_err(usage)?;
    let session_timeout_us = match args.session_timeout.trim() {
        "none" | "off" | "never" => None,
        text => Some(parse_duration_us(text, "session-timeout")?),
    };
    let delimiter = match args.delimiter.as_deref() {
        None => None,
        Some("tab" | "\\t" | "\t") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(usage(anyhow!(
                "--delimiter `{d}` must be one character or `tab`"
            )));
        }
    };
    let timezone = match &args.timezone {
        None => None,
        Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
            usage(anyhow!(
                "--timezone `{zone}` is not a time zone; use a name like Europe/Amsterdam or UTC"
            ))
        })?),
    };
    let funnel = if args.funnel.is_empty() {
        None
    } else {
        let within_us = args
            .within
            .as_deref()
            .map(|w| parse_duration_us(w, "within"))
            .transpose()?;
        Some(FunnelSpec {
            steps: args.funnel.iter().map(|s| s.trim().to_owned()).collect(),
            within_us,
        })
    };
    let wanted_properties = rules.wanted_properties();
    Ok(Settings {
        source: SourceOptions {
            overrides: MappingOverrides {
                customer: args.customer.clone(),
                event: args.event.clone(),
                time: args.time.clone(),
                event_id: args.event_id.clone(),
                session_id: args.session_id.clone(),
            },
            delimiter,
            timezone,
            table,
            query,
            wanted_properties,
        },
        engine: EngineConfig {
            session_timeout_us,
            rules,
            collapse_repeats: args.collapse_repeats,
        },
        funnel,
    })
}

fn source_failure(e: SourceError) -> Failure {
    match e {
        SourceError::Usage(_) | SourceError::Schema(source::SchemaError::UnknownColumn { .. }) => {
            Failure::Usage(e.into())
        }
        other => Failure::Failed(other.into()),
    }
}

/// Reads a source and summarises it.
pub fn summarize_path(path: &Path, label: &str, settings: Settings) -> Result<Summary, Failure> {
    let mut source = source::open(path, &settings.source).map_err(source_failure)?;
    let journeys = source::load(source.as_mut(), settings.engine).map_err(source_failure)?;
    if source.is_empty_input() {
        eprintln!(
            "note: {} is empty: 0 events",
            crate::format::printable(label)
        );
    }
    Ok(Summary::new(
        label,
        source.mapping(),
        &journeys,
        settings.funnel.as_ref(),
    ))
}

fn print_summary(summary: &Summary, format: OutputFormat) -> Result<(), Failure> {
    let text = match format {
        OutputFormat::Table => to_table(summary),
        OutputFormat::Json => summary.to_json() + "\n",
        OutputFormat::Csv => to_csv(summary),
        OutputFormat::Dot => to_dot(summary),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()) {
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Failed(e.into())),
        _ => Ok(()),
    }
}

/// The summary of the source the command line names.
fn summary_of(source: &SourceArgs) -> Result<Summary, Failure> {
    let settings = settings(&source.mapping, source.table.clone(), source.query.clone())?;
    summarize_path(&source.path, &source.path.display().to_string(), settings)
}

fn summarize(args: &SummarizeArgs) -> Result<(), Failure> {
    print_summary(&summary_of(&args.source)?, args.format)
}

fn export(args: &ExportArgs) -> Result<(), Failure> {
    let summary = summary_of(&args.source)?;
    let source = args.source.path.as_path();
    crate::export::export(&summary, &args.out, &[source]).map_err(|e| match e {
        crate::export::ExportError::UnknownFormat(_)
        | crate::export::ExportError::IsTheSource(_) => usage(e),
        other => Failure::Failed(other.into()),
    })
}

/// Writes the bundled sample data to a private temporary file.
pub fn sample_data_file() -> anyhow::Result<tempfile::TempPath> {
    let mut file = tempfile::Builder::new()
        .prefix("journeyscope-sample-")
        .suffix(".jsonl.zst")
        .tempfile()
        .context("cannot create a temporary file for the sample data")?;
    file.write_all(SAMPLE_DATA)
        .context("cannot write the sample data to a temporary file")?;
    Ok(file.into_temp_path())
}

fn demo(args: &DemoArgs) -> Result<(), Failure> {
    let settings = settings(&args.mapping, None, None)?;
    if !args.headless {
        return Ok(crate::app::run(settings, Some(AppCommand::OpenDemo))?);
    }
    let path = sample_data_file()?;
    let summary = summarize_path(&path, &format!("sample data ({SAMPLE_NAME})"), settings)?;
    print_summary(&summary, args.format)
}

fn generate(args: &GenerateArgs) -> Result<(), Failure> {
    let options = GenerateOptions {
        events: args.events,
        seed: args.seed,
        messy: !args.clean,
    };
    let write_options = WriteOptions {
        compression_level: args.compression_level,
    };
    let report = write_sample_with(&args.out, &options, &write_options)
        .map_err(|e| Failure::Failed(e.into()))?;
    eprintln!(
        "wrote {} records to {} ({} events, {} duplicates, {} late, {} malformed)",
        report.records,
        args.out.display(),
        report.events,
        report.duplicates,
        report.late,
        report.malformed
    );
    Ok(())
}
