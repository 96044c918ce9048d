//! Protobuf values as the JSON the mapping reads: messages are objects of
//! the fields set (by their proto names), enums their value's name,
//! `google.protobuf.Timestamp` ISO-8601 text, wrappers their value.
//! Schemas are `.proto` text compiled with protox (no `protoc`), or a
//! serialized `FileDescriptorProto` (base64), as registries may hold them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use crate::source::json_tree::Json;
use base64::Engine;

use super::avro::DecodeError;
use prost_reflect::{
    DynamicMessage, FileDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as Proto,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

/// The message indexes after a framed value's schema id (zigzag varints:
/// a count, then the path through nested messages; a count of 0 means the
/// first message), and the message bytes after them.
pub(super) fn skip_indexes(bytes: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    let mut indexes = Vec::new();
    let rest = read_indexes(bytes, |index| indexes.push(index))?;
    if indexes.is_empty() {
        indexes.push(0);
    }
    Ok((indexes, rest))
}

/// How many bytes the message indexes after a framed value's schema id
/// take.
pub(super) fn indexes_len(bytes: &[u8]) -> Result<usize, String> {
    Ok(bytes.len() - read_indexes(bytes, |_| ())?.len())
}

/// Reads the message indexes at the start of `bytes`, each to `each`
/// (none for a count of 0); the bytes after them.
fn read_indexes(bytes: &[u8], mut each: impl FnMut(usize)) -> Result<&[u8], String> {
    let mut rest = bytes;
    let count = zigzag(&mut rest)?;
    if count != 0 && !(1..=64).contains(&count) {
        return Err(format!("{count} message indexes in the framing"));
    }
    for _ in 0..count {
        let index = zigzag(&mut rest)?;
        each(usize::try_from(index).map_err(|_| format!("message index {index} in the framing"))?);
    }
    Ok(rest)
}

fn zigzag(bytes: &mut &[u8]) -> Result<i64, String> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = bytes.split_first() else {
            return Err("the framing's message indexes end early".into());
        };
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    Err("a message index in the framing is too long".into())
}

/// The message `indexes` name in `file`: the first index among its
/// top-level messages, each next one among the previous one's nested
/// messages.
pub(super) fn message_at(
    file: &FileDescriptor,
    indexes: &[usize],
) -> Result<MessageDescriptor, String> {
    let missing = || format!("message index {indexes:?} is not in the schema's file");
    let (first, nested) = indexes.split_first().ok_or_else(missing)?;
    let mut message = file.messages().nth(*first).ok_or_else(missing)?;
    for index in nested {
        let child = message.child_messages().nth(*index);
        message = child.ok_or_else(missing)?;
    }
    Ok(message)
}

/// Decodes `bytes` as `message`, into JSON. Prost stops at 100 levels of
/// nested messages (below [`crate::engine::MAX_NESTING`]): a value deeper
/// than that is too deep.
pub(super) fn decode(
    message: &MessageDescriptor,
    bytes: &[u8],
) -> Result<Json<'static>, DecodeError> {
    let decoded = DynamicMessage::decode(message.clone(), bytes).map_err(|e| {
        let text = e.to_string();
        match text.ends_with("recursion limit reached") {
            true => DecodeError::TooDeep,
            false => DecodeError::Mismatch(text),
        }
    })?;
    Ok(message_to_json(&decoded))
}

/// Schema files held in memory, by the names imports use.
struct Schemas(HashMap<String, File>);

impl FileResolver for Schemas {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// A schema text as a file: a base64 `FileDescriptorProto`, or `.proto`
/// source.
fn schema_file(name: &str, text: &str) -> Result<File, String> {
    let trimmed = text.trim();
    if !trimmed.contains(char::is_whitespace)
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(trimmed)
        && let Ok(file) = File::decode_file_descriptor_proto(bytes.as_slice())
    {
        return Ok(file);
    }
    File::from_source(name, text).map_err(|e| e.to_string())
}

/// Compiles a registered Protobuf schema with the schemas it references
/// (name, text).
pub(super) fn read_registered(
    text: &str,
    references: &[(String, String)],
) -> Result<FileDescriptor, String> {
    let mut files = HashMap::new();
    for (name, reference) in references {
        files.insert(name.clone(), schema_file(name, reference)?);
    }
    let main = schema_file("registered.proto", text)?;
    let main_name = match main.file_descriptor_proto().name() {
        "" => "registered.proto".to_owned(),
        name => name.to_owned(),
    };
    files.insert(main_name.clone(), main);
    let mut resolver = ChainFileResolver::new();
    resolver.add(Schemas(files));
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.open_file(&main_name).map_err(|e| e.to_string())?;
    compiler
        .descriptor_pool()
        .get_file_by_name(&main_name)
        .ok_or_else(|| "the schema's file is missing after compiling".to_owned())
}

/// The message `name` (full, or the last part of it) of the `.proto` file
/// at `path`, compiled with the imports beside it.
pub(super) fn message_from_file(path: &Path, name: &str) -> Result<MessageDescriptor, String> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut compiler = protox::Compiler::new([folder]).map_err(|e| e.to_string())?;
    let file_name = path.file_name().map(Path::new).unwrap_or(path);
    compiler.open_file(file_name).map_err(|e| e.to_string())?;
    let pool = compiler.descriptor_pool();
    let found = pool.get_message_by_name(name).or_else(|| {
        pool.all_messages()
            .find(|m| m.name() == name || m.full_name().ends_with(&format!(".{name}")))
    });
    found.ok_or_else(|| {
        let names: Vec<String> = pool
            .all_messages()
            .filter(|m| !m.full_name().starts_with("google.protobuf."))
            .map(|m| m.full_name().to_owned())
            .collect();
        format!(
            "no message `{name}`; the messages are: {}",
            names.join(", ")
        )
    })
}

fn number(n: f64) -> Json<'static> {
    if n.is_finite() {
        Json::Number(n)
    } else {
        Json::Null
    }
}

fn text(text: String) -> Json<'static> {
    Json::Str(Cow::Owned(text))
}

/// One message as a JSON object of the fields it sets; the well-known
/// timestamp, duration and wrapper messages as their values.
pub fn message_to_json(message: &DynamicMessage) -> Json<'static> {
    let descriptor = message.descriptor();
    match descriptor.full_name() {
        "google.protobuf.Timestamp" => {
            return timestamp_json(field_i64(message, "seconds"), field_i64(message, "nanos"));
        }
        "google.protobuf.Duration" => {
            let seconds = field_i64(message, "seconds") as f64;
            let nanos = field_i64(message, "nanos") as f64;
            return text(format!("{}s", seconds + nanos / 1e9));
        }
        "google.protobuf.StringValue"
        | "google.protobuf.BytesValue"
        | "google.protobuf.BoolValue"
        | "google.protobuf.Int32Value"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.FloatValue"
        | "google.protobuf.DoubleValue" => {
            return match descriptor.get_field_by_name("value") {
                Some(field) => field_to_json(&message.get_field(&field), &field.kind()),
                None => Json::Null,
            };
        }
        _ => {}
    }
    Json::Object(
        message
            .fields()
            .map(|(field, value)| {
                (
                    Cow::Owned(field.name().to_owned()),
                    field_to_json(value, &field.kind()),
                )
            })
            .collect(),
    )
}

/// A `google.protobuf.Timestamp` as ISO-8601 text (nanoseconds outside
/// a second are clamped into it); null outside chrono's range.
pub(super) fn timestamp_json(seconds: i64, nanos: i64) -> Json<'static> {
    chrono::DateTime::from_timestamp(seconds, nanos.clamp(0, 999_999_999) as u32)
        .map_or(Json::Null, |t| {
            text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        })
}

fn field_i64(message: &DynamicMessage, name: &str) -> i64 {
    match message.get_field_by_name(name).as_deref() {
        Some(Proto::I64(n)) => *n,
        Some(Proto::I32(n)) => i64::from(*n),
        _ => 0,
    }
}

fn field_to_json(value: &Proto, kind: &Kind) -> Json<'static> {
    match value {
        Proto::Bool(b) => Json::Bool(*b),
        Proto::I32(n) => Json::Number(f64::from(*n)),
        Proto::I64(n) => Json::whole(*n),
        Proto::U32(n) => Json::Number(f64::from(*n)),
        Proto::U64(n) => Json::whole_unsigned(*n),
        Proto::F32(n) => number(f64::from(*n)),
        Proto::F64(n) => number(*n),
        Proto::String(s) => text(s.clone()),
        Proto::Bytes(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => text(s.to_owned()),
            Err(_) => text(super::avro::hex(bytes)),
        },
        Proto::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(symbol) => text(symbol.name().to_owned()),
            None => Json::Number(f64::from(*n)),
        },
        Proto::Message(message) => message_to_json(message),
        Proto::List(items) => Json::Array(items.iter().map(|v| field_to_json(v, kind)).collect()),
        Proto::Map(members) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut members: Vec<(Cow<'static, str>, Json<'static>)> = members
                .iter()
                .map(|(k, v)| (Cow::Owned(map_key(k)), field_to_json(v, &value_kind)))
                .collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(members)
        }
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}
