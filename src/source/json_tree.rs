//! A JSON value read for mapping, borrowed from its text where it can be:
//! strings without escapes point into the record, objects are short lists
//! of (key, value). Mapping an event reads a handful of fields, so this
//! costs a fraction of building `serde_json::Value`'s ordered maps and
//! owned strings for every record.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A JSON value whose strings borrow from the text when they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (as `f64`, as the mapping reads numbers).
    Number(f64),
    /// A whole number that an `f64` cannot hold exactly (beyond 2^53:
    /// epoch nanoseconds), kept exact.
    Integer(i64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object's members in the order written.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'static> {
    /// A whole number: as an `f64` where that holds it exactly, else as
    /// [`Json::Integer`].
    pub fn whole(n: i64) -> Json<'static> {
        if n.unsigned_abs() <= 1 << 53 {
            Json::Number(n as f64)
        } else {
            Json::Integer(n)
        }
    }

    /// An unsigned whole number, as [`Json::whole`] (beyond `i64`, as the
    /// nearest `f64`).
    pub fn whole_unsigned(n: u64) -> Json<'static> {
        match i64::try_from(n) {
            Ok(n) => Json::whole(n),
            Err(_) => Json::Number(n as f64),
        }
    }
}

impl<'a> Json<'a> {
    /// The member `key` of an object (the last one, when a key repeats, as
    /// `serde_json` keeps it); None for anything else.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The members of an object.
    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Json<'a>)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// True for an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// An object of `serde_json`'s, its strings borrowed.
    pub fn from_value_object(members: &'a serde_json::Map<String, Value>) -> Json<'a> {
        Json::Object(
            members
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from_value(v)))
                .collect(),
        )
    }

    /// The same value, borrowing the strings of a `serde_json::Value`.
    pub fn from_value(value: &'a Value) -> Json<'a> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Json::whole(i),
                (None, Some(u)) => Json::whole_unsigned(u),
                _ => n.as_f64().map_or(Json::Null, Json::Number),
            },
            Value::String(s) => Json::Str(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(members) => Json::from_value_object(members),
        }
    }
}

impl Json<'_> {
    /// The same value as `serde_json` holds it (whole numbers as integers,
    /// as they were most likely written).
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Value::from(*n as i64),
            Json::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Json::Integer(n) => Value::from(*n),
            Json::Str(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// JSON text again (for the sample of a rejected record).
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |s: &str| Value::String(s.to_owned()).to_string();
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            // Whole numbers as integers, as they were most likely written.
            Json::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{}", *n as i64),
            Json::Number(n) => match serde_json::Number::from_f64(*n) {
                Some(n) => write!(f, "{n}"),
                None => f.write_str("null"),
            },
            Json::Integer(n) => write!(f, "{n}"),
            Json::Str(s) => f.write_str(&text(s)),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{value}", text(key))?;
                }
                f.write_str("}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::whole(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::whole_unsigned(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// An object's key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads_borrowing_plain_strings() {
        let text = r#"{"a":"x","b":[1,2.5,-3],"c":{"d":null,"e":true},"f":"q\"uote","a":"y"}"#;
        let json: Json = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        // The last of a repeated key, as serde_json keeps it.
        assert_eq!(json.get("a"), Some(&Json::Str(Cow::Borrowed("y"))));
        assert!(matches!(json.get("f"), Some(Json::Str(Cow::Owned(s))) if s == "q\"uote"));
        assert_eq!(
            json.get("b").and_then(Json::as_array).map(<[_]>::len),
            Some(3)
        );
        assert_eq!(
            json.get("c").and_then(|c| c.get("e")),
            Some(&Json::Bool(true))
        );
        // The same text again, in the order written (serde_json sorts).
        let again: Value = serde_json::from_str(&json.to_string()).unwrap();
        assert_eq!(again, value);
        assert_eq!(Json::from_value(&value).get("b"), json.get("b"));
    }
}
