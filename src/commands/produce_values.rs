//! `produce --value-format avro|protobuf`: the events a file holds, as
//! registry-framed Avro or Protobuf (byte 0, the schema id, for Protobuf
//! the message index, then the payload), with a schema made from the
//! mapping (customer, event, time as a native timestamp, event and session
//! ids, the kept properties) and registered under `TOPIC-value`.

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value as Proto};
use serde_json::json;

use crate::engine::batch::EventRef;
use crate::source::Mapping;
use crate::source::values::{Registry, SchemaKind};

/// One field of the produced schema: its name there, and what it holds.
struct Column {
    name: String,
    holds: Holds,
}

#[derive(Clone, PartialEq)]
enum Holds {
    Customer,
    Event,
    Time,
    EventId,
    SessionId,
    Property(String),
}

/// Writes events as one value format, with the schema id the registry gave.
pub(super) struct Encoder {
    columns: Vec<Column>,
    id: u32,
    format: Format,
}

/// The schema values are written with.
enum Format {
    Avro(Schema),
    Protobuf {
        message: MessageDescriptor,
        /// `google.protobuf.Timestamp`, for the time field.
        timestamp: MessageDescriptor,
    },
}

/// A name every schema language takes: letters, digits and `_`, not
/// starting with a digit.
fn schema_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

fn columns_of(mapping: &Mapping, properties: &[String]) -> Vec<Column> {
    let mut columns = vec![
        (mapping.customer.clone(), Holds::Customer),
        (mapping.event.clone(), Holds::Event),
        (mapping.time.clone(), Holds::Time),
    ];
    if let Some(column) = &mapping.event_id {
        columns.push((column.clone(), Holds::EventId));
    }
    if let Some(column) = &mapping.session_id {
        columns.push((column.clone(), Holds::SessionId));
    }
    for property in properties {
        columns.push((property.clone(), Holds::Property(property.clone())));
    }
    let mut seen = Vec::new();
    columns
        .into_iter()
        .filter_map(|(name, holds)| {
            let name = schema_name(&name);
            (!seen.contains(&name)).then(|| {
                seen.push(name.clone());
                Column { name, holds }
            })
        })
        .collect()
}

fn text_of<'a>(event: &EventRef<'a>, holds: &Holds) -> Option<&'a str> {
    match holds {
        Holds::Customer => Some(event.customer),
        Holds::Event => Some(event.event),
        Holds::Time => None,
        Holds::EventId => event.event_id,
        Holds::SessionId => event.session_id,
        Holds::Property(name) => event.properties().find(|(k, _)| k == name).map(|(_, v)| v),
    }
}

impl Encoder {
    /// Makes the schema for `mapping` and `properties`, and registers it
    /// under `subject`.
    pub(super) fn register(
        kind: SchemaKind,
        registry: &Registry,
        subject: &str,
        mapping: &Mapping,
        properties: &[String],
    ) -> Result<Encoder, String> {
        let columns = columns_of(mapping, properties);
        let (text, format) = match kind {
            SchemaKind::Avro => {
                let text = avro_schema(&columns);
                let schema = Schema::parse_str(&text).map_err(|e| e.to_string())?;
                (text, Format::Avro(schema))
            }
            SchemaKind::Protobuf => {
                let text = proto_schema(&columns);
                let message = compile_proto(&text)?;
                let timestamp = message
                    .parent_pool()
                    .get_message_by_name("google.protobuf.Timestamp")
                    .ok_or("the produced schema lacks google.protobuf.Timestamp")?;
                (text, Format::Protobuf { message, timestamp })
            }
            SchemaKind::Json => return Err("JSON values need no schema".into()),
        };
        let id = registry.register(subject, &text, kind)?;
        Ok(Encoder {
            columns,
            id,
            format,
        })
    }

    /// One event as a framed value.
    pub(super) fn encode(&self, event: &EventRef<'_>) -> Result<Vec<u8>, String> {
        match &self.format {
            Format::Avro(schema) => {
                let fields = self
                    .columns
                    .iter()
                    .map(|c| {
                        let value = match (&c.holds, text_of(event, &c.holds)) {
                            (Holds::Time, _) => Avro::TimestampMicros(event.time_us),
                            (Holds::Customer | Holds::Event, Some(text)) => {
                                Avro::String(text.to_owned())
                            }
                            (_, Some(text)) => Avro::Union(1, Box::new(Avro::String(text.into()))),
                            (_, None) => Avro::Union(0, Box::new(Avro::Null)),
                        };
                        (c.name.clone(), value)
                    })
                    .collect();
                let payload = apache_avro::to_avro_datum(schema, Avro::Record(fields))
                    .map_err(|e| e.to_string())?;
                Ok(framed(self.id, &[], &payload))
            }
            Format::Protobuf { message, timestamp } => {
                let mut value = DynamicMessage::new(message.clone());
                for column in &self.columns {
                    if column.holds == Holds::Time {
                        let mut time = DynamicMessage::new(timestamp.clone());
                        time.set_field_by_name(
                            "seconds",
                            Proto::I64(event.time_us.div_euclid(1_000_000)),
                        );
                        time.set_field_by_name(
                            "nanos",
                            Proto::I32((event.time_us.rem_euclid(1_000_000) * 1000) as i32),
                        );
                        value.set_field_by_name(&column.name, Proto::Message(time));
                    } else if let Some(text) = text_of(event, &column.holds) {
                        value.set_field_by_name(&column.name, Proto::String(text.to_owned()));
                    }
                }
                // Message index [0]: the first message of the file.
                Ok(framed(
                    self.id,
                    &[0],
                    &prost::Message::encode_to_vec(&value),
                ))
            }
        }
    }
}

fn framed(id: u32, indexes: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + indexes.len() + payload.len());
    out.push(0);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(indexes);
    out.extend_from_slice(payload);
    out
}

fn avro_schema(columns: &[Column]) -> String {
    let fields: Vec<serde_json::Value> = columns
        .iter()
        .map(|c| match c.holds {
            Holds::Time => {
                json!({"name": c.name, "type": {"type": "long", "logicalType": "timestamp-micros"}})
            }
            Holds::Customer | Holds::Event => json!({"name": c.name, "type": "string"}),
            _ => json!({"name": c.name, "type": ["null", "string"], "default": null}),
        })
        .collect();
    json!({"type": "record", "name": "Event", "namespace": "journeyscope", "fields": fields})
        .to_string()
}

fn proto_schema(columns: &[Column]) -> String {
    let mut text = String::from(
        "syntax = \"proto3\";\npackage journeyscope;\nimport \"google/protobuf/timestamp.proto\";\n\nmessage Event {\n",
    );
    for (number, column) in columns.iter().enumerate() {
        let kind = match column.holds {
            Holds::Time => "google.protobuf.Timestamp",
            Holds::Customer | Holds::Event => "string",
            _ => "optional string",
        };
        text.push_str(&format!("  {kind} {} = {};\n", column.name, number + 1));
    }
    text.push_str("}\n");
    text
}

fn compile_proto(text: &str) -> Result<MessageDescriptor, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("journeyscope_event.proto");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    let mut compiler = protox::Compiler::new([dir.path()]).map_err(|e| e.to_string())?;
    compiler
        .open_file("journeyscope_event.proto")
        .map_err(|e| e.to_string())?;
    compiler
        .descriptor_pool()
        .get_message_by_name("journeyscope.Event")
        .ok_or_else(|| "the produced schema has no Event message".into())
}
