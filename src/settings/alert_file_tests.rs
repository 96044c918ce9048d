//! Alert rule files read and written back: every kind, the packaged
//! example, mistakes named with their rule, and the form's rules.

use super::alert_file::{alert_rules, alert_rules_text};
use super::rule_draft::RuleDraft;
use crate::engine::alerts::{AlertKind, Baseline, LagUnit};
use crate::source::TimeParser;

const EVERY_KIND: &str = r#"
[[rule]]
name = "checkout conversion"
kind = "transition_share"
from = "begin_checkout"
to = "purchase"
segment = "channel=app"
window = "15m"
baseline = "previous"
drop = 0.2
min_sessions = 200
for = "2m"

[[rule]]
name = "cart exits"
kind = "exit_share"
touchpoint = "view_cart"
window = "30m"
baseline = "1d"
rise = 0.5

[[rule]]
name = "paying"
kind = "funnel_step"
steps = ["view_item", "add_to_cart", "purchase"]
step = "purchase"
window = "1h"
below = 0.1

[[rule]]
name = "quiet shop"
kind = "volume"
touchpoint = "page_view"
window = "5m"
below = 10.0

[[rule]]
name = "behind"
kind = "lag"
unit = "seconds"
above = 30.0
for = "1m"

[[rule]]
name = "garbage"
kind = "rejected_rate"
window = "10m"
above = 0.05

[[journey]]
name = "checkout"
steps = "view_item > add_to_cart > begin_checkout? > purchase"

[[rule]]
name = "keeping to checkout"
kind = "conformance"
journey = "checkout"
window = "1h"
baseline = "1d"
drop = 0.1
min_sessions = 50

[[rule]]
name = "keeping to a short one"
kind = "conformance"
journey = "view_item > purchase"
window = "1h"
below = 0.2
"#;

#[test]
fn every_kind_reads_and_writes_back_as_itself() {
    let rules = alert_rules(EVERY_KIND, TimeParser::default()).expect("rules");
    assert_eq!(rules.len(), 8);
    let AlertKind::Conformance { journey } = &rules[6].kind else {
        panic!("{:?}", rules[6].kind);
    };
    assert_eq!(
        (journey.name.as_str(), journey.to_string().as_str()),
        (
            "checkout",
            "view_item > add_to_cart > begin_checkout? > purchase"
        )
    );
    assert_eq!(
        rules[2].kind,
        AlertKind::FunnelStep {
            steps: vec!["view_item".into(), "add_to_cart".into(), "purchase".into()],
            step: 2
        }
    );
    assert_eq!(
        rules[4].kind,
        AlertKind::Lag {
            unit: LagUnit::Seconds
        }
    );
    assert_eq!(
        rules[1].baseline,
        Baseline::Back {
            back_us: 86_400_000_000,
            drop: None,
            rise: Some(0.5)
        }
    );
    let written = alert_rules_text(&rules);
    let again = alert_rules(&written, TimeParser::default()).expect("written rules");
    assert_eq!(again, rules, "{written}");
}

#[test]
fn the_packaged_example_reads() {
    let example = include_str!("../../packaging/alerts.example.toml");
    let rules = alert_rules(example, TimeParser::default()).expect("the example");
    let kinds: Vec<&str> = rules.iter().map(|r| r.kind.name()).collect();
    for kind in AlertKind::NAMES {
        assert!(kinds.contains(&kind), "{kind} is not in the example");
    }
}

#[test]
fn mistakes_are_named_with_the_rule() {
    let cases = [
        ("kind = \"lag\"", "takes `above`"),
        (
            "kind = \"funnel_step\"\nwindow = \"1h\"\nbelow = 0.1",
            "needs `steps`",
        ),
        (
            "kind = \"funnel_step\"\nsteps = [\"a\", \"b\"]\nstep = 3\nwindow = \"1h\"\nbelow = 0.1",
            "one of 2 to 2",
        ),
        (
            "kind = \"rejected_rate\"\nwindow = \"1h\"\nabove = 0.1\nsegment = \"channel=app\"",
            "no segment",
        ),
        (
            "kind = \"volume\"\ntouchpoint = \"x\"\nbelow = 1.0",
            "`window`",
        ),
        (
            "kind = \"lag\"\nunit = \"bytes\"\nabove = 1.0",
            "unit `bytes`",
        ),
    ];
    for (body, said) in cases {
        let text = format!("[[rule]]\nname = \"r\"\n{body}\n");
        let error = alert_rules(&text, TimeParser::default())
            .expect_err(body)
            .to_string();
        assert!(
            error.contains("alert rule `r`") && error.contains(said),
            "{error}"
        );
    }
    let twice = "[[rule]]\nname = \"r\"\nkind = \"lag\"\nabove = 1.0\n".repeat(2);
    let error = alert_rules(&twice, TimeParser::default()).expect_err("twice");
    assert!(error.to_string().contains("two alert rules"), "{error}");
}

#[test]
fn a_form_gives_back_each_rule_it_shows() {
    let rules = alert_rules(EVERY_KIND, TimeParser::default()).expect("rules");
    for rule in &rules {
        let draft = RuleDraft::of(rule);
        assert_eq!(&draft.rule(TimeParser::default()).expect("draft"), rule);
    }
    let mut draft = RuleDraft::new_rule();
    draft.set("name", "c");
    draft.set("from", "begin_checkout");
    assert!(
        draft
            .rule(TimeParser::default())
            .unwrap_err()
            .to_string()
            .contains("`to`")
    );
    draft.set("to", "purchase");
    draft.set("drop", "a fifth");
    let error = draft.rule(TimeParser::default()).unwrap_err().to_string();
    assert!(error.contains("drop `a fifth` is not a number"), "{error}");
}

#[test]
fn a_rules_outputs_are_written_back_and_edited_in_the_form() {
    let text = "[[rule]]\nname = \"cart exits\"\nkind = \"exit_share\"\ntouchpoint = \
                \"view_cart\"\nwindow = \"30m\"\nrise = 0.5\ntopic = \"journey-alerts\"\nbrokers \
                = \"kafka-1:9092\"\nwebhook = \"https://hooks.example.com/alerts\"\n";
    let rules = alert_rules(text, TimeParser::default()).unwrap();
    let outputs = &rules[0].outputs;
    assert_eq!(outputs.topic.as_deref(), Some("journey-alerts"));
    assert_eq!(outputs.brokers.as_deref(), Some("kafka-1:9092"));
    assert_eq!(
        outputs.webhook.as_deref(),
        Some("https://hooks.example.com/alerts")
    );
    let again = alert_rules(&alert_rules_text(&rules), TimeParser::default()).unwrap();
    assert_eq!(again, rules);
    let mut draft = RuleDraft::of(&rules[0]);
    assert_eq!(draft.get("webhook"), "https://hooks.example.com/alerts");
    draft.set("topic", "");
    draft.set("brokers", "");
    let edited = draft.rule(TimeParser::default()).unwrap();
    assert_eq!(edited.outputs.topic, None);
    assert_eq!(edited.outputs.webhook, outputs.webhook);
}

#[test]
fn journeys_are_read_named_and_kept_when_rules_are_saved() {
    use super::alert_file::{rules_file, rules_file_text};
    use super::journey_file::expected_journey;
    let file = rules_file(EVERY_KIND, TimeParser::default()).expect("file");
    assert_eq!(file.journeys.len(), 1);
    let named = expected_journey("checkout", &file.journeys).expect("named");
    assert_eq!(named, file.journeys[0]);
    let typed = expected_journey("a > b? > c", &file.journeys).expect("typed");
    assert_eq!(typed.name, "a > b? > c");
    for (unknown, says) in [
        ("nosuch", "the rules file has checkout"),
        ("a > > b", "a step is empty"),
        ("a > b > a", "named twice"),
        ("a? > b", "cannot be optional"),
    ] {
        let e = expected_journey(unknown, &file.journeys)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{unknown}: {e}");
    }
    let e = expected_journey("checkout", &[]).unwrap_err().to_string();
    assert!(e.contains("--rules FILE"), "{e}");
    // Saved with a journey no rule follows: both stay.
    let extra = crate::engine::ExpectedJourney::parse(Some("browse"), "home > search").unwrap();
    let mut journeys = file.journeys.clone();
    journeys.push(extra);
    let text = rules_file_text(&file.alerts, &journeys, &[]);
    let again = rules_file(&text, TimeParser::default()).expect("saved");
    assert_eq!(again.alerts, file.alerts, "{text}");
    // A rule's journey named by its steps needs no table.
    assert_eq!(again.journeys, journeys, "{text}");
    let bad = "[[journey]]\nname = \"a\"\nsteps = \"x > y\"\n[[journey]]\nname = \"a\"\nsteps = \"y > z\"\n";
    let e = rules_file(bad, TimeParser::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("two journeys are called `a`"), "{e}");
}
