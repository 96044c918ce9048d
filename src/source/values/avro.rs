//! Avro values as the JSON the mapping reads: records are objects, unions
//! their branch's value, enums their symbol, timestamps ISO-8601 text
//! (with `Z` for `timestamp-*`, without a zone for `local-timestamp-*`, so
//! the mapping reads them as the instants they are).

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Number, Value};

/// An Avro writer schema with the named schemas it references.
pub struct AvroSchema {
    schema: Schema,
    named: Vec<Schema>,
}

/// Reads an Avro schema (JSON text).
pub fn read_avro_schema(text: &str) -> Result<apache_avro::Schema, String> {
    Schema::parse_str(text).map_err(|e| e.to_string())
}

/// Reads a registered schema and the schemas it references (their texts,
/// referenced before referencing).
pub(super) fn read_registered(
    text: &str,
    references: &[(String, String)],
) -> Result<AvroSchema, String> {
    if references.is_empty() {
        return Ok(AvroSchema {
            schema: read_avro_schema(text)?,
            named: Vec::new(),
        });
    }
    let (schema, named) =
        Schema::parse_str_with_list(text, references.iter().map(|(_, t)| t.as_str()))
            .map_err(|e| e.to_string())?;
    Ok(AvroSchema { schema, named })
}

impl AvroSchema {
    /// A schema that references nothing.
    pub(super) fn plain(schema: Schema) -> Self {
        AvroSchema {
            schema,
            named: Vec::new(),
        }
    }
}

/// Decodes one Avro datum (no container, no framing) into JSON.
pub(super) fn decode(schema: &AvroSchema, mut payload: &[u8]) -> Result<Value, String> {
    let value = match schema.named.is_empty() {
        true => apache_avro::from_avro_datum(&schema.schema, &mut payload, None),
        false => apache_avro::from_avro_datum_schemata(
            &schema.schema,
            schema.named.iter().collect(),
            &mut payload,
            None,
        ),
    }
    .map_err(|e| e.to_string())?;
    Ok(avro_to_json(value))
}

fn number(n: f64) -> Value {
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

fn instant(us: Option<DateTime<chrono::Utc>>) -> Value {
    us.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    })
}

fn wall_clock(t: Option<DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes_text(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(text) => Value::String(text),
        Err(e) => Value::String(hex(e.as_bytes())),
    }
}

/// One Avro value as JSON.
pub fn avro_to_json(value: Avro) -> Value {
    match value {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(n) => Value::from(n),
        Avro::Long(n) => Value::from(n),
        Avro::Float(n) => number(f64::from(n)),
        Avro::Double(n) => number(n),
        Avro::Bytes(bytes) => bytes_text(bytes),
        Avro::String(text) => Value::String(text),
        Avro::Fixed(_, bytes) => Value::String(hex(&bytes)),
        Avro::Enum(_, symbol) => Value::String(symbol),
        Avro::Union(_, inner) => avro_to_json(*inner),
        Avro::Array(items) => Value::Array(items.into_iter().map(avro_to_json).collect()),
        Avro::Map(members) => {
            let mut members: Vec<(String, Avro)> = members.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, avro_to_json(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Avro::Record(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, avro_to_json(v)))
                .collect::<Map<String, Value>>(),
        ),
        Avro::Date(days) => chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
            .map_or(Value::Null, |d| Value::String(d.to_string())),
        Avro::Decimal(decimal) => match <Vec<u8>>::try_from(&decimal) {
            Ok(bytes) => Value::String(hex(&bytes)),
            Err(_) => Value::Null,
        },
        Avro::BigDecimal(decimal) => Value::String(decimal.to_string()),
        Avro::TimeMillis(ms) => Value::from(ms),
        Avro::TimeMicros(us) => Value::from(us),
        Avro::TimestampMillis(ms) => instant(DateTime::from_timestamp_millis(ms)),
        Avro::TimestampMicros(us) => instant(DateTime::from_timestamp_micros(us)),
        Avro::TimestampNanos(ns) => instant(Some(DateTime::from_timestamp_nanos(ns))),
        Avro::LocalTimestampMillis(ms) => wall_clock(DateTime::from_timestamp_millis(ms)),
        Avro::LocalTimestampMicros(us) => wall_clock(DateTime::from_timestamp_micros(us)),
        Avro::LocalTimestampNanos(ns) => wall_clock(Some(DateTime::from_timestamp_nanos(ns))),
        Avro::Duration(d) => Value::String(format!(
            "P{}M{}DT{}S",
            u32::from(d.months()),
            u32::from(d.days()),
            f64::from(u32::from(d.millis())) / 1000.0
        )),
        Avro::Uuid(id) => Value::String(id.to_string()),
    }
}
