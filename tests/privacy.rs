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

#[test]
fn pseudonyms_are_hmac_sha256_and_no_output_keeps_a_raw_id() {
    let dir = tempfile::tempdir().unwrap();
    // With malformed records, whose samples quote the record.
    let file = generated(dir.path(), "events.jsonl", 3_000, false);
    let path = file.to_str().unwrap();
    let key_file = dir.path().join("pseudonym.key");
    std::fs::write(&key_file, "a test key\n").unwrap();
    let key = key_file.to_str().unwrap();
    let private = ["--pseudonymize", "--pseudonymize-key-file", key];

    let raw: BTreeSet<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["customer_id"].as_str().map(str::to_owned))
        .collect();
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
        .map(|id| openssl_pseudonym("a test key", id))
        .collect();
    assert_eq!(printed, expected);

    // Every output: the summary (with rejected samples), both exports, the
    // customer list as CSV and one timeline.
    let one = printed.iter().next().unwrap().clone();
    let mut texts = Vec::new();
    for command in [
        vec!["summarize", path, "--format", "json"],
        vec!["summarize", path, "--format", "table"],
        vec!["customers", path, "--format", "csv"],
        vec!["timeline", path, "--id", &one, "--format", "json"],
    ] {
        let mut args = command.clone();
        args.extend(private);
        let out = output(&args);
        texts.push(String::from_utf8_lossy(&out.stdout).into_owned());
        texts.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    for name in ["edges.csv", "graph.json", "map.svg"] {
        let out_path = dir.path().join(name);
        let mut args = vec!["export", path, "--out", out_path.to_str().unwrap()];
        args.extend(private);
        output(&args);
        texts.push(std::fs::read_to_string(&out_path).unwrap());
    }
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
        .env("JOURNEYSCOPE_PSEUDONYMIZE_KEY", "a test key")
        .output()
        .unwrap();
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again, customers);
}
