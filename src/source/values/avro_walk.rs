//! A look at one Avro datum before it is decoded: how deep it nests and
//! where it ends, walked with a stack of its own. The Avro crate decodes
//! by recursion that the data drives (a recursive record nests as deep as
//! the value does), so a few kilobytes nesting a thousand records deep
//! would overflow the thread's stack; a datum deeper than
//! [`MAX_NESTING`] is rejected before it is decoded. It also refuses
//! counts of items no datum of that size can hold, which the decoder would
//! reserve memory for first.
//!
//! The walk follows the decoder of `apache-avro` 0.21 (`decode.rs`),
//! including what it does at the end of the bytes (a union or a string
//! cut short reads as null).

use apache_avro::Schema;
use apache_avro::schema::{RecordField, ResolvedSchema};

use crate::engine::MAX_NESTING;

/// How deep the walk goes to find where a datum that is too deep ends,
/// before it gives up on finding it.
const DEEPEST_WALKED: usize = 1 << 20;

/// What a walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Nests at most [`MAX_NESTING`] levels; the datum ends at `end`.
    Fits {
        /// How many bytes the datum takes.
        end: usize,
    },
    /// Nests deeper than [`MAX_NESTING`] levels (records, arrays, maps);
    /// where it ends, when the walk could follow it to its end.
    TooDeep {
        /// How many bytes the datum takes, when found.
        end: Option<usize>,
    },
    /// Does not read as the schema says (at a depth the decoder can go
    /// to): the decoder tells why.
    Unsure,
    /// Says it holds more items than its bytes can: not to be decoded.
    Implausible(String),
}

/// The named schemas a datum's references resolve to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names(Vec<(Option<String>, String, Schema)>);

impl Names {
    /// The names defined in `schemata` (a schema and those it references).
    pub(crate) fn of(schemata: &[&Schema]) -> Result<Names, String> {
        let resolved = ResolvedSchema::try_from(schemata.to_vec()).map_err(|e| e.to_string())?;
        Ok(Names(
            resolved
                .get_names()
                .iter()
                .map(|(name, schema)| {
                    (name.namespace.clone(), name.name.clone(), (*schema).clone())
                })
                .collect(),
        ))
    }

    /// The schema `name` refers to inside the namespace `enclosing`, and
    /// the namespace it is read in.
    pub(crate) fn resolve<'s>(
        &'s self,
        name: &'s apache_avro::schema::Name,
        enclosing: Option<&'s str>,
    ) -> Option<(&'s Schema, Option<&'s str>)> {
        let namespace = qualified(name.namespace.as_deref(), enclosing);
        self.find(namespace, &name.name).map(|s| (s, namespace))
    }

    fn find(&self, namespace: Option<&str>, name: &str) -> Option<&Schema> {
        self.0
            .iter()
            .find(|(ns, n, _)| n == name && ns.as_deref() == namespace)
            .map(|(_, _, schema)| schema)
    }
}

/// The namespace a name gets inside `enclosing`, as the decoder reads it.
pub(crate) fn qualified<'s>(own: Option<&'s str>, enclosing: Option<&'s str>) -> Option<&'s str> {
    own.or(enclosing.filter(|ns| !ns.is_empty()))
}

/// The bytes being walked.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
}

/// A variable-length integer could not be read.
enum Varint {
    /// The bytes ended first.
    Ended,
    /// Longer than ten bytes.
    TooLong,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn long(&mut self) -> Result<i64, Varint> {
        let mut value = 0u64;
        for shift in 0..10 {
            let Some(&byte) = self.bytes.get(self.at) else {
                self.at = self.bytes.len();
                return Err(Varint::Ended);
            };
            self.at += 1;
            value |= u64::from(byte & 0x7f) << (shift * 7);
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(Varint::TooLong)
    }

    /// Passes over `n` bytes; false when fewer are left (then none are).
    fn skip(&mut self, n: usize) -> bool {
        if n > self.left() {
            self.at = self.bytes.len();
            return false;
        }
        self.at += n;
        true
    }

    /// A length (bytes, string): None when it cannot be one.
    fn length(&mut self) -> Option<usize> {
        self.long().ok().and_then(|n| usize::try_from(n).ok())
    }
}

/// A value being read whose parts are still to come.
enum Frame<'s> {
    /// A record's fields from `next` on.
    Fields {
        fields: &'s [RecordField],
        next: usize,
        namespace: Option<&'s str>,
    },
    /// An array's items or a map's entries: `left` more in this block.
    Items {
        item: &'s Schema,
        left: u64,
        map: bool,
        namespace: Option<&'s str>,
    },
}

/// What reading one value did.
enum Step<'s> {
    /// Read whole.
    Done,
    /// Started a value with parts.
    Open(Frame<'s>),
    /// Does not read as the schema says.
    Wrong,
}

/// Reads the value `schema` describes at the cursor, or opens it.
fn visit<'s>(
    mut schema: &'s Schema,
    mut namespace: Option<&'s str>,
    names: &'s Names,
    cursor: &mut Cursor<'_>,
) -> Step<'s> {
    let done = |ok: bool| if ok { Step::Done } else { Step::Wrong };
    // Unions and references lead to another schema: a few turns at most.
    loop {
        return match schema {
            Schema::Null => Step::Done,
            Schema::Boolean => match cursor.bytes.get(cursor.at) {
                None => Step::Done,
                Some(0 | 1) => done(cursor.skip(1)),
                Some(_) => Step::Wrong,
            },
            Schema::Int
            | Schema::Long
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos
            | Schema::Enum(_) => done(cursor.long().is_ok()),
            Schema::Float => done(cursor.skip(4)),
            Schema::Double => done(cursor.skip(8)),
            Schema::Duration => done(cursor.skip(12)),
            Schema::Fixed(fixed) => done(cursor.skip(fixed.size)),
            Schema::Bytes | Schema::BigDecimal | Schema::Uuid => {
                done(cursor.length().is_some_and(|n| cursor.skip(n)))
            }
            Schema::Decimal(decimal) => match decimal.inner.as_ref() {
                Schema::Fixed(fixed) => done(cursor.skip(fixed.size)),
                Schema::Bytes => done(cursor.length().is_some_and(|n| cursor.skip(n))),
                _ => Step::Wrong,
            },
            // A string cut short reads as null, and takes the rest.
            Schema::String => match cursor.length() {
                Some(n) => {
                    cursor.skip(n);
                    Step::Done
                }
                None => Step::Wrong,
            },
            Schema::Union(union) => match cursor.long() {
                // A union at the end of the bytes reads as null.
                Err(Varint::Ended) => Step::Done,
                Err(Varint::TooLong) => Step::Wrong,
                Ok(index) => match usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                {
                    Some(variant) => {
                        schema = variant;
                        continue;
                    }
                    None => Step::Wrong,
                },
            },
            Schema::Ref { name } => match names.resolve(name, namespace) {
                Some((named, qualified)) => {
                    schema = named;
                    namespace = qualified;
                    continue;
                }
                None => Step::Wrong,
            },
            Schema::Record(record) => Step::Open(Frame::Fields {
                fields: &record.fields,
                next: 0,
                namespace: qualified(record.name.namespace.as_deref(), namespace),
            }),
            Schema::Array(array) => Step::Open(Frame::Items {
                item: &array.items,
                left: 0,
                map: false,
                namespace,
            }),
            Schema::Map(map) => Step::Open(Frame::Items {
                item: &map.types,
                left: 0,
                map: true,
                namespace,
            }),
        };
    }
}

/// Walks the datum at the start of `bytes` as `schema` (with `names` for
/// its references) says.
pub(crate) fn measure<'s>(schema: &'s Schema, names: &'s Names, bytes: &[u8]) -> Shape {
    let mut cursor = Cursor { bytes, at: 0 };
    // Values a datum of this size may hold: each takes a byte, but for
    // nulls and the like, of which a few thousand more are allowed.
    let mut values_left = bytes.len().saturating_mul(2).saturating_add(4096);
    let mut stack: Vec<Frame<'s>> = Vec::new();
    let mut too_deep = false;
    let mut next = Some((schema, None::<&str>));
    loop {
        if let Some((schema, namespace)) = next.take() {
            match visit(schema, namespace, names, &mut cursor) {
                Step::Done => {}
                Step::Wrong if too_deep => return Shape::TooDeep { end: None },
                Step::Wrong => return Shape::Unsure,
                Step::Open(frame) => {
                    stack.push(frame);
                    too_deep |= stack.len() > MAX_NESTING;
                }
            }
            values_left = values_left.saturating_sub(1);
            if too_deep && (stack.len() > DEEPEST_WALKED || values_left == 0) {
                return Shape::TooDeep { end: None };
            }
            if values_left == 0 {
                return Shape::Implausible(format!(
                    "it holds more values than its {} bytes can",
                    bytes.len()
                ));
            }
        }
        let Some(top) = stack.last_mut() else {
            break;
        };
        match top {
            Frame::Fields {
                fields,
                next: field,
                namespace,
            } => {
                let list: &'s [RecordField] = fields;
                match list.get(*field) {
                    Some(f) => {
                        *field += 1;
                        next = Some((&f.schema, *namespace));
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
            Frame::Items {
                item,
                left,
                map,
                namespace,
            } => {
                if *left == 0 {
                    let count = match cursor.long() {
                        Ok(0) => {
                            stack.pop();
                            continue;
                        }
                        Ok(n) if n < 0 => match cursor.long() {
                            Ok(_) => n.unsigned_abs(),
                            Err(_) if too_deep => return Shape::TooDeep { end: None },
                            Err(_) => return Shape::Unsure,
                        },
                        Ok(n) => n.unsigned_abs(),
                        Err(_) if too_deep => return Shape::TooDeep { end: None },
                        Err(_) => return Shape::Unsure,
                    };
                    if count > values_left as u64 {
                        return Shape::Implausible(format!(
                            "it says {} holds {count} items, more than its {} bytes can",
                            if *map { "a map" } else { "an array" },
                            bytes.len()
                        ));
                    }
                    *left = count;
                    continue;
                }
                *left -= 1;
                if *map && !cursor.length().is_some_and(|n| cursor.skip(n)) {
                    return match too_deep {
                        true => Shape::TooDeep { end: None },
                        false => Shape::Unsure,
                    };
                }
                next = Some((*item, *namespace));
            }
        }
    }
    match too_deep {
        true => Shape::TooDeep {
            end: Some(cursor.at),
        },
        false => Shape::Fits { end: cursor.at },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record that holds itself, `levels` deep, then null.
    fn nested(levels: usize) -> Vec<u8> {
        let mut bytes = vec![2u8; levels];
        bytes.push(0);
        bytes
    }

    fn node() -> (Schema, Names) {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"Node","namespace":"n","fields":[
                {"name":"child","type":["null","Node"]}]}"#,
        )
        .unwrap();
        let names = Names::of(&[&schema]).unwrap();
        (schema, names)
    }

    #[test]
    fn a_recursive_record_is_measured_to_its_end_without_recursion() {
        let (schema, names) = node();
        // The outer record, then `levels` more inside it.
        let fits = nested(MAX_NESTING - 1);
        assert_eq!(
            measure(&schema, &names, &fits),
            Shape::Fits { end: fits.len() }
        );
        let deep = nested(MAX_NESTING);
        assert_eq!(
            measure(&schema, &names, &deep),
            Shape::TooDeep {
                end: Some(deep.len())
            }
        );
        let very = nested(50_000);
        assert_eq!(
            measure(&schema, &names, &very),
            Shape::TooDeep {
                end: Some(very.len())
            }
        );
        // What the decoder reads at the same depth, it reads whole.
        let value = apache_avro::from_avro_datum(&schema, &mut &fits[..], None);
        assert!(value.is_ok());
    }

    #[test]
    fn a_record_that_holds_itself_without_a_way_out_is_too_deep() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"Loop","fields":[{"name":"again","type":"Loop"}]}"#,
        )
        .unwrap();
        let names = Names::of(&[&schema]).unwrap();
        assert_eq!(measure(&schema, &names, b""), Shape::TooDeep { end: None });
    }

    #[test]
    fn counts_no_datum_can_hold_are_refused() {
        let schema = Schema::parse_str(r#"{"type":"array","items":"null"}"#).unwrap();
        let names = Names::of(&[&schema]).unwrap();
        // 1,000 nulls in three bytes are fine; a billion are not.
        let mut thousand = Vec::new();
        thousand.extend([0xd0, 0x0f, 0]);
        assert_eq!(measure(&schema, &names, &thousand), Shape::Fits { end: 3 });
        let billion = [0x80, 0xa8, 0xd6, 0xb9, 0x07, 0];
        assert!(matches!(
            measure(&schema, &names, &billion),
            Shape::Implausible(_)
        ));
    }

    #[test]
    fn walks_every_kind_of_value_as_the_decoder_does() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"All","namespace":"a","fields":[
              {"name":"b","type":"boolean"},{"name":"i","type":"int"},
              {"name":"l","type":"long"},{"name":"f","type":"float"},
              {"name":"d","type":"double"},{"name":"by","type":"bytes"},
              {"name":"s","type":"string"},
              {"name":"e","type":{"type":"enum","name":"E","symbols":["x","y"]}},
              {"name":"fx","type":{"type":"fixed","name":"F","size":3}},
              {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}},
              {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
              {"name":"du","type":{"type":"fixed","name":"D","size":12,"logicalType":"duration"}},
              {"name":"arr","type":{"type":"array","items":"F"}},
              {"name":"m","type":{"type":"map","values":["null","E"]}},
              {"name":"u","type":["null","string","All"]}]}"#,
        )
        .unwrap();
        let names = Names::of(&[&schema]).unwrap();
        use apache_avro::types::Value as V;
        let leaf = |inner: V| {
            V::Record(vec![
                ("b".into(), V::Boolean(true)),
                ("i".into(), V::Int(-7)),
                ("l".into(), V::Long(1 << 40)),
                ("f".into(), V::Float(1.5)),
                ("d".into(), V::Double(2.5)),
                ("by".into(), V::Bytes(vec![1, 2, 3])),
                ("s".into(), V::String("hé".into())),
                ("e".into(), V::Enum(1, "y".into())),
                ("fx".into(), V::Fixed(3, vec![9, 9, 9])),
                ("dec".into(), V::Decimal(vec![1, 0].into())),
                ("ts".into(), V::TimestampMicros(5)),
                (
                    "du".into(),
                    V::Duration(apache_avro::Duration::from([0u8; 12])),
                ),
                ("arr".into(), V::Array(vec![V::Fixed(3, vec![1, 2, 3]); 4])),
                (
                    "m".into(),
                    V::Map(
                        [
                            (
                                "k".to_owned(),
                                V::Union(1, Box::new(V::Enum(0, "x".into()))),
                            ),
                            ("n".to_owned(), V::Union(0, Box::new(V::Null))),
                        ]
                        .into(),
                    ),
                ),
                ("u".into(), inner),
            ])
        };
        let value = leaf(V::Union(
            2,
            Box::new(leaf(V::Union(1, Box::new(V::String("end".into()))))),
        ));
        let mut bytes = apache_avro::to_avro_datum(&schema, value).unwrap();
        let datum = bytes.len();
        bytes.extend([0xff, 0xff]);
        assert_eq!(measure(&schema, &names, &bytes), Shape::Fits { end: datum });
        let mut rest = &bytes[..];
        apache_avro::from_avro_datum(&schema, &mut rest, None).unwrap();
        assert_eq!(rest.len(), 2, "the decoder ends where the walk ends");
        // Cut short, it is left to the decoder to say why.
        assert_eq!(measure(&schema, &names, &bytes[..10]), Shape::Unsure);
    }
}
