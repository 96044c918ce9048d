//! The decoding plan of a Protobuf message: each field number read once
//! into how its value is checked and where it goes, as `prost-reflect`
//! 0.16 decodes it (with `prost` 0.14's wire rules): the last value of a
//! field wins, a field without presence set to its default is not set, a
//! member of a `oneof` unsets the others, strings are UTF-8, nested
//! messages are checked as they are read. Groups, extensions, recursive
//! messages and maps under `properties` have no plan: their values are
//! decoded whole.

use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};

use crate::engine::{EARLIEST_US, LATEST_US};
use crate::source::json_tree::Json;
use crate::source::jsonl::field_of;
use crate::source::record::{Field, text_field};

use super::plan::Wanted;
use super::protobuf::timestamp_json;

/// Messages nesting deeper than this have no plan.
const DEEPEST: usize = 32;
/// Messages with more fields than this (nested ones included) have no plan.
const MOST_FIELDS: usize = 4096;

const TIMESTAMP: &str = "google.protobuf.Timestamp";

/// The steps that read one message's values.
pub(super) struct ProtobufPlan {
    root: MessagePlan,
    /// The slots a `google.protobuf.Timestamp` goes to, and whether only
    /// the time reads them.
    stamps: Vec<(usize, bool)>,
}

struct MessagePlan {
    /// By field number.
    fields: Vec<FieldPlan>,
}

struct FieldPlan {
    number: u32,
    value: Value,
    list: bool,
    /// Where the value goes.
    slot: Option<Slot>,
    /// The slots (and timestamps) of the other members of its `oneof`,
    /// unset when it is set.
    clears: Vec<(usize, Option<usize>)>,
}

#[derive(Clone, Copy)]
struct Slot {
    index: usize,
    /// Set even to its default (else a default value is not set).
    presence: bool,
    /// For a timestamp, its place among the timestamps being read.
    stamp: Option<usize>,
}

enum Value {
    Varint(Varint),
    Fixed32(Fixed32),
    Fixed64(Fixed64),
    String,
    Bytes,
    Message(Box<MessagePlan>),
    Timestamp,
}

#[derive(Clone)]
enum Varint {
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    /// The symbols by number.
    Enum(Vec<(i32, String)>),
}

#[derive(Clone, Copy)]
enum Fixed32 {
    Unsigned,
    Signed,
    Float,
}

#[derive(Clone, Copy)]
enum Fixed64 {
    Unsigned,
    Signed,
    Double,
}

/// The wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

impl Value {
    fn wire_type(&self) -> u8 {
        match self {
            Value::Varint(_) => VARINT,
            Value::Fixed32(_) => FIXED32,
            Value::Fixed64(_) => FIXED64,
            Value::String | Value::Bytes | Value::Message(_) | Value::Timestamp => DELIMITED,
        }
    }

    fn packable(&self) -> bool {
        matches!(
            self,
            Value::Varint(_) | Value::Fixed32(_) | Value::Fixed64(_)
        )
    }
}

/// Compiles messages into plans.
struct Compiler {
    open: Vec<String>,
    fields: usize,
    stamps: Vec<(usize, bool)>,
}

/// Where a message's fields go: the top message's to the slots of their
/// names, `properties`' to the slots of the names the top one lacks.
type Names<'w> = &'w [(usize, bool, &'w str)];

impl ProtobufPlan {
    /// The plan of `message` for the fields `wanted` names; None when its
    /// values are not objects of fields a plan reads.
    pub fn new(message: &MessageDescriptor, wanted: &Wanted) -> Option<ProtobufPlan> {
        if message.full_name().starts_with("google.protobuf.") {
            return None;
        }
        let names: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
        let top: Vec<&str> = names.iter().map(String::as_str).collect();
        let own: Vec<(usize, bool, &str)> = top
            .iter()
            .filter_map(|&name| {
                let slot = wanted.slot(name)?;
                Some((slot, wanted.time_only(slot), name))
            })
            .collect();
        let in_properties: Vec<(usize, bool, &str)> = wanted
            .missing_from(&top)
            .filter_map(|name| Some((wanted.slot(name)?, false, name)))
            .collect();
        // Arrays of messages would be events of their own.
        let events = message
            .fields()
            .any(|f| f.is_list() && matches!(f.kind(), Kind::Message(_)));
        if events || !properties_read_apart(message, wanted, &in_properties) {
            return None;
        }
        let mut compiler = Compiler {
            open: Vec::new(),
            fields: 0,
            stamps: Vec::new(),
        };
        let root = compiler.message(message, &own, &in_properties, 0)?;
        Some(ProtobufPlan {
            root,
            stamps: compiler.stamps,
        })
    }

    /// Reads `payload` into `fields`; false when the decoder should.
    pub fn read<'a>(&'a self, payload: &'a [u8], fields: &mut [Field<'a>]) -> bool {
        let mut stamps = vec![None; self.stamps.len()];
        let mut reading = Reading {
            fields,
            stamps: &mut stamps,
        };
        if read_message(&self.root, payload, &mut reading).is_none() {
            return false;
        }
        for (&(slot, time_only), stamp) in self.stamps.iter().zip(stamps) {
            if let Some((seconds, nanos)) = stamp {
                fields[slot] = instant(seconds, nanos, time_only);
            }
        }
        true
    }
}

/// Whether the fields looked for under `properties` are read there and
/// nowhere else, as a plan reads them: the mapping looks under
/// `properties` for a field the message leaves unset (a default value,
/// an absent `optional`, a oneof's other member), so a plan reads no
/// message whose `properties` holds a field the top level has too, nor one
/// whose `properties` is a well-known type, in a oneof, or a field read
/// itself.
fn properties_read_apart(
    message: &MessageDescriptor,
    wanted: &Wanted,
    in_properties: &[(usize, bool, &str)],
) -> bool {
    let Some(properties) = message.get_field_by_name("properties") else {
        return true;
    };
    if wanted.slot("properties").is_some() {
        return in_properties.is_empty();
    }
    let in_oneof = properties
        .containing_oneof()
        .is_some_and(|o| !o.is_synthetic());
    match properties.kind() {
        Kind::Message(inner) => {
            let shadowed = inner.fields().any(|f| {
                message.get_field_by_name(f.name()).is_some() && wanted.slot(f.name()).is_some()
            });
            let well_known = inner.full_name().starts_with("google.protobuf.");
            in_properties.is_empty() || !(shadowed || well_known || in_oneof)
        }
        _ => true,
    }
}

impl Compiler {
    fn message(
        &mut self,
        message: &MessageDescriptor,
        names: Names<'_>,
        properties: Names<'_>,
        depth: usize,
    ) -> Option<MessagePlan> {
        let full = message.full_name().to_owned();
        if depth > DEEPEST || self.open.contains(&full) || message.extensions().next().is_some() {
            return None;
        }
        self.open.push(full);
        let slot_of = |field: &FieldDescriptor| {
            names
                .iter()
                .find(|(_, _, name)| *name == field.name())
                .map(|&(slot, time_only, _)| (slot, time_only))
        };
        let mut fields = Vec::with_capacity(message.fields().len());
        for field in message.fields() {
            self.fields += 1;
            if self.fields > MOST_FIELDS || field.is_group() {
                return None;
            }
            let inner = match field.name() {
                "properties" if slot_of(&field).is_none() => properties,
                _ => &[],
            };
            let slot = slot_of(&field);
            let value = self.value(&field, inner, slot.is_some(), depth)?;
            let stamp = match (&value, slot) {
                (Value::Timestamp, Some((index, time_only))) => {
                    self.stamps.push((index, time_only));
                    Some(self.stamps.len() - 1)
                }
                _ => None,
            };
            let slot = slot.map(|(index, _)| Slot {
                index,
                presence: field.supports_presence(),
                stamp,
            });
            fields.push(FieldPlan {
                number: field.number(),
                value,
                list: field.is_list() || field.is_map(),
                slot,
                clears: Vec::new(),
            });
        }
        self.open.pop();
        // A member of a oneof unsets the others' slots.
        let members: Vec<(u32, Option<String>)> = message
            .fields()
            .map(|f| {
                let oneof = f.containing_oneof().filter(|o| !o.is_synthetic());
                (f.number(), oneof.map(|o| o.full_name().to_owned()))
            })
            .collect();
        for i in 0..fields.len() {
            let Some(oneof) = &members[i].1 else {
                continue;
            };
            fields[i].clears = members
                .iter()
                .zip(&fields)
                .filter(|((number, other), _)| {
                    *number != members[i].0 && other.as_ref() == Some(oneof)
                })
                .filter_map(|(_, f)| f.slot.map(|s| (s.index, s.stamp)))
                .collect();
        }
        fields.sort_by_key(|f| f.number);
        Some(MessagePlan { fields })
    }

    fn value(
        &mut self,
        field: &FieldDescriptor,
        properties: Names<'_>,
        read: bool,
        depth: usize,
    ) -> Option<Value> {
        Some(match field.kind() {
            Kind::Bool => Value::Varint(Varint::Bool),
            Kind::Int32 => Value::Varint(Varint::Int32),
            Kind::Int64 => Value::Varint(Varint::Int64),
            Kind::Uint32 => Value::Varint(Varint::Uint32),
            Kind::Uint64 => Value::Varint(Varint::Uint64),
            Kind::Sint32 => Value::Varint(Varint::Sint32),
            Kind::Sint64 => Value::Varint(Varint::Sint64),
            Kind::Enum(e) => Value::Varint(Varint::Enum(symbols(&e))),
            Kind::Fixed32 => Value::Fixed32(Fixed32::Unsigned),
            Kind::Sfixed32 => Value::Fixed32(Fixed32::Signed),
            Kind::Float => Value::Fixed32(Fixed32::Float),
            Kind::Fixed64 => Value::Fixed64(Fixed64::Unsigned),
            Kind::Sfixed64 => Value::Fixed64(Fixed64::Signed),
            Kind::Double => Value::Fixed64(Fixed64::Double),
            Kind::String => Value::String,
            Kind::Bytes => Value::Bytes,
            Kind::Message(m)
                if m.full_name() == TIMESTAMP && !field.is_list() && !field.is_map() =>
            {
                Value::Timestamp
            }
            Kind::Message(m) => {
                let well_known = m.full_name().starts_with("google.protobuf.");
                // Wrappers and durations read into a slot are left to the
                // decoder, and so are maps under `properties`.
                if read && well_known {
                    return None;
                }
                if field.is_map() && !properties.is_empty() {
                    return None;
                }
                Value::Message(Box::new(self.message(&m, properties, &[], depth + 1)?))
            }
        })
    }
}

/// What a value's reading fills.
struct Reading<'f, 'a> {
    fields: &'f mut [Field<'a>],
    /// Each timestamp read so far: seconds and nanoseconds.
    stamps: &'f mut [Option<(i64, i64)>],
}

/// The bytes being read.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Cursor<'b> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// A varint as `prost` reads it: ten bytes at most, the tenth below 2.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for count in 0..10 {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << (count * 7);
            if byte < 0x80 {
                return (count < 9 || byte < 2).then_some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        if n > self.bytes.len() - self.at {
            return None;
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Some(taken)
    }

    fn delimited(&mut self) -> Option<&'b [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }

    /// A field's number and wire type.
    fn key(&mut self) -> Option<(u32, u8)> {
        let key = u32::try_from(self.varint()?).ok()?;
        let (number, wire) = (key >> 3, (key & 7) as u8);
        (number > 0).then_some((number, wire))
    }

    /// Passes over an unknown field (groups are left to the decoder).
    fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            DELIMITED => self.delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => None,
        }
    }
}

fn read_message<'a>(
    plan: &'a MessagePlan,
    bytes: &'a [u8],
    reading: &mut Reading<'_, 'a>,
) -> Option<()> {
    let mut cursor = Cursor { bytes, at: 0 };
    while !cursor.done() {
        let (number, wire) = cursor.key()?;
        let Ok(found) = plan.fields.binary_search_by_key(&number, |f| f.number) else {
            cursor.skip(wire)?;
            continue;
        };
        let field = &plan.fields[found];
        for &(slot, stamp) in &field.clears {
            reading.fields[slot] = Field::Missing;
            if let Some(stamp) = stamp {
                reading.stamps[stamp] = None;
            }
        }
        if field.list && wire == DELIMITED && field.value.packable() {
            let mut packed = Cursor {
                bytes: cursor.delimited()?,
                at: 0,
            };
            while !packed.done() {
                read_value(field, &mut packed, reading)?;
            }
            continue;
        }
        if wire != field.value.wire_type() {
            return None;
        }
        read_value(field, &mut cursor, reading)?;
    }
    Some(())
}

/// Reads one value of `field` and puts it in its slot.
fn read_value<'a>(
    field: &'a FieldPlan,
    cursor: &mut Cursor<'a>,
    reading: &mut Reading<'_, 'a>,
) -> Option<()> {
    let value: Field<'a> = match &field.value {
        Value::Varint(kind) => varint(kind, cursor.varint()?, field.slot),
        Value::Fixed32(kind) => {
            let b = cursor.take(4)?;
            let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            match kind {
                Fixed32::Unsigned => number(f64::from(bits), field.slot),
                Fixed32::Signed => number(f64::from(bits as i32), field.slot),
                Fixed32::Float => number(f64::from(f32::from_bits(bits)), field.slot),
            }
        }
        Value::Fixed64(kind) => {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(cursor.take(8)?);
            let bits = u64::from_le_bytes(eight);
            match kind {
                Fixed64::Unsigned => json(Json::whole_unsigned(bits), field.slot),
                Fixed64::Signed => json(Json::whole(bits as i64), field.slot),
                Fixed64::Double => number(f64::from_bits(bits), field.slot),
            }
        }
        Value::String => {
            let text = std::str::from_utf8(cursor.delimited()?).ok()?;
            match field.slot {
                Some(slot) if !slot.presence && text.is_empty() => Field::Missing,
                _ => text_field(text),
            }
        }
        Value::Bytes => {
            let bytes = cursor.delimited()?;
            match (field.slot, std::str::from_utf8(bytes)) {
                (Some(slot), _) if !slot.presence && bytes.is_empty() => Field::Missing,
                (Some(_), Ok(text)) => text_field(text),
                (Some(_), Err(_)) => Field::Text(super::avro::hex(bytes).into()),
                (None, _) => Field::Missing,
            }
        }
        Value::Message(plan) => {
            read_message(plan, cursor.delimited()?, reading)?;
            Field::Nested
        }
        Value::Timestamp => {
            let bytes = cursor.delimited()?;
            let stamp = field.slot.and_then(|s| s.stamp);
            let mut time = stamp.and_then(|s| reading.stamps[s]).unwrap_or((0, 0));
            read_timestamp(bytes, &mut time)?;
            if let Some(s) = stamp {
                reading.stamps[s] = Some(time);
            }
            return Some(());
        }
    };
    if let Some(slot) = field.slot {
        reading.fields[slot.index] = match field.list {
            true => Field::Nested,
            false => value,
        };
    }
    Some(())
}

/// A `google.protobuf.Timestamp` merged into `time` (seconds, nanos).
fn read_timestamp(bytes: &[u8], time: &mut (i64, i64)) -> Option<()> {
    let mut cursor = Cursor { bytes, at: 0 };
    while !cursor.done() {
        match cursor.key()? {
            (1, VARINT) => time.0 = cursor.varint()? as i64,
            (2, VARINT) => time.1 = i64::from(cursor.varint()? as i32),
            (1 | 2, _) => return None,
            (_, wire) => cursor.skip(wire)?,
        }
    }
    Some(())
}

/// A timestamp as the instant it is where only the time reads it and it
/// is within the years 1 to 9999; else as the decoder's text.
fn instant(seconds: i64, nanos: i64, time_only: bool) -> Field<'static> {
    let nanos = nanos.clamp(0, 999_999_999);
    if time_only
        && let Some(us) = seconds
            .checked_mul(1_000_000)
            .and_then(|us| us.checked_add(nanos / 1000))
        && (EARLIEST_US..=LATEST_US).contains(&us)
    {
        if nanos % 1000 == 0 {
            return Field::TimestampUs(us);
        }
        if let Some(ns) = seconds
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(nanos))
        {
            return Field::TimestampNs(ns);
        }
    }
    field_of(Some(&timestamp_json(seconds, nanos))).into_owned()
}

/// The symbols of an enum by number, as the decoder names them.
fn symbols(e: &EnumDescriptor) -> Vec<(i32, String)> {
    let mut numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .into_iter()
        .filter_map(|n| Some((n, e.get_value(n)?.name().to_owned())))
        .collect()
}

fn varint(kind: &Varint, raw: u64, slot: Option<Slot>) -> Field<'_> {
    let Some(slot) = slot else {
        return Field::Missing;
    };
    let (value, default) = match kind {
        Varint::Bool => (
            Field::Text(if raw != 0 { "true" } else { "false" }.into()),
            raw == 0,
        ),
        Varint::Int32 => (Field::Number(f64::from(raw as i32)), raw as i32 == 0),
        Varint::Uint32 => (Field::Number(f64::from(raw as u32)), raw as u32 == 0),
        Varint::Sint32 => {
            let n = raw as u32;
            let n = ((n >> 1) as i32) ^ -((n & 1) as i32);
            (Field::Number(f64::from(n)), n == 0)
        }
        Varint::Int64 => (
            field_of(Some(&Json::whole(raw as i64))).into_owned(),
            raw == 0,
        ),
        Varint::Uint64 => (
            field_of(Some(&Json::whole_unsigned(raw))).into_owned(),
            raw == 0,
        ),
        Varint::Sint64 => {
            let n = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
            (field_of(Some(&Json::whole(n))).into_owned(), n == 0)
        }
        Varint::Enum(symbols) => {
            let n = raw as i32;
            let value = match symbols.binary_search_by_key(&n, |(number, _)| *number) {
                Ok(i) => text_field(&symbols[i].1),
                Err(_) => Field::Number(f64::from(n)),
            };
            (value, n == 0)
        }
    };
    // Without presence, a default value is not set.
    match default && !slot.presence {
        true => Field::Missing,
        false => value,
    }
}

/// A number read into a slot, as JSON holds it (a default value not set
/// where there is no presence; not finite, nothing).
fn number(n: f64, slot: Option<Slot>) -> Field<'static> {
    match slot {
        Some(slot) if !slot.presence && n == 0.0 => Field::Missing,
        Some(_) if n.is_finite() => Field::Number(n),
        _ => Field::Missing,
    }
}

fn json(value: Json<'static>, slot: Option<Slot>) -> Field<'static> {
    match (slot, &value) {
        (Some(slot), Json::Number(n)) if !slot.presence && *n == 0.0 => Field::Missing,
        (Some(_), _) => field_of(Some(&value)).into_owned(),
        (None, _) => Field::Missing,
    }
}
