//! Rules that can never fire, and rule files and names past their bounds,
//! are refused when read, with the rule, the field and the limit named.

use super::alert_file::{alert_rules, read_alert_rules};
use super::rule_draft::RuleDraft;
use crate::engine::alerts::{MAX_RULE_NAME_CHARS, MAX_RULES};
use crate::source::TimeParser;

fn refused(body: &str) -> String {
    let text = format!("[[rule]]\nname = \"checkout drop\"\n{body}\n");
    alert_rules(&text, TimeParser::default())
        .expect_err(body)
        .to_string()
}

fn accepted(body: &str) {
    let text = format!("[[rule]]\nname = \"checkout drop\"\n{body}\n");
    if let Err(e) = alert_rules(&text, TimeParser::default()) {
        panic!("{body}: {e}");
    }
}

const SHARE: &str = "kind = \"transition_share\"\nfrom = \"a\"\nto = \"b\"\n";

#[test]
fn rules_that_can_never_fire_are_refused_naming_the_field() {
    let cases = [
        (
            format!("{SHARE}window = \"0s\"\ndrop = 0.2"),
            "alert rule `checkout drop`: window = \"0s\" can never fire; give a window of at \
             least 1m",
        ),
        (
            format!("{SHARE}window = \"30s\"\ndrop = 0.2"),
            "window = \"30s\" is shorter than the minute",
        ),
        (
            format!("{SHARE}window = \"8d\"\nbelow = 0.2"),
            "window = \"8d\" can never fire: it is longer than the 7 days",
        ),
        (
            format!("{SHARE}window = \"4d\"\nbaseline = \"4d\"\ndrop = 0.2"),
            "baseline = \"4d\" can never fire: with the window of 4d",
        ),
        (
            format!("{SHARE}window = \"4d\"\nbaseline = \"previous\"\ndrop = 0.2"),
            "baseline = \"previous\" can never fire: with the window of 4d",
        ),
        (
            format!("{SHARE}window = \"15m\"\nbaseline = \"0s\"\ndrop = 0.2"),
            "baseline = \"0s\" can never fire",
        ),
        (
            format!("{SHARE}window = \"15m\"\ndrop = nan"),
            "drop = nan can never fire",
        ),
        (
            format!("{SHARE}window = \"15m\"\ndrop = 1.5"),
            "drop = 1.5 can never fire",
        ),
        (
            format!("{SHARE}window = \"15m\"\nrise = -0.5"),
            "rise = -0.5 can never fire",
        ),
        (
            format!("{SHARE}window = \"15m\"\nabove = 1.0"),
            "above = 1 can never fire: a share is at most 1",
        ),
        (
            "kind = \"rejected_rate\"\nwindow = \"10m\"\nabove = nan".to_owned(),
            "above = nan can never fire",
        ),
        (
            "kind = \"volume\"\ntouchpoint = \"a\"\nwindow = \"10m\"\nbelow = inf".to_owned(),
            "below = inf can never fire",
        ),
        (
            "kind = \"volume\"\ntouchpoint = \"a\"\nwindow = \"10m\"\nbelow = 0.0".to_owned(),
            "below = 0 can never fire: a count is never below 0",
        ),
        (
            "kind = \"lag\"\nabove = -inf".to_owned(),
            "above = -inf can never fire",
        ),
        (
            format!("{SHARE}window = \"900000000000y\"\ndrop = 0.2"),
            "alert rule `checkout drop`: window `900000000000y`",
        ),
    ];
    for (body, said) in &cases {
        let error = refused(body);
        assert!(error.contains(said), "{body}\n{error}");
    }
    for body in [
        format!("{SHARE}window = \"1m\"\ndrop = 0.2"),
        format!("{SHARE}window = \"7d\"\nbelow = 0.2"),
        format!("{SHARE}window = \"6d\"\nbaseline = \"1d\"\ndrop = 0.2"),
        format!("{SHARE}window = \"15m\"\ndrop = 0.0"),
        "kind = \"lag\"\nabove = 0.0".to_owned(),
        "kind = \"volume\"\ntouchpoint = \"a\"\nwindow = \"10m\"\nabove = 1000.0".to_owned(),
    ] {
        accepted(&body);
    }
}

#[test]
fn a_form_cannot_save_a_rule_that_never_fires() {
    let mut draft = RuleDraft::new_rule();
    draft.set("name", "c");
    draft.set("from", "a");
    draft.set("to", "b");
    draft.set("drop", "NaN");
    let error = draft.rule(TimeParser::default()).unwrap_err().to_string();
    assert!(error.contains("drop = nan can never fire"), "{error}");
}

fn rule_named(name: &str) -> String {
    format!("[[rule]]\nname = \"{name}\"\nkind = \"lag\"\nabove = 10.0\n")
}

#[test]
fn names_are_bounded_and_quoted_printable() {
    let longest = "n".repeat(MAX_RULE_NAME_CHARS);
    assert!(alert_rules(&rule_named(&longest), TimeParser::default()).is_ok());
    // A name of 10,000 characters, controls among them (TOML escapes).
    let long = format!("{}\\u001b[2J\\u202e{}", "x".repeat(40), "y".repeat(10_000));
    let error = alert_rules(&rule_named(&long), TimeParser::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("its name is 10,045 characters long")
            && error.contains("at most 200 characters"),
        "{error}"
    );
    assert!(error.len() < 400, "{error}");
    assert!(
        error.contains("\\u{1b}[2J\\u{202e}yyy") && !error.contains('\u{1b}'),
        "{error}"
    );
    let error = alert_rules(&rule_named(""), TimeParser::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("alert rule 1 of the file has no `name`"),
        "{error}"
    );
}

#[test]
fn files_and_rule_counts_are_bounded() {
    let most: String = (0..MAX_RULES)
        .map(|k| rule_named(&format!("r{k}")))
        .collect();
    assert!(alert_rules(&most, TimeParser::default()).is_ok());
    let more = most + &rule_named("one more");
    let error = alert_rules(&more, TimeParser::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("holds 201 rules; at most 200 are watched"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let big = format!("{}# {}\n", rule_named("r"), "x".repeat(1 << 20));
    std::fs::write(&path, &big).unwrap();
    let error = read_alert_rules(&path, TimeParser::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "is {} bytes; an alert rules file is at most 1,048,576 bytes",
            crate::format::thousands(big.len() as u64)
        )),
        "{error}"
    );
    let error = alert_rules(&big, TimeParser::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("at most 1,048,576 bytes"), "{error}");
}

#[test]
fn outputs_alerts_cannot_reach_are_refused_naming_the_field() {
    let rule = format!("{SHARE}window = \"15m\"\ndrop = 0.2\n");
    let long = format!("https://hooks.example.com/{}", "a".repeat(3000));
    let cases = [
        (
            "webhook = \"ftp://hooks.example.com/a\"".to_owned(),
            "webhook `ftp://hooks.example.com/a`: alerts are POSTed to an http:// or https:// URL",
        ),
        (
            "webhook = \"http:///alerts\"".to_owned(),
            "is not a URL alerts can be POSTed to",
        ),
        (
            format!("webhook = \"{long}\""),
            "a webhook URL is at most 2048 bytes",
        ),
        (
            "topic = \"journey alerts\"".to_owned(),
            "topic `journey alerts`: a Kafka topic's name takes letters, digits",
        ),
        (
            format!("topic = \"{}\"", "t".repeat(250)),
            "a Kafka topic's name is 1 to 249 characters",
        ),
        (
            "topic = \"alerts\"\nbrokers = \"kafka-1\"".to_owned(),
            "brokers `kafka-1`: give the topic's bootstrap servers as host:port",
        ),
        (
            "brokers = \"kafka-1:9092\"".to_owned(),
            "`brokers` are where its `topic` is",
        ),
    ];
    for (body, says) in cases {
        let e = refused(&format!("{rule}{body}"));
        assert!(
            e.contains("alert rule `checkout drop`") && e.contains(says),
            "{body}: {e}"
        );
    }
    // A webhook's credentials are never shown.
    let e = refused(&format!(
        "{rule}webhook = \"ftp://alice:s3cret@hooks.example.com/\""
    ));
    assert!(!e.contains("s3cret"), "{e}");
    accepted(&format!(
        "{rule}topic = \"journey-alerts\"\nbrokers = \"kafka-1:9092, kafka-2:9093\"\nwebhook = \
         \"https://alice:s3cret@hooks.example.com/alerts\""
    ));
}
