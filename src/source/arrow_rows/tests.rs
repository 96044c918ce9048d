//! The quick loop against the record plan, row by row.

use std::sync::Arc;

use duckdb::arrow::array::TimestampMicrosecondArray;

use super::*;
use crate::engine::Rejected;
use crate::source::{Mapping, SourceOptions};

/// Rows that are plain events and rows that are not: blank, missing
/// and white-space-led values, times out of range, a local time the
/// clock skipped; all of them `repeat` times over.
fn arrays(naive: bool, dictionary: bool, repeat: usize) -> Vec<ArrayRef> {
    let texts = |values: &[Option<&str>]| -> ArrayRef {
        let repeated = std::iter::repeat_n(values, repeat).flatten().copied();
        let plain: ArrayRef = Arc::new(repeated.collect::<StringArray>());
        let as_dictionary =
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        match dictionary {
            true => cast(&plain, &as_dictionary).unwrap_or(plain),
            false => plain,
        }
    };
    let skipped = 1_679_797_800_000_000; // 2023-03-26 02:30 in Europe/Paris
    let times = [
        Some(1_700_000_000_000_000),
        Some(1_700_000_001_000_000),
        None,
        Some(i64::MAX / 2),
        Some(skipped),
        Some(1_700_000_002_000_000),
        Some(1_700_000_003_000_000),
    ];
    let times: TimestampMicrosecondArray = std::iter::repeat_n(times, repeat).flatten().collect();
    let times = match naive {
        true => times,
        false => times.with_timezone("UTC"),
    };
    vec![
        texts(&[
            Some("c1"),
            Some(" "),
            Some("c3"),
            Some("c4"),
            Some("c5"),
            None,
            Some(" c7"),
        ]),
        texts(&[
            Some("view"),
            Some("buy"),
            Some("view"),
            Some("view"),
            Some("buy"),
            Some("view"),
            Some("\tcart"),
        ]),
        texts(&[
            Some("e1"),
            None,
            Some(""),
            Some("e4"),
            Some("e5"),
            Some("e6"),
            Some(" "),
        ]),
        texts(&[
            Some("web"),
            Some("app"),
            None,
            Some(" "),
            Some("web"),
            Some("app"),
            Some("mail"),
        ]),
        Arc::new(times),
    ]
}

fn selection(naive: bool, hidden: &[&str]) -> Selection {
    let mapping = Mapping {
        event_id: Some("id".into()),
        channel: Some("channel".into()),
        ..Mapping::named("customer", "event", "time")
    };
    let options = SourceOptions {
        hidden_properties: hidden.iter().map(|h| h.to_string()).collect(),
        ..SourceOptions::default()
    };
    let kind = match naive {
        true => TimeKind::Naive,
        false => TimeKind::Instant,
    };
    Selection::new(&mapping, kind, |_| true, &options)
}

type Row = (String, String, i64, Option<String>, Vec<(String, String)>);

fn contents(batch: &EventBatch) -> (Vec<Row>, Vec<Rejected>, u64) {
    let events = batch
        .iter()
        .map(|e| {
            let properties = e
                .properties()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let id = e.event_id.map(str::to_owned);
            (e.customer.into(), e.event.into(), e.time_us, id, properties)
        })
        .collect();
    (events, batch.rejected.clone(), batch.times_adjusted.total())
}

/// The quick loop maps every row as the record plan alone does.
#[test]
fn the_quick_loop_maps_as_the_plan_does() {
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap_or(chrono_tz::UTC);
    // Repeated, a dictionary's values are few beside its rows: each
    // is then held once per batch.
    let cases = [
        (false, None, false, 1),
        (true, None, false, 1),
        (true, Some(paris), false, 1),
        (false, None, true, 1),
        (false, None, true, 8),
        (true, Some(paris), true, 8),
    ];
    for (naive, zone, dictionary, repeat) in cases {
        let parser = TimeParser::new(zone);
        let arrays_of = arrays;
        let arrays = arrays_of(naive, dictionary, repeat);
        assert_eq!(
            matches!(arrays[1].data_type(), DataType::Dictionary(..)),
            dictionary
        );
        let quick_selection = selection(naive, &[]);
        let mut filler = BatchFiller::new(&quick_selection, &parser, EventBatch::default(), 10);
        assert!(filler.add(&arrays).is_ok());
        let Some(quick) = filler.rest() else {
            panic!("nothing was mapped");
        };

        let plan = &quick_selection.plan;
        let columns = ArrowColumns::new(&arrays, quick_selection.time_kind, plan.time);
        let Ok(columns) = columns else {
            panic!("the columns do not read");
        };
        assert!(Quick::of(&columns, plan, arrays[0].len()).is_some());
        let mut reference = EventBatch::default();
        for row in 0..arrays[0].len() {
            let record = ArrowRow {
                columns: &columns,
                row,
            };
            let position = || format!("row {}", 11 + row);
            plan.apply(&record, &parser, position, &mut reference);
        }
        let (events, rejected, adjusted) = contents(&quick);
        assert_eq!(
            (events.clone(), rejected.len(), adjusted),
            {
                let (e, r, a) = contents(&reference);
                (e, r.len(), a)
            },
            "naive {naive}, zone {zone:?}, dictionary {dictionary}"
        );
        let positions = |r: &[Rejected]| -> Vec<String> {
            r.iter()
                .map(|r| format!("{} {}", r.position, r.record))
                .collect()
        };
        assert_eq!(positions(&rejected), positions(&reference.rejected));
        assert!(events.len() >= 3 && !rejected.is_empty());
        if dictionary && repeat > 1 {
            // Fewer bytes than the same rows read as plain text.
            let mut plain = BatchFiller::new(&quick_selection, &parser, EventBatch::default(), 10);
            assert!(plain.add(&arrays_of(naive, false, repeat)).is_ok());
            let plain_bytes = plain.rest().map_or(0, |b| b.text_bytes());
            assert!(quick.text_bytes() < plain_bytes);
        }
    }
}

/// A dictionary's values remembered for one batch of rows are not
/// taken for the next batch's, whose same keys say other things.
#[test]
fn remembered_values_hold_for_their_own_batch_of_rows() {
    let as_dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let column = |values: [&str; 4]| -> ArrayRef {
        let plain: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        cast(&plain, &as_dictionary).unwrap_or(plain)
    };
    let batch_of = |customers, events, ids, channels| -> Vec<ArrayRef> {
        let times: TimestampMicrosecondArray =
            (0..4).map(|i| Some(1_700_000_000_000_000 + i)).collect();
        vec![
            column(customers),
            column(events),
            column(ids),
            column(channels),
            Arc::new(times.with_timezone("UTC")),
        ]
    };
    let first = batch_of(
        ["c1", "c2", "c1", "c2"],
        ["home", "cart", "home", "cart"],
        ["e1", "e2", "e3", "e4"],
        ["web", "app", "web", "app"],
    );
    let second = batch_of(
        ["d1", "d2", "d1", "d2"],
        ["buy", "help", "buy", "help"],
        ["f1", "f2", "f3", "f4"],
        ["mail", "shop", "mail", "shop"],
    );
    assert!(matches!(first[1].data_type(), DataType::Dictionary(..)));
    let selection = selection(false, &[]);
    let parser = TimeParser::new(None);
    let mut filler = BatchFiller::new(&selection, &parser, EventBatch::default(), 0);
    assert!(filler.add(&first).is_ok() && filler.add(&second).is_ok());
    let Some(batch) = filler.rest() else {
        panic!("nothing was mapped");
    };
    let (events, rejected, _) = contents(&batch);
    assert!(rejected.is_empty());
    let seen: Vec<String> = events
        .iter()
        .map(|(customer, event, _, id, properties)| {
            let channel = properties.first().map_or("", |(_, v)| v.as_str());
            format!(
                "{customer} {event} {} {channel}",
                id.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        seen[4..],
        [
            "d1 buy f1 mail",
            "d2 help f2 shop",
            "d1 buy f3 mail",
            "d2 help f4 shop"
        ]
    );
    assert_eq!(seen[..2], ["c1 home e1 web", "c2 cart e2 app"]);
}

/// Hidden properties are the plan's to write.
#[test]
fn hidden_properties_leave_the_quick_loop() {
    let arrays = arrays(false, false, 1);
    let selection = selection(false, &["channel"]);
    let plan = &selection.plan;
    let columns = ArrowColumns::new(&arrays, selection.time_kind, plan.time);
    assert!(columns.is_ok_and(|c| Quick::of(&c, plan, 7).is_none()));
}
