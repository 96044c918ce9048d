//! One rule set for turning a source record (a CSV row, a JSON object, a
//! database row) into an event or a rejection, whatever the format.

use std::borrow::Cow;

use crate::engine::{EARLIEST_US, EventBatch, LATEST_US, NewEvent, RejectReason, Rejected};

use super::timestamp::{ReadTime, TimeParser};

/// A field's value as a source sees it.
#[derive(Debug, Clone)]
pub enum Field<'a> {
    /// Absent, null or empty.
    Missing,
    /// Text.
    Text(Cow<'a, str>),
    /// A JSON number.
    Number(f64),
    /// A whole number too large for an `f64` to hold exactly (epoch
    /// nanoseconds), or an integer column's value.
    Integer(i64),
    /// Microseconds since the epoch from a native timestamp type with zone.
    TimestampUs(i64),
    /// Microseconds from a native timestamp type without zone (wall-clock
    /// time, read in the configured zone).
    LocalTimestampUs(i64),
    /// Nanoseconds since the epoch from a native timestamp type with zone.
    TimestampNs(i64),
    /// Nanoseconds from a native timestamp type without zone.
    LocalTimestampNs(i64),
    /// An object or array where a plain value belongs.
    Nested,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
}

impl Field<'_> {
    /// The same value, owning its text.
    pub fn into_owned(self) -> Field<'static> {
        match self {
            Field::Missing => Field::Missing,
            Field::Text(text) => Field::Text(Cow::Owned(text.into_owned())),
            Field::Number(n) => Field::Number(n),
            Field::Integer(n) => Field::Integer(n),
            Field::TimestampUs(us) => Field::TimestampUs(us),
            Field::LocalTimestampUs(us) => Field::LocalTimestampUs(us),
            Field::TimestampNs(ns) => Field::TimestampNs(ns),
            Field::LocalTimestampNs(ns) => Field::LocalTimestampNs(ns),
            Field::Nested => Field::Nested,
            Field::InvalidUtf8 => Field::InvalidUtf8,
        }
    }
}

/// A record whose fields can be looked up by a key of type `K`.
pub trait Record<K> {
    /// The field at `key`.
    fn field(&self, key: &K) -> Field<'_>;
    /// The record's text, for the rejected-records sample.
    fn raw_text(&self) -> String;
}

/// Where each role's field is in a record.
#[derive(Debug, Clone)]
pub struct RecordPlan<K> {
    /// Customer field.
    pub customer: K,
    /// Customer field used when the first one is missing.
    pub customer_fallback: Option<K>,
    /// Event field.
    pub event: K,
    /// Timestamp field.
    pub time: K,
    /// Event id field.
    pub event_id: Option<K>,
    /// Session id field.
    pub session_id: Option<K>,
    /// Properties kept for touchpoint rules: (name, field).
    pub properties: Vec<(String, K)>,
    /// Replaces each customer id by its pseudonym (`--pseudonymize`).
    pub pseudonyms: Option<super::pseudonym::Pseudonymizer>,
    /// Properties whose values are shown as [`HIDDEN`] (`--hide-property`):
    /// their names, and where they are in a record (to mask rejected texts).
    pub hidden: Hidden<K>,
}

/// What a hidden property's value is shown as.
pub const HIDDEN: &str = "hidden";

/// The properties `--hide-property` names.
#[derive(Debug, Clone)]
pub struct Hidden<K> {
    /// Their names.
    pub names: Vec<String>,
    /// Where they are in a record.
    pub keys: Vec<K>,
}

impl<K> Default for Hidden<K> {
    fn default() -> Self {
        Hidden {
            names: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl<K> Hidden<K> {
    /// The hidden properties among `names`, found with `key_of`.
    pub fn new(names: &[String], key_of: impl Fn(&String) -> Option<K>) -> Self {
        Hidden {
            names: names.to_vec(),
            keys: names.iter().filter_map(key_of).collect(),
        }
    }
}

impl<K> RecordPlan<K> {
    /// The same plan with each key replaced by `f` of it.
    pub fn map_keys<J>(&self, mut f: impl FnMut(&K) -> J) -> RecordPlan<J> {
        RecordPlan {
            customer: f(&self.customer),
            customer_fallback: self.customer_fallback.as_ref().map(&mut f),
            event: f(&self.event),
            time: f(&self.time),
            event_id: self.event_id.as_ref().map(&mut f),
            session_id: self.session_id.as_ref().map(&mut f),
            properties: self
                .properties
                .iter()
                .map(|(name, key)| (name.clone(), f(key)))
                .collect(),
            pseudonyms: self.pseudonyms.clone(),
            hidden: Hidden {
                names: self.hidden.names.clone(),
                keys: self.hidden.keys.iter().map(&mut f).collect(),
            },
        }
    }

    /// Every key the plan reads, the time's first (a key may repeat).
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        [Some(&self.time), Some(&self.customer)]
            .into_iter()
            .chain([
                self.customer_fallback.as_ref(),
                Some(&self.event),
                self.event_id.as_ref(),
                self.session_id.as_ref(),
            ])
            .flatten()
            .chain(self.properties.iter().map(|(_, key)| key))
            .chain(&self.hidden.keys)
    }

    /// Maps `record` into `batch`, as an event or a rejection at `position`.
    pub fn apply(
        &self,
        record: &impl Record<K>,
        parser: &TimeParser,
        position: impl FnOnce() -> String,
        batch: &mut EventBatch,
    ) {
        match self.map(record, parser) {
            Ok(mapped) => {
                // Read as they are copied into the batch: properties never
                // reject a record.
                let properties = self.properties.iter().filter_map(|(name, key)| {
                    let value = match record.field(key) {
                        Field::Text(t) => t,
                        Field::Number(n) => Cow::Owned(n.to_string()),
                        Field::Integer(n) => Cow::Owned(n.to_string()),
                        _ => return None,
                    };
                    match self.hidden.names.contains(name) {
                        true => Some((name.as_str(), Cow::Borrowed(HIDDEN))),
                        false => Some((name.as_str(), value)),
                    }
                });
                let pseudonym = self
                    .pseudonyms
                    .as_ref()
                    .map(|p| p.pseudonym(&mapped.customer));
                if let Some(adjustment) = mapped.time.adjusted {
                    batch.times_adjusted.count(adjustment);
                }
                batch.push_with_sub_us(
                    NewEvent {
                        customer: pseudonym.as_deref().unwrap_or(&mapped.customer),
                        event: &mapped.event,
                        time_us: mapped.time.us,
                        event_id: mapped.event_id.as_deref(),
                        session_id: mapped.session_id.as_deref(),
                    },
                    mapped.time.sub_us_ns,
                    properties,
                );
            }
            Err((reason, detail)) => {
                let text = record.raw_text();
                let (text, masked) = self.masked(record, text);
                let mut rejected = Rejected::new(position(), reason, detail, &text);
                rejected.masked = masked;
                batch.reject(rejected);
            }
        }
    }

    /// A rejected record's text with its customer id (when it has one)
    /// replaced by the pseudonym under `--pseudonymize`, and hidden
    /// properties' values by [`HIDDEN`]; true when nothing to mask is left
    /// in it (a short value standing unquoted may not be told apart from
    /// the rest, and then the text is not masked).
    fn masked(&self, record: &impl Record<K>, text: String) -> (String, bool) {
        let value_of = |key: &K| match record.field(key) {
            Field::Text(text) if !text.is_empty() => Some(text.into_owned()),
            Field::Number(n) => Some(number_text(n)),
            Field::Integer(n) => Some(n.to_string()),
            _ => None,
        };
        let mut text = text;
        if let Some(pseudonyms) = &self.pseudonyms {
            let ids = [Some(&self.customer), self.customer_fallback.as_ref()];
            for id in ids.into_iter().flatten().filter_map(value_of) {
                text = text.replace(&id, &pseudonyms.pseudonym(&id));
            }
        }
        let mut masked = true;
        for value in self.hidden.keys.iter().filter_map(value_of) {
            if value.chars().count() >= 3 {
                text = text.replace(&value, HIDDEN);
            } else {
                text = text.replace(&format!("\"{value}\""), &format!("\"{HIDDEN}\""));
                masked &= !text.contains(&value);
            }
        }
        (text, masked)
    }

    fn map<'r>(
        &self,
        record: &'r impl Record<K>,
        parser: &TimeParser,
    ) -> Result<Mapped<'r>, (RejectReason, String)> {
        let customer = match (record.field(&self.customer), &self.customer_fallback) {
            (Field::Missing, Some(fallback)) => record.field(fallback),
            (field, _) => field,
        };
        let customer = required(customer, RejectReason::MissingCustomer, "customer")?;
        let event = required(
            record.field(&self.event),
            RejectReason::MissingEvent,
            "event",
        )?;
        let outside = || {
            (
                RejectReason::BadTimestamp,
                "the time is outside the years 1 to 9999".to_owned(),
            )
        };
        let time = match record.field(&self.time) {
            Field::Missing => return Err((RejectReason::MissingTime, "no timestamp".into())),
            Field::Nested => {
                return Err((
                    RejectReason::WrongType,
                    "the timestamp is an object or array".into(),
                ));
            }
            Field::InvalidUtf8 => {
                return Err((
                    RejectReason::InvalidUtf8,
                    "the timestamp is not UTF-8".into(),
                ));
            }
            Field::TimestampUs(us) => ReadTime {
                us,
                sub_us_ns: 0,
                adjusted: None,
            },
            Field::TimestampNs(ns) => ReadTime {
                us: ns.div_euclid(1000),
                sub_us_ns: ns.rem_euclid(1000) as u16,
                adjusted: None,
            },
            Field::LocalTimestampUs(us) => parser.localize(us, 0).ok_or(outside())?,
            Field::LocalTimestampNs(ns) => parser
                .localize(ns.div_euclid(1000), ns.rem_euclid(1000) as u16)
                .ok_or(outside())?,
            Field::Number(n) => parser
                .read_number(n)
                .map_err(|e| (RejectReason::BadTimestamp, e.detail(&number_text(n))))?,
            Field::Integer(n) => parser
                .read_integer(n)
                .map_err(|e| (RejectReason::BadTimestamp, e.detail(&n.to_string())))?,
            Field::Text(text) => parser
                .read_str(&text)
                .map_err(|e| (RejectReason::BadTimestamp, e.detail(&text)))?,
        };
        if !(EARLIEST_US..=LATEST_US).contains(&time.us) {
            return Err(outside());
        }
        let optional =
            |key: &Option<K>, what: &str| -> Result<Option<Cow<'r, str>>, (RejectReason, String)> {
                match key {
                    None => Ok(None),
                    Some(k) => match record.field(k) {
                        Field::Missing => Ok(None),
                        other => text_of(other, what).map(Some),
                    },
                }
            };
        let event_id = optional(&self.event_id, "event id")?;
        let session_id = optional(&self.session_id, "session id")?;
        Ok(Mapped {
            customer,
            event,
            time,
            event_id,
            session_id,
        })
    }
}

struct Mapped<'r> {
    customer: Cow<'r, str>,
    event: Cow<'r, str>,
    time: ReadTime,
    event_id: Option<Cow<'r, str>>,
    session_id: Option<Cow<'r, str>>,
}

fn required<'r>(
    field: Field<'r>,
    missing: RejectReason,
    what: &str,
) -> Result<Cow<'r, str>, (RejectReason, String)> {
    match field {
        Field::Missing => Err((missing, format!("no {what}"))),
        other => text_of(other, what),
    }
}

fn text_of<'r>(field: Field<'r>, what: &str) -> Result<Cow<'r, str>, (RejectReason, String)> {
    match field {
        Field::Text(t) => Ok(t),
        Field::Number(n) => Ok(Cow::Owned(number_text(n))),
        Field::Integer(n) => Ok(Cow::Owned(n.to_string())),
        Field::TimestampUs(us) | Field::LocalTimestampUs(us) => Ok(Cow::Owned(us.to_string())),
        Field::TimestampNs(ns) | Field::LocalTimestampNs(ns) => Ok(Cow::Owned(ns.to_string())),
        Field::Missing => Err((RejectReason::Unparseable, format!("no {what}"))),
        Field::Nested => Err((
            RejectReason::WrongType,
            format!("the {what} is an object or array, not a value"),
        )),
        Field::InvalidUtf8 => Err((
            RejectReason::InvalidUtf8,
            format!("the {what} is not UTF-8"),
        )),
    }
}

/// Integral numbers print without a fraction, so `42` and `42.0` are one id.
pub(super) fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// A text field: empty or whitespace-only text counts as missing.
pub fn text_field(text: &str) -> Field<'_> {
    // Most values start with a character that is not white space.
    let plainly_not_blank = text.as_bytes().first().is_some_and(u8::is_ascii_graphic);
    if !plainly_not_blank && text.trim().is_empty() {
        Field::Missing
    } else {
        Field::Text(Cow::Borrowed(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blank is what `trim` leaves empty, whatever white space it is.
    #[test]
    fn white_space_of_every_kind_is_missing() {
        for text in ["", " ", "\t", "\x0b", "\x0c", "\r\n", "\u{3000}", " \x0b "] {
            assert!(matches!(text_field(text), Field::Missing), "{text:?}");
        }
        for text in ["a", " a", "\x0ba", "é", "\u{3000}x"] {
            assert!(matches!(text_field(text), Field::Text(_)), "{text:?}");
        }
    }
}
