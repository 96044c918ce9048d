use apache_avro::types::Value as Avro;
use prost::Message;
use prost_reflect::{DynamicMessage, Value as Proto};
use serde_json::json;

use super::*;
use crate::engine::MAX_NESTING;

const AVRO_SCHEMA: &str = r#"{
  "type": "record", "name": "Event", "namespace": "test",
  "fields": [
    {"name": "customer_id", "type": "string"},
    {"name": "event", "type": {"type": "enum", "name": "Kind", "symbols": ["view", "buy"]}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
    {"name": "channel", "type": ["null", "string"], "default": null},
    {"name": "properties", "type": {"type": "record", "name": "Props",
      "fields": [{"name": "price", "type": ["null", "double"], "default": null}]}}
  ]
}"#;

const PROTO: &str = r#"
syntax = "proto3";
package test;
import "google/protobuf/timestamp.proto";
message Event {
  string customer_id = 1;
  Kind event = 2;
  google.protobuf.Timestamp ts = 3;
  optional string channel = 4;
  message Nested { string x = 1; }
}
enum Kind { KIND_UNSPECIFIED = 0; view = 1; buy = 2; }
"#;

#[test]
fn avro_records_read_as_json_with_native_times_enums_and_unions() {
    let schema = read_avro_schema(AVRO_SCHEMA).unwrap();
    let datum = Avro::Record(vec![
        ("customer_id".into(), Avro::String("c1".into())),
        ("event".into(), Avro::Enum(1, "buy".into())),
        ("ts".into(), Avro::TimestampMillis(1_764_201_600_123)),
        (
            "local".into(),
            Avro::LocalTimestampMicros(1_764_201_600_000_001),
        ),
        (
            "channel".into(),
            Avro::Union(1, Box::new(Avro::String("app".into()))),
        ),
        (
            "properties".into(),
            Avro::Record(vec![(
                "price".into(),
                Avro::Union(1, Box::new(Avro::Double(9.5))),
            )]),
        ),
    ]);
    let bytes = apache_avro::to_avro_datum(&schema, datum).unwrap();
    let value = avro::decode(&avro::AvroSchema::plain(schema).unwrap(), &bytes).unwrap();
    assert_eq!(
        value.to_value(),
        json!({
            "customer_id": "c1",
            "event": "buy",
            "ts": "2025-11-27T00:00:00.123Z",
            "local": "2025-11-27T00:00:00.000001",
            "channel": "app",
            "properties": {"price": 9.5}
        })
    );
    // Cut short, the same bytes do not match.
    let short = avro::decode(
        &avro::AvroSchema::plain(read_avro_schema(AVRO_SCHEMA).unwrap()).unwrap(),
        &bytes[..3],
    );
    assert!(short.is_err());
}

#[test]
fn message_indexes_are_zigzag_varints_with_zero_for_the_first_message() {
    assert_eq!(
        protobuf::skip_indexes(&[0, 9]).unwrap(),
        (vec![0], &[9u8][..])
    );
    // Count 2 (zigzag 4), then 1 (2) and 3 (6).
    assert_eq!(
        protobuf::skip_indexes(&[4, 2, 6, 7]).unwrap(),
        (vec![1, 3], &[7u8][..])
    );
    assert!(protobuf::skip_indexes(&[4, 2]).is_err());
}

#[test]
fn protobuf_messages_read_as_json_from_source_or_a_base64_descriptor() {
    let file = protobuf::read_registered(PROTO, &[]).unwrap();
    let event = protobuf::message_at(&file, &[0]).unwrap();
    assert_eq!(event.full_name(), "test.Event");
    assert_eq!(
        protobuf::message_at(&file, &[0, 0]).unwrap().full_name(),
        "test.Event.Nested"
    );
    assert!(protobuf::message_at(&file, &[3]).is_err());

    let mut message = DynamicMessage::new(event.clone());
    message.set_field_by_name("customer_id", Proto::String("c1".into()));
    message.set_field_by_name("event", Proto::EnumNumber(2));
    let ts_field = event.get_field_by_name("ts").unwrap();
    let ts_kind = ts_field.kind();
    let mut ts = DynamicMessage::new(ts_kind.as_message().unwrap().clone());
    ts.set_field_by_name("seconds", Proto::I64(1_764_201_600));
    ts.set_field_by_name("nanos", Proto::I32(5_000_000));
    message.set_field_by_name("ts", Proto::Message(ts));
    let bytes = message.encode_to_vec();
    let want = json!({"customer_id": "c1", "event": "buy", "ts": "2025-11-27T00:00:00.005Z"});
    assert_eq!(protobuf::decode(&event, &bytes).unwrap().to_value(), want);

    // As a registry that was given a serialized descriptor holds it.
    use base64::Engine;
    let descriptor = file.file_descriptor_proto().encode_to_vec();
    let text = base64::engine::general_purpose::STANDARD.encode(descriptor);
    let again = protobuf::read_registered(&text, &[]).unwrap();
    let event = protobuf::message_at(&again, &[0]).unwrap();
    assert_eq!(protobuf::decode(&event, &bytes).unwrap().to_value(), want);
    assert!(protobuf::decode(&event, b"\x0f\x0f\x0f").is_err());
}

#[test]
fn without_a_registry_framed_values_are_undecodable_and_text_is_json() {
    let decoder = ValueDecoder::new(&ValuesSpec::default()).unwrap();
    let Ok(Decoded::Json { tried: None, .. }) = decoder.decode(br#"{"a":1}"#) else {
        panic!("JSON text is JSON");
    };
    let failure = decoder.decode(&[0, 0, 0, 0, 7, 1, 2]).unwrap_err();
    assert_eq!(failure.reason, RejectReason::Undecodable);
    assert!(failure.detail.contains("schema id 7"), "{}", failure.detail);

    let forced = ValuesSpec {
        format: ValueFormat::Avro,
        ..ValuesSpec::default()
    };
    assert!(ValueDecoder::new(&forced).is_err());
}

#[test]
fn a_schema_file_decodes_values_without_framing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.avsc");
    std::fs::write(&path, AVRO_SCHEMA).unwrap();
    let decoder = ValueDecoder::new(&ValuesSpec {
        format: ValueFormat::Avro,
        schema: Some(path),
        ..ValuesSpec::default()
    })
    .unwrap();
    let schema = read_avro_schema(AVRO_SCHEMA).unwrap();
    let datum = Avro::Record(vec![
        ("customer_id".into(), Avro::String("c9".into())),
        ("event".into(), Avro::Enum(0, "view".into())),
        ("ts".into(), Avro::TimestampMillis(0)),
        ("local".into(), Avro::LocalTimestampMicros(0)),
        ("channel".into(), Avro::Union(0, Box::new(Avro::Null))),
        (
            "properties".into(),
            Avro::Record(vec![("price".into(), Avro::Union(0, Box::new(Avro::Null)))]),
        ),
    ]);
    let bytes = apache_avro::to_avro_datum(&schema, datum).unwrap();
    let Ok(Decoded::Record(record)) = decoder.decode(&bytes) else {
        panic!("decoded with the file's schema");
    };
    let record = record.to_value();
    assert_eq!(record["customer_id"], "c9");
    assert_eq!(record["channel"], serde_json::Value::Null);

    let proto = dir.path().join("event.proto");
    std::fs::write(&proto, PROTO).unwrap();
    let missing = ValueDecoder::new(&ValuesSpec {
        schema: Some(proto.clone()),
        message: Some("Nope".into()),
        ..ValuesSpec::default()
    })
    .unwrap_err();
    assert!(missing.to_string().contains("test.Event"), "{missing}");
}

/// An event whose context may hold a node that holds itself (the fuzz
/// target's schema).
const NESTED_SCHEMA: &str = r#"{"type":"record","name":"Event","fields":[
  {"name":"customer_id","type":"string"},
  {"name":"event","type":"string"},
  {"name":"timestamp","type":"string"},
  {"name":"context","type":["null",{"type":"record","name":"Node","fields":[
    {"name":"child","type":["null","Node"]},
    {"name":"tags","type":{"type":"array","items":"string"}}]}]}]}"#;

/// An Avro datum of [`NESTED_SCHEMA`] whose context nests `levels` records
/// deep.
fn nested_avro(levels: usize) -> Vec<u8> {
    let text = |t: &str| {
        let mut bytes = vec![(t.len() * 2) as u8];
        bytes.extend(t.as_bytes());
        bytes
    };
    let mut datum = [text("c1"), text("home"), text("2026-11-27T09:00:00Z")].concat();
    datum.push(2);
    datum.extend(std::iter::repeat_n(2, levels - 1));
    datum.push(0);
    datum.extend(std::iter::repeat_n(0, levels));
    datum
}

#[test]
fn avro_values_nesting_too_deep_are_rejected_without_decoding() {
    let decoder = ValueDecoder::avro(NESTED_SCHEMA).unwrap();
    // The event, its nodes, and the innermost node's tags: 128 levels.
    let Ok(Decoded::Record(record)) = decoder.decode(&nested_avro(MAX_NESTING - 2)) else {
        panic!("as deep as allowed is decoded");
    };
    assert_eq!(record.to_value()["customer_id"], "c1");
    for levels in [MAX_NESTING - 1, 1_000, 100_000] {
        let failure = decoder.decode(&nested_avro(levels)).unwrap_err();
        assert_eq!(failure.reason, RejectReason::TooDeep, "{levels}");
        assert!(
            failure.detail.contains("deeper than 128"),
            "{}",
            failure.detail
        );
    }
}

#[test]
fn protobuf_values_nesting_too_deep_are_rejected() {
    let file = protobuf::read_registered(
        r#"syntax = "proto3";
        message Event { string customer_id = 1; Node context = 2; }
        message Node { Node child = 1; }"#,
        &[],
    )
    .unwrap();
    let event = protobuf::message_at(&file, &[0]).unwrap();
    // Nodes inside out: each is field 1, length-delimited, of the next.
    let nested = |levels: usize| {
        let mut node: Vec<u8> = Vec::new();
        for _ in 0..levels {
            let mut outer = vec![0x0a];
            prost::encoding::encode_varint(node.len() as u64, &mut outer);
            outer.extend(&node);
            node = outer;
        }
        let mut message = vec![0x0a, 2, b'c', b'1', 0x12];
        prost::encoding::encode_varint(node.len() as u64, &mut message);
        message.extend(node);
        message
    };
    assert!(protobuf::decode(&event, &nested(50)).is_ok());
    assert_eq!(
        protobuf::decode(&event, &nested(1_000)).unwrap_err(),
        avro::DecodeError::TooDeep
    );
}

#[test]
fn credentials_in_a_registry_url_are_used_and_never_shown() {
    let spec = RegistrySpec::from_properties("https://alice:pa%40ss@registry.example:8081/", &[]);
    assert_eq!(spec.url, "https://registry.example:8081");
    assert_eq!(spec.basic_auth.as_deref(), Some("alice:pa@ss"));
    let shown = format!("{spec:?}");
    assert!(
        !shown.contains("alice") && !shown.contains("pa@ss"),
        "{shown}"
    );
    // A property gives the credentials when both do.
    let given = [(
        "schema.registry.basic.auth.user.info".to_owned(),
        "bob:other".to_owned(),
    )];
    let spec = RegistrySpec::from_properties("http://alice:secret@host", &given);
    assert_eq!(spec.basic_auth.as_deref(), Some("bob:other"));
    assert_eq!(spec.url, "http://host");
    assert_eq!(shown_url("http://u:PASSWORD@host/x@y"), "http://host/x@y");
    assert_eq!(shown_url("http://host:8081"), "http://host:8081");
}

#[test]
fn an_unreachable_registry_is_its_own_reason_and_its_url_shows_no_password() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let registry = Registry::new(RegistrySpec::from_properties(
        &format!("http://alice:PASSWORD@127.0.0.1:{closed}"),
        &[],
    ));
    let failure = registry.schema(1).err().unwrap();
    assert_eq!(failure.reason, RejectReason::RegistryUnavailable);
    assert!(!failure.detail.contains("PASSWORD"), "{}", failure.detail);
    assert!(
        failure.detail.contains("did not answer"),
        "{}",
        failure.detail
    );
}
