//! The mapping flags (`MappingArgs`, shared by the subcommands that read
//! events) read into settings: source options, an engine configuration
//! and the questions asked.

use crate::cli::MappingArgs;
use crate::engine::VariantsSpec;
use crate::engine::{EngineConfig, FunnelSpec, PathsAnchor, PathsSpec, TouchpointRules};
use crate::report::Questions;
use crate::settings::{
    RulesFile, Settings, SettingsError, compare_spec, expected_journey, kept_properties,
    parse_duration_us, parse_segment, pseudonymizer_of, read_rules_file, wanted_properties,
};
use crate::source::{MappingOverrides, SourceOptions, TimeParser};

/// With `--pseudonymize`, the pseudonyms of the key given; refused without
/// one, saying how to make one.
fn pseudonymizer(
    args: &MappingArgs,
) -> Result<Option<crate::source::pseudonym::Pseudonymizer>, SettingsError> {
    if !args.pseudonymize {
        return Ok(None);
    }
    pseudonymizer_of(args.pseudonymize_key_file.as_deref()).map(Some)
}

fn questions(
    args: &MappingArgs,
    funnel: Option<FunnelSpec>,
    parser: TimeParser,
) -> Result<Questions, SettingsError> {
    let segment = args
        .segment
        .as_deref()
        .map(|s| parse_segment(s, parser))
        .transpose()?;
    let compare = match args.compare.as_slice() {
        [] => None,
        [a] => Some(compare_spec(a, None, parser)?),
        [a, b] => Some(compare_spec(a, Some(b), parser)?),
        _ => {
            return Err(SettingsError::new(
                "--compare is given at most twice: A and B, or A against everyone else",
            ));
        }
    };
    let paths_asked = args.paths || args.paths_from.is_some() || args.paths_to.is_some();
    let paths = if paths_asked {
        if args.depth == 0 || args.paths_top == 0 {
            return Err(SettingsError::new(
                "--depth and --paths-top must be at least 1",
            ));
        }
        let anchor = match (&args.paths_from, &args.paths_to) {
            (Some(x), _) => PathsAnchor::From(x.trim().to_owned()),
            (None, Some(y)) => PathsAnchor::To(y.trim().to_owned()),
            (None, None) => PathsAnchor::Start,
        };
        Some(PathsSpec {
            anchor,
            depth: args.depth,
            top: args.paths_top,
        })
    } else {
        None
    };
    let variants = args.variants.then(|| VariantsSpec {
        top: args.top,
        goal: args.goal.as_deref().map(str::trim).map(str::to_owned),
    });
    let file = match &args.rules {
        Some(path) => read_rules_file(path, parser)?,
        None => RulesFile::default(),
    };
    let journey = args
        .journey
        .as_deref()
        .map(|text| expected_journey(text, &file.journeys))
        .transpose()?;
    Ok(Questions {
        funnel,
        segment,
        compare,
        paths,
        explain: args.explain,
        variants,
        journey,
        triggers: file.triggers,
        all_actions: false,
    })
}

/// Interprets the mapping flags.
pub(super) fn settings(
    args: &MappingArgs,
    table: Option<String>,
    query: Option<String>,
) -> Result<Settings, SettingsError> {
    let rules = TouchpointRules::parse(&args.rename, &args.split_by, &args.exclude)
        .map_err(|e| SettingsError::new(crate::format::error_chain(&e)))?;
    let session_timeout_us = match args.session_timeout.trim() {
        "none" | "off" | "never" => None,
        text => Some(parse_duration_us(text, "session-timeout")?),
    };
    let delimiter = match args.delimiter.as_deref() {
        None => None,
        Some("tab" | "\\t" | "\t") => Some(b'\t'),
        Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
        Some(d) => {
            return Err(SettingsError::new(format!(
                "--delimiter `{d}` must be one character or `tab`"
            )));
        }
    };
    let timezone = match &args.timezone {
        None => None,
        Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
            SettingsError::new(format!(
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
    let kept_properties = kept_properties(&args.keep_property);
    let wanted_properties = wanted_properties(&rules, &kept_properties);
    let questions = questions(args, funnel, TimeParser::new(timezone))?;
    let source = SourceOptions {
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
        pseudonymize: pseudonymizer(args)?,
        keep_only_chosen: false,
        hidden_properties: args.hide_property.clone(),
        duckdb_memory_limit: None,
        parquet_through_duckdb: false,
    };
    Ok(Settings {
        engine: EngineConfig {
            session_timeout_us,
            rules,
            collapse_repeats: args.collapse_repeats,
            kept_properties,
            withhold_unmasked_records: source.masks_records(),
        },
        source,
        questions,
    })
}
