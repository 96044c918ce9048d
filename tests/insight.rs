//! Segments and comparisons against independent recomputations: a segment's
//! summary equals the summary of a file cut down to its sessions (cut here,
//! by a session rule written in the test), and every row of a comparison
//! equals counts, a z-test and Benjamini–Hochberg q-values computed here.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::broker::{generated, lines, write_lines};
use common::{flags, shared_data, summarize};
use journeyscope::cli::MappingArgs;
use journeyscope::engine::compare::{CompareReport, Difference};
use journeyscope::report::Summary;
use serde_json::Value;

const TIMEOUT_US: i64 = 30 * 60 * 1_000_000;

/// One event of a file as the test reads it.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    customer: String,
    event: String,
    time_us: i64,
    properties: BTreeMap<String, String>,
}

fn json_rows(lines: &[String]) -> Vec<Row> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(line, l)| {
            let v: Value = serde_json::from_str(l).ok()?;
            let time = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?).ok()?;
            let properties = v
                .as_object()?
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect();
            Some(Row {
                line,
                customer: v["customer_id"].as_str()?.to_owned(),
                event: v["event"].as_str()?.to_owned(),
                time_us: time.timestamp_micros(),
                properties,
            })
        })
        .collect()
}

/// Sessions by brute force: per customer, stable by time, cut at gaps
/// over 30 minutes.
fn sessions(rows: &[Row]) -> Vec<Vec<&Row>> {
    let mut by_customer: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_customer.entry(&r.customer).or_default().push(r);
    }
    let mut out = Vec::new();
    for (_, mut list) in by_customer {
        list.sort_by_key(|r| r.time_us);
        let mut current: Vec<&Row> = Vec::new();
        for r in list {
            if current
                .last()
                .is_some_and(|p| r.time_us - p.time_us > TIMEOUT_US)
            {
                out.push(std::mem::take(&mut current));
            }
            current.push(r);
        }
        out.push(current);
    }
    out
}

fn with(segment: Option<&str>, compare: &[&str], keep: &[&str]) -> MappingArgs {
    MappingArgs {
        segment: segment.map(str::to_owned),
        compare: compare.iter().map(|s| s.to_string()).collect(),
        keep_property: keep.iter().map(|s| s.to_string()).collect(),
        funnel: ["product_view", "add_to_cart", "checkout", "purchase"]
            .map(String::from)
            .to_vec(),
        ..flags()
    }
}

fn comparable(s: &Summary) -> Value {
    let mut v = serde_json::to_value(s).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["source", "segment", "duplicates", "rejected"] {
        o.remove(k);
    }
    v
}

fn us(date: &str) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

#[test]
fn a_segment_is_the_summary_of_a_file_of_its_sessions_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "shop.jsonl", 40_000, true);
    let all = lines(&file);
    let rows = json_rows(&all);
    let sessions = sessions(&rows);
    type Rule = Box<dyn Fn(&[&Row]) -> bool>;
    let did = |t: &'static str| move |s: &[&Row]| s.iter().any(|r| r.event == t);
    let channel = |s: &[&Row]| s[0].properties.get("channel").cloned().unwrap_or_default();
    let cases: Vec<(&str, Rule)> = vec![
        ("channel=app", Box::new(move |s| channel(s) == "app")),
        (
            "channel!=app,web",
            Box::new(move |s| !["app", "web"].contains(&channel(s).as_str())),
        ),
        ("did:purchase", Box::new(did("purchase"))),
        (
            "!did:add_to_cart",
            Box::new(move |s| !did("add_to_cart")(s)),
        ),
        (
            "time:2026-11-10..2026-11-20",
            Box::new(|s| (us("2026-11-10")..us("2026-11-20")).contains(&s[0].time_us)),
        ),
        (
            "channel=web & did:search & time:2026-11-05..",
            Box::new(move |s| {
                channel(s) == "web" && did("search")(s) && s[0].time_us >= us("2026-11-05")
            }),
        ),
    ];
    for (expression, rule) in cases {
        let kept: BTreeSet<usize> = sessions
            .iter()
            .filter(|s| rule(s))
            .flat_map(|s| s.iter().map(|r| r.line))
            .collect();
        assert!(
            !kept.is_empty() && kept.len() < rows.len(),
            "{expression}: a segment that selects something, not everything"
        );
        let cut = dir.path().join("cut.jsonl");
        let cut_lines: Vec<String> = kept.iter().map(|&i| all[i].clone()).collect();
        write_lines(&cut, &cut_lines);
        let want = summarize(&cut, &with(None, &[], &[]));
        let got = summarize(&file, &with(Some(expression), &[], &[]));
        assert_eq!(got.segment.as_deref(), Some(expression));
        assert_eq!(comparable(&got), comparable(&want), "{expression}");
    }
}

/// The two-sided p-value of the pooled two-proportion z-test, the normal
/// tail integrated here by Simpson's rule.
fn textbook_p(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let p = (x1 + x2) / (n1 + n2);
    if p == 0.0 || p == 1.0 {
        return 1.0;
    }
    let z = ((x1 / n1 - x2 / n2) / (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt()).abs();
    let density = |t: f64| (-t * t / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let (a, b, n) = (z, z + 40.0, 400_000);
    let h = (b - a) / n as f64;
    let mut sum = density(a) + density(b);
    for i in 1..n {
        sum += density(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    (2.0 * sum * h / 3.0).min(1.0)
}

/// Benjamini–Hochberg by its definition: q(i) = min over p(j) ≥ p(i) of
/// p(j)·m / rank(j).
fn textbook_q(ps: &[f64]) -> Vec<f64> {
    let m = ps.len() as f64;
    let mut sorted: Vec<f64> = ps.to_vec();
    sorted.sort_by(f64::total_cmp);
    ps.iter()
        .map(|p| {
            sorted
                .iter()
                .enumerate()
                .filter(|(_, q)| *q >= p)
                .map(|(rank, q)| q * m / (rank + 1) as f64)
                .fold(1.0, f64::min)
        })
        .collect()
}

/// Per group: transitions, outflows, node sessions and exits, counted here.
#[derive(Default)]
struct Counts {
    edges: BTreeMap<(String, String), u64>,
    outflow: BTreeMap<String, u64>,
    nodes: BTreeMap<String, (u64, u64)>,
    sessions: u64,
}

fn counts<'a>(sessions: impl Iterator<Item = &'a Vec<&'a Row>>) -> Counts {
    let mut c = Counts::default();
    for s in sessions {
        c.sessions += 1;
        let names: Vec<&str> = std::iter::once("START")
            .chain(s.iter().map(|r| r.event.as_str()))
            .chain(std::iter::once("END"))
            .collect();
        for w in names.windows(2) {
            *c.edges.entry((w[0].into(), w[1].into())).or_default() += 1;
            *c.outflow.entry(w[0].into()).or_default() += 1;
        }
        let visited: BTreeSet<&str> = s.iter().map(|r| r.event.as_str()).collect();
        for v in visited {
            c.nodes.entry(v.into()).or_default().0 += 1;
        }
        c.nodes.entry(s[s.len() - 1].event.clone()).or_default().1 += 1;
    }
    c
}

fn check_rows(report: &CompareReport, a: &Counts, b: &Counts) {
    assert_eq!(report.a.sessions, a.sessions);
    assert_eq!(report.b.sessions, b.sessions);
    let mut tested: Vec<(f64, &Difference)> = Vec::new();
    let edge_keys: BTreeSet<&(String, String)> = a.edges.keys().chain(b.edges.keys()).collect();
    assert_eq!(report.edges.len(), edge_keys.len());
    for row in &report.edges {
        let key = (row.from.clone(), row.to.clone());
        let side = |c: &Counts| {
            (
                c.edges.get(&key).copied().unwrap_or(0),
                c.outflow.get(&row.from).copied().unwrap_or(0),
            )
        };
        let ((x1, n1), (x2, n2)) = (side(a), side(b));
        assert_eq!((row.a.transitions, row.a.outflow), (x1, n1), "{key:?}");
        assert_eq!((row.b.transitions, row.b.outflow), (x2, n2), "{key:?}");
        let want_pp = (x1 as f64 / n1.max(1) as f64 - x2 as f64 / n2.max(1) as f64) * 100.0;
        assert!((row.difference.diff_pp - want_pp).abs() < 1e-9);
        if n1 > 0 && n2 > 0 {
            let p = textbook_p(x1, n1, x2, n2);
            let got = row.difference.p_value.unwrap();
            assert!((got - p).abs() < 1e-9, "{key:?}: p {got} vs {p}");
            tested.push((p, &row.difference));
        } else {
            assert_eq!(row.difference.p_value, None);
        }
    }
    let node_keys: BTreeSet<&String> = a.nodes.keys().chain(b.nodes.keys()).collect();
    assert_eq!(report.nodes.len(), node_keys.len());
    for row in &report.nodes {
        let side = |c: &Counts| c.nodes.get(&row.name).copied().unwrap_or((0, 0));
        let ((n1, x1), (n2, x2)) = (side(a), side(b));
        assert_eq!((row.a.sessions, row.a.exits), (n1, x1), "{}", row.name);
        assert_eq!((row.b.sessions, row.b.exits), (n2, x2), "{}", row.name);
        if n1 > 0 && n2 > 0 {
            let p = textbook_p(x1, n1, x2, n2);
            assert!((row.difference.p_value.unwrap() - p).abs() < 1e-9);
            tested.push((p, &row.difference));
        }
    }
    let q = textbook_q(&tested.iter().map(|(p, _)| *p).collect::<Vec<_>>());
    for ((_, d), want) in tested.iter().zip(q) {
        let got = d.q_value.unwrap();
        assert!((got - want).abs() < 1e-9, "q {got} vs {want}");
    }
}

fn summary_rows(file: &Path) -> Vec<Row> {
    json_rows(&lines(file))
}

#[test]
fn every_row_of_a_comparison_equals_a_recomputation() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "shop.jsonl", 40_000, true);
    let rows = summary_rows(&file);
    let all = sessions(&rows);
    let channel = |s: &&Vec<&Row>| s[0].properties.get("channel").cloned().unwrap_or_default();

    let got = summarize(&file, &with(None, &["channel=app", "channel=web"], &[]));
    let report = got.compare.as_ref().unwrap();
    assert_eq!(report.a.segment, "channel=app");
    let a = counts(all.iter().filter(|s| channel(s) == "app"));
    let b = counts(all.iter().filter(|s| channel(s) == "web"));
    check_rows(report, &a, &b);
    assert!(report.funnel.as_ref().is_some_and(|f| f.len() == 3));

    // One segment: against every other session.
    let got = summarize(&file, &with(None, &["did:search"], &[]));
    let searched = |s: &&Vec<&Row>| s.iter().any(|r| r.event == "search");
    let a = counts(all.iter().filter(searched));
    let b = counts(all.iter().filter(|s| !searched(s)));
    check_rows(got.compare.as_ref().unwrap(), &a, &b);
}

#[test]
fn a_comparison_on_a_real_log_equals_a_recomputation() {
    // Sepsis cases (4TU): the cases released as "Release A" against the rest.
    let file = shared_data("sepsis.csv");
    let args = MappingArgs {
        compare: vec!["did:Release A".into()],
        session_timeout: "none".into(),
        ..flags()
    };
    let got = summarize(&file, &args);
    let report = got.compare.as_ref().unwrap();
    // The same counts from the rows of the summary's own graph are not
    // independent; read the CSV here instead.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&file)
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (case, activity, time) = (
        col(&got.mapping.customer),
        col(&got.mapping.event),
        col(&got.mapping.time),
    );
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.unwrap();
        let t = chrono::NaiveDateTime::parse_from_str(&record[time], "%Y/%m/%d %H:%M:%S%.f")
            .map(|t| t.and_utc().timestamp_micros());
        let Ok(t) = t else { continue };
        rows.push(Row {
            line,
            customer: record[case].to_owned(),
            event: record[activity].to_owned(),
            time_us: t,
            properties: BTreeMap::new(),
        });
    }
    let mut by_case: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_case.entry(&r.customer).or_default().push(r);
    }
    let cases: Vec<Vec<&Row>> = by_case
        .into_values()
        .map(|mut v| {
            v.sort_by_key(|r| r.time_us);
            v
        })
        .collect();
    assert_eq!(report.a.sessions + report.b.sessions, cases.len() as u64);
    let released = |s: &&Vec<&Row>| s.iter().any(|r| r.event == "Release A");
    let a = counts(cases.iter().filter(released));
    let b = counts(cases.iter().filter(|s| !released(s)));
    check_rows(report, &a, &b);
}

/// A small xorshift, so the test's random halves need no crate.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_planted_difference_is_found_and_random_halves_flag_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Planted: 2,000 sessions per channel; from cart, 50 % buy in one and
    // 35 % in the other.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::new();
    for c in 0..4_000 {
        let channel = if c % 2 == 0 { "app" } else { "web" };
        let buys = (next(&mut state) % 100) < if channel == "app" { 50 } else { 35 };
        let events: &[&str] = if buys {
            &["home", "cart", "purchase"]
        } else {
            &["home", "cart"]
        };
        for (i, e) in events.iter().enumerate() {
            out.push(format!(
                r#"{{"customer_id":"c{c}","event":"{e}","timestamp":"2026-11-0{}T10:0{i}:00Z","channel":"{channel}"}}"#,
                1 + c % 7
            ));
        }
    }
    let planted = dir.path().join("planted.jsonl");
    write_lines(&planted, &out);
    let got = summarize(&planted, &with(None, &["channel=app", "channel=web"], &[]));
    let report = got.compare.unwrap();
    let buy = report
        .edges
        .iter()
        .find(|e| e.from == "cart" && e.to == "purchase")
        .unwrap();
    assert!(buy.difference.significant, "{buy:?}");
    assert!(buy.difference.diff_pp > 10.0);
    assert!(
        report
            .biggest()
            .iter()
            .any(|(from, to, _)| *from == "cart" && *to == Some("purchase"))
    );

    // Null: every customer of a generated shop is put in half h0 or h1 at
    // random; the halves behave alike.
    let file = generated(dir.path(), "shop.jsonl", 40_000, true);
    let all = lines(&file);
    let mut quiet_seeds = 0;
    for seed in 1..=5u64 {
        let mut state = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let mut half: BTreeMap<String, &str> = BTreeMap::new();
        let marked: Vec<String> = all
            .iter()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let customer = v["customer_id"].as_str().unwrap().to_owned();
                let h = *half.entry(customer).or_insert_with(|| {
                    if next(&mut state).is_multiple_of(2) {
                        "h0"
                    } else {
                        "h1"
                    }
                });
                v["half"] = Value::from(h);
                v.to_string()
            })
            .collect();
        let halves = dir.path().join("halves.jsonl");
        write_lines(&halves, &marked);
        let got = summarize(&halves, &with(None, &["half=h0", "half=h1"], &["half"]));
        if got.compare.unwrap().biggest().is_empty() {
            quiet_seeds += 1;
        }
    }
    assert!(
        quiet_seeds >= 4,
        "random halves flagged rows in {} of 5 seeds",
        5 - quiet_seeds
    );
}

#[test]
fn previous_period_compares_the_second_half_with_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "shop.jsonl", 20_000, true);
    let rows = summary_rows(&file);
    let all = sessions(&rows);
    let got = summarize(&file, &with(None, &["previous-period"], &[]));
    let (first, last) = (
        rows.iter().map(|r| r.time_us).min().unwrap(),
        rows.iter().map(|r| r.time_us).max().unwrap(),
    );
    let middle = first + (last - first) / 2;
    let report = got.compare.as_ref().unwrap();
    let a = counts(all.iter().filter(|s| s[0].time_us >= middle));
    let b = counts(all.iter().filter(|s| s[0].time_us < middle));
    check_rows(report, &a, &b);
}

#[test]
fn a_property_that_is_not_kept_is_a_usage_error_that_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "shop.jsonl", 2_000, true);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_journeyscope"))
        .args(["summarize", file.to_str().unwrap(), "--segment", "plan=pro"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = common::broker::stderr(&out);
    assert!(err.contains("--keep-property plan"), "{err}");
}

#[test]
fn splitting_a_funnel_step_by_a_property_keeps_the_funnel() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "shop.jsonl", 20_000, true);
    let whole = summarize(&file, &with(None, &[], &[]));
    let split = summarize(
        &file,
        &MappingArgs {
            split_by: vec!["product_view:category".into()],
            ..with(None, &[], &[])
        },
    );
    assert!(
        split
            .nodes
            .iter()
            .any(|n| n.name.starts_with("product_view: ")),
        "the split made touchpoints per category"
    );
    let (whole, split) = (whole.funnel.unwrap(), split.funnel.unwrap());
    assert!(whole.steps[0].customers > 100);
    assert_eq!(split, whole, "the split step is reached as a whole");
}

/// With `--paths`, a comparison carries each group's paths: those of a
/// file cut down to the group's sessions (cut here).
#[test]
fn a_comparison_carries_each_groups_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "shop.jsonl", 20_000, true);
    let all = lines(&file);
    let rows = json_rows(&all);
    let sessions = sessions(&rows);
    let paths = |args: MappingArgs| MappingArgs {
        paths: true,
        depth: 6,
        paths_top: 8,
        ..args
    };
    let got = summarize(&file, &paths(with(None, &["did:purchase"], &[])));
    let compare = got.compare.unwrap();
    let compared = compare.paths.expect("each group's paths");
    for (bought, want_paths) in [(true, &compared.a), (false, &compared.b)] {
        let kept: BTreeSet<usize> = sessions
            .iter()
            .filter(|s| s.iter().any(|r| r.event == "purchase") == bought)
            .flat_map(|s| s.iter().map(|r| r.line))
            .collect();
        let cut = dir.path().join("cut.jsonl");
        write_lines(
            &cut,
            &kept.iter().map(|&i| all[i].clone()).collect::<Vec<_>>(),
        );
        let want = summarize(&cut, &paths(with(None, &[], &[]))).paths.unwrap();
        assert_eq!(*want_paths, want, "purchased: {bought}");
    }
}
