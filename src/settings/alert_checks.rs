//! What makes alert rules ones that can be followed: a rules file of a
//! bounded size, number of rules and length of names, and every rule able
//! to fire (a window of at least the minute between checks and within the
//! event time kept, finite thresholds within the range of what it reads).

use crate::engine::alerts::{
    AlertKind, AlertRule, Baseline, CHECK_EVERY_US, MAX_RULE_NAME_CHARS, MAX_RULE_SPAN_US,
    MAX_RULES,
};
use crate::format::{excerpt, thousands};

use super::SettingsError;

/// A rules file is at most this many bytes (200 rules take about 25 KiB).
pub const MAX_RULES_FILE_BYTES: u64 = 1 << 20;

/// A rule's name as messages quote it: short and printable.
pub(super) fn quoted(name: &str) -> String {
    excerpt(name, 60)
}

/// Refuses rules text of `bytes` bytes when it is over the limit.
pub(super) fn check_size(bytes: u64, what: &str) -> Result<(), SettingsError> {
    if bytes <= MAX_RULES_FILE_BYTES {
        return Ok(());
    }
    Err(SettingsError(format!(
        "{what} is {} bytes; an alert rules file is at most {} bytes (1 MiB, far more than \
         {MAX_RULES} rules need): give a file of rules only",
        thousands(bytes),
        thousands(MAX_RULES_FILE_BYTES)
    )))
}

/// Refuses more rules than are watched.
pub(super) fn check_count(rules: usize) -> Result<(), SettingsError> {
    if rules <= MAX_RULES {
        return Ok(());
    }
    Err(SettingsError(format!(
        "the alert rules file holds {} rules; at most {MAX_RULES} are watched (each is read at \
         every minute of event time): keep the ones that matter, or split them over several runs",
        thousands(rules as u64)
    )))
}

/// Refuses an empty name and one over the limit; `place` counts rules
/// from 1.
pub(super) fn check_name(name: &str, place: usize) -> Result<(), SettingsError> {
    if name.trim().is_empty() {
        return Err(SettingsError(format!(
            "alert rule {place} of the file has no `name`: alerts are keyed by it, give each \
             rule one"
        )));
    }
    let chars = name.chars().count();
    if chars > MAX_RULE_NAME_CHARS {
        return Err(SettingsError(format!(
            "alert rule `{}`: its name is {} characters long; a rule's name is at most \
             {MAX_RULE_NAME_CHARS} characters (every alert carries it)",
            quoted(name),
            thousands(chars as u64)
        )));
    }
    Ok(())
}

/// A duration as the rule file wrote it, or as it reads.
fn written(text: Option<&str>, us: i64) -> String {
    text.map_or_else(
        || {
            humantime::format_duration(std::time::Duration::from_micros(us.max(0) as u64))
                .to_string()
        },
        |t| t.trim().to_owned(),
    )
}

/// A number as TOML writes it (`nan`, `inf`).
fn number(v: f64) -> String {
    match v {
        v if v.is_nan() => "nan".to_owned(),
        v if v.is_infinite() && v > 0.0 => "inf".to_owned(),
        v if v.is_infinite() => "-inf".to_owned(),
        v => v.to_string(),
    }
}

const SPAN_DAYS: i64 = MAX_RULE_SPAN_US / (24 * 3600 * 1_000_000);

/// Why `rule` could never fire, naming the field (None when it can);
/// `window` and `baseline` are the fields as written.
pub(super) fn never_fires(
    rule: &AlertRule,
    window: Option<&str>,
    baseline: Option<&str>,
) -> Option<String> {
    thresholds_never_fire(rule).or_else(|| {
        (!matches!(rule.kind, AlertKind::Lag { .. }))
            .then(|| windows_never_fire(rule, window, baseline))
            .flatten()
    })
}

/// A window shorter than the minute between checks, or reaching further
/// back than the event time kept.
fn windows_never_fire(
    rule: &AlertRule,
    window: Option<&str>,
    baseline: Option<&str>,
) -> Option<String> {
    let window_text = written(window, rule.window_us);
    if rule.window_us <= 0 {
        return Some(format!(
            "window = \"{window_text}\" can never fire; give a window of at least 1m"
        ));
    }
    if rule.window_us < CHECK_EVERY_US {
        return Some(format!(
            "window = \"{window_text}\" is shorter than the minute of event time between checks \
             (events between them would never be read); give a window of at least 1m"
        ));
    }
    if rule.window_us > MAX_RULE_SPAN_US {
        return Some(format!(
            "window = \"{window_text}\" can never fire: it is longer than the {SPAN_DAYS} days \
             of event time kept for alert rules; give a window of at most {SPAN_DAYS}d"
        ));
    }
    let Baseline::Back { back_us, .. } = rule.baseline else {
        return None;
    };
    let back_text = written(Some(baseline.unwrap_or("previous")), back_us);
    if back_us < CHECK_EVERY_US {
        return Some(format!(
            "baseline = \"{back_text}\" can never fire (the window would be held against itself \
             or the same minute); give a baseline of at least 1m, or \"previous\""
        ));
    }
    if rule.window_us.saturating_add(back_us) > MAX_RULE_SPAN_US {
        return Some(format!(
            "baseline = \"{back_text}\" can never fire: with the window of {window_text} it \
             reads further back than the {SPAN_DAYS} days of event time kept for alert rules; \
             give a window and baseline of at most {SPAN_DAYS}d together"
        ));
    }
    None
}

/// A threshold that is not a finite number, or outside the range of the
/// value the rule reads.
fn thresholds_never_fire(rule: &AlertRule) -> Option<String> {
    let share = matches!(
        rule.kind,
        AlertKind::TransitionShare { .. }
            | AlertKind::ExitShare { .. }
            | AlertKind::FunnelStep { .. }
            | AlertKind::RejectedRate
            | AlertKind::Conformance { .. }
    );
    let (drop, rise, below, above) = match rule.baseline {
        Baseline::Back { drop, rise, .. } => (drop, rise, None, None),
        Baseline::Fixed { below, above } => (None, None, below, above),
    };
    let given = [
        ("drop", drop),
        ("rise", rise),
        ("below", below),
        ("above", above),
    ];
    if let Some((field, v)) = given
        .iter()
        .find_map(|(f, v)| v.filter(|v| !v.is_finite()).map(|v| (f, v)))
    {
        return Some(format!(
            "{field} = {} can never fire; give a finite number (0.2 for 20 %)",
            number(v)
        ));
    }
    let what = if share { "a share" } else { "a count" };
    match (drop, rise, below, above) {
        (Some(d), ..) if !(0.0..1.0).contains(&d) => Some(format!(
            "drop = {} can never fire as meant: a fall is a fraction of the baseline from 0 to \
             below 1 (0.2 for 20 %); for a rise give `rise`",
            number(d)
        )),
        (_, Some(r), ..) if r < 0.0 => Some(format!(
            "rise = {} can never fire as meant: a rise is a positive fraction of the baseline \
             (0.5 for 50 %); for a fall give `drop`",
            number(r)
        )),
        (_, _, Some(b), _) if b <= 0.0 => Some(format!(
            "below = {} can never fire: {what} is never below 0",
            number(b)
        )),
        (.., Some(a)) if share && a >= 1.0 => Some(format!(
            "above = {} can never fire: a share is at most 1 (0.05 for 5 %)",
            number(a)
        )),
        _ => None,
    }
}

/// A webhook URL is at most this many bytes.
pub const MAX_WEBHOOK_URL_BYTES: usize = 2048;
/// A Kafka topic's name is at most this many characters (Kafka's own limit).
const MAX_TOPIC_CHARS: usize = 249;
/// Bootstrap servers take at most this many bytes.
const MAX_BROKERS_BYTES: usize = 1024;

/// Why alerts could not be POSTed to `url` (None when they can): an
/// http(s) URL with a host, of a bounded length. Messages show the URL
/// without its credentials.
pub fn webhook_problem(url: &str) -> Option<String> {
    let shown = excerpt(&crate::source::values::shown_url(url), 200);
    let example = "give one such as https://hooks.example.com/alerts";
    if url.len() > MAX_WEBHOOK_URL_BYTES {
        return Some(format!(
            "webhook `{shown}` is {} bytes long; a webhook URL is at most \
             {MAX_WEBHOOK_URL_BYTES} bytes",
            thousands(url.len() as u64)
        ));
    }
    let uri: ureq::http::Uri = match url.parse() {
        Ok(uri) => uri,
        Err(e) => {
            return Some(format!(
                "webhook `{shown}` is not a URL alerts can be POSTed to ({e}); {example}"
            ));
        }
    };
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => None,
        (Some("http" | "https"), _) => Some(format!("webhook `{shown}` names no host; {example}")),
        _ => Some(format!(
            "webhook `{shown}`: alerts are POSTed to an http:// or https:// URL; {example}"
        )),
    }
}

/// Why alerts could not be produced to `topic` on `brokers` (None when
/// they can): a topic name Kafka accepts, and bootstrap servers written as
/// `host:port[,host:port…]`.
pub fn topic_problem(topic: &str, brokers: Option<&str>) -> Option<String> {
    let shown = excerpt(topic, 60);
    let chars = topic.chars().count();
    if chars == 0 || chars > MAX_TOPIC_CHARS || topic == "." || topic == ".." {
        return Some(format!(
            "topic `{shown}`: a Kafka topic's name is 1 to {MAX_TOPIC_CHARS} characters (and \
             not `.` or `..`)"
        ));
    }
    if !topic
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Some(format!(
            "topic `{shown}`: a Kafka topic's name takes letters, digits, `.`, `_` and `-` \
             only (alerts, journey-alerts)"
        ));
    }
    let brokers = brokers?;
    let shown = excerpt(brokers, 80);
    if brokers.len() > MAX_BROKERS_BYTES {
        return Some(format!(
            "brokers `{shown}` are {} bytes long; at most {MAX_BROKERS_BYTES}",
            thousands(brokers.len() as u64)
        ));
    }
    let well_formed = |b: &str| {
        b.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        })
    };
    if !brokers.split(',').map(str::trim).all(well_formed) {
        return Some(format!(
            "brokers `{shown}`: give the topic's bootstrap servers as host:port, several \
             separated by commas (kafka-1:9092,kafka-2:9092), or leave them empty for the \
             watched stream's"
        ));
    }
    None
}
