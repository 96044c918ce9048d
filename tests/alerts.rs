//! Alert rules against a real broker: a stream whose app checkout
//! conversion collapses for 45 minutes fires the rule once, within the
//! window and hold after the break, and resolves after it recovers (as a
//! transition share and as a funnel step); half an hour of garbage fires the
//! rejected-records rule; the same stream without the breaks fires nothing.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::broker::*;
use serde_json::Value;

use common::alert_stream::{CONVERSION, HOUR_US, MORE, START_US, stream};

/// The alerts of the stream, and the whole JSON, with `flags` added.
fn streamed(
    broken: bool,
    topic: &str,
    broker: &Broker,
    dir: &std::path::Path,
    rules: &str,
    flags: &[&str],
) -> Value {
    broker.create_topic(topic);
    let file = dir.join(format!("{topic}.jsonl"));
    write_lines(&file, &stream(broken));
    produce(broker, topic, &file);
    let rules_text = rules;
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, rules_text).unwrap();
    let mut all = vec!["--alerts", rules.to_str().unwrap()];
    all.extend_from_slice(flags);
    live_with(broker, topic, &all)
}

fn alerts_of(broken: bool) -> Vec<Value> {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let topic = if broken { "broken" } else { "clean" };
    let rules = format!("{CONVERSION}{MORE}");
    let json = streamed(broken, topic, &broker, dir.path(), &rules, &[]);
    json["alerts"].as_array().expect("alerts").clone()
}

/// The alerts of the broken stream (read once for the tests that use it).
fn broken_alerts() -> &'static [Value] {
    static ALERTS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    ALERTS.get_or_init(|| alerts_of(true))
}

/// The alerts of `rule` in `state`.
fn of<'a>(alerts: &'a [Value], rule: &str, state: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["rule"] == rule && a["state"] == state)
        .collect()
}

fn time_us(alert: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(alert["event_time"].as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

#[test]
fn a_collapsing_conversion_fires_once_and_resolves_after_it_recovers() {
    let alerts = broken_alerts();
    for (rule, kind) in [
        ("app checkout conversion", "transition_share"),
        ("app paying", "funnel_step"),
        ("app keeping to checkout", "conformance"),
    ] {
        let firing = of(alerts, rule, "firing");
        assert_eq!(firing.len(), 1, "{alerts:#?}");
        let alert = firing[0];
        assert_eq!(alert["kind"], kind);
        assert_eq!(alert["segment"], "channel=app");
        match kind {
            "funnel_step" => assert_eq!(alert["subject"]["step"], "purchase"),
            "conformance" => {
                assert_eq!(alert["subject"]["journey"], "checkout");
                assert_eq!(
                    alert["subject"]["steps"],
                    "home > begin_checkout > purchase"
                );
            }
            _ => {
                assert_eq!(alert["subject"]["from"], "begin_checkout");
                assert_eq!(alert["subject"]["to"], "purchase");
            }
        }
        fired_within_and_resolved(alert, &of(alerts, rule, "resolved"));
    }
}

/// Fired within the window and the hold after the break (plus a check
/// step); resolved once, after the conversion recovered.
fn fired_within_and_resolved(alert: &Value, resolved: &[&Value]) {
    let break_at = START_US + 3 * HOUR_US;
    let fired = time_us(alert);
    // Within the window and the hold after the break (plus a check step).
    assert!(
        fired >= break_at && fired <= break_at + (15 + 2 + 1) * 60 * 1_000_000,
        "fired at {}",
        alert["event_time"]
    );
    assert!(alert["value"].as_f64().unwrap() < alert["baseline"].as_f64().unwrap() * 0.8);
    assert_eq!(resolved.len(), 1, "{resolved:#?}");
    let recovered_at = break_at + HOUR_US * 3 / 4;
    assert!(
        time_us(resolved[0]) > recovered_at,
        "{}",
        resolved[0]["event_time"]
    );
}

/// Against a fixed bound, the share keeping to the journey reads the
/// sessions of a window one session timeout (30 minutes) back, as they
/// stand: it fires once, after the break plus that, and resolves after the
/// recovery plus that; sessions still going on never read as falling short
/// (the steady stream fires nothing).
#[test]
fn keeping_to_a_journey_below_a_fixed_share_fires_once_sessions_have_ended() {
    let alerts = broken_alerts();
    let rule = "app keeping to checkout, at least half";
    let firing = of(alerts, rule, "firing");
    assert_eq!(firing.len(), 1, "{alerts:#?}");
    let timeout = HOUR_US / 2;
    let break_at = START_US + 3 * HOUR_US;
    let fired = time_us(firing[0]);
    assert!(
        fired > break_at + timeout && fired <= break_at + timeout + (15 + 2 + 1) * 60 * 1_000_000,
        "{}",
        firing[0]
    );
    assert!(firing[0]["value"].as_f64().unwrap() < 0.5, "{}", firing[0]);
    let resolved = of(alerts, rule, "resolved");
    assert_eq!(resolved.len(), 1, "{alerts:#?}");
    assert!(time_us(resolved[0]) > break_at + HOUR_US * 3 / 4 + timeout);
}

/// Half an hour of garbage (one record in six) fires the rejected-records
/// rule once, after it starts, and resolves after it ends.
#[test]
fn garbage_fires_the_rejected_records_rule() {
    let alerts = broken_alerts();
    let firing = of(alerts, "garbage", "firing");
    assert_eq!(firing.len(), 1, "{alerts:#?}");
    let (from, to) = (START_US + 4 * HOUR_US, START_US + 4 * HOUR_US + HOUR_US / 2);
    let fired = time_us(firing[0]);
    assert!(
        fired > from && fired <= from + 12 * 60 * 1_000_000,
        "{}",
        firing[0]
    );
    let share = firing[0]["value"].as_f64().unwrap();
    assert!((0.1..0.25).contains(&share), "{}", firing[0]);
    let resolved = of(alerts, "garbage", "resolved");
    assert_eq!(resolved.len(), 1, "{alerts:#?}");
    assert!(time_us(resolved[0]) > to, "{}", resolved[0]);
}

#[test]
fn a_steady_stream_fires_nothing() {
    let alerts = alerts_of(false);
    assert!(alerts.iter().all(|a| a["state"] != "firing"), "{alerts:#?}");
}

/// A rules file that cannot be followed is refused before connecting, with
/// what to change.
#[test]
fn a_wrong_rule_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        (
            "[[rule]]\nname = \"l\"\nkind = \"latency\"\nwindow = \"5m\"\nabove = 10.0\n",
            "kind `latency` is not one this version checks; kinds are transition_share, \
             exit_share, funnel_step, conformance, volume, lag, rejected_rate",
        ),
        (
            "[[rule]]\nname = \"c\"\nkind = \"transition_share\"\nfrom = \"a\"\nwindow = \"5m\"\ndrop = 0.2\n",
            "alert rule `c`: a transition_share rule needs `to`",
        ),
        (
            "[[rule]]\nname = \"w\"\nkind = \"exit_share\"\ntouchpoint = \"a\"\nwindow = \"soon\"\nrise = 1.0\n",
            "window `soon`",
        ),
    ] {
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
            .args([
                "live",
                "--headless",
                "--brokers",
                "127.0.0.1:1",
                "--topic",
                "t",
            ])
            .arg("--alerts")
            .arg(&rules)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}

/// Alerts go to a topic (read back here, keyed by the rule) and to a
/// webhook (served here) as the same JSON; a webhook that refuses
/// connections loses no event of the stream and is counted as failing.
#[test]
fn alerts_reach_the_topic_and_the_webhook() {
    let broker = Broker::start();
    broker.create_topic("alerts");
    let dir = tempfile::tempdir().unwrap();
    let (url, bodies) = webhook();
    let json = streamed(
        true,
        "broken",
        &broker,
        dir.path(),
        CONVERSION,
        &["--alerts-topic", "alerts", "--alerts-webhook", &url],
    );
    let alerts = json["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 3, "pending, firing, resolved: {alerts:#?}");
    assert_eq!(
        json["alert_delivery"]["topic_sent"], 3,
        "{}",
        json["alert_delivery"]
    );
    assert_eq!(
        json["alert_delivery"]["webhook_sent"], 3,
        "{}",
        json["alert_delivery"]
    );
    let posted: Vec<Value> = (0..3)
        .map(|_| {
            serde_json::from_str(
                &bodies
                    .recv_timeout(std::time::Duration::from_secs(10))
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(posted, alerts);

    let read = read_alerts(&broker, "alerts", 3);
    assert_eq!(read.len(), 3, "{read:?}");
    for (key, value) in &read {
        assert_eq!(key, "app checkout conversion");
        assert!(alerts.contains(value), "{value}");
    }

    // A webhook that refuses: the same stream, every event taken in, each
    // alert counted as failing after its attempts.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let refused = streamed(
        true,
        "refused",
        &broker,
        dir.path(),
        CONVERSION,
        &["--alerts-webhook", &closed],
    );
    let file = summarize_json(&dir.path().join("refused.jsonl"));
    assert_eq!(refused["events"], file["events"]);
    let when = |v: &Value| -> Vec<(Value, Value)> {
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["state"].clone(), a["event_time"].clone()))
            .collect()
    };
    assert_eq!(when(&refused), when(&json), "the same alerts, undelivered");
    assert_eq!(refused["alert_delivery"]["webhook_failures"], 3);
    assert_eq!(refused["alert_delivery"]["webhook_sent"], 0);
}

/// A webhook that accepts connections and never answers holds neither the
/// stream nor the end up: the run prints its summary and exits within a
/// few seconds of going idle, and says the delivery timed out.
#[test]
fn a_webhook_that_never_answers_holds_nothing_up() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", silent.local_addr().unwrap());
    std::thread::Builder::new()
        .name("silent webhook".into())
        .spawn(move || {
            // Every connection is taken and held open, unanswered.
            let held: Vec<_> = silent.incoming().flatten().collect();
            drop(held);
        })
        .unwrap();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    broker.create_topic("silent");
    let file = dir.path().join("silent.jsonl");
    write_lines(&file, &stream(true));
    produce(&broker, "silent", &file);
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, CONVERSION).unwrap();
    let args = live_args(
        &broker,
        "silent",
        &[
            "--alerts",
            rules.to_str().unwrap(),
            "--alerts-webhook",
            &url,
        ],
    );
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(&args)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        took < std::time::Duration::from_secs(15),
        "took {took:?}: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("alert delivery timed out: ")
            && stderr(&out).contains("not delivered when the run ended"),
        "{}",
        stderr(&out)
    );
    let json = json(&out);
    let delivery = &json["alert_delivery"];
    assert_eq!(json["alerts"].as_array().unwrap().len(), 3, "{json}");
    assert_eq!(delivery["webhook_sent"], 0, "{delivery}");
    let undelivered = delivery["undelivered"].as_u64().unwrap();
    let failed = delivery["webhook_failures"].as_u64().unwrap();
    assert!(undelivered >= 1 && undelivered + failed == 3, "{delivery}");
}

/// A rule's name goes to the terminal with its controls and bidirectional
/// overrides shown as escapes, on standard error (a delivery that failed)
/// and standard output (the JSON, whose strings read back as the exact
/// name).
#[test]
fn rule_names_reach_the_terminal_escaped() {
    let name = "evil \u{202e}\u{1b}[2J checkout";
    let rules = CONVERSION.replace(
        "name = \"app checkout conversion\"",
        "name = \"evil \\u202E\\u001B[2J checkout\"",
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    broker.create_topic("named");
    let file = dir.path().join("named.jsonl");
    write_lines(&file, &stream(true));
    produce(&broker, "named", &file);
    let rules_file = dir.path().join("rules.toml");
    std::fs::write(&rules_file, rules).unwrap();
    let args = live_args(
        &broker,
        "named",
        &[
            "--alerts",
            rules_file.to_str().unwrap(),
            "--alerts-webhook",
            &closed,
        ],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (stdout, stderr) = (String::from_utf8(out.stdout.clone()).unwrap(), stderr(&out));
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{1b}'),
            "{what}: {text}"
        );
    }
    assert!(
        stderr.contains("alert `evil \\u{202e}\\u{1b}[2J checkout` not delivered to the webhook"),
        "{stderr}"
    );
    let json = json(&out);
    let alerts = json["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 3, "{json}");
    assert!(alerts.iter().all(|a| a["rule"] == name), "{json}");
}

/// A rule's own Kafka topic and webhook, set in the Alerts tab's form and
/// saved as the form saves them (the `--alerts` file), get that rule's
/// alerts from `live --headless` on the watched stream's brokers; another
/// rule without outputs is delivered nowhere.
#[test]
fn a_rules_own_topic_and_webhook_set_in_the_form_get_its_alerts() {
    use journeyscope::settings::{RuleDraft, alert_rules, alert_rules_text};

    let broker = Broker::start();
    broker.create_topic("rule-alerts");
    let dir = tempfile::tempdir().unwrap();
    let (url, bodies) = webhook();
    let parser = Default::default();
    let conversion = alert_rules(CONVERSION, parser).unwrap().remove(0);
    let mut draft = RuleDraft::of(&conversion);
    draft.set("topic", "rule-alerts");
    draft.set("webhook", &url);
    let with_outputs = draft.rule(parser).unwrap();
    let garbage = alert_rules(MORE, parser)
        .unwrap()
        .into_iter()
        .find(|r| r.name == "garbage")
        .unwrap();
    let saved = alert_rules_text(&[with_outputs, garbage]);
    assert!(saved.contains(&url), "{saved}");

    let json = streamed(true, "owned", &broker, dir.path(), &saved, &[]);
    let alerts = json["alerts"].as_array().unwrap();
    let own: Vec<Value> = alerts
        .iter()
        .filter(|a| a["rule"] == conversion.name)
        .cloned()
        .collect();
    assert_eq!(own.len(), 3, "pending, firing, resolved: {alerts:#?}");
    assert!(!of(alerts, "garbage", "firing").is_empty(), "{alerts:#?}");
    let delivery = &json["alert_delivery"];
    assert_eq!(delivery["webhook_sent"], 3, "{delivery}");
    assert_eq!(delivery["topic_sent"], 3, "{delivery}");
    assert_eq!(delivery["webhook_failures"], 0, "{delivery}");

    let wait = std::time::Duration::from_secs(10);
    let posted: Vec<Value> = (0..3)
        .map(|_| serde_json::from_str(&bodies.recv_timeout(wait).unwrap()).unwrap())
        .collect();
    assert_eq!(posted, own);
    assert!(
        bodies
            .recv_timeout(std::time::Duration::from_millis(500))
            .is_err(),
        "only the rule with the webhook posts"
    );
    let read = read_alerts(&broker, "rule-alerts", alerts.len());
    assert_eq!(read.len(), 3, "{read:?}");
    for (key, value) in &read {
        assert_eq!(key, &conversion.name);
        assert!(own.contains(value), "{value}");
    }
}
