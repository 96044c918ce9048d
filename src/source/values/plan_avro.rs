//! The decoding plan of an Avro record schema: each field's type read
//! once into a node that decodes it into its slot (when the mapping reads
//! it) or passes over it, checking it as `apache-avro` 0.21 would
//! (`decode.rs`): booleans are 0 or 1, strings UTF-8, union and enum
//! indexes in range. Where that decoder would read something else than an
//! error or a value (the end of the bytes inside a union or a string reads
//! as null there), the plan gives up and the decoder reads the value.

use apache_avro::Schema;
use apache_avro::types::Value as Avro;

use crate::engine::{EARLIEST_US, LATEST_US};
use crate::source::json_tree::Json;
use crate::source::jsonl::field_of;
use crate::source::record::{Field, text_field};

use super::avro::{AvroSchema, avro_to_json};
use super::avro_walk::{Names, qualified};
use super::plan::Wanted;

/// Schemas nesting deeper than this have no plan.
const DEEPEST: usize = 32;
/// Schemas with more types than this have no plan.
const MOST_NODES: usize = 4096;

/// The steps that read one record schema's values.
pub(super) struct AvroPlan {
    fields: Vec<Node>,
}

/// One type of the schema, and the slot its value goes to.
struct Node {
    slot: Option<usize>,
    /// The slot is read only as the time.
    time_only: bool,
    kind: Kind,
}

/// The unit of a timestamp.
#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Micros,
    Nanos,
}

enum Kind {
    Null,
    Boolean,
    Int,
    TimeMillis,
    Date,
    Long,
    TimeMicros,
    Instant(Unit),
    Local(Unit),
    Float,
    Double,
    Bytes,
    String,
    Enum(Vec<String>),
    Fixed(usize),
    Record(Vec<Node>),
    Array(Box<Node>),
    Map(Box<Node>),
    Union(Vec<Node>),
}

/// Where a type's value goes.
#[derive(Clone, Copy)]
enum Goes<'w> {
    Nowhere,
    Slot(usize, bool),
    /// A record's fields go to the slots of these names (`properties`).
    Fields(&'w [(usize, &'w str)]),
}

/// How many values a datum of `len` bytes may hold before the decoder
/// refuses it (see `avro_walk`): a plan counts at least as many as the
/// walk does and gives such a datum to the decoder.
fn values_allowed(len: usize) -> usize {
    len.saturating_mul(2).saturating_add(4096)
}

/// Compiles the schema into nodes.
struct Compiler<'s> {
    names: &'s Names,
    /// The records being compiled, by full name: a reference to one of
    /// them is recursion, which has no plan.
    open: Vec<(Option<&'s str>, &'s str)>,
    nodes: usize,
}

impl AvroPlan {
    /// The plan of `schema` for the fields `wanted` names; None when the
    /// values are not a record of fields a plan reads (a top-level
    /// union, arrays of objects that would be events of their own,
    /// recursion, UUIDs and big decimals, which the decoder checks).
    pub fn new(schema: &AvroSchema, wanted: &Wanted) -> Option<AvroPlan> {
        let mut compiler = Compiler {
            names: &schema.names,
            open: Vec::new(),
            nodes: 0,
        };
        let (root, namespace) = compiler.named(&schema.schema, None)?;
        let Schema::Record(record) = root else {
            return None;
        };
        let namespace = qualified(record.name.namespace.as_deref(), namespace);
        let top: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
        // Names not found among the fields are looked for in `properties`.
        let in_properties: Vec<(usize, &str)> = wanted
            .missing_from(&top)
            .filter_map(|name| Some((wanted.slot(name)?, name)))
            .collect();
        // A field read itself is not looked into for the others.
        if wanted.slot("properties").is_some() && !in_properties.is_empty() {
            return None;
        }
        compiler.open.push((namespace, &record.name.name));
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            if compiler.may_hold_events(&field.schema, namespace, 0) {
                return None;
            }
            let goes = match (wanted.slot(&field.name), field.name.as_str()) {
                (Some(slot), _) => Goes::Slot(slot, wanted.time_only(slot)),
                (None, "properties") if !in_properties.is_empty() => Goes::Fields(&in_properties),
                (None, _) => Goes::Nowhere,
            };
            fields.push(compiler.node(&field.schema, namespace, goes, 1)?);
        }
        Some(AvroPlan { fields })
    }

    /// Reads `payload` into `fields`; false when the decoder should.
    pub fn read<'a>(&'a self, payload: &'a [u8], fields: &mut [Field<'a>]) -> bool {
        let mut cursor = Cursor {
            bytes: payload,
            at: 0,
            // The walk counts the record itself and refuses at none
            // left: two fewer keeps the plan within what it accepts.
            values_left: values_allowed(payload.len()).saturating_sub(2),
        };
        self.fields
            .iter()
            .all(|node| read(node, &mut cursor, fields).is_some())
    }
}

impl<'s> Compiler<'s> {
    /// `schema` with references followed.
    fn named(
        &self,
        schema: &'s Schema,
        namespace: Option<&'s str>,
    ) -> Option<(&'s Schema, Option<&'s str>)> {
        match schema {
            Schema::Ref { name } => {
                let (named, namespace) = self.names.resolve(name, namespace)?;
                Some((named, namespace))
            }
            other => Some((other, namespace)),
        }
    }

    /// Whether a field of this type may be an array of objects, which
    /// the mapping reads as events of their own.
    fn may_hold_events(
        &self,
        schema: &'s Schema,
        namespace: Option<&'s str>,
        turns: usize,
    ) -> bool {
        let Some((schema, namespace)) = self.named(schema, namespace) else {
            return true;
        };
        match schema {
            Schema::Array(array) => self.may_be_object(&array.items, namespace, turns),
            Schema::Union(union) => union
                .variants()
                .iter()
                .any(|v| turns > DEEPEST || self.may_hold_events(v, namespace, turns + 1)),
            _ => false,
        }
    }

    fn may_be_object(&self, schema: &'s Schema, namespace: Option<&'s str>, turns: usize) -> bool {
        let Some((schema, namespace)) = self.named(schema, namespace) else {
            return true;
        };
        match schema {
            Schema::Record(_) | Schema::Map(_) => true,
            Schema::Union(union) => union
                .variants()
                .iter()
                .any(|v| turns > DEEPEST || self.may_be_object(v, namespace, turns + 1)),
            _ => false,
        }
    }

    fn node(
        &mut self,
        schema: &'s Schema,
        namespace: Option<&'s str>,
        goes: Goes<'_>,
        depth: usize,
    ) -> Option<Node> {
        self.nodes += 1;
        if depth > DEEPEST || self.nodes > MOST_NODES {
            return None;
        }
        let (slot, time_only) = match goes {
            Goes::Slot(slot, time_only) => (Some(slot), time_only),
            Goes::Nowhere | Goes::Fields(_) => (None, false),
        };
        let leaf = |kind: Kind| {
            Some(Node {
                slot,
                time_only,
                kind,
            })
        };
        // Values the plan reads only to pass over.
        let passed = |kind: Kind| match slot {
            None => leaf(kind),
            Some(_) => None,
        };
        match schema {
            Schema::Null => leaf(Kind::Null),
            Schema::Boolean => leaf(Kind::Boolean),
            Schema::Int => leaf(Kind::Int),
            Schema::TimeMillis => leaf(Kind::TimeMillis),
            Schema::Date => leaf(Kind::Date),
            Schema::Long => leaf(Kind::Long),
            Schema::TimeMicros => leaf(Kind::TimeMicros),
            Schema::TimestampMillis => leaf(Kind::Instant(Unit::Millis)),
            Schema::TimestampMicros => leaf(Kind::Instant(Unit::Micros)),
            Schema::TimestampNanos => leaf(Kind::Instant(Unit::Nanos)),
            Schema::LocalTimestampMillis => leaf(Kind::Local(Unit::Millis)),
            Schema::LocalTimestampMicros => leaf(Kind::Local(Unit::Micros)),
            Schema::LocalTimestampNanos => leaf(Kind::Local(Unit::Nanos)),
            Schema::Float => leaf(Kind::Float),
            Schema::Double => leaf(Kind::Double),
            Schema::Bytes => leaf(Kind::Bytes),
            Schema::String => leaf(Kind::String),
            Schema::Enum(e) => leaf(Kind::Enum(e.symbols.clone())),
            Schema::Fixed(fixed) => leaf(Kind::Fixed(fixed.size)),
            Schema::Duration => passed(Kind::Fixed(12)),
            Schema::Decimal(decimal) => match decimal.inner.as_ref() {
                Schema::Fixed(fixed) => passed(Kind::Fixed(fixed.size)),
                Schema::Bytes => passed(Kind::Bytes),
                _ => None,
            },
            // Checked by the decoder as it reads them.
            Schema::Uuid | Schema::BigDecimal => None,
            Schema::Ref { name } => {
                let (named, namespace) = self.names.resolve(name, namespace)?;
                self.node(named, namespace, goes, depth + 1)
            }
            Schema::Union(union) => {
                let branches = union
                    .variants()
                    .iter()
                    .map(|v| self.node(v, namespace, goes, depth + 1))
                    .collect::<Option<Vec<_>>>()?;
                leaf(Kind::Union(branches))
            }
            // A map's values under `properties` are looked up by key:
            // left to the decoder.
            Schema::Map(_) if matches!(goes, Goes::Fields(_)) => None,
            Schema::Array(array) => {
                let items = self.node(&array.items, namespace, Goes::Nowhere, depth + 1)?;
                leaf(Kind::Array(Box::new(items)))
            }
            Schema::Map(map) => {
                let values = self.node(&map.types, namespace, Goes::Nowhere, depth + 1)?;
                leaf(Kind::Map(Box::new(values)))
            }
            Schema::Record(record) => {
                let namespace = qualified(record.name.namespace.as_deref(), namespace);
                let full = (namespace, record.name.name.as_str());
                if self.open.contains(&full) {
                    return None;
                }
                self.open.push(full);
                let fields = record
                    .fields
                    .iter()
                    .map(|field| {
                        let goes = match goes {
                            Goes::Fields(names) => names
                                .iter()
                                .find(|(_, name)| *name == field.name)
                                .map_or(Goes::Nowhere, |&(slot, _)| Goes::Slot(slot, false)),
                            _ => Goes::Nowhere,
                        };
                        self.node(&field.schema, namespace, goes, depth + 1)
                    })
                    .collect::<Option<Vec<_>>>();
                self.open.pop();
                leaf(Kind::Record(fields?))
            }
        }
    }
}

/// The bytes being read.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
    /// Values still allowed before the decoder would refuse the datum.
    values_left: usize,
}

impl<'b> Cursor<'b> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// A variable-length integer as `apache-avro` reads it (ten bytes at
    /// most, bits past 64 dropped).
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in 0..10 {
            let byte = *self.bytes.get(self.at)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << (shift * 7);
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn long(&mut self) -> Option<i64> {
        let z = self.varint()?;
        Some(if z & 1 == 0 {
            (z >> 1) as i64
        } else {
            !(z >> 1) as i64
        })
    }

    fn int(&mut self) -> Option<i32> {
        i32::try_from(self.long()?).ok()
    }

    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        if n > self.left() {
            return None;
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Some(taken)
    }

    /// A length, then that many bytes.
    fn sized(&mut self) -> Option<&'b [u8]> {
        let n = usize::try_from(self.long()?).ok()?;
        self.take(n)
    }

    /// The item count of an array or map block (a negative count is
    /// followed by the block's size); more items than bytes left is left
    /// to the decoder.
    fn block(&mut self) -> Option<usize> {
        let count = self.long()?;
        let count = match count {
            0 => return Some(0),
            n if n < 0 => {
                self.long()?;
                n.checked_neg()?
            }
            n => n,
        };
        let count = usize::try_from(count).ok()?;
        (count <= self.left()).then_some(count)
    }
}

/// Reads the value `node` describes, into its slot if it has one.
fn read<'a>(node: &'a Node, cursor: &mut Cursor<'a>, fields: &mut [Field<'a>]) -> Option<()> {
    cursor.values_left = cursor.values_left.checked_sub(1)?;
    let value: Field<'a> = match &node.kind {
        Kind::Null => Field::Missing,
        Kind::Boolean => match cursor.take(1)? {
            [0] => Field::Text("false".into()),
            [1] => Field::Text("true".into()),
            _ => return None,
        },
        Kind::Int | Kind::TimeMillis => Field::Number(f64::from(cursor.int()?)),
        Kind::Date => {
            let days = cursor.int()?;
            owned(avro_to_json(Avro::Date(days)), node.slot)
        }
        Kind::Long | Kind::TimeMicros => field_of(Some(&Json::whole(cursor.long()?))).into_owned(),
        Kind::Instant(unit) => {
            let n = cursor.long()?;
            match node.slot {
                Some(_) => instant(n, *unit, node.time_only),
                None => Field::Missing,
            }
        }
        Kind::Local(unit) => {
            let n = cursor.long()?;
            let value = match unit {
                Unit::Millis => Avro::LocalTimestampMillis(n),
                Unit::Micros => Avro::LocalTimestampMicros(n),
                Unit::Nanos => Avro::LocalTimestampNanos(n),
            };
            owned(avro_to_json(value), node.slot)
        }
        Kind::Float => {
            let bytes = cursor.take(4)?;
            let n = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            finite(f64::from(n))
        }
        Kind::Double => {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(cursor.take(8)?);
            finite(f64::from_le_bytes(eight))
        }
        Kind::Bytes => {
            let bytes = cursor.sized()?;
            match (node.slot, std::str::from_utf8(bytes)) {
                (None, _) => Field::Missing,
                (Some(_), Ok(text)) => text_field(text),
                (Some(_), Err(_)) => owned(avro_to_json(Avro::Bytes(bytes.to_vec())), node.slot),
            }
        }
        Kind::String => text_field(std::str::from_utf8(cursor.sized()?).ok()?),
        Kind::Enum(symbols) => {
            let index = usize::try_from(cursor.int()?).ok()?;
            text_field(symbols.get(index)?)
        }
        Kind::Fixed(size) => {
            let bytes = cursor.take(*size)?;
            match node.slot {
                Some(_) => owned(avro_to_json(Avro::Fixed(*size, bytes.to_vec())), node.slot),
                None => Field::Missing,
            }
        }
        Kind::Record(members) => {
            for member in members {
                read(member, cursor, fields)?;
            }
            Field::Nested
        }
        Kind::Array(items) => {
            loop {
                let count = cursor.block()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    read(items, cursor, fields)?;
                }
            }
            Field::Nested
        }
        Kind::Map(values) => {
            loop {
                let count = cursor.block()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    std::str::from_utf8(cursor.sized()?).ok()?;
                    read(values, cursor, fields)?;
                }
            }
            Field::Nested
        }
        Kind::Union(branches) => {
            let index = usize::try_from(cursor.long()?).ok()?;
            return read(branches.get(index)?, cursor, fields);
        }
    };
    if let Some(slot) = node.slot {
        fields[slot] = value;
    }
    Some(())
}

/// A value the decoder makes JSON of (dates, hex, local times), as the
/// mapping reads that JSON; nothing when no slot wants it.
fn owned(json: Json<'static>, slot: Option<usize>) -> Field<'static> {
    match slot {
        Some(_) => field_of(Some(&json)).into_owned(),
        None => Field::Missing,
    }
}

fn finite(n: f64) -> Field<'static> {
    match n.is_finite() {
        true => Field::Number(n),
        false => Field::Missing,
    }
}

/// A timestamp with zone: as the instant it is where only the time reads
/// it and it is within the years 1 to 9999; else as the text the decoder
/// writes (which the mapping reads, or rejects, the same way).
fn instant(n: i64, unit: Unit, time_only: bool) -> Field<'static> {
    if time_only {
        let native = match unit {
            Unit::Millis => n.checked_mul(1000).map(Field::TimestampUs),
            Unit::Micros => Some(Field::TimestampUs(n)),
            Unit::Nanos => Some(Field::TimestampNs(n)),
        };
        let us = match native {
            Some(Field::TimestampUs(us)) => Some(us),
            Some(Field::TimestampNs(ns)) => Some(ns.div_euclid(1000)),
            _ => None,
        };
        if let (Some(native), Some(us)) = (native, us)
            && (EARLIEST_US..=LATEST_US).contains(&us)
        {
            return native;
        }
    }
    let value = match unit {
        Unit::Millis => Avro::TimestampMillis(n),
        Unit::Micros => Avro::TimestampMicros(n),
        Unit::Nanos => Avro::TimestampNanos(n),
    };
    field_of(Some(&avro_to_json(value))).into_owned()
}
