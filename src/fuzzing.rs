//! Entry points for the fuzz targets in `fuzz/` and for replaying their
//! corpora in the tests: each feeds arbitrary bytes to one parser the way
//! a real input would reach it, then checks what must hold whatever the
//! bytes were (no panic, nothing unprintable in the terminal table or the
//! DOT graph, every record accounted for).

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::engine::{EngineConfig, EventBatch, JourneyBuilder};
use crate::report::{Summary, to_csv, to_dot, to_table};
use crate::source::delimited::DelimitedSource;
use crate::source::json_document::JsonDocument;
use crate::source::jsonl::{JsonLinesSource, JsonMapper};
use crate::source::live_state::read_state;
use crate::source::values::{MessageMapper, ValueDecoder};
use crate::source::{EventSource, Mapping, SourceError, SourceOptions, TimeParser, load};

/// Writes a summary every way a user sees it and checks that the terminal
/// table and the DOT graph carry no control character.
fn check_writers(summary: &Summary) {
    let table = to_table(summary);
    assert!(
        !table
            .chars()
            .any(|c| c != '\n' && crate::format::is_unprintable(c)),
        "the table carries an unprintable character"
    );
    let dot = to_dot(summary);
    assert!(
        !dot.chars()
            .any(|c| c != '\n' && crate::format::is_unprintable(c)),
        "the DOT graph carries an unprintable character"
    );
    let _ = to_csv(summary);
    let _ = summary.to_json();
}

fn summarize(source: &mut dyn EventSource) {
    match load(source, &SourceOptions::default(), EngineConfig::default()) {
        Ok(journeys) => check_writers(&Summary::new(
            source.name(),
            source.mapping(),
            &journeys,
            None,
        )),
        Err(SourceError::Io { .. }) => panic!("reading from memory cannot fail"),
        Err(_) => {}
    }
}

/// JSON lines (or a JSON document) as a file holds them.
pub fn json_lines(data: &[u8]) {
    let reader = Box::new(Cursor::new(data.to_vec()));
    if let Ok(mut source) =
        JsonLinesSource::open(Path::new("fuzz.jsonl"), reader, &SourceOptions::default())
    {
        summarize(&mut source);
    }
}

/// CSV or TSV as a file holds them (the first byte picks the delimiter
/// sniffed or given).
pub fn delimited(data: &[u8]) {
    let (delimiter, body) = match data.split_first() {
        Some((b'\t', rest)) => (Some(b'\t'), rest),
        Some((b';', rest)) => (Some(b';'), rest),
        _ => (None, data),
    };
    let options = SourceOptions {
        delimiter,
        ..SourceOptions::default()
    };
    let reader = Box::new(Cursor::new(body.to_vec()));
    if let Ok(mut source) = DelimitedSource::open(Path::new("fuzz.csv"), reader, &options) {
        summarize(&mut source);
    }
}

/// A timestamp as text, and the same bytes read as a number.
pub fn timestamp(data: &[u8]) {
    let parser = TimeParser::new(Some(chrono_tz::Europe::Amsterdam));
    let text = String::from_utf8_lossy(data);
    let _ = parser.parse_str(&text);
    let _ = TimeParser::default().parse_str(&text);
    if data.len() >= 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[..8]);
        let _ = parser.from_number(f64::from_le_bytes(b));
    }
}

/// A JSON document cut into events: every item is a value or a rejection,
/// and reading always ends.
pub fn json_document(data: &[u8]) {
    let mut document = JsonDocument::new(
        Box::new(Cursor::new(data.to_vec())),
        Path::new("fuzz.json").to_path_buf(),
    );
    let mut items = 0usize;
    while let Ok(Some(_)) = document.next_item() {
        items += 1;
        assert!(items <= data.len() + 1, "more items than bytes");
    }
}

/// The Avro schema of the values [`kafka_value`] decodes: an event whose
/// `context` holds itself, as deep as the value goes.
pub const FUZZ_AVRO_SCHEMA: &str = r#"{"type":"record","name":"Event","fields":[
  {"name":"customer_id","type":"string"},
  {"name":"event","type":"string"},
  {"name":"timestamp","type":"string"},
  {"name":"context","type":["null",{"type":"record","name":"Node","fields":[
    {"name":"child","type":["null","Node"]},
    {"name":"tags","type":{"type":"array","items":"string"}}]}]}]}"#;

/// A Kafka message value (the first byte says whether there is one: 0 for
/// none; 2 for an Avro datum of [`FUZZ_AVRO_SCHEMA`]; else JSON).
pub fn kafka_value(data: &[u8]) {
    let mapping = Mapping {
        customer_fallback: Some("anonymous_id".into()),
        event_id: Some("event_id".into()),
        ..Mapping::named("customer_id", "event", "timestamp")
    };
    let mapper = JsonMapper::new(&mapping, &SourceOptions::default(), TimeParser::default());
    let value = match data.split_first() {
        Some((0, _)) | None => None,
        Some((_, rest)) => Some(rest),
    };
    let mut batch = EventBatch::default();
    match data.first() {
        Some(2) => {
            static DECODER: OnceLock<Option<Arc<ValueDecoder>>> = OnceLock::new();
            let decoder =
                DECODER.get_or_init(|| ValueDecoder::avro(FUZZ_AVRO_SCHEMA).ok().map(Arc::new));
            let Some(decoder) = decoder else {
                panic!("the fuzz schema is an Avro schema");
            };
            MessageMapper::new(mapper, decoder.clone()).map_message(
                value,
                || "partition 0 offset 0".into(),
                &mut batch,
            );
        }
        _ => mapper.map_message(value, || "partition 0 offset 0".into(), &mut batch),
    }
    assert!(
        !batch.is_empty() || !batch.rejected.is_empty(),
        "a message must give events or a rejection"
    );
    let mut builder = JourneyBuilder::new(EngineConfig::default());
    builder.ingest(&batch);
    check_writers(&Summary::new("fuzz", &mapping, &builder.finish(), None));
}

/// A saved live state, read back (and, when it reads, its totals taken).
pub fn saved_state(data: &[u8]) {
    let mut reader = Cursor::new(data);
    if let Ok((engine, _)) = read_state(&mut reader, EngineConfig::default(), 10_000_000) {
        let _ = engine.since_start(false);
    }
}
