//! `--pseudonymize`: every customer id is replaced as it is read by `p` and
//! the first 16 hex digits of HMAC-SHA256(key, id), computed here by
//! OpenSSL's command line; no output keeps a raw id.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::broker::{BIN, generated, stderr};
use serde_json::Value;

/// HMAC-SHA256(key, id) by `openssl dgst`, as a pseudonym.
fn openssl_pseudonym(key: &str, id: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(id.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.rsplit(' ').next().unwrap().trim();
    format!("p{}", &hex[..16])
}

fn output(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("JOURNEYSCOPE_PSEUDONYMIZE_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

/// The stdout and stderr of each of `commands` and the three exports of
/// `path`, each run with `flags`.
fn every_output(
    dir: &std::path::Path,
    path: &str,
    commands: &[Vec<&str>],
    flags: &[&str],
) -> Vec<String> {
    let mut texts = Vec::new();
    for command in commands {
        let mut args = command.clone();
        args.extend(flags);
        let out = output(&args);
        texts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        texts.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    for name in ["edges.csv", "graph.json", "map.svg"] {
        let out_path = dir.join(name);
        let mut args = vec!["export", path, "--out", out_path.to_str().unwrap()];
        args.extend(flags);
        output(&args);
        texts.push(std::fs::read_to_string(&out_path).unwrap());
    }
    texts
}

#[test]
fn pseudonyms_are_hmac_sha256_and_no_output_keeps_a_raw_id() {
    let dir = tempfile::tempdir().unwrap();
    // With malformed records, whose samples quote the record.
    let file = generated(dir.path(), "events.jsonl", 3_000, false);
    let path = file.to_str().unwrap();
    let key_file = dir.path().join("pseudonym.key");
    std::fs::write(&key_file, "a test key, long enough\n").unwrap();
    let key = key_file.to_str().unwrap();
    let private = ["--pseudonymize", "--pseudonymize-key-file", key];

    let raw = field_values(&file, "customer_id");
    assert!(raw.len() > 100);

    let mut args = vec!["customers", path];
    args.extend(private);
    let customers: Value = serde_json::from_slice(&output(&args).stdout).unwrap();
    let printed: BTreeSet<String> = customers["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = raw
        .iter()
        .map(|id| openssl_pseudonym("a test key, long enough", id))
        .collect();
    assert_eq!(printed, expected);

    // Every output: the summary (with rejected samples), both exports, the
    // customer list as CSV and one timeline.
    let one = printed.iter().next().unwrap().clone();
    let texts = every_output(
        dir.path(),
        path,
        &[
            vec!["summarize", path, "--format", "json"],
            vec!["summarize", path, "--format", "table"],
            vec!["customers", path, "--format", "csv"],
            vec!["timeline", path, "--id", &one, "--format", "json"],
        ],
        &private,
    );
    // Samples keep their text with the pseudonym in it, or, where the id
    // could not be found (a line that is not JSON), no text at all.
    let summary: Value = serde_json::from_str(&texts[0]).unwrap();
    let samples = summary["rejected"]["sample"].as_array().unwrap();
    assert!(samples.iter().any(|r| {
        r["reason"] == "bad_timestamp"
            && r["record"]
                .as_str()
                .unwrap()
                .contains("\"customer_id\":\"p")
    }));
    let unreadable: Vec<&Value> = samples
        .iter()
        .filter(|r| r["reason"] == "unparseable")
        .collect();
    assert!(!unreadable.is_empty());
    for r in unreadable {
        assert!(
            r["record"].as_str().unwrap().starts_with("(withheld"),
            "{r}"
        );
    }
    for text in &texts {
        for id in &raw {
            assert!(!text.contains(id.as_str()), "raw id {id} in:\n{text}");
        }
    }
    // The timeline of a pseudonym is that customer's.
    assert!(texts[6].contains(&one));

    // Without a key, refused with how to make one.
    let out = Command::new(BIN)
        .args(["customers", path, "--pseudonymize"])
        .env_remove("JOURNEYSCOPE_PSEUDONYMIZE_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--pseudonymize needs a secret key"),
        "{}",
        stderr(&out)
    );
    // The key from the environment gives the same pseudonyms.
    let out = Command::new(BIN)
        .args(["customers", path, "--pseudonymize"])
        .env("JOURNEYSCOPE_PSEUDONYMIZE_KEY", "a test key, long enough")
        .output()
        .unwrap();
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again, customers);
}

/// `summarize PATH --pseudonymize` with the key `key` in a file of mode
/// `mode` (or, without a file, in the environment).
fn with_key(path: &str, key: &[u8], mode: Option<u32>) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["summarize", path, "--pseudonymize"])
        .env_remove("JOURNEYSCOPE_PSEUDONYMIZE_KEY");
    match mode {
        Some(mode) => {
            let key_file = dir.path().join("pseudonym.key");
            std::fs::write(&key_file, key).unwrap();
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
            command.arg("--pseudonymize-key-file").arg(&key_file);
        }
        None => {
            use std::os::unix::ffi::OsStrExt;
            command.env(
                "JOURNEYSCOPE_PSEUDONYMIZE_KEY",
                std::ffi::OsStr::from_bytes(key),
            );
        }
    }
    command.output().unwrap()
}

#[test]
fn a_short_key_is_refused_and_a_key_others_can_read_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 300, true);
    let path = file.to_str().unwrap();
    // Shorter than 16 bytes (a final line break is not part of the key):
    // refused, saying how to make a good one.
    for (key, mode) in [
        (b"k".as_slice(), Some(0o600)),
        (b"fifteen bytes!!\n", Some(0o600)),
        (b"fifteen bytes!!", None),
    ] {
        let out = with_key(path, key, mode);
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{message}");
        assert!(message.contains("needs at least 16 bytes"), "{message}");
        assert!(message.contains("head -c 32 /dev/urandom"), "{message}");
    }
    // 16 bytes are enough; a private key file gets no warning.
    for mode in [Some(0o600), Some(0o400), None] {
        let out = with_key(path, b"sixteen bytes!!!", mode);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stderr(&out).contains("chmod"), "{}", stderr(&out));
    }
    // One others can read works, with a warning naming the file and the fix.
    for mode in [0o644, 0o640, 0o604] {
        let out = with_key(path, b"a good key, but shared\n", Some(mode));
        assert!(out.status.success(), "{}", stderr(&out));
        let message = stderr(&out);
        assert!(message.contains("can be read by other users"), "{message}");
        assert!(message.contains("pseudonym.key"), "{message}");
        assert!(message.contains("`chmod 600 "), "{message}");
    }
}

/// The text values of `field` in a generated JSON lines file.
fn field_values(file: &std::path::Path, field: &str) -> BTreeSet<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v[field].as_str().map(str::to_owned))
        .collect()
}

/// True when `text` shows `value` as a value: quoted, or after `=`.
fn shows(text: &str, value: &str) -> bool {
    text.contains(&format!("\"{value}\"")) || text.contains(&format!("={value}"))
}

#[test]
fn a_hidden_property_leaves_no_value_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 3_000, false);
    let path = file.to_str().unwrap();
    let values = field_values(&file, "channel");
    assert!(values.len() >= 4, "{values:?}");
    let hide = ["--hide-property", "channel"];

    // Without the flag the values are there to find: the check can fail.
    let plain = output(&["timeline", path, "--id", "C0000001", "--format", "table"]);
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(values.iter().any(|v| shows(&plain, v)), "{plain}");

    let texts = every_output(
        dir.path(),
        path,
        &[
            vec!["summarize", path, "--format", "json"],
            vec!["summarize", path, "--format", "table"],
            vec![
                "summarize",
                path,
                "--format",
                "json",
                "--compare",
                "did:purchase",
            ],
            vec!["customers", path, "--format", "csv"],
            vec!["timeline", path, "--id", "C0000001", "--format", "json"],
            vec!["timeline", path, "--id", "C0000001", "--format", "table"],
        ],
        &hide,
    );
    assert!(texts[10].contains("channel=hidden"), "{}", texts[10]);
    for text in &texts {
        for value in &values {
            assert!(!shows(text, value), "channel value {value} in:\n{text}");
        }
    }
}

#[test]
fn a_live_state_keeps_no_raw_id_and_is_not_resumed_with_other_ids() {
    use common::broker::{Broker, live_args, produce};
    let broker = Broker::start();
    broker.create_topic("private");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 2_000, false);
    produce(&broker, "private", &file);
    let key_file = dir.path().join("pseudonym.key");
    std::fs::write(&key_file, "a live key, long enough").unwrap();
    let state = dir.path().join("live.state");
    let live = |extra: &[&str]| {
        let mut args = live_args(&broker, "private", &["--state", state.to_str().unwrap()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut command = Command::new(BIN);
        command
            .args(&args)
            .env_remove("JOURNEYSCOPE_PSEUDONYMIZE_KEY");
        command.output().unwrap()
    };
    let private = [
        "--pseudonymize",
        "--pseudonymize-key-file",
        key_file.to_str().unwrap(),
        "--hide-property",
        "channel",
    ];
    let out = live(&private);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["events"].as_u64().unwrap() > 1_500);

    let raw = field_values(&file, "customer_id");
    let saved = std::fs::read(&state).unwrap();
    let saved = String::from_utf8_lossy(&saved);
    let texts = [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        saved.into_owned(),
    ];
    let values = field_values(&file, "channel");
    for text in &texts {
        for id in &raw {
            assert!(
                !text.contains(id.as_str()),
                "raw id {id} in the live outputs"
            );
        }
        for value in &values {
            assert!(
                !shows(text, value),
                "channel value {value} in the live outputs"
            );
        }
    }
    // The state holds pseudonyms (the check above can fail).
    assert!(texts[2].contains(&openssl_pseudonym(
        "a live key, long enough",
        raw.iter().next().unwrap()
    )));

    // Going on without pseudonyms, or with another key, would count each
    // customer twice: refused, saying why.
    let out = live(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("saved with --pseudonymize"),
        "{}",
        stderr(&out)
    );
    let other = dir.path().join("other.key");
    std::fs::write(&other, "another key, long enough").unwrap();
    let out = live(&[
        "--pseudonymize",
        "--pseudonymize-key-file",
        other.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another pseudonymization key"),
        "{}",
        stderr(&out)
    );
}
