//! Avro values as the JSON the mapping reads: records are objects, unions
//! their branch's value, enums their symbol, timestamps ISO-8601 text
//! (with `Z` for `timestamp-*`, without a zone for `local-timestamp-*`, so
//! the mapping reads them as the instants they are).

use std::borrow::Cow;

use apache_avro::Schema;
use apache_avro::types::Value as Avro;
use chrono::{DateTime, SecondsFormat};

use crate::source::json_tree::Json;

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
pub(super) fn decode(schema: &AvroSchema, mut payload: &[u8]) -> Result<Json<'static>, String> {
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

fn text(text: String) -> Json<'static> {
    Json::Str(Cow::Owned(text))
}

fn number(n: f64) -> Json<'static> {
    if n.is_finite() {
        Json::Number(n)
    } else {
        Json::Null
    }
}

fn instant(us: Option<DateTime<chrono::Utc>>) -> Json<'static> {
    us.map_or(Json::Null, |t| {
        text(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    })
}

fn wall_clock(t: Option<DateTime<chrono::Utc>>) -> Json<'static> {
    t.map_or(Json::Null, |t| {
        text(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes_text(bytes: Vec<u8>) -> Json<'static> {
    match String::from_utf8(bytes) {
        Ok(t) => text(t),
        Err(e) => text(hex(e.as_bytes())),
    }
}

/// One Avro value as JSON; its strings are moved, not copied.
pub fn avro_to_json(value: Avro) -> Json<'static> {
    match value {
        Avro::Null => Json::Null,
        Avro::Boolean(b) => Json::Bool(b),
        Avro::Int(n) | Avro::TimeMillis(n) => Json::Number(f64::from(n)),
        Avro::Long(n) | Avro::TimeMicros(n) => Json::whole(n),
        Avro::Float(n) => number(f64::from(n)),
        Avro::Double(n) => number(n),
        Avro::Bytes(bytes) => bytes_text(bytes),
        Avro::String(t) | Avro::Enum(_, t) => text(t),
        Avro::Fixed(_, bytes) => text(hex(&bytes)),
        Avro::Union(_, inner) => avro_to_json(*inner),
        Avro::Array(items) => Json::Array(items.into_iter().map(avro_to_json).collect()),
        Avro::Map(members) => {
            let mut members: Vec<(String, Avro)> = members.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), avro_to_json(v)))
                    .collect(),
            )
        }
        Avro::Record(fields) => Json::Object(
            fields
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), avro_to_json(v)))
                .collect(),
        ),
        Avro::Date(days) => chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
            .map_or(Json::Null, |d| text(d.to_string())),
        Avro::Decimal(decimal) => match <Vec<u8>>::try_from(&decimal) {
            Ok(bytes) => text(hex(&bytes)),
            Err(_) => Json::Null,
        },
        Avro::BigDecimal(decimal) => text(decimal.to_string()),
        Avro::TimestampMillis(ms) => instant(DateTime::from_timestamp_millis(ms)),
        Avro::TimestampMicros(us) => instant(DateTime::from_timestamp_micros(us)),
        Avro::TimestampNanos(ns) => instant(Some(DateTime::from_timestamp_nanos(ns))),
        Avro::LocalTimestampMillis(ms) => wall_clock(DateTime::from_timestamp_millis(ms)),
        Avro::LocalTimestampMicros(us) => wall_clock(DateTime::from_timestamp_micros(us)),
        Avro::LocalTimestampNanos(ns) => wall_clock(Some(DateTime::from_timestamp_nanos(ns))),
        Avro::Duration(d) => text(format!(
            "P{}M{}DT{}S",
            u32::from(d.months()),
            u32::from(d.days()),
            f64::from(u32::from(d.millis())) / 1000.0
        )),
        Avro::Uuid(id) => text(id.to_string()),
    }
}
