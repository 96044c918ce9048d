//! Alert rule files: `[[rule]]` tables in TOML, read into rules and written
//! back (the app's Alerts panel saves through here).

use serde::{Deserialize, Serialize};

use crate::engine::ExpectedJourney;
use crate::engine::alerts::{AlertKind, AlertRule, Baseline, LagUnit, RuleOutputs};
use crate::source::TimeParser;

use super::alert_checks::{
    check_count, check_name, check_size, never_fires, quoted, topic_problem, webhook_problem,
};
use super::journey_file::{JourneyText, expected_journey, journeys_of};
use super::trigger_file::{TriggerText, trigger_text, triggers_of};
use super::{SettingsError, parse_segment};
use crate::engine::triggers::{TriggerKind, TriggerRule};

/// A funnel step named by its touchpoint or by its place (1 = the first).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum StepText {
    Place(usize),
    Name(String),
}

/// A `[[rule]]` of an alert rules file, as written.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleText {
    name: String,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    touchpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<StepText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drop: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rise: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    below: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    above: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_sessions: Option<u64>,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    hold: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    brokers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    journey: Option<String>,
}

/// A rules file: `[[rule]]` (alert rules), `[[trigger]]` and `[[journey]]`
/// tables.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RulesText {
    #[serde(default)]
    rule: Vec<RuleText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trigger: Vec<TriggerText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    journey: Vec<JourneyText>,
}

/// What a rules file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulesFile {
    /// Its alert rules (`[[rule]]`).
    pub alerts: Vec<AlertRule>,
    /// Its expected journeys (`[[journey]]`), by name.
    pub journeys: Vec<ExpectedJourney>,
    /// Its per-customer triggers (`[[trigger]]`).
    pub triggers: Vec<TriggerRule>,
}

/// Reads the alert rules in `text` (TOML), their segments' times in
/// `parser`'s zone.
pub fn alert_rules(text: &str, parser: TimeParser) -> Result<Vec<AlertRule>, SettingsError> {
    rules_file(text, parser).map(|file| file.alerts)
}

/// Reads a rules file's text (TOML): its alert rules, their segments'
/// times in `parser`'s zone, and its expected journeys.
pub fn rules_file(text: &str, parser: TimeParser) -> Result<RulesFile, SettingsError> {
    check_size(text.len() as u64, "the alert rules text")?;
    let file: RulesText =
        toml::from_str(text).map_err(|e| SettingsError(format!("alert rules: {e}")))?;
    let journeys = journeys_of(&file.journey)?;
    check_count(file.rule.len())?;
    for (k, rule) in file.rule.iter().enumerate() {
        check_name(&rule.name, k + 1)?;
    }
    let rules: Vec<AlertRule> = file
        .rule
        .into_iter()
        .map(|r| rule_of(r, parser, &journeys))
        .collect::<Result<_, _>>()?;
    for (k, rule) in rules.iter().enumerate() {
        if rules[..k].iter().any(|r| r.name == rule.name) {
            return Err(SettingsError(format!(
                "two alert rules are called `{}`: alerts are keyed by the rule's name, give \
                 each its own",
                quoted(&rule.name)
            )));
        }
    }
    let triggers = triggers_of(&file.trigger, parser, &journeys)?;
    Ok(RulesFile {
        alerts: rules,
        journeys,
        triggers,
    })
}

pub(super) fn rule_of(
    r: RuleText,
    parser: TimeParser,
    journeys: &[ExpectedJourney],
) -> Result<AlertRule, SettingsError> {
    check_name(&r.name, 1)?;
    let shown = quoted(&r.name);
    let named = |what: &str| SettingsError(format!("alert rule `{shown}`: {what}"));
    let time = |text: &str, field: &str| {
        let us = humantime::parse_duration(text)
            .map_err(|e| named(&format!("{field} `{text}`: {e} (try 15m, 1h or 1d)")))?
            .as_micros();
        i64::try_from(us).map_err(|_| named(&format!("{field} `{text}` is too long")))
    };
    let needs = |v: &Option<String>, field: &str| {
        v.clone()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| named(&format!("a {} rule needs `{field}`", r.kind)))
    };
    let kind = match r.kind.as_str() {
        "transition_share" => AlertKind::TransitionShare {
            from: needs(&r.from, "from")?,
            to: needs(&r.to, "to")?,
        },
        "exit_share" => AlertKind::ExitShare {
            touchpoint: needs(&r.touchpoint, "touchpoint")?,
        },
        "volume" => AlertKind::Volume {
            touchpoint: needs(&r.touchpoint, "touchpoint")?,
        },
        "funnel_step" => funnel_step(&r).map_err(|e| named(&e))?,
        "lag" => AlertKind::Lag {
            unit: match r.unit.as_deref() {
                None | Some("messages") => LagUnit::Messages,
                Some("seconds") => LagUnit::Seconds,
                Some(other) => {
                    return Err(named(&format!(
                        "unit `{other}`: a lag rule counts `messages` or `seconds`"
                    )));
                }
            },
        },
        "rejected_rate" => AlertKind::RejectedRate,
        "conformance" => AlertKind::Conformance {
            journey: expected_journey(&needs(&r.journey, "journey")?, journeys)
                .map_err(|e| named(&e.0))?,
        },
        other => {
            return Err(named(&format!(
                "kind `{other}` is not one this version checks; kinds are {}",
                AlertKind::NAMES.join(", ")
            )));
        }
    };
    let fixed_only = matches!(
        kind,
        AlertKind::Volume { .. } | AlertKind::Lag { .. } | AlertKind::RejectedRate
    );
    let window_us = match (&r.window, &kind) {
        (_, AlertKind::Lag { .. }) => 0,
        (Some(window), _) => time(window, "window")?,
        (None, _) => return Err(named("give its `window` (15m, 1h …)")),
    };
    let fixed = r.below.is_some() || r.above.is_some();
    let baseline = match (r.baseline.as_deref(), fixed) {
        (_, true) => Baseline::Fixed {
            below: r.below,
            above: r.above,
        },
        (Some("previous") | None, false) => Baseline::Back {
            back_us: window_us,
            drop: r.drop,
            rise: r.rise,
        },
        (Some(back), false) => Baseline::Back {
            back_us: time(back, "baseline")?,
            drop: r.drop,
            rise: r.rise,
        },
    };
    if fixed_only && !fixed {
        return Err(named(match kind {
            AlertKind::Volume { .. } => "a volume rule takes `below` or `above` events per minute",
            AlertKind::Lag { .. } => "a lag rule takes `above` (messages or seconds behind)",
            _ => "a rejected_rate rule takes `above` (a share, 0.05 for 5 %)",
        }));
    }
    if let Baseline::Back {
        drop: None,
        rise: None,
        ..
    } = baseline
    {
        return Err(named("give `drop` or `rise` (or fixed `below`/`above`)"));
    }
    if r.segment.is_some() && matches!(kind, AlertKind::Lag { .. } | AlertKind::RejectedRate) {
        return Err(named(
            "a lag or rejected_rate rule watches the whole stream: it takes no segment",
        ));
    }
    let outputs = outputs_of(&r).map_err(|e| named(&e))?;
    let rule = AlertRule {
        outputs,
        segment: r
            .segment
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_segment(s, parser))
            .transpose()?,
        kind,
        window_us,
        baseline,
        min_sessions: r.min_sessions.unwrap_or(0),
        for_us: r.hold.as_deref().map_or(Ok(0), |f| time(f, "for"))?,
        name: r.name.clone(),
    };
    match never_fires(&rule, r.window.as_deref(), r.baseline.as_deref()) {
        Some(why) => Err(named(&why)),
        None => Ok(rule),
    }
}

/// Where a rule's alerts go (`topic`, `brokers`, `webhook`), checked: a
/// topic Kafka accepts, brokers only with a topic, an http(s) webhook.
fn outputs_of(r: &RuleText) -> Result<RuleOutputs, String> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let outputs = RuleOutputs {
        topic: given(&r.topic),
        brokers: given(&r.brokers),
        webhook: given(&r.webhook),
    };
    match (&outputs.topic, &outputs.brokers) {
        (Some(topic), brokers) => topic_problem(topic, brokers.as_deref()).map_or(Ok(()), Err)?,
        (None, Some(_)) => {
            return Err(
                "`brokers` are where its `topic` is: give the topic too, or leave \
                        the brokers out"
                    .to_owned(),
            );
        }
        (None, None) => {}
    }
    if let Some(problem) = outputs.webhook.as_deref().and_then(webhook_problem) {
        return Err(problem);
    }
    Ok(outputs)
}

/// A funnel-step rule's funnel and step (`steps` and `step`, or `from`
/// and `to` for a two-step funnel).
fn funnel_step(r: &RuleText) -> Result<AlertKind, String> {
    let steps = match (&r.steps, &r.from, &r.to) {
        (Some(steps), ..) => steps.clone(),
        (None, Some(from), Some(to)) => vec![from.clone(), to.clone()],
        _ => return Err("a funnel_step rule needs `steps` (and `step`)".to_owned()),
    };
    if steps.len() < 2 {
        return Err("a funnel needs at least two `steps`".to_owned());
    }
    let step = match &r.step {
        None => steps.len() - 1,
        Some(StepText::Place(place)) if (2..=steps.len()).contains(place) => place - 1,
        Some(StepText::Place(place)) => {
            return Err(format!(
                "step {place}: the step watched is one of 2 to {} (the first has no \
                 conversion)",
                steps.len()
            ));
        }
        Some(StepText::Name(name)) => match steps.iter().skip(1).position(|s| s == name) {
            Some(k) => k + 1,
            None => {
                return Err(format!(
                    "step `{name}` is not one of the steps after the first: {}",
                    steps[1..].join(", ")
                ));
            }
        },
    };
    Ok(AlertKind::FunnelStep { steps, step })
}

/// The alert rules in the file at `path`.
pub fn read_alert_rules(
    path: &std::path::Path,
    parser: TimeParser,
) -> Result<Vec<AlertRule>, SettingsError> {
    read_rules_file(path, parser).map(|file| file.alerts)
}

/// The rules file at `path`: its alert rules and expected journeys.
pub fn read_rules_file(
    path: &std::path::Path,
    parser: TimeParser,
) -> Result<RulesFile, SettingsError> {
    use std::io::Read as _;
    let shown = crate::format::printable(&path.display().to_string()).into_owned();
    let cannot =
        |e: std::io::Error| SettingsError(format!("cannot read the alert rules {shown}: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    check_size(
        file.metadata().map_err(cannot)?.len(),
        &format!("the alert rules file {shown}"),
    )?;
    // Read no more than the limit and a byte, whatever the size said (a
    // pipe or a growing file has none).
    let mut bytes = Vec::new();
    file.take(super::MAX_RULES_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    check_size(bytes.len() as u64, &format!("the alert rules file {shown}"))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        SettingsError(format!(
            "the alert rules {shown} are not UTF-8 text: save the file as UTF-8"
        ))
    })?;
    rules_file(&text, parser)
}

/// The rules file the app uses when none is given, with its rules (none
/// when it does not exist yet).
pub fn default_alert_rules(
    parser: TimeParser,
) -> Result<(Vec<AlertRule>, Option<std::path::PathBuf>), SettingsError> {
    let Some(path) = default_alerts_file() else {
        return Ok((Vec::new(), None));
    };
    let rules = match path.exists() {
        true => read_alert_rules(&path, parser)?,
        false => Vec::new(),
    };
    Ok((rules, Some(path)))
}

/// The expected journeys of the app's rules file (none when it cannot be
/// read: the Alerts panel says why).
pub fn default_rules_journeys(parser: TimeParser) -> Vec<ExpectedJourney> {
    default_alerts_file()
        .filter(|path| path.exists())
        .and_then(|path| read_rules_file(&path, parser).ok())
        .map(|file| file.journeys)
        .unwrap_or_default()
}

/// Where the app keeps alert rules when no `--alerts FILE` is given:
/// `$XDG_CONFIG_HOME/journeyscope/alerts.toml` (`~/.config/…` by default).
pub fn default_alerts_file() -> Option<std::path::PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".config")))?;
    Some(config.join("journeyscope").join("alerts.toml"))
}

/// A duration as a rule file writes it (`15m`, `1h 30m`).
fn duration_text(us: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(
        (us.max(0) / 1_000_000) as u64,
    ))
    .to_string()
}

/// `rules` as a rule file (TOML) that [`alert_rules`] reads back as them.
pub fn alert_rules_text(rules: &[AlertRule]) -> String {
    rules_file_text(rules, &[], &[])
}

/// `rules`, `journeys` and `triggers` as a rules file (TOML) that
/// [`rules_file`] reads back as them.
pub fn rules_file_text(
    rules: &[AlertRule],
    journeys: &[ExpectedJourney],
    triggers: &[TriggerRule],
) -> String {
    // The journeys the rules follow are written too, each name once; one
    // named by its steps needs no table.
    let mut all: Vec<&ExpectedJourney> = journeys.iter().collect();
    let followed = rules
        .iter()
        .filter_map(|rule| match &rule.kind {
            AlertKind::Conformance { journey } => Some(journey),
            _ => None,
        })
        .chain(triggers.iter().filter_map(|t| match &t.kind {
            TriggerKind::OffPath { journey } => Some(journey),
            _ => None,
        }));
    for journey in followed {
        if journey.name != journey.to_string() && !all.iter().any(|j| j.name == journey.name) {
            all.push(journey);
        }
    }
    let file = RulesText {
        rule: rules.iter().map(text_of).collect(),
        trigger: triggers.iter().map(trigger_text).collect(),
        journey: all
            .into_iter()
            .map(|j| JourneyText {
                name: j.name.clone(),
                steps: j.to_string(),
            })
            .collect(),
    };
    toml::to_string_pretty(&file).unwrap_or_default()
}

pub(super) fn text_of(rule: &AlertRule) -> RuleText {
    let mut text = RuleText {
        name: rule.name.clone(),
        kind: rule.kind.name().to_owned(),
        segment: rule.segment.as_ref().map(|s| s.text.clone()),
        window: (!matches!(rule.kind, AlertKind::Lag { .. }))
            .then(|| duration_text(rule.window_us)),
        min_sessions: Some(rule.min_sessions).filter(|n| *n > 0),
        hold: Some(rule.for_us).filter(|us| *us > 0).map(duration_text),
        topic: rule.outputs.topic.clone(),
        brokers: rule.outputs.brokers.clone(),
        webhook: rule.outputs.webhook.clone(),
        ..RuleText::default()
    };
    match &rule.kind {
        AlertKind::TransitionShare { from, to } => {
            text.from = Some(from.clone());
            text.to = Some(to.clone());
        }
        AlertKind::ExitShare { touchpoint } | AlertKind::Volume { touchpoint } => {
            text.touchpoint = Some(touchpoint.clone());
        }
        AlertKind::FunnelStep { steps, step } => {
            text.steps = Some(steps.clone());
            text.step = Some(StepText::Place(step + 1));
        }
        AlertKind::Lag { unit } => {
            text.unit = Some(
                match unit {
                    LagUnit::Messages => "messages",
                    LagUnit::Seconds => "seconds",
                }
                .to_owned(),
            );
        }
        AlertKind::RejectedRate => {}
        // A named journey is written as a [[journey]] table beside the rules.
        AlertKind::Conformance { journey } => text.journey = Some(journey.name.clone()),
    }
    match rule.baseline {
        Baseline::Back {
            back_us,
            drop,
            rise,
        } => {
            text.baseline = Some(match back_us == rule.window_us {
                true => "previous".to_owned(),
                false => duration_text(back_us),
            });
            (text.drop, text.rise) = (drop, rise);
        }
        Baseline::Fixed { below, above } => (text.below, text.above) = (below, above),
    }
    text
}
