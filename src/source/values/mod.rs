//! Message values that are not plain JSON: Avro and Protobuf in the
//! Confluent wire format (byte 0, a four-byte big-endian schema id, for
//! Protobuf the message indexes, then the payload) with their schemas from
//! a Schema Registry, or without framing with a schema file (`--schema`).
//! A decoded value becomes the JSON object the JSON mapping reads, so
//! detection, aliases and flags work on it as on JSON text.

mod avro;
mod avro_walk;
mod message;
mod plan;
mod plan_avro;
mod plan_cache;
mod plan_protobuf;
mod protobuf;
mod registry;

use std::path::PathBuf;

use crate::engine::RejectReason;

pub use avro::{AvroSchema, DecodeError, avro_to_json, decode_datum, read_avro_schema};
pub use message::{MessageMapper, sample_message};
pub use registry::{
    REGISTRY_PROPERTY_PREFIX, Registered, Registry, RegistrySpec, SchemaKind, shown_url,
};

use super::SourceError;

/// How message values are read (`--value-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    /// Registry-framed values by their schema; anything else as JSON.
    #[default]
    Auto,
    /// JSON text only.
    Json,
    /// Avro only (framed, or with `--schema FILE.avsc`).
    Avro,
    /// Protobuf only (framed, or with `--schema FILE.proto --message NAME`).
    Protobuf,
}

impl ValueFormat {
    /// The flag's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueFormat::Auto => "auto",
            ValueFormat::Json => "json",
            ValueFormat::Avro => "avro",
            ValueFormat::Protobuf => "protobuf",
        }
    }
}

/// What the value flags ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValuesSpec {
    /// `--value-format`.
    pub format: ValueFormat,
    /// `--schema-registry URL`, with its credentials and CA.
    pub registry: Option<RegistrySpec>,
    /// `--schema FILE`: an Avro schema (`.avsc`) or a `.proto` file.
    pub schema: Option<PathBuf>,
    /// `--message NAME`: the message of a `.proto` schema.
    pub message: Option<String>,
}

/// A schema given as a file, for values without framing.
enum FixedSchema {
    Avro(Box<avro::AvroSchema>),
    Protobuf(prost_reflect::MessageDescriptor),
}

impl FixedSchema {
    fn kind(&self) -> SchemaKind {
        match self {
            FixedSchema::Avro(_) => SchemaKind::Avro,
            FixedSchema::Protobuf(_) => SchemaKind::Protobuf,
        }
    }
}

/// A value as the decoders leave it for mapping.
#[derive(Debug)]
pub enum Decoded<'b> {
    /// JSON text, mapped as JSON lines are. `tried` says which other
    /// decoders passed it over, for the rejection when it is not JSON
    /// either (None when JSON is the only decoder).
    Json {
        /// The text.
        bytes: &'b [u8],
        /// Why the other decoders did not take it.
        tried: Option<String>,
    },
    /// A record decoded with a schema.
    Record(crate::source::json_tree::Json<'static>),
}

/// A value no decoder could read: the rejection's reason and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecoded {
    /// `undecodable`, `unknown_schema_id` or `schema_mismatch`.
    pub reason: RejectReason,
    /// Which decoders were tried and why each failed.
    pub detail: String,
}

impl Undecoded {
    fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Undecoded {
            reason,
            detail: detail.into(),
        }
    }
}

/// Reads message values as `--value-format` says.
pub struct ValueDecoder {
    format: ValueFormat,
    registry: Option<Registry>,
    fixed: Option<FixedSchema>,
}

impl std::fmt::Debug for ValueDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueDecoder")
            .field("format", &self.format)
            .field("registry", &self.registry.is_some())
            .field("fixed", &self.fixed.as_ref().map(FixedSchema::kind))
            .finish()
    }
}

/// A value a decoding plan may read: which writer schema (its registry
/// id, none for `--schema`; for Protobuf the framing's message indexes as
/// written) and the payload.
struct PlanTarget<'b> {
    id: Option<u32>,
    indexes: &'b [u8],
    payload: &'b [u8],
}

/// The schema id of a registry-framed value, and what follows it.
fn framing(bytes: &[u8]) -> Option<(u32, &[u8])> {
    match bytes {
        [0, a, b, c, d, rest @ ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => None,
    }
}

impl ValueDecoder {
    /// The decoder `spec` asks for; the schema file is read now, and a
    /// format that cannot be decoded with what was given is refused.
    pub fn new(spec: &ValuesSpec) -> Result<Self, SourceError> {
        let fixed = match &spec.schema {
            None => None,
            Some(path) => Some(read_schema_file(path, spec.message.as_deref())?),
        };
        if spec.message.is_some() && !matches!(fixed, Some(FixedSchema::Protobuf(_))) {
            return Err(SourceError::Usage(
                "--message names the message of a .proto file given with --schema".into(),
            ));
        }
        if let Some(kind) = fixed.as_ref().map(FixedSchema::kind) {
            let clash = matches!(
                (spec.format, kind),
                (ValueFormat::Avro, SchemaKind::Protobuf)
                    | (ValueFormat::Protobuf, SchemaKind::Avro)
                    | (ValueFormat::Json, _)
            );
            if clash {
                return Err(SourceError::Usage(format!(
                    "--value-format {} does not go with a {} --schema",
                    spec.format.as_str(),
                    kind.as_str()
                )));
            }
        }
        let forced = matches!(spec.format, ValueFormat::Avro | ValueFormat::Protobuf);
        if forced && spec.registry.is_none() && fixed.is_none() {
            return Err(SourceError::Usage(format!(
                "--value-format {} needs the schemas: give --schema-registry URL, or --schema FILE",
                spec.format.as_str()
            )));
        }
        Ok(ValueDecoder {
            format: spec.format,
            registry: spec.registry.clone().map(Registry::new),
            fixed,
        })
    }

    /// Reads values as `--value-format avro` with an Avro schema file
    /// would, from the schema's text (for the fuzz targets).
    pub fn avro(schema: &str) -> Result<Self, String> {
        let schema = read_avro_schema(schema).and_then(avro::AvroSchema::plain)?;
        Ok(ValueDecoder {
            format: ValueFormat::Avro,
            registry: None,
            fixed: Some(FixedSchema::Avro(Box::new(schema))),
        })
    }

    /// Decodes one value (not empty: tombstones and empty values are
    /// rejected before).
    pub fn decode<'b>(&self, bytes: &'b [u8]) -> Result<Decoded<'b>, Undecoded> {
        if self.format == ValueFormat::Json {
            return Ok(Decoded::Json { bytes, tried: None });
        }
        let framed = framing(bytes);
        if let (Some((id, payload)), Some(registry)) = (framed, &self.registry) {
            return self.decode_registered(registry, id, payload);
        }
        if let Some(fixed) = &self.fixed {
            return self.decode_with_file(fixed, framed, bytes);
        }
        match (framed, self.format) {
            (Some((id, _)), _) => Err(Undecoded::new(
                RejectReason::Undecodable,
                format!(
                    "the value is registry-framed (schema id {id}), but no --schema-registry \
                     (or --schema) was given to decode it"
                ),
            )),
            (None, ValueFormat::Auto) => Ok(Decoded::Json {
                bytes,
                tried: self.registry.as_ref().map(|_| {
                    format!(
                        "not registry-framed (the first byte is {}, not 0)",
                        first_byte(bytes)
                    )
                }),
            }),
            (None, format) => Err(Undecoded::new(
                RejectReason::Undecodable,
                format!(
                    "--value-format {}: the value is not registry-framed (the first byte is {}, \
                     not 0)",
                    format.as_str(),
                    first_byte(bytes)
                ),
            )),
        }
    }

    /// Where a decoding plan may read `bytes`, when [`ValueDecoder::decode`]
    /// would decode them with a schema.
    fn plan_target<'b>(&self, bytes: &'b [u8]) -> Option<PlanTarget<'b>> {
        if self.format == ValueFormat::Json {
            return None;
        }
        let framed = framing(bytes);
        let protobuf_target = |id, rest: &'b [u8]| {
            let n = protobuf::indexes_len(rest).ok()?;
            Some(PlanTarget {
                id,
                indexes: &rest[..n],
                payload: &rest[n..],
            })
        };
        let avro_target = |id, payload| {
            Some(PlanTarget {
                id,
                indexes: &[],
                payload,
            })
        };
        if let (Some((id, rest)), Some(registry)) = (framed, &self.registry) {
            let schema = registry.schema(id).ok()?;
            let kind = schema.kind();
            let clash = matches!(
                (self.format, kind),
                (ValueFormat::Avro, SchemaKind::Protobuf)
                    | (ValueFormat::Protobuf, SchemaKind::Avro)
            );
            return match (kind, clash) {
                (_, true) | (SchemaKind::Json, _) => None,
                (SchemaKind::Avro, _) => avro_target(Some(id), rest),
                (SchemaKind::Protobuf, _) => protobuf_target(Some(id), rest),
            };
        }
        match (self.fixed.as_ref()?, framed) {
            (FixedSchema::Avro(_), Some((_, rest))) => avro_target(None, rest),
            (FixedSchema::Avro(_), None) => avro_target(None, bytes),
            (FixedSchema::Protobuf(_), Some((_, rest))) => protobuf_target(None, rest),
            (FixedSchema::Protobuf(_), None) => Some(PlanTarget {
                id: None,
                indexes: &[],
                payload: bytes,
            }),
        }
    }

    /// The plan of the writer schema `target` names, for `wanted`.
    fn make_plan(
        &self,
        target: &PlanTarget<'_>,
        wanted: &plan::Wanted,
    ) -> Option<plan_cache::Plan> {
        let avro = |schema: &AvroSchema| {
            plan_avro::AvroPlan::new(schema, wanted).map(plan_cache::Plan::Avro)
        };
        let protobuf = |message: &prost_reflect::MessageDescriptor| {
            plan_protobuf::ProtobufPlan::new(message, wanted).map(plan_cache::Plan::Protobuf)
        };
        match target.id {
            Some(id) => {
                let schema = self.registry.as_ref()?.schema(id).ok()?;
                match schema.as_ref() {
                    Registered::Avro(schema) => avro(schema),
                    Registered::Protobuf(file) => {
                        let (indexes, _) = protobuf::skip_indexes(target.indexes).ok()?;
                        protobuf(&protobuf::message_at(file, &indexes).ok()?)
                    }
                    Registered::Json => None,
                }
            }
            None => match self.fixed.as_ref()? {
                FixedSchema::Avro(schema) => avro(schema),
                FixedSchema::Protobuf(message) => protobuf(message),
            },
        }
    }

    /// The value decoded whole, as JSON text (a rejection's text).
    fn whole_text(&self, bytes: &[u8]) -> String {
        match self.decode(bytes) {
            Ok(Decoded::Record(record)) => record.to_string(),
            _ => String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// Decodes with the `--schema` file: unframed values, or framed ones
    /// with no registry (offline: the header is passed over).
    fn decode_with_file<'b>(
        &self,
        fixed: &FixedSchema,
        framed: Option<(u32, &'b [u8])>,
        bytes: &'b [u8],
    ) -> Result<Decoded<'b>, Undecoded> {
        // Framed values with a schema file and no registry: offline,
        // the header is passed over and the file's schema decodes.
        let payload = match (framed, fixed) {
            (Some((_, rest)), FixedSchema::Protobuf(_)) => {
                protobuf::skip_indexes(rest)
                    .map_err(|e| Undecoded::new(RejectReason::SchemaMismatch, e))?
                    .1
            }
            (Some((_, rest)), FixedSchema::Avro(_)) => rest,
            (None, _) => bytes,
        };
        let decoded = match fixed {
            FixedSchema::Avro(schema) => avro::decode(schema, payload),
            FixedSchema::Protobuf(message) => protobuf::decode(message, payload),
        };
        match decoded {
            Ok(value) => Ok(Decoded::Record(value)),
            Err(DecodeError::TooDeep) => Err(too_deep(fixed.kind())),
            Err(e) if self.format == ValueFormat::Auto && framed.is_none() => Ok(Decoded::Json {
                bytes,
                tried: Some(format!("as {} with --schema: {e}", fixed.kind().as_str())),
            }),
            Err(e) => Err(Undecoded::new(
                RejectReason::SchemaMismatch,
                format!(
                    "the value does not match --schema ({}): {e}",
                    fixed.kind().as_str()
                ),
            )),
        }
    }

    fn decode_registered<'b>(
        &self,
        registry: &Registry,
        id: u32,
        payload: &'b [u8],
    ) -> Result<Decoded<'b>, Undecoded> {
        let schema = registry.schema(id)?;
        let wanted = match self.format {
            ValueFormat::Avro => Some(SchemaKind::Avro),
            ValueFormat::Protobuf => Some(SchemaKind::Protobuf),
            _ => None,
        };
        if let Some(wanted) = wanted
            && wanted != schema.kind()
        {
            return Err(Undecoded::new(
                RejectReason::SchemaMismatch,
                format!(
                    "schema id {id} is {}, but --value-format is {}",
                    schema.kind().as_str(),
                    wanted.as_str()
                ),
            ));
        }
        let mismatch = |e: DecodeError| match e {
            DecodeError::TooDeep => too_deep(schema.kind()),
            DecodeError::Mismatch(e) => Undecoded::new(
                RejectReason::SchemaMismatch,
                format!(
                    "the value does not match schema id {id} ({}): {e}",
                    schema.kind().as_str()
                ),
            ),
        };
        match schema.as_ref() {
            Registered::Avro(avro_schema) => avro::decode(avro_schema, payload)
                .map(Decoded::Record)
                .map_err(mismatch),
            Registered::Protobuf(file) => {
                let (indexes, message_bytes) = protobuf::skip_indexes(payload)
                    .map_err(|e| mismatch(DecodeError::Mismatch(e)))?;
                let message = protobuf::message_at(file, &indexes)
                    .map_err(|e| mismatch(DecodeError::Mismatch(e)))?;
                protobuf::decode(&message, message_bytes)
                    .map(Decoded::Record)
                    .map_err(mismatch)
            }
            // Parsed once, where it is mapped; text that is not JSON is
            // rejected there with this said first.
            Registered::Json => Ok(Decoded::Json {
                bytes: payload,
                tried: Some(format!("schema id {id} is JSON Schema")),
            }),
        }
    }
}

/// The rejection of a value that nests too deep for its schema to decode.
fn too_deep(kind: SchemaKind) -> Undecoded {
    Undecoded::new(
        RejectReason::TooDeep,
        format!("{} ({}): not decoded", DecodeError::TooDeep, kind.as_str()),
    )
}

fn first_byte(bytes: &[u8]) -> String {
    bytes
        .first()
        .map_or_else(|| "missing".into(), |b| format!("0x{b:02x}"))
}

fn read_schema_file(
    path: &std::path::Path,
    message: Option<&str>,
) -> Result<FixedSchema, SourceError> {
    let shown = crate::format::printable(&path.display().to_string()).into_owned();
    let is_proto = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("proto"));
    if is_proto {
        let Some(message) = message else {
            return Err(SourceError::Usage(format!(
                "--schema {shown} is a .proto file: name the message the values hold with \
                 --message NAME"
            )));
        };
        return protobuf::message_from_file(path, message)
            .map(FixedSchema::Protobuf)
            .map_err(|e| SourceError::Usage(format!("--schema {shown}: {e}")));
    }
    let text = std::fs::read_to_string(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_avro_schema(&text)
        .and_then(avro::AvroSchema::plain)
        .map(|schema| FixedSchema::Avro(Box::new(schema)))
        .map_err(|e| SourceError::Usage(format!("--schema {shown} is not an Avro schema: {e}")))
}

#[cfg(test)]
mod tests;
