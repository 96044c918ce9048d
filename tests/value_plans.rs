//! Decoding plans read every Avro and Protobuf value exactly as the
//! crates' decoders (`apache-avro`, `prost-reflect`) and the JSON mapping
//! do: random values of schemas with every kind of field, and the same
//! bytes cut short, flipped, doubled and mixed with garbage, give the same
//! events and the same rejections (reason, detail and masked text) through
//! a plan as decoded whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use journeyscope::engine::EventBatch;
use journeyscope::source::jsonl::JsonMapper;
use journeyscope::source::pseudonym::Pseudonymizer;
use journeyscope::source::values::{MessageMapper, ValueDecoder, ValueFormat, ValuesSpec};
use journeyscope::source::{Mapping, SourceOptions, TimeParser};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MapKey, Value as Proto};

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn long(&mut self) -> i64 {
        let (small, any) = ((self.next() >> 20) as i64, self.next() as i64);
        *self.pick(&[
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN,
            1_764_201_600_123,
            1_764_201_600_123_456,
            1_764_201_600_123_456_789,
            -62_135_596_800_000_000,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            small,
            any,
            1 << 53,
            (1 << 53) + 1,
        ])
    }

    fn text(&mut self) -> String {
        self.pick(&[
            "",
            " ",
            "c1",
            "c2",
            "view",
            "buy",
            "x\"y",
            "é☃",
            "2025-11-27T00:00:00Z",
            "2025-11-27 10:00:00.5",
            "1764201600",
            "not a time",
            "ab",
        ])
        .to_string()
    }

    fn bytes(&mut self) -> Vec<u8> {
        match self.below(3) {
            0 => self.text().into_bytes(),
            1 => vec![0xff, 0xfe, b'a'],
            _ => (0..self.below(6)).map(|_| self.next() as u8).collect(),
        }
    }

    fn double(&mut self) -> f64 {
        *self.pick(&[
            0.0,
            -0.0,
            1.5,
            9.99,
            f64::NAN,
            f64::INFINITY,
            1.764_201_6e9,
            1.764_201_600_123e12,
            -3.0,
        ])
    }
}

/// The events and rejections of a batch, to compare.
fn contents(batch: &EventBatch) -> String {
    let events: Vec<String> = batch
        .iter()
        .map(|e| {
            let properties: Vec<(&str, &str)> = e.properties().collect();
            format!(
                "{:?} {:?} {} {} {:?} {:?} {:?}",
                e.customer, e.event, e.time_us, e.sub_us_ns, e.event_id, e.session_id, properties
            )
        })
        .collect();
    format!(
        "{events:#?}\n{:#?}\n{:?}",
        batch.rejected, batch.times_adjusted
    )
}

/// Maps every value through a plan and decoded whole; both must agree.
/// Returns how many values the plan read.
fn compare(
    decoder: ValueDecoder,
    mapping: &Mapping,
    options: &SourceOptions,
    values: &[Vec<u8>],
) -> u64 {
    let decoder = Arc::new(decoder);
    let mapper = || JsonMapper::new(mapping, options, TimeParser::default());
    let planned = MessageMapper::new(mapper(), decoder.clone());
    let whole = MessageMapper::new(mapper(), decoder).decoding_whole();
    for (i, value) in values.iter().enumerate() {
        let (mut a, mut b) = (EventBatch::default(), EventBatch::default());
        planned.map_message(Some(value), || format!("value {i}"), &mut a);
        whole.map_message(Some(value), || format!("value {i}"), &mut b);
        assert_eq!(
            contents(&a),
            contents(&b),
            "value {i} ({value:02x?}) maps differently through the plan"
        );
    }
    planned.planned()
}

/// Each value, and the same bytes cut short, with a byte changed, with
/// bytes after it, and garbage.
fn mangled(rng: &mut Rng, values: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for value in values {
        if !value.is_empty() {
            let cut = rng.below(value.len() as u64) as usize;
            out.push(value[..cut].to_vec());
            let mut flipped = value.clone();
            let at = rng.below(value.len() as u64) as usize;
            flipped[at] ^= 1 << rng.below(8);
            out.push(flipped);
        }
        let mut longer = value.clone();
        longer.extend((0..rng.below(4)).map(|_| rng.next() as u8));
        out.push(longer);
        out.push(value);
    }
    out.extend((0..200).map(|_| (0..rng.below(30)).map(|_| rng.next() as u8).collect()));
    out
}

/// Reads values with the schema file at `path` (`message`: the `.proto`
/// file's message).
fn file_decoder(
    format: ValueFormat,
    path: std::path::PathBuf,
    message: Option<&str>,
) -> ValueDecoder {
    ValueDecoder::new(&ValuesSpec {
        format,
        registry: None,
        schema: Some(path),
        message: message.map(Into::into),
    })
    .expect("the schema file")
}

fn schema_file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the schema");
    path
}

fn mapping(customer: &str, event: &str, time: &str, event_id: Option<&str>) -> Mapping {
    Mapping {
        customer_fallback: Some("anonymous_id".into()),
        event_id: event_id.map(Into::into),
        convention: "test".into(),
        ..Mapping::named(customer, event, time)
    }
}

fn options(wanted: &[&str], hidden: &[&str], pseudonyms: bool) -> SourceOptions {
    SourceOptions {
        wanted_properties: wanted.iter().map(|s| s.to_string()).collect(),
        hidden_properties: hidden.iter().map(|s| s.to_string()).collect(),
        pseudonymize: pseudonyms.then(|| Pseudonymizer::new(b"plans")),
        ..SourceOptions::default()
    }
}

// ---- Avro ----

const AVRO_SCHEMA: &str = r#"{"type": "record", "name": "Event", "namespace": "t", "fields": [
  {"name": "customer_id", "type": ["null", "string", "long"]},
  {"name": "anonymous_id", "type": ["null", "string"]},
  {"name": "event", "type": ["string", {"type": "enum", "name": "Kind", "symbols": ["view", "buy", "X"]}, "int", "boolean", "null"]},
  {"name": "ts", "type": [{"type": "long", "logicalType": "timestamp-millis"},
                          {"type": "long", "logicalType": "timestamp-micros"},
                          {"type": "long", "logicalType": "timestamp-nanos"},
                          {"type": "long", "logicalType": "local-timestamp-micros"},
                          "string", "double", "long", "null"]},
  {"name": "event_id", "type": ["null", "bytes", "int", {"type": "fixed", "name": "F4", "size": 4}]},
  {"name": "tags", "type": {"type": "array", "items": "string"}},
  {"name": "counts", "type": {"type": "map", "values": ["null", "double"]}},
  {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}},
  {"name": "span", "type": {"type": "fixed", "name": "D12", "size": 12, "logicalType": "duration"}},
  {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [
      {"name": "x", "type": "float"},
      {"name": "day", "type": {"type": "int", "logicalType": "date"}},
      {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}}]}},
  {"name": "channel", "type": ["null", "string", "F4", "Inner", {"type": "int", "logicalType": "date"}, "float", "boolean", "long"]},
  {"name": "properties", "type": ["null", {"type": "record", "name": "Props", "fields": [
      {"name": "price", "type": ["null", "double"]},
      {"name": "plan", "type": ["null", "string", "Kind"]},
      {"name": "customer_id", "type": "string"},
      {"name": "late", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]}]}]}
]}"#;

/// Named schemas by name, to follow references.
fn avro_names(schema: &Schema, names: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(r) => {
            names.insert(r.name.name.clone(), schema.clone());
            r.fields.iter().for_each(|f| avro_names(&f.schema, names));
        }
        Schema::Enum(e) => {
            names.insert(e.name.name.clone(), schema.clone());
        }
        Schema::Fixed(f) => {
            names.insert(f.name.name.clone(), schema.clone());
        }
        Schema::Union(u) => u.variants().iter().for_each(|v| avro_names(v, names)),
        Schema::Array(a) => avro_names(&a.items, names),
        Schema::Map(m) => avro_names(&m.types, names),
        _ => {}
    }
}

fn avro_value(schema: &Schema, names: &HashMap<String, Schema>, rng: &mut Rng) -> Avro {
    match schema {
        Schema::Null => Avro::Null,
        Schema::Boolean => Avro::Boolean(rng.chance(50)),
        Schema::Int => Avro::Int(rng.long() as i32),
        Schema::Long => Avro::Long(rng.long()),
        Schema::Float => Avro::Float(rng.double() as f32),
        Schema::Double => Avro::Double(rng.double()),
        Schema::Bytes => Avro::Bytes(rng.bytes()),
        Schema::String => Avro::String(rng.text()),
        Schema::Date => Avro::Date(rng.long() as i32),
        Schema::TimeMillis => Avro::TimeMillis(rng.long() as i32),
        Schema::TimestampMillis => Avro::TimestampMillis(rng.long() / 1000),
        Schema::TimestampMicros => Avro::TimestampMicros(rng.long()),
        Schema::TimestampNanos => Avro::TimestampNanos(rng.long()),
        Schema::LocalTimestampMicros => Avro::LocalTimestampMicros(rng.long()),
        Schema::Decimal(_) => Avro::Decimal(rng.bytes().into()),
        Schema::Duration => Avro::Duration(apache_avro::Duration::new(
            apache_avro::Months::new(1),
            apache_avro::Days::new(2),
            apache_avro::Millis::new(3),
        )),
        Schema::Fixed(f) => Avro::Fixed(f.size, (0..f.size).map(|_| rng.next() as u8).collect()),
        Schema::Enum(e) => {
            let i = rng.below(e.symbols.len() as u64) as usize;
            Avro::Enum(i as u32, e.symbols[i].clone())
        }
        Schema::Union(u) => {
            let i = rng.below(u.variants().len() as u64) as usize;
            Avro::Union(i as u32, Box::new(avro_value(&u.variants()[i], names, rng)))
        }
        Schema::Array(a) => Avro::Array(
            (0..rng.below(3))
                .map(|_| avro_value(&a.items, names, rng))
                .collect(),
        ),
        Schema::Map(m) => Avro::Map(
            (0..rng.below(3))
                .map(|_| (rng.text(), avro_value(&m.types, names, rng)))
                .collect(),
        ),
        Schema::Record(r) => Avro::Record(
            r.fields
                .iter()
                .map(|f| (f.name.clone(), avro_value(&f.schema, names, rng)))
                .collect(),
        ),
        Schema::Ref { name } => avro_value(&names[&name.name], names, rng),
        other => panic!("no generator for {other:?}"),
    }
}

fn avro_values(text: &str, rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    let schema = Schema::parse_str(text).expect("the test schema");
    let mut names = HashMap::new();
    avro_names(&schema, &mut names);
    (0..count)
        .filter_map(|_| apache_avro::to_avro_datum(&schema, avro_value(&schema, &names, rng)).ok())
        .collect()
}

#[test]
fn avro_values_map_the_same_through_a_plan_as_decoded_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = schema_file(&dir, "event.avsc", AVRO_SCHEMA);
    let mut rng = Rng(0x5eed_a1b2);
    let values = avro_values(AVRO_SCHEMA, &mut rng, 3000);
    assert!(
        values.len() > 2500,
        "the generator makes values of the schema"
    );
    let values = mangled(&mut rng, values);
    let cases = [
        (
            mapping("customer_id", "event", "ts", Some("event_id")),
            options(
                &[
                    "channel", "price", "plan", "late", "tags", "inner", "nothing",
                ],
                &["plan"],
                false,
            ),
        ),
        // The time read as a property too (then as its text), and the
        // customer under `properties` pseudonymized.
        (
            mapping("customer_id", "event", "ts", None),
            options(&["ts", "counts", "tags"], &["channel"], true),
        ),
        (
            mapping("customer_id", "channel", "late", Some("anonymous_id")),
            options(&["price"], &[], false),
        ),
    ];
    for (format, framed) in [(ValueFormat::Auto, false), (ValueFormat::Avro, true)] {
        for (mapping, options) in &cases {
            let decoder = file_decoder(format, path.clone(), None);
            let values: Vec<Vec<u8>> = match framed {
                // Framed offline: the header is passed over.
                true => values
                    .iter()
                    .map(|v| [&[0, 0, 0, 0, 7][..], v].concat())
                    .collect(),
                false => values.clone(),
            };
            let planned = compare(decoder, mapping, options, &values);
            assert!(
                planned > values.len() as u64 / 3,
                "the plan read {planned} of {} values",
                values.len()
            );
        }
    }
}

#[test]
fn avro_schemas_a_plan_cannot_read_are_decoded_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Arrays of records are events of their own; a recursive record
    // nests as deep as the value does.
    let nested = r#"{"type": "record", "name": "Visit", "fields": [
      {"name": "customer_id", "type": "string"},
      {"name": "events", "type": {"type": "array", "items": {"type": "record", "name": "Step", "fields": [
          {"name": "event", "type": "string"}, {"name": "ts", "type": "long"}]}}}]}"#;
    let recursive = r#"{"type": "record", "name": "Node", "fields": [
      {"name": "customer_id", "type": "string"}, {"name": "event", "type": "string"},
      {"name": "ts", "type": "string"}, {"name": "child", "type": ["null", "Node"]}]}"#;
    let mut rng = Rng(0x0dd_5eed);
    for (i, text) in [nested, recursive].into_iter().enumerate() {
        let path = schema_file(&dir, &format!("s{i}.avsc"), text);
        let values = avro_values(text, &mut rng, 300);
        let values = mangled(&mut rng, values);
        let decoder = file_decoder(ValueFormat::Auto, path, None);
        let planned = compare(
            decoder,
            &mapping("customer_id", "event", "ts", None),
            &options(&[], &[], false),
            &values,
        );
        assert_eq!(planned, 0, "schema {i} has no plan");
    }
}

// ---- Protobuf ----

const PROTO: &str = r#"
syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
enum Kind { K0 = 0; view = 1; buy = 2; }
message Props { optional double price = 1; string plan = 2; int64 qty = 3; google.protobuf.Timestamp late = 4; }
message Inner { string x = 1; repeated int32 nums = 2; google.protobuf.Timestamp at = 3; bytes b = 4; }
message Event {
  string customer_id = 1;
  optional string anonymous_id = 2;
  Kind event = 3;
  google.protobuf.Timestamp ts = 4;
  oneof id { string event_id = 5; int64 event_number = 6; google.protobuf.Timestamp event_at = 21; }
  optional string channel = 7;
  Props properties = 8;
  repeated string tags = 9;
  map<string, int32> counts = 10;
  Inner inner = 11;
  google.protobuf.StringValue note = 12;
  sint64 s64 = 13;
  fixed32 f32 = 14;
  double d = 15;
  bool flag = 16;
  bytes raw = 17;
  uint64 u64 = 18;
  sfixed64 sf = 19;
  float fl = 20;
  repeated sint32 packed = 22;
  int32 i32 = 23;
  optional Kind maybe = 24;
}
"#;

fn proto_value(kind: &Kind, rng: &mut Rng, depth: usize) -> Proto {
    match kind {
        Kind::Double => Proto::F64(rng.double()),
        Kind::Float => Proto::F32(rng.double() as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Proto::I32(rng.long() as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Proto::I64(rng.long()),
        Kind::Uint32 | Kind::Fixed32 => Proto::U32(rng.long() as u32),
        Kind::Uint64 | Kind::Fixed64 => Proto::U64(rng.long() as u64),
        Kind::Bool => Proto::Bool(rng.chance(50)),
        Kind::String => Proto::String(rng.text()),
        Kind::Bytes => Proto::Bytes(rng.bytes().into()),
        Kind::Enum(_) => Proto::EnumNumber(*rng.pick(&[0, 1, 2, 7, -1])),
        Kind::Message(m) => Proto::Message(proto_message(m, rng, depth + 1)),
    }
}

fn proto_message(
    descriptor: &prost_reflect::MessageDescriptor,
    rng: &mut Rng,
    depth: usize,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    if descriptor.full_name() == "google.protobuf.Timestamp" {
        message.set_field_by_name("seconds", Proto::I64(rng.long() / 1_000_000_000));
        message.set_field_by_name(
            "nanos",
            Proto::I32(*rng.pick(&[0, 5_000, 123_456_789, -3, 1_000_000_000])),
        );
        return message;
    }
    for field in descriptor.fields() {
        if depth > 2 || rng.chance(25) {
            continue;
        }
        let kind = field.kind();
        let value = if field.is_map() {
            let Kind::Message(entry) = &kind else {
                continue;
            };
            let value_kind = entry.map_entry_value_field().kind();
            Proto::Map(
                (0..rng.below(3))
                    .map(|_| {
                        (
                            MapKey::String(rng.text()),
                            proto_value(&value_kind, rng, depth),
                        )
                    })
                    .collect(),
            )
        } else if field.is_list() {
            Proto::List(
                (0..rng.below(3))
                    .map(|_| proto_value(&kind, rng, depth))
                    .collect(),
            )
        } else {
            proto_value(&kind, rng, depth)
        };
        message.set_field(&field, value);
    }
    message
}

/// The message `name` of the `.proto` file written at `path`.
fn proto_message_named(path: &std::path::Path, name: &str) -> prost_reflect::MessageDescriptor {
    let folder = path.parent().expect("a folder");
    let mut compiler = protox::Compiler::new([folder]).expect("compiler");
    compiler
        .open_file(path.file_name().expect("a file name"))
        .expect("the test schema compiles");
    let pool: DescriptorPool = compiler.descriptor_pool();
    pool.get_message_by_name(name).expect("the message")
}

/// `count` random messages, then each two of them one after the other:
/// that is one message, where the last value of each field wins, nested
/// messages merge and a oneof keeps the last member set.
fn proto_values(
    event: &prost_reflect::MessageDescriptor,
    rng: &mut Rng,
    count: usize,
) -> Vec<Vec<u8>> {
    let single: Vec<Vec<u8>> = (0..count)
        .map(|_| proto_message(event, rng, 0).encode_to_vec())
        .collect();
    let merged: Vec<Vec<u8>> = single
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| [pair[0].as_slice(), pair[1].as_slice()].concat())
        .collect();
    [single, merged].concat()
}

#[test]
fn protobuf_values_map_the_same_through_a_plan_as_decoded_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = schema_file(&dir, "event.proto", PROTO);
    let event = proto_message_named(&path, "t.Event");
    let mut rng = Rng(0x9e37_79b9);
    let values = proto_values(&event, &mut rng, 3000);
    let values = mangled(&mut rng, values);
    let cases = [
        (
            mapping("customer_id", "event", "ts", Some("event_id")),
            options(
                &[
                    "channel",
                    "price",
                    "plan",
                    "qty",
                    "late",
                    "flag",
                    "s64",
                    "d",
                    "raw",
                    "f32",
                    "u64",
                    "sf",
                    "fl",
                    "tags",
                    "inner",
                    "counts",
                    "packed",
                    "i32",
                    "maybe",
                    "event_number",
                    "nothing",
                ],
                &["plan"],
                false,
            ),
        ),
        (
            mapping("customer_id", "maybe", "event_at", Some("event_number")),
            options(&["ts", "event_id"], &["channel"], true),
        ),
        (
            mapping("anonymous_id", "channel", "late", None),
            options(&["customer_id"], &[], false),
        ),
    ];
    for (mapping, options) in &cases {
        for framed in [false, true] {
            let decoder = file_decoder(
                if framed {
                    ValueFormat::Protobuf
                } else {
                    ValueFormat::Auto
                },
                path.clone(),
                Some("Event"),
            );
            let values: Vec<Vec<u8>> = match framed {
                true => values
                    .iter()
                    .map(|v| [&[0, 0, 0, 0, 3, 0][..], v].concat())
                    .collect(),
                false => values.clone(),
            };
            let planned = compare(decoder, mapping, options, &values);
            assert!(
                planned > values.len() as u64 / 2,
                "the plan read {planned} of {} values",
                values.len()
            );
        }
    }
}

/// Writes an Avro `long` (zigzag varint).
fn avro_long(n: i64, out: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

#[test]
fn avro_values_holding_more_than_their_bytes_can_are_refused_either_way() {
    // Nulls take no bytes: a datum may say it holds more of them than
    // the walk before decoding allows (twice its bytes and 4,096 more).
    let schema = r#"{"type": "record", "name": "E", "fields": [
      {"name": "customer_id", "type": "string"}, {"name": "event", "type": "string"},
      {"name": "ts", "type": "long"}, {"name": "pad", "type": {"type": "array", "items": "null"}}]}"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = schema_file(&dir, "pad.avsc", schema);
    let length = 4500usize;
    let allowed = 2 * length + 4096;
    let values: Vec<Vec<u8>> = (allowed - 12..allowed + 3)
        .map(|items| {
            let mut out = Vec::new();
            for text in ["c1", "ev"] {
                avro_long(text.len() as i64, &mut out);
                out.extend_from_slice(text.as_bytes());
            }
            avro_long(1_764_201_600, &mut out);
            let mut left = items;
            while left > 0 {
                let block = left.min(4000);
                avro_long(block as i64, &mut out);
                left -= block;
            }
            avro_long(0, &mut out);
            out.resize(length, 0);
            out
        })
        .collect();
    let decoder = file_decoder(ValueFormat::Avro, path, None);
    compare(
        decoder,
        &mapping("customer_id", "event", "ts", None),
        &options(&[], &[], false),
        &values,
    );
}

#[test]
fn avro_properties_read_as_a_property_leave_the_plan_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = schema_file(&dir, "event.avsc", AVRO_SCHEMA);
    let mut rng = Rng(0xfeed_beef);
    let values = avro_values(AVRO_SCHEMA, &mut rng, 400);
    let decoder = file_decoder(ValueFormat::Auto, path, None);
    let planned = compare(
        decoder,
        &mapping("customer_id", "event", "ts", None),
        &options(&["properties", "price"], &[], false),
        &values,
    );
    assert_eq!(planned, 0);
}

/// `properties` repeating a top-level field, in a oneof, or of a
/// well-known type: the mapping looks under it whenever the top-level
/// field is unset, which the decoder alone knows.
const PROTO_SHADOWED: &str = r#"
syntax = "proto3";
package s;
import "google/protobuf/timestamp.proto";
message Props { string customer_id = 1; string event = 2; string plan = 3; }
message Event {
  string customer_id = 1;
  string event = 2;
  google.protobuf.Timestamp ts = 3;
  oneof extra { Props properties = 4; string other = 5; }
}
"#;

#[test]
fn protobuf_properties_that_shadow_or_share_a_oneof_map_as_decoded_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = schema_file(&dir, "shadow.proto", PROTO_SHADOWED);
    let event = proto_message_named(&path, "s.Event");
    let mut rng = Rng(0xabcd_0123);
    let values = proto_values(&event, &mut rng, 1500);
    // Framed with the message index -1: refused as the decoder refuses it.
    let negative: Vec<Vec<u8>> = values
        .iter()
        .take(50)
        .map(|v| [&[0, 0, 0, 0, 9, 2, 1][..], v].concat())
        .collect();
    for (mapping, options) in [
        (
            mapping("customer_id", "event", "ts", None),
            options(&["plan"], &[], false),
        ),
        (
            mapping("customer_id", "event", "ts", None),
            options(&["other"], &["plan"], false),
        ),
    ] {
        let decoder = || file_decoder(ValueFormat::Auto, path.clone(), Some("Event"));
        compare(decoder(), &mapping, &options, &values);
        compare(decoder(), &mapping, &options, &negative);
    }
}
