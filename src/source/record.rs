//! One rule set for turning a source record (a CSV row, a JSON object, a
//! database row) into an event or a rejection, whatever the format.

use std::borrow::Cow;

use crate::engine::{EARLIEST_US, EventBatch, LATEST_US, NewEvent, RejectReason, Rejected};

use super::timestamp::TimeParser;

/// A field's value as a source sees it.
#[derive(Debug, Clone)]
pub enum Field<'a> {
    /// Absent, null or empty.
    Missing,
    /// Text.
    Text(Cow<'a, str>),
    /// A JSON number.
    Number(f64),
    /// Microseconds since the epoch from a native timestamp type with zone.
    TimestampUs(i64),
    /// Microseconds from a native timestamp type without zone (wall-clock
    /// time, read in the configured zone).
    LocalTimestampUs(i64),
    /// An object or array where a plain value belongs.
    Nested,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
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
}

impl<K> RecordPlan<K> {
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
                let properties: Vec<(&str, &str)> = self
                    .properties
                    .iter()
                    .zip(&mapped.properties)
                    .filter_map(|((name, _), value)| Some((name.as_str(), value.as_deref()?)))
                    .collect();
                let pseudonym = self
                    .pseudonyms
                    .as_ref()
                    .map(|p| p.pseudonym(&mapped.customer));
                batch.push(
                    NewEvent {
                        customer: pseudonym.as_deref().unwrap_or(&mapped.customer),
                        event: &mapped.event,
                        time_us: mapped.time_us,
                        event_id: mapped.event_id.as_deref(),
                        session_id: mapped.session_id.as_deref(),
                    },
                    properties,
                );
            }
            Err((reason, detail)) => {
                let text = record.raw_text();
                let mut rejected =
                    Rejected::new(position(), reason, detail, &self.masked(record, text));
                rejected.masked = self.pseudonyms.is_some();
                batch.reject(rejected);
            }
        }
    }

    /// A rejected record's text with its customer id (when it has one)
    /// replaced by the pseudonym, under `--pseudonymize`.
    fn masked(&self, record: &impl Record<K>, text: String) -> String {
        let Some(pseudonyms) = &self.pseudonyms else {
            return text;
        };
        let ids = [Some(&self.customer), self.customer_fallback.as_ref()];
        ids.into_iter()
            .flatten()
            .fold(text, |text, key| match record.field(key) {
                Field::Text(id) if !id.is_empty() => {
                    text.replace(id.as_ref(), &pseudonyms.pseudonym(&id))
                }
                Field::Number(n) => {
                    let id = number_text(n);
                    text.replace(&id, &pseudonyms.pseudonym(&id))
                }
                _ => text,
            })
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
        let time_us = match record.field(&self.time) {
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
            Field::TimestampUs(us) => us,
            Field::LocalTimestampUs(us) => parser.localize_us(us).ok_or((
                RejectReason::BadTimestamp,
                "time outside the supported range".into(),
            ))?,
            Field::Number(n) => parser.from_number(n).ok_or((
                RejectReason::BadTimestamp,
                format!("`{n}` is not a timestamp"),
            ))?,
            Field::Text(text) => parser.parse_str(&text).ok_or_else(|| {
                (
                    RejectReason::BadTimestamp,
                    format!("`{}` is not a timestamp", crate::format::excerpt(&text, 80)),
                )
            })?,
        };
        if !(EARLIEST_US..=LATEST_US).contains(&time_us) {
            return Err((
                RejectReason::BadTimestamp,
                "the time is outside the years 1 to 9999".into(),
            ));
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
        let properties = self
            .properties
            .iter()
            .map(|(_, k)| match record.field(k) {
                Field::Text(t) => Some(t),
                Field::Number(n) => Some(Cow::Owned(n.to_string())),
                _ => None,
            })
            .collect();
        Ok(Mapped {
            customer,
            event,
            time_us,
            event_id,
            session_id,
            properties,
        })
    }
}

struct Mapped<'r> {
    customer: Cow<'r, str>,
    event: Cow<'r, str>,
    time_us: i64,
    event_id: Option<Cow<'r, str>>,
    session_id: Option<Cow<'r, str>>,
    properties: Vec<Option<Cow<'r, str>>>,
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
        Field::TimestampUs(us) | Field::LocalTimestampUs(us) => Ok(Cow::Owned(us.to_string())),
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
    if text.trim().is_empty() {
        Field::Missing
    } else {
        Field::Text(Cow::Borrowed(text))
    }
}
