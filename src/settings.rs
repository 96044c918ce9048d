//! Journey and mapping settings: what the mapping flags (or the app's
//! settings panel) ask for, checked and turned into source options and an
//! engine configuration; and the bundled sample data. Below the app and the
//! commands, which both start from it.

use std::io::Write;
use std::time::Duration;

use thiserror::Error;

use crate::cli::MappingArgs;
use crate::engine::{EngineConfig, FunnelSpec, TouchpointRules};
use crate::source::{MappingOverrides, SourceOptions};

/// The bundled sample data (see `sample_data/README.md`).
pub const SAMPLE_DATA: &[u8] = include_bytes!("../sample_data/ecommerce.jsonl.zst");
/// File name of the bundled sample data.
pub const SAMPLE_NAME: &str = "ecommerce.jsonl.zst";

/// A setting that cannot be used, said as the flag it came from.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl SettingsError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        SettingsError(message.into())
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
pub fn parse_duration(text: &str, flag: &str, examples: &str) -> Result<Duration, SettingsError> {
    humantime::parse_duration(text.trim())
        .map_err(|e| SettingsError(format!("--{flag} `{text}`: {e} (write it like {examples})")))
}

fn parse_duration_us(text: &str, flag: &str) -> Result<i64, SettingsError> {
    let d = parse_duration(text, flag, "30m, 1h or 90s")?;
    Ok(d.as_micros().min(i64::MAX as u128) as i64)
}

/// Interprets the mapping flags.
pub fn settings(
    args: &MappingArgs,
    table: Option<String>,
    query: Option<String>,
) -> Result<Settings, SettingsError> {
    let rules = TouchpointRules::parse(&args.rename, &args.split_by, &args.exclude)
        .map_err(|e| SettingsError(crate::format::error_chain(&e)))?;
    let session_timeout_us = match args.session_timeout.trim() {
        "none" | "off" | "never" => None,
        text => Some(parse_duration_us(text, "session-timeout")?),
    };
    let delimiter = match args.delimiter.as_deref() {
        None => None,
        Some("tab" | "\\t" | "\t") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(SettingsError(format!(
                "--delimiter `{d}` must be one character or `tab`"
            )));
        }
    };
    let timezone = match &args.timezone {
        None => None,
        Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
            SettingsError(format!(
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

/// Writes the bundled sample data to a private temporary file.
pub fn sample_data_file() -> std::io::Result<tempfile::TempPath> {
    let mut file = tempfile::Builder::new()
        .prefix("journeyscope-sample-")
        .suffix(".jsonl.zst")
        .tempfile()?;
    file.write_all(SAMPLE_DATA)?;
    Ok(file.into_temp_path())
}
