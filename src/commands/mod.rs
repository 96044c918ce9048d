//! What each subcommand does. `main.rs` only parses and reports errors.

mod bench;
mod bench_data;
mod bench_floor;
mod bench_formats;
mod bench_heap;
mod bench_journeys;
mod bench_kafka;
pub mod bench_map;
mod bench_memory;
mod bench_triggers;
mod bench_workers;
mod customers;
pub mod live;
mod live_merged;
mod live_window;
mod mapping;
mod produce;
mod produce_values;
mod worker;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use crate::app::Command as AppCommand;
use crate::cli::{
    Cli, Command, DemoArgs, ExportArgs, GenerateArgs, MappingArgs, OutputFormat, SourceArgs,
    SummarizeArgs,
};

use crate::generate::{GenerateOptions, WriteOptions, write_sample_with};
use crate::report::{Summary, to_csv, to_dot, to_table};
use crate::settings::{SAMPLE_NAME, Settings, SettingsError, sample_data_file};
use crate::source::{self, SourceError};

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

/// Set by a run that finishes its work on SIGINT or SIGTERM instead of
/// ending at once (see [`finish_asked`]).
static ON_SIGNAL_FINISH: AtomicBool = AtomicBool::new(false);

/// Set when such a run has been asked to finish.
static FINISH_ASKED: AtomicBool = AtomicBool::new(false);

/// From now on, SIGINT and SIGTERM ask the run to finish (see
/// [`finish_asked`]) rather than end the process; a second one still ends it.
pub fn finish_on_signals() {
    ON_SIGNAL_FINISH.store(true, Ordering::Relaxed);
}

/// True once SIGINT or SIGTERM asked a run that finishes its work to.
pub fn finish_asked() -> bool {
    FINISH_ASKED.load(Ordering::Relaxed)
}

/// Removes Journeyscope's temporary files (see [`crate::files`]) when
/// SIGINT, SIGTERM or SIGHUP ends the process, which then ends as the
/// signal would have ended it (the same exit status). A signal the process
/// was started ignoring (`nohup` ignores SIGHUP) stays ignored.
pub fn remove_temporaries_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let ignored = |signal: libc::c_int| {
        let mut action = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: with no new action, sigaction only fills in the current one.
        let asked = unsafe { libc::sigaction(signal, std::ptr::null(), action.as_mut_ptr()) };
        // SAFETY: zeroed, then filled by sigaction when it succeeded.
        asked == 0 && unsafe { action.assume_init() }.sa_sigaction == libc::SIG_IGN
    };
    let watched: Vec<libc::c_int> = [SIGINT, SIGTERM, SIGHUP]
        .into_iter()
        .filter(|s| !ignored(*s))
        .collect();
    let mut signals = signal_hook::iterator::Signals::new(watched)?;
    // Watches for the whole run: its thread is never joined.
    crate::background::start(
        "signals",
        move || {
            for signal in signals.forever() {
                // A run that finishes its work when asked (a worker) is
                // asked by the first signal; a second ends it at once.
                if signal != SIGHUP
                    && ON_SIGNAL_FINISH.load(Ordering::Relaxed)
                    && !FINISH_ASKED.swap(true, Ordering::Relaxed)
                {
                    continue;
                }
                crate::files::remove_temporaries();
                // It returns only if the signal could not be raised again.
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
            Ok(())
        },
        |outcome| {
            if let Err(why) = outcome {
                log::error!("watching for signals failed: {why}");
            }
        },
    )
    .map_err(std::io::Error::other)?;
    Ok(())
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        None => Ok(crate::ui::window::run(
            settings(&MappingArgs::defaults(), None, None)?,
            None,
        )?),
        Some(Command::Open(args)) => {
            let settings = source_settings(&args)?;
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
            Ok(crate::ui::window::run(settings, Some(open))?)
        }
        Some(Command::Summarize(args)) => summarize(&args),
        Some(Command::Export(args)) => export(&args),
        Some(Command::Customers(args)) => customers::customers(&args),
        Some(Command::Timeline(args)) => customers::timeline(&args),
        Some(Command::Demo(args)) => demo(&args),
        Some(Command::Live(args)) => match &args.state_topic {
            Some(state_topic) => live_merged::merged(&args, state_topic),
            None => live::live(&args),
        },
        Some(Command::Produce(args)) => produce::produce(&args),
        Some(Command::Worker(args)) => worker::worker(&args),
        Some(Command::Generate(args)) => generate(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::BenchEngine { path }) => bench::engine_child(&path),
    }
}

impl From<SettingsError> for Failure {
    fn from(e: SettingsError) -> Self {
        Failure::Usage(e.into())
    }
}

/// Interprets the mapping flags (`mapping.rs`); a mistake is a usage
/// error.
pub fn settings(
    args: &MappingArgs,
    table: Option<String>,
    query: Option<String>,
) -> Result<Settings, Failure> {
    Ok(mapping::settings(args, table, query)?)
}

/// Reads the duration given to `--flag`, as a usage error when it is not one.
fn parse_duration(text: &str, flag: &str, examples: &str) -> Result<std::time::Duration, Failure> {
    Ok(crate::settings::parse_duration(text, flag, examples)?)
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
    let questions = settings.questions.clone();
    let mut source = source::open(path, &settings.source).map_err(source_failure)?;
    let journeys =
        source::load(source.as_mut(), &settings.source, settings.engine).map_err(source_failure)?;
    log::debug!(
        "kept properties {:?}: {} bytes for {} sessions",
        journeys.kept_properties(),
        journeys.kept_property_bytes(),
        journeys.sessions
    );
    if source.is_empty_input() {
        eprintln!(
            "note: {} is empty: 0 events",
            crate::format::printable(label)
        );
    }
    Summary::answer(label, source.mapping(), &journeys, &questions).map_err(usage)
}

fn print_summary(summary: &Summary, format: OutputFormat) -> Result<(), Failure> {
    let text = match format {
        OutputFormat::Table => to_table(summary),
        OutputFormat::Json => summary.to_json() + "\n",
        OutputFormat::Csv => to_csv(summary),
        OutputFormat::Dot => to_dot(summary),
    };
    print_text(&text)
}

/// Writes `text` to standard output; a closed pipe is no error.
fn print_text(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()) {
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Failed(e.into())),
        _ => Ok(()),
    }
}

/// The settings a source's flags ask for: the mapping flags and DuckDB's.
fn source_settings(args: &SourceArgs) -> Result<Settings, Failure> {
    let mut settings = settings(&args.mapping, args.table.clone(), args.query.clone())?;
    settings.source.duckdb_memory_limit = args.duckdb_memory_limit.clone();
    Ok(settings)
}

/// The summary of the source the command line names.
fn summary_of(source: &SourceArgs) -> Result<Summary, Failure> {
    let settings = source_settings(source)?;
    summarize_path(&source.path, &source.path.display().to_string(), settings)
}

fn summarize(args: &SummarizeArgs) -> Result<(), Failure> {
    let mut settings = source_settings(&args.source)?;
    settings.questions.all_actions = args.actions.is_some();
    let label = args.source.path.display().to_string();
    let summary = summarize_path(&args.source.path, &label, settings)?;
    if let Some(out) = &args.actions {
        write_actions(out, &args.source.path, &summary.trigger_actions)?;
    }
    print_summary(&summary, args.format)
}

/// Writes `actions` to `out` as JSON lines (never over the source).
fn write_actions(
    out: &Path,
    source: &Path,
    actions: &[crate::engine::triggers::Action],
) -> Result<(), Failure> {
    if crate::export::same_file(out, source) {
        return Err(usage(anyhow::anyhow!(
            "--actions {} is the source itself; give another file",
            crate::format::printable(&out.display().to_string())
        )));
    }
    let mut text = String::new();
    for action in actions {
        text.push_str(&serde_json::to_string(action).unwrap_or_default());
        text.push('\n');
    }
    crate::files::write_whole(out, crate::files::Kind::Export, text.as_bytes())
        .with_context(|| format!("cannot write the actions to {}", out.display()))
        .map_err(Failure::Failed)
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

fn demo(args: &DemoArgs) -> Result<(), Failure> {
    let settings = settings(&args.mapping, None, None)?;
    if !args.headless {
        return Ok(crate::ui::window::run(
            settings,
            Some(AppCommand::OpenDemo),
        )?);
    }
    let path = sample_data_file().context("cannot write the sample data to a temporary file")?;
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
