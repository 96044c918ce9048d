//! Tests of the sample generator and writers.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};

use super::calendar::{MONTH_END_US, MONTH_START_US, push_rfc3339_ms};
use super::*;

fn opts(events: usize, seed: u64, messy: bool) -> GenerateOptions {
    GenerateOptions {
        events,
        seed,
        messy,
    }
}

fn good_events(records: &[SampleRecord]) -> Vec<&SampleEvent> {
    let mut seen = HashSet::new();
    records
        .iter()
        .filter_map(|r| match r {
            SampleRecord::Event(e) if seen.insert(e.event_id.clone()) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn same_seed_same_output_different_seed_different_output() {
    let (a, ra) = generate(&opts(5_000, 42, true));
    let (b, rb) = generate(&opts(5_000, 42, true));
    let (c, _) = generate(&opts(5_000, 43, true));
    assert_eq!(a, b);
    assert_eq!(ra, rb);
    assert_ne!(a, c);
}

#[test]
fn record_count_is_exact() {
    for n in [0, 1, 2, 7, 99, 100, 1_000, 12_345] {
        for messy in [false, true] {
            let (records, report) = generate(&opts(n, 3, messy));
            assert_eq!(records.len(), n, "n={n} messy={messy}");
            assert_eq!(report.records, n);
            assert_eq!(report.events + report.duplicates + report.malformed, n);
        }
    }
}

#[test]
fn clean_output_has_no_messy_parts() {
    let (records, report) = generate(&opts(20_000, 9, false));
    assert_eq!(
        (report.duplicates, report.malformed, report.late),
        (0, 0, 0)
    );
    assert!(records.iter().all(|r| matches!(r, SampleRecord::Event(_))));
    let ts: Vec<i64> = good_events(&records)
        .iter()
        .map(|e| e.timestamp_us)
        .collect();
    assert_eq!(ts.len(), records.len());
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "clean output is in time order"
    );
}

#[test]
fn report_matches_records() {
    let (records, report) = generate(&opts(50_000, 11, true));
    let mut seen: HashMap<&str, &SampleEvent> = HashMap::new();
    let (mut events, mut duplicates, mut late, mut malformed) = (0, 0, 0, 0);
    let mut kinds = HashSet::new();
    let mut max_ts = i64::MIN;
    for r in &records {
        match r {
            SampleRecord::Malformed(kind) => {
                malformed += 1;
                kinds.insert(format!("{kind:?}"));
            }
            SampleRecord::Event(e) => match seen.get(e.event_id.as_str()) {
                Some(first) => {
                    assert_eq!(*first, e, "a duplicate is an exact copy");
                    duplicates += 1;
                }
                None => {
                    seen.insert(&e.event_id, e);
                    events += 1;
                    if e.timestamp_us < max_ts {
                        late += 1;
                        assert!(
                            max_ts - e.timestamp_us <= 300_000_000,
                            "late by at most 5 min"
                        );
                    }
                    max_ts = max_ts.max(e.timestamp_us);
                }
            },
        }
    }
    assert_eq!(report.events, events);
    assert_eq!(report.duplicates, duplicates);
    assert_eq!(report.late, late);
    assert_eq!(report.malformed, malformed);
    assert_eq!(duplicates, 500);
    assert_eq!(malformed, 50);
    assert!((300..=700).contains(&late), "late {late}");
    assert_eq!(kinds.len(), 3);
}

#[test]
fn journeys_look_like_a_shop() {
    let (records, _) = generate(&opts(200_000, 7, false));
    let events = good_events(&records);
    let customers: HashSet<&str> = events.iter().map(|e| e.customer_id.as_str()).collect();
    let per_customer = events.len() as f64 / customers.len() as f64;
    assert!(
        (7.0..=11.0).contains(&per_customer),
        "events per customer {per_customer}"
    );

    let touchpoints: HashSet<&str> = events.iter().map(|e| e.event).collect();
    assert!((12..=18).contains(&touchpoints.len()), "{touchpoints:?}");
    let channels: HashSet<&str> = events.iter().map(|e| e.channel).collect();
    for c in ["web", "app", "email", "store", "call_centre"] {
        assert!(channels.contains(c), "channel {c}");
    }
    assert!(
        events
            .iter()
            .all(|e| (MONTH_START_US..MONTH_END_US).contains(&e.timestamp_us))
    );

    // Properties.
    for e in &events {
        match e.event {
            "search" => assert!(e.property("query").is_some()),
            "purchase" => {
                assert!(e.property("order_id").is_some());
                assert!(e.property("amount").unwrap().parse::<f64>().unwrap() > 0.0);
            }
            "product_view" | "add_to_cart" => {
                assert!(e.property("sku").is_some() && e.property("category").is_some());
                assert!(e.property("price").unwrap().parse::<f64>().unwrap() > 0.0);
            }
            "support_ticket" | "return_request" => assert!(e.property("reason").is_some()),
            "home" | "category_page" if e.channel == "web" => {
                assert!(e.property("page_path").is_some())
            }
            _ => {}
        }
    }

    // Black Friday peak and a quiet night.
    let mut per_day = [0usize; 30];
    let mut per_hour = [0usize; 24];
    for e in &events {
        let s = (e.timestamp_us - MONTH_START_US) / 1_000_000;
        per_day[(s / 86_400) as usize] += 1;
        per_hour[((s / 3_600) % 24) as usize] += 1;
    }
    let normal = per_day[1..15].iter().sum::<usize>() as f64 / 14.0;
    assert!(per_day[26] as f64 > 3.0 * normal, "{per_day:?}");
    assert!(per_hour[3] * 4 < per_hour[13], "{per_hour:?}");

    // Sessions by a 30-minute idle timeout.
    let mut by_customer: HashMap<&str, Vec<&SampleEvent>> = HashMap::new();
    for e in &events {
        by_customer.entry(&e.customer_id).or_default().push(e);
    }
    let (mut sessions, mut buying, mut gaps_in_doubt) = (0usize, 0usize, 0usize);
    let mut returning = 0;
    for list in by_customer.values_mut() {
        list.sort_by_key(|e| e.timestamp_us);
        let mut bought = false;
        let mut n = 0;
        for (i, e) in list.iter().enumerate() {
            let gap = if i == 0 {
                i64::MAX
            } else {
                e.timestamp_us - list[i - 1].timestamp_us
            };
            if (20 * 60_000_000 + 1..40 * 60_000_000).contains(&gap) {
                gaps_in_doubt += 1;
            }
            if gap > 30 * 60_000_000 {
                sessions += 1;
                n += 1;
                buying += usize::from(bought);
                bought = false;
            }
            bought |= e.event == "purchase";
        }
        buying += usize::from(bought);
        returning += usize::from(n > 1);
    }
    assert_eq!(
        gaps_in_doubt, 0,
        "session gaps are well apart from in-session gaps"
    );
    let rate = buying as f64 / sessions as f64;
    assert!((0.02..=0.04).contains(&rate), "purchase rate {rate}");
    assert!(returning * 5 > by_customer.len(), "repeat visits");
    let checkout = events.iter().filter(|e| e.event == "checkout").count();
    let product = events.iter().filter(|e| e.event == "product_view").count();
    assert!(checkout * 8 < product, "drop-off before checkout");
}

#[test]
fn timestamps_format_like_chrono() {
    for ts in [
        0,
        MONTH_START_US,
        MONTH_START_US + 123_456_789_000,
        1_000_000_001_000,
    ] {
        let mut s = String::new();
        push_rfc3339_ms(&mut s, ts);
        let expected = chrono::DateTime::from_timestamp_micros(ts)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        assert_eq!(s, expected);
    }
}

#[test]
fn unsupported_extension_is_an_error_naming_formats() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_sample(&dir.path().join("x.xlsx"), &opts(10, 1, true)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, GenerateError::UnsupportedFormat(_)));
    for ext in [".jsonl", ".csv", ".tsv", ".parquet", ".gz", ".zst"] {
        assert!(msg.contains(ext), "{msg}");
    }
    assert!(write_sample(&dir.path().join("x.gz"), &opts(10, 1, true)).is_err());
}

fn read_text(path: &std::path::Path) -> String {
    let file = std::fs::File::open(path).unwrap();
    let mut reader: Box<dyn Read> = match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => Box::new(flate2::read::GzDecoder::new(file)),
        Some("zst") => Box::new(zstd::Decoder::new(file).unwrap()),
        _ => Box::new(file),
    };
    let mut s = String::new();
    reader.read_to_string(&mut s).unwrap();
    s
}

#[test]
fn writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["s.jsonl", "s.ndjson.gz", "s.json.zst"] {
        let path = dir.path().join(name);
        let report = write_sample(&path, &opts(3_000, 5, true)).unwrap();
        let (records, expected) = generate(&opts(3_000, 5, true));
        assert_eq!(report, expected);
        let text = read_text(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3_000);
        for (line, record) in lines.iter().zip(&records) {
            let parsed = serde_json::from_str::<serde_json::Value>(line);
            match record {
                SampleRecord::Malformed(MalformedKind::Unparseable) => assert!(parsed.is_err()),
                SampleRecord::Malformed(MalformedKind::MissingCustomer) => {
                    assert!(parsed.unwrap().get("customer_id").is_none())
                }
                SampleRecord::Malformed(MalformedKind::BadTimestamp) => {
                    assert_eq!(parsed.unwrap()["timestamp"], "not-a-time")
                }
                SampleRecord::Event(e) => {
                    let v = parsed.unwrap();
                    assert_eq!(v["event_id"], e.event_id.as_str());
                    assert_eq!(v["event"], e.event);
                    if let Some(amount) = e.property("amount") {
                        assert!(v["properties"]["amount"].is_number());
                        assert_eq!(v["properties"]["amount"].as_f64(), amount.parse().ok());
                    }
                    assert_eq!(*line, e.to_json());
                }
            }
        }
        assert!(
            std::fs::read_dir(dir.path()).unwrap().count() <= 3,
            "no temporary files left"
        );
    }
}

#[test]
fn writes_csv_and_tsv() {
    let dir = tempfile::tempdir().unwrap();
    for (name, delimiter) in [("s.csv", b','), ("s.tsv.gz", b'\t'), ("s.csv.zst", b',')] {
        let path = dir.path().join(name);
        let report = write_sample(&path, &opts(5_000, 8, true)).unwrap();
        let text = read_text(&path);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        assert_eq!(header.len(), 13);
        assert_eq!(&header[3], "timestamp");
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), report.records);
        let short = rows.iter().filter(|r| r.len() != 13).count();
        let bad_ts = rows
            .iter()
            .filter(|r| r.len() == 13 && &r[3] == "not-a-time")
            .count();
        let no_customer = rows
            .iter()
            .filter(|r| r.len() == 13 && r[1].is_empty())
            .count();
        assert_eq!(short + bad_ts + no_customer, report.malformed);
        assert!(short > 0 && bad_ts > 0 && no_customer > 0);
    }
    let reader = BufReader::new(std::fs::File::open(dir.path().join("s.csv")).unwrap());
    let first = reader.lines().next().unwrap().unwrap();
    assert_eq!(
        first,
        "event_id,customer_id,event,timestamp,channel,sku,category,price,amount,query,page_path,order_id,reason"
    );
}

#[test]
fn writes_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("it's here");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("s.parquet");
    let report = write_sample(&path, &opts(4_000, 2, true)).unwrap();
    assert_eq!(report.records, 4_000);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let file = path.to_str().unwrap().replace('\'', "''");
    let (rows, null_ts, null_customer, ts_type, price_type): (i64, i64, i64, String, String) = conn
        .query_row(
            &format!(
                "SELECT count(*), count(*) - count(\"timestamp\"), count(*) - count(customer_id), \
                 any_value(typeof(\"timestamp\")), any_value(typeof(price)) FROM '{file}'"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(rows as usize, report.records);
    assert_eq!((null_ts + null_customer) as usize, report.malformed);
    assert_eq!(ts_type, "TIMESTAMP");
    assert_eq!(price_type, "DOUBLE");
    let first: String = conn
        .query_row(
            &format!("SELECT strftime(min(\"timestamp\"), '%Y-%m') FROM '{file}'"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(first, "2026-11");
    assert_eq!(
        std::fs::read_dir(&sub).unwrap().count(),
        1,
        "no temporary files left"
    );

    let zst = dir.path().join("s.parquet.zst");
    write_sample(&zst, &opts(500, 2, false)).unwrap();
    let bytes = zstd::decode_all(std::fs::File::open(&zst).unwrap()).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
}

#[test]
fn compact_events_stay_small() {
    assert_eq!(std::mem::size_of::<super::model::Compact>(), 32);
}

#[test]
fn orders_grow_in_time_and_follow_ups_refer_to_them() {
    let (records, _) = generate(&opts(100_000, 4, false));
    let events = good_events(&records);
    let mut buyer_of: HashMap<&str, (&str, i64)> = HashMap::new();
    let mut last_order = String::new();
    let mut follow_ups = 0;
    for e in &events {
        let order = e.property("order_id");
        match e.event {
            "purchase" => {
                let order = order.unwrap();
                assert!(order > last_order.as_str(), "{order} after {last_order}");
                last_order = order.to_string();
                buyer_of.insert(order, (&e.customer_id, e.timestamp_us));
            }
            "support_ticket" | "return_request" => {
                if let Some(order) = order {
                    let (buyer, bought) = buyer_of[order];
                    assert_eq!(buyer, e.customer_id);
                    assert!(e.timestamp_us - bought >= 12 * 3_600_000_000, "days later");
                    follow_ups += 1;
                }
            }
            _ => {}
        }
    }
    assert!(follow_ups > 20, "{follow_ups}");
}

#[test]
fn stream_matches_generate() {
    let o = opts(3_000, 21, true);
    let (records, report) = generate(&o);
    let mut stream = SampleStream::new(&o);
    assert_eq!(stream.size_hint(), (3_000, Some(3_000)));
    let streamed: Vec<SampleRecord> = stream.by_ref().collect();
    assert_eq!(streamed, records);
    assert_eq!(stream.report(), &report);
}
