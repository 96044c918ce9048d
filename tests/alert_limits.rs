//! Alert rules that could never fire, rule files and names past their
//! bounds, and a webhook URL alerts cannot be sent to are refused when the
//! command line is read, before any broker is asked, naming the rule, the
//! field and the limit; a rule's name is quoted printable.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

/// `live --headless` against no broker with `rules` and `flags`.
fn live(rules: &[u8], flags: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, rules).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args([
            "live",
            "--headless",
            "--brokers",
            "127.0.0.1:1",
            "--topic",
            "t",
        ])
        .arg("--alerts")
        .arg(&path)
        .args(flags)
        .output()
        .unwrap()
}

fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

const CHECKOUT: &str = "[[rule]]\nname = \"checkout drop\"\nkind = \"transition_share\"\n\
                        from = \"begin_checkout\"\nto = \"purchase\"\n";

#[test]
fn rules_that_can_never_fire_are_refused() {
    for (body, says) in [
        (
            "window = \"0s\"\ndrop = 0.2\n",
            "alert rule `checkout drop`: window = \"0s\" can never fire; give a window of at \
             least 1m",
        ),
        (
            "window = \"15m\"\nabove = nan\n",
            "alert rule `checkout drop`: above = nan can never fire",
        ),
        (
            "window = \"30d\"\ndrop = 0.2\n",
            "alert rule `checkout drop`: window = \"30d\" can never fire: it is longer than the \
             7 days of event time kept for alert rules",
        ),
        (
            "window = \"1h\"\nbaseline = \"7d\"\ndrop = 0.2\n",
            "alert rule `checkout drop`: baseline = \"7d\" can never fire",
        ),
    ] {
        let stderr = refused(&live(format!("{CHECKOUT}{body}").as_bytes(), &[]));
        assert!(stderr.contains(says), "{body}: {stderr}");
    }
}

#[test]
fn a_webhook_url_alerts_cannot_reach_is_refused() {
    let rules = format!("{CHECKOUT}window = \"15m\"\ndrop = 0.2\n");
    for url in [
        "http://exa mple.com/alerts",
        "http://[::1/alerts",
        "http:///alerts",
        "hooks.example.com/alerts",
        "ftp://hooks.example.com/alerts",
    ] {
        let started = std::time::Instant::now();
        let stderr = refused(&live(rules.as_bytes(), &["--alerts-webhook", url]));
        assert!(
            stderr.contains(&format!("--alerts-webhook `{url}`"))
                && stderr.contains("give one such as https://hooks.example.com/alerts"),
            "{url}: {stderr}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

#[test]
fn a_rules_file_and_a_name_past_their_bounds_are_refused() {
    // 2 MiB: a rule, and a comment.
    let mut big = format!("{CHECKOUT}window = \"15m\"\ndrop = 0.2\n# ").into_bytes();
    big.resize(2 << 20, b'x');
    let stderr = refused(&live(&big, &[]));
    assert!(
        stderr.contains("is 2,097,152 bytes; an alert rules file is at most 1,048,576 bytes"),
        "{stderr}"
    );
    // A name of 100,000 characters.
    let long = format!(
        "[[rule]]\nname = \"{}\"\nkind = \"lag\"\nabove = 10.0\n",
        "n".repeat(100_000)
    );
    let stderr = refused(&live(long.as_bytes(), &[]));
    assert!(
        stderr.contains(&format!("alert rule `{}…`: its name is 100,000 characters long; a rule's name is at most 200 characters", "n".repeat(60))),
        "{stderr}"
    );
    assert!(stderr.len() < 500, "{stderr}");
}

#[test]
fn a_rule_name_in_a_message_is_printable() {
    let rules = "[[rule]]\nname = \"evil \\u202E\\u001B[2J\"\nkind = \"volume\"\n\
                 touchpoint = \"home\"\nwindow = \"0s\"\nbelow = 1.0\n";
    let stderr = refused(&live(rules.as_bytes(), &[]));
    assert!(
        stderr.contains("alert rule `evil \\u{202e}\\u{1b}[2J`: window = \"0s\" can never fire"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{202e}') && !stderr.contains('\u{1b}'),
        "{stderr}"
    );
}
