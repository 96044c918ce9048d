//! Journey and mapping settings: source options, an engine configuration
//! and the questions asked (`commands::mapping` reads them from the mapping
//! flags, the app's settings panel edits them), the pieces both check them
//! with, the alert rules file, and the bundled sample data. Below the app
//! and the commands, which both start from it; it knows no command line.

use std::io::Write;
use std::time::Duration;

use thiserror::Error;

use crate::engine::{CompareSpec, EngineConfig, Segment, TouchpointRules};
use crate::report::Questions;
use crate::source::{CHANNEL, SourceOptions, TimeParser};

mod alert_checks;
#[cfg(test)]
mod alert_checks_tests;
mod alert_file;
#[cfg(test)]
mod alert_file_tests;
mod journey_file;
mod rule_draft;
mod trigger_file;
pub use alert_checks::{MAX_RULES_FILE_BYTES, topic_problem, webhook_problem};
pub use alert_file::{
    RulesFile, alert_rules, alert_rules_text, default_alert_rules, default_alerts_file,
    default_rules_journeys, read_alert_rules, read_rules_file, rules_file, rules_file_text,
};
pub use journey_file::expected_journey;
pub use rule_draft::RuleDraft;
pub use trigger_file::{TriggerText, trigger_of, trigger_text};

/// The bundled sample data (see `sample_data/README.md`).
pub const SAMPLE_DATA: &[u8] = include_bytes!("../../sample_data/ecommerce.jsonl.zst");
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
    /// The funnel, segment, comparison and paths asked for.
    pub questions: Questions,
}

/// The properties kept per session: `channel` and the `--keep-property`
/// names, each once.
pub fn kept_properties(keep: &[String]) -> Vec<String> {
    let mut kept = vec![CHANNEL.to_owned()];
    for name in keep.iter().map(|k| k.trim()) {
        if !name.is_empty() && !kept.iter().any(|k| k == name) {
            kept.push(name.to_owned());
        }
    }
    kept
}

/// The properties a source must read: those the touchpoint rules need and
/// the `kept` ones (the channel, first, comes from its own column).
pub fn wanted_properties(rules: &TouchpointRules, kept: &[String]) -> Vec<String> {
    let mut wanted = rules.wanted_properties();
    for name in kept.iter().skip(1) {
        if !wanted.contains(name) {
            wanted.push(name.clone());
        }
    }
    wanted
}

/// The environment variable holding the pseudonymization key.
pub const PSEUDONYMIZE_KEY_VARIABLE: &str = "JOURNEYSCOPE_PSEUDONYMIZE_KEY";

/// The shortest pseudonymization key accepted, in bytes: a shorter one can
/// be guessed by trying keys against one known id, and then every pseudonym
/// made with it is undone.
pub const MIN_KEY_BYTES: usize = 16;

/// The largest key file read, in bytes (a key is tens of bytes; a larger
/// file is not a key).
const MAX_KEY_FILE_BYTES: u64 = 64 << 10;

/// How to make a good key, for the messages that refuse one.
fn how_to_make_a_key() -> String {
    format!(
        "make one with `head -c 32 /dev/urandom | base64 > pseudonym.key` and pass \
         --pseudonymize-key-file pseudonym.key, or set {PSEUDONYMIZE_KEY_VARIABLE}; keep it, or \
         the same customers get other pseudonyms"
    )
}

/// The pseudonyms of the key in `key_file` (a final line break left out),
/// or in the environment variable when no file is given. A key shorter
/// than [`MIN_KEY_BYTES`] is refused; a key file other users can read is
/// used with a warning that says how to make it private.
pub fn pseudonymizer_of(
    key_file: Option<&std::path::Path>,
) -> Result<crate::source::pseudonym::Pseudonymizer, SettingsError> {
    let key = match key_file {
        Some(path) => read_key_file(path)?,
        None => std::env::var_os(PSEUDONYMIZE_KEY_VARIABLE)
            .map(|v| v.into_encoded_bytes())
            .unwrap_or_default(),
    };
    if key.is_empty() {
        return Err(SettingsError(format!(
            "--pseudonymize needs a secret key: {}",
            how_to_make_a_key()
        )));
    }
    if key.len() < MIN_KEY_BYTES {
        let from = key_file.map_or(PSEUDONYMIZE_KEY_VARIABLE.to_owned(), |path| {
            crate::format::printable(&path.display().to_string()).into_owned()
        });
        return Err(SettingsError(format!(
            "the pseudonymization key in {from} is {} long; a key needs at least \
             {MIN_KEY_BYTES} bytes, or whoever knows one customer's id can guess it and undo \
             every pseudonym: {}",
            crate::format::plural(key.len(), "byte"),
            how_to_make_a_key()
        )));
    }
    Ok(crate::source::pseudonym::Pseudonymizer::new(&key))
}

/// The key in `path`, a final line break left out; warns when other users
/// may read the file.
fn read_key_file(path: &std::path::Path) -> Result<Vec<u8>, SettingsError> {
    use std::io::Read;
    let shown = crate::format::printable(&path.display().to_string()).into_owned();
    let cannot = |e: std::io::Error| {
        SettingsError(format!("cannot read the pseudonymization key {shown}: {e}"))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    #[cfg(unix)]
    if let Ok(metadata) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if metadata.is_file() && mode & 0o077 != 0 {
            let plain = shown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b));
            let argument = match plain {
                true => shown.clone(),
                false => format!("'{}'", shown.replace('\'', "'\\''")),
            };
            log::warn!(
                "the pseudonymization key {shown} can be read by other users (mode {mode:04o}): \
                 whoever reads it can undo the pseudonyms; make it yours alone with `chmod 600 \
                 {argument}`"
            );
        }
    }
    let mut key = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut key)
        .map_err(cannot)?;
    if key.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(SettingsError(format!(
            "{shown} is larger than {} and not a pseudonymization key: {}",
            crate::format::plural(MAX_KEY_FILE_BYTES as usize, "byte"),
            how_to_make_a_key()
        )));
    }
    while key.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        key.pop();
    }
    Ok(key)
}

/// Reads a segment expression, its times in `timezone`'s zone.
pub fn parse_segment(text: &str, parser: TimeParser) -> Result<Segment, SettingsError> {
    Segment::parse(text, &|t| parser.parse_str(t)).map_err(|e| SettingsError(e.to_string()))
}

/// What `--compare A [--compare B]` (or the app's A vs B) asks: two
/// segments, A against every other session, or `previous-period`.
pub fn compare_spec(
    a: &str,
    b: Option<&str>,
    parser: TimeParser,
) -> Result<CompareSpec, SettingsError> {
    const PREVIOUS: &str = "previous-period";
    match (a.trim(), b.map(str::trim)) {
        (PREVIOUS, None) => Ok(CompareSpec::PreviousPeriod),
        (PREVIOUS, Some(_)) | (_, Some(PREVIOUS)) => Err(SettingsError(
            "--compare previous-period compares the data's two halves and takes no second \
             --compare"
                .into(),
        )),
        (a, b) => Ok(CompareSpec::Segments {
            a: parse_segment(a, parser)?,
            b: b.map(|b| parse_segment(b, parser)).transpose()?,
        }),
    }
}

/// Reads the duration given to `--flag`; a mistake is explained with
/// `examples` ("30m, 1h or 90s").
pub fn parse_duration(text: &str, flag: &str, examples: &str) -> Result<Duration, SettingsError> {
    humantime::parse_duration(text.trim())
        .map_err(|e| SettingsError(format!("--{flag} `{text}`: {e} (write it like {examples})")))
}

/// [`parse_duration`] in µs (with examples for sessions and funnels).
pub fn parse_duration_us(text: &str, flag: &str) -> Result<i64, SettingsError> {
    let d = parse_duration(text, flag, "30m, 1h or 90s")?;
    Ok(d.as_micros().min(i64::MAX as u128) as i64)
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
