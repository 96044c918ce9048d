//! Avro values as the JSON the mapping reads: records are objects, unions
//! their branch's value, enums their symbol, timestamps ISO-8601 text
//! (with `Z` for `timestamp-*`, without a zone for `local-timestamp-*`, so
//! the mapping reads them as the instants they are).

use std::borrow::Cow;

use apache_avro::headers::HeaderBuilder;
use apache_avro::types::Value as Avro;
use apache_avro::{GenericSingleObjectReader, Schema};
use chrono::{DateTime, SecondsFormat};

use crate::source::json_tree::Json;

use super::avro_walk::{Names, Shape, measure};

/// An Avro writer schema with the named schemas it references.
pub struct AvroSchema {
    pub(super) schema: Schema,
    named: Vec<Schema>,
    /// Every named schema, for the walk before decoding.
    pub(super) names: Names,
    /// Decodes with the names resolved once (a schema that references no
    /// other).
    reader: Option<GenericSingleObjectReader>,
}

/// Why a schema did not decode a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// It nests deeper than [`crate::engine::MAX_NESTING`] levels.
    TooDeep,
    /// It does not read as the schema says.
    Mismatch(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooDeep => write!(
                f,
                "the value nests deeper than {} levels",
                crate::engine::MAX_NESTING
            ),
            DecodeError::Mismatch(e) => f.write_str(e),
        }
    }
}

/// A single-object header of no bytes: datums are decoded bare.
struct NoHeader;

impl HeaderBuilder for NoHeader {
    fn build_header(&self) -> Vec<u8> {
        Vec::new()
    }
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
        return AvroSchema::plain(read_avro_schema(text)?);
    }
    let (schema, named) =
        Schema::parse_str_with_list(text, references.iter().map(|(_, t)| t.as_str()))
            .map_err(|e| e.to_string())?;
    let mut all: Vec<&Schema> = named.iter().collect();
    all.push(&schema);
    let names = Names::of(&all)?;
    Ok(AvroSchema {
        schema,
        named,
        names,
        reader: None,
    })
}

impl AvroSchema {
    /// A schema that references nothing.
    pub fn plain(schema: Schema) -> Result<Self, String> {
        let names = Names::of(&[&schema])?;
        let reader =
            GenericSingleObjectReader::new_with_header_builder(schema.clone(), NoHeader).ok();
        Ok(AvroSchema {
            schema,
            named: Vec::new(),
            names,
            reader,
        })
    }
}

/// Decodes one Avro datum (no container, no framing) into JSON.
pub(super) fn decode(schema: &AvroSchema, payload: &[u8]) -> Result<Json<'static>, DecodeError> {
    decode_datum(schema, payload).0
}

/// Decodes the datum at the start of `bytes`, after walking it (see
/// [`super::avro_walk`]); says how many bytes it took, when that is known
/// (a value too deep is passed over whole when its end could be found).
pub fn decode_datum(
    schema: &AvroSchema,
    bytes: &[u8],
) -> (Result<Json<'static>, DecodeError>, Option<usize>) {
    match measure(&schema.schema, &schema.names, bytes) {
        Shape::TooDeep { end } => return (Err(DecodeError::TooDeep), end),
        Shape::Implausible(why) => {
            return (
                Err(DecodeError::Mismatch(format!(
                    "the value cannot be read: {why}"
                ))),
                None,
            );
        }
        Shape::Fits { .. } | Shape::Unsure => {}
    }
    let mut rest = bytes;
    let value = match (&schema.reader, schema.named.is_empty()) {
        (Some(reader), _) => reader.read_value(&mut rest),
        (None, true) => apache_avro::from_avro_datum(&schema.schema, &mut rest, None),
        (None, false) => apache_avro::from_avro_datum_schemata(
            &schema.schema,
            schema.named.iter().collect(),
            &mut rest,
            None,
        ),
    };
    let taken = bytes.len() - rest.len();
    match value {
        Ok(value) => (Ok(avro_to_json(value)), Some(taken)),
        Err(e) => (Err(DecodeError::Mismatch(e.to_string())), None),
    }
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

/// Bytes as lowercase hex text.
pub(super) fn hex(bytes: &[u8]) -> String {
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
        Avro::Date(days) => days
            .checked_add(719_163)
            .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
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
