//! JSON lines: one event per line (flat, or Segment-style with a nested
//! `properties` object), a line holding an array of events, or a line whose
//! object carries an array of events that inherit the parent's fields
//! (`{"session":7,"events":[{"ts":…,"type":"clicks"}]}`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::Path;

use serde_json::{Map, Value};

use crate::engine::{EventBatch, MAX_RECORD_BYTES, RejectReason, Rejected};

use super::input::TextReader;
use super::json_document::{Item, JsonDocument};
use super::json_layout::{self, JsonLayout};
use super::json_tree::Json;
use super::lines::{Line, LineReader};
use super::record::{Field, Hidden, Record, RecordPlan, number_text, text_field};
use super::schema::{self, ColumnSample, DetectionBudget, Mapping};
use super::{BATCH_EVENTS, EventSource, SourceError, SourceOptions, SpareBatches, TimeParser};

/// Reads JSON from a (possibly compressed) file: JSON lines, or one
/// document holding an array of events.
pub struct JsonLinesSource {
    name: String,
    reader: JsonReader,
    pending: VecDeque<Piece>,
    mapper: JsonMapper,
    mapping: Mapping,
    /// Consumed batches kept for reuse.
    spare: SpareBatches,
    /// True when the input held no record at all.
    empty: bool,
}

/// How the input is cut into records.
enum JsonReader {
    /// One record per line.
    Lines(LineReader),
    /// Records cut out of one document.
    Document(JsonDocument),
}

/// One record's text, as either reader gives it.
enum Piece {
    Line(Line),
    Item(Item),
}

impl JsonReader {
    fn next(&mut self) -> Result<Option<Piece>, SourceError> {
        Ok(match self {
            JsonReader::Lines(lines) => lines.next_line()?.map(Piece::Line),
            JsonReader::Document(document) => document.next_item()?.map(Piece::Item),
        })
    }
}

impl Piece {
    /// Adds the fields of the events it holds to `columns`; returns how
    /// many events and bytes it held.
    fn sample(&self, columns: &mut Vec<ColumnSample>) -> (usize, usize) {
        match self {
            Piece::Line(Line::Text { bytes, .. }) => (sample_value(columns, bytes), bytes.len()),
            Piece::Item(Item::Value { bytes, parent, .. }) => {
                let events = match parent {
                    Some(parent) => sample_child(columns, parent, bytes),
                    None => sample_value(columns, bytes),
                };
                (events, bytes.len())
            }
            _ => (0, 0),
        }
    }

    /// True when it holds any text (blank lines do not count).
    fn holds_something(&self) -> bool {
        match self {
            Piece::Line(Line::Text { bytes, .. }) => !is_blank(bytes),
            _ => true,
        }
    }
}

impl JsonLinesSource {
    /// Reads `text` (the input `path`) and detects the mapping from its
    /// first records.
    pub fn open(
        path: &Path,
        text: TextReader,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let (layout, text) = json_layout::sniff(text, path)?;
        let mut reader = match layout {
            JsonLayout::Document => {
                JsonReader::Document(JsonDocument::new(text, path.to_path_buf()))
            }
            JsonLayout::Lines => JsonReader::Lines(LineReader::new(text, path.to_path_buf())),
        };
        let parser = options.time_parser();
        let mut pending = VecDeque::new();
        let mut columns: Vec<ColumnSample> = Vec::new();
        let mut budget = DetectionBudget::default();
        let mut anything = false;
        while budget.wants_more() {
            let Some(piece) = reader.next()? else {
                break;
            };
            let (events, bytes) = piece.sample(&mut columns);
            budget.count_many(events.max(1), bytes);
            anything |= piece.holds_something();
            pending.push_back(piece);
        }
        let empty = !anything && columns.is_empty();
        let mapping = if empty {
            Mapping::of_empty(&columns, &options.overrides, &parser)?
        } else {
            schema::detect(&columns, &options.overrides, &parser)?
        };
        let mapper = JsonMapper::new(&mapping, options, parser);
        Ok(JsonLinesSource {
            name: path.display().to_string(),
            reader,
            pending,
            mapper,
            mapping,
            spare: SpareBatches::default(),
            empty,
        })
    }

    /// The next record's JSON text as the input holds it (an event inside a
    /// big object gets its parent's fields), for replaying to a topic; None
    /// at the end. Parts that hold no JSON record (an oversized line, a stray
    /// value in a document) come back as Err with why.
    pub fn next_raw(&mut self) -> Result<Option<Result<Vec<u8>, Rejected>>, SourceError> {
        loop {
            let piece = match self.pending.pop_front() {
                Some(piece) => piece,
                None => match self.reader.next()? {
                    Some(piece) => piece,
                    None => return Ok(None),
                },
            };
            return Ok(Some(match piece {
                Piece::Line(Line::Text { bytes, .. }) if is_blank(&bytes) => continue,
                Piece::Line(Line::Text { bytes, .. }) => Ok(bytes),
                Piece::Item(Item::Value {
                    bytes,
                    parent: None,
                    ..
                }) => Ok(bytes),
                Piece::Item(Item::Value {
                    bytes,
                    parent: Some(parent),
                    ..
                }) => match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(item)) => {
                        let mut merged = parent;
                        merged.extend(item);
                        Ok(Value::Object(merged).to_string().into_bytes())
                    }
                    _ => Ok(bytes),
                },
                Piece::Line(Line::Oversized { number, start }) => Err(Rejected::new(
                    format!("line {number}"),
                    RejectReason::Oversized,
                    format!("the line is longer than {MAX_RECORD_BYTES} bytes"),
                    &String::from_utf8_lossy(&start),
                )),
                Piece::Item(Item::Rejected(rejected)) => Err(rejected),
            }));
        }
    }

    fn process(&self, piece: Piece, batch: &mut EventBatch) {
        match piece {
            Piece::Line(Line::Oversized { number, start }) => batch.reject(Rejected::new(
                format!("line {number}"),
                RejectReason::Oversized,
                format!("the line is longer than {MAX_RECORD_BYTES} bytes"),
                &String::from_utf8_lossy(&start),
            )),
            Piece::Line(Line::Text { number, bytes, .. }) => {
                self.mapper
                    .map_bytes(&bytes, || format!("line {number}"), batch)
            }
            Piece::Item(Item::Rejected(rejected)) => batch.reject(rejected),
            Piece::Item(Item::Value {
                line,
                bytes,
                parent: None,
            }) => self
                .mapper
                .map_bytes(&bytes, || format!("line {line}"), batch),
            Piece::Item(Item::Value {
                line,
                bytes,
                parent: Some(parent),
            }) => self
                .mapper
                .map_child(&parent, &bytes, || format!("line {line}"), batch),
        }
    }
}

/// Maps JSON text (one event, an array of events, or a parent object with
/// an array of child events) into batches, the same way for files and
/// messages.
pub struct JsonMapper {
    plan: RecordPlan<String>,
    parser: TimeParser,
}

impl JsonMapper {
    /// Detects a stream's mapping from the columns sampled in `columns`
    /// (see [`sample_value`]).
    pub fn detect(
        columns: &[ColumnSample],
        options: &SourceOptions,
        parser: TimeParser,
    ) -> Result<(Self, Mapping), SourceError> {
        let mut mapping = schema::detect(columns, &options.overrides, &parser)?;
        // A stream's engine is made before its first record: it keeps the
        // channel and the properties asked for, not the few-valued columns
        // a file keeps by default.
        mapping.comparable.clear();
        Ok((JsonMapper::new(&mapping, options, parser), mapping))
    }

    /// Maps with a mapping decided elsewhere (a resumed live state);
    /// `parser` reads epoch numbers in the mapping's time unit.
    pub fn new(mapping: &Mapping, options: &SourceOptions, parser: TimeParser) -> Self {
        let plan = RecordPlan {
            customer: mapping.customer.clone(),
            customer_fallback: mapping.customer_fallback.clone(),
            event: mapping.event.clone(),
            time: mapping.time.clone(),
            event_id: mapping.event_id.clone(),
            session_id: mapping.session_id.clone(),
            properties: options.property_columns(mapping),
            pseudonyms: options.pseudonymize.clone(),
            hidden: Hidden::new(&options.hidden_properties, |name| Some(name.clone())),
        };
        // Epoch numbers in the unit decided for the time column.
        let parser = parser.with_epoch_unit(mapping.time_unit);
        JsonMapper { plan, parser }
    }

    /// Maps a Kafka message's value: no value (a tombstone) and an empty
    /// value are rejected under their own reasons, anything else as
    /// [`JsonMapper::map_bytes`] does.
    pub fn map_message(
        &self,
        value: Option<&[u8]>,
        position: impl Fn() -> String,
        batch: &mut EventBatch,
    ) {
        match value {
            None => batch.reject(Rejected::new(
                position(),
                RejectReason::Tombstone,
                "the message has no value (a tombstone)",
                "",
            )),
            Some(bytes) if is_blank(bytes) => batch.reject(Rejected::new(
                position(),
                RejectReason::EmptyValue,
                "the message's value is empty",
                &String::from_utf8_lossy(bytes),
            )),
            Some(bytes) => self.map_bytes(bytes, position, batch),
        }
    }

    /// Maps one record's bytes into `batch` as events or a rejection at
    /// `position`.
    pub fn map_bytes(&self, bytes: &[u8], position: impl Fn() -> String, batch: &mut EventBatch) {
        self.map_bytes_after(bytes, None, position, batch);
    }

    /// [`JsonMapper::map_bytes`] on a value other decoders passed over:
    /// when it is not JSON either, it is rejected as `undecodable`, with
    /// why each decoder (`tried`, then JSON) did not read it.
    pub fn map_bytes_after(
        &self,
        bytes: &[u8],
        tried: Option<&str>,
        position: impl Fn() -> String,
        batch: &mut EventBatch,
    ) {
        let not_json = |reason: RejectReason, detail: String, text: &str| match tried {
            None => Rejected::new(position(), reason, detail, text),
            Some(tried) => Rejected::new(
                position(),
                // Too deep is what it is, whatever else was tried.
                match reason {
                    RejectReason::TooDeep => reason,
                    _ => RejectReason::Undecodable,
                },
                format!("{tried}; as JSON: {detail}"),
                &crate::format::value_text(bytes),
            ),
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            let lossy = String::from_utf8_lossy(bytes);
            batch.reject(not_json(
                RejectReason::InvalidUtf8,
                "the record is not valid UTF-8".into(),
                &lossy,
            ));
            return;
        };
        if text.trim().is_empty() {
            return;
        }
        let value: Json = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                batch.reject(not_json(unparseable(&e), e.to_string(), text));
                return;
            }
        };
        self.map_tree(&value, Some(text), position, batch);
    }

    /// Where each role's field is in a record.
    pub fn record_plan(&self) -> &RecordPlan<String> {
        &self.plan
    }

    /// Maps `record`, read with `plan` (this mapper's plan with other
    /// keys), as this mapper maps a record.
    pub fn map_with<K>(
        &self,
        plan: &RecordPlan<K>,
        record: &impl Record<K>,
        position: impl FnOnce() -> String,
        batch: &mut EventBatch,
    ) {
        plan.apply(record, &self.parser, position, batch);
    }

    /// Maps a record decoded with a schema (Avro, Protobuf) as the same
    /// JSON would be.
    pub fn map_record(&self, record: &Json, position: impl Fn() -> String, batch: &mut EventBatch) {
        self.map_tree(record, None, position, batch);
    }

    /// Maps the events `value` holds; `text` is how the record was
    /// written, when it was text. Each element of an array that is no
    /// object is a rejected record of its own.
    fn map_tree(
        &self,
        value: &Json,
        text: Option<&str>,
        position: impl Fn() -> String,
        batch: &mut EventBatch,
    ) {
        let mut events = 0;
        if let Json::Array(items) = value {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Json::Object(_) => {
                        let record = JsonRecord { parent: None, item };
                        self.plan.apply(&record, &self.parser, &position, batch);
                    }
                    other => batch.reject(Rejected::new(
                        format!("{}, element {}", position(), i + 1),
                        RejectReason::WrongType,
                        "an element of the array that is not a JSON object",
                        &other.to_string(),
                    )),
                }
                events += 1;
            }
        } else {
            for_each_event(value, |parent, item| {
                events += 1;
                let record = JsonRecord { parent, item };
                self.plan.apply(&record, &self.parser, &position, batch);
            });
        }
        if events == 0 {
            batch.reject(Rejected::new(
                position(),
                RejectReason::WrongType,
                "not a JSON object or an array of objects",
                &text.map_or_else(|| value.to_string(), str::to_owned),
            ));
        }
    }
}

impl JsonMapper {
    /// Maps one event's bytes that sits in a `parent` object whose plain
    /// fields it inherits.
    pub fn map_child(
        &self,
        parent: &Map<String, Value>,
        bytes: &[u8],
        position: impl Fn() -> String,
        batch: &mut EventBatch,
    ) {
        match serde_json::from_slice::<Json>(bytes) {
            Ok(item @ Json::Object(_)) => {
                let parent = Json::from_value_object(parent);
                let record = JsonRecord {
                    parent: Some(&parent),
                    item: &item,
                };
                self.plan.apply(&record, &self.parser, &position, batch);
            }
            Ok(_) => batch.reject(Rejected::new(
                position(),
                RejectReason::WrongType,
                "not a JSON object",
                &String::from_utf8_lossy(bytes),
            )),
            Err(e) => batch.reject(Rejected::new(
                position(),
                unparseable(&e),
                e.to_string(),
                &String::from_utf8_lossy(bytes),
            )),
        }
    }
}

/// Why JSON text could not be parsed: nested deeper than its parser goes
/// (serde_json stops at 128 levels, as [`crate::engine::MAX_NESTING`]
/// does), or not JSON.
fn unparseable(e: &serde_json::Error) -> RejectReason {
    match e.to_string().starts_with("recursion limit exceeded") {
        true => RejectReason::TooDeep,
        false => RejectReason::Unparseable,
    }
}

/// Adds the fields of an event inside `parent` to `columns`; 1 when it is
/// an object.
fn sample_child(
    columns: &mut Vec<ColumnSample>,
    parent: &Map<String, Value>,
    bytes: &[u8],
) -> usize {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(item)) => {
            sample_columns(columns, Some(parent), &item);
            1
        }
        _ => 0,
    }
}

/// True for text that holds nothing but white space (as `str::trim` counts
/// it): a blank line, which is no record.
pub fn is_blank(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|t| t.trim().is_empty())
}

/// Adds the fields of the events in `bytes` (if it is JSON) to `columns`;
/// returns how many events it held.
pub fn sample_value(columns: &mut Vec<ColumnSample>, bytes: &[u8]) -> usize {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => sample_parsed(columns, &value),
        Err(_) => 0,
    }
}

/// [`sample_value`] on a value already parsed (or decoded with a schema).
pub fn sample_parsed(columns: &mut Vec<ColumnSample>, value: &Value) -> usize {
    let mut sampled = 0;
    for_each_value_event(value, |parent, item| {
        sampled += 1;
        sample_columns(columns, parent, item);
    });
    sampled
}

impl EventSource for JsonLinesSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn recycle(&mut self, batch: EventBatch) {
        self.spare.put(batch);
    }

    fn is_empty_input(&self) -> bool {
        self.empty
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        let mut batch = self.spare.take();
        let mut pieces = 0;
        while batch.len() < BATCH_EVENTS && pieces < BATCH_EVENTS {
            let piece = match self.pending.pop_front() {
                Some(piece) => piece,
                None => match self.reader.next()? {
                    Some(piece) => piece,
                    None => break,
                },
            };
            pieces += 1;
            self.process(piece, &mut batch);
        }
        Ok((pieces > 0).then_some(batch))
    }
}

/// The customer of the first event a JSON line holds, found as mapping
/// finds it (the event, its parent, then their `properties`; the fallback
/// column when the first is empty): what a Kafka message is keyed by.
pub fn customer_of(line: &[u8], mapping: &Mapping) -> Option<String> {
    let value: Json = serde_json::from_slice(line).ok()?;
    let mut customer = None;
    for_each_event(&value, |parent, item| {
        if customer.is_some() {
            return;
        }
        let record = JsonRecord { parent, item };
        let text = |column: &str| match record.lookup(column)? {
            Json::Str(s) if !s.is_empty() => Some(s.to_string()),
            Json::Number(n) => Some(number_text(*n)),
            Json::Integer(n) => Some(n.to_string()),
            _ => None,
        };
        customer = text(&mapping.customer).or_else(|| text(mapping.customer_fallback.as_deref()?));
    });
    customer
}

/// Calls `f(parent, event)` for each event a JSON line holds.
fn for_each_event<'v, 'a>(
    value: &'v Json<'a>,
    mut f: impl FnMut(Option<&'v Json<'a>>, &'v Json<'a>),
) {
    match value {
        Json::Array(items) => items
            .iter()
            .filter(|o| o.is_object())
            .for_each(|o| f(None, o)),
        Json::Object(_) => match nested_events(value) {
            Some(items) => items
                .iter()
                .filter(|o| o.is_object())
                .for_each(|o| f(Some(value), o)),
            None => f(None, value),
        },
        _ => {}
    }
}

/// The array of child events inside a parent object, if it has one: a
/// non-empty array of objects under any key but `properties` (`events`
/// preferred, else the first such key in sorted order, as detection reads
/// them).
fn nested_events<'v, 'a>(object: &'v Json<'a>) -> Option<&'v [Json<'a>]> {
    let events_in = |v: &'v Json<'a>| {
        v.as_array()
            .filter(|a| !a.is_empty() && a.iter().all(Json::is_object))
    };
    if let Some(items) = object.get("events").and_then(events_in) {
        return Some(items);
    }
    object
        .as_object()?
        .iter()
        .filter(|(k, _)| k != "properties")
        .filter_map(|(k, v)| Some((k, events_in(v)?)))
        .min_by(|a, b| a.0.cmp(b.0))
        .map(|(_, items)| items)
}

/// [`for_each_event`] on `serde_json` values (detection samples them).
fn for_each_value_event<'v>(
    value: &'v Value,
    mut f: impl FnMut(Option<&'v Map<String, Value>>, &'v Map<String, Value>),
) {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .for_each(|o| f(None, o)),
        Value::Object(object) => match nested_value_events(object) {
            Some(items) => items
                .iter()
                .filter_map(Value::as_object)
                .for_each(|o| f(Some(object), o)),
            None => f(None, object),
        },
        _ => {}
    }
}

/// [`nested_events`] on `serde_json` values.
fn nested_value_events(object: &Map<String, Value>) -> Option<&Vec<Value>> {
    let is_events = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object))
    };
    if let Some(Value::Array(items)) = object.get("events").filter(|v| is_events(v)) {
        return Some(items);
    }
    object
        .iter()
        .filter(|(k, v)| k.as_str() != "properties" && is_events(v))
        .find_map(|(_, v)| v.as_array())
}

fn sample_columns(
    columns: &mut Vec<ColumnSample>,
    parent: Option<&Map<String, Value>>,
    item: &Map<String, Value>,
) {
    let parent_fields = parent
        .into_iter()
        .flat_map(|p| p.iter())
        .filter(|(_, v)| !v.is_array());
    let nested = item
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.iter())
        .map(|field| (field, true));
    let fields = item
        .iter()
        .chain(parent_fields)
        .filter(|(key, _)| key.as_str() != "properties")
        .map(|field| (field, false))
        .chain(nested);
    for ((key, value), nested) in fields {
        let index = match columns.iter().position(|c| c.name == *key) {
            Some(i) => i,
            None => {
                columns.push(ColumnSample {
                    name: key.clone(),
                    nested,
                    ..ColumnSample::default()
                });
                columns.len() - 1
            }
        };
        match value {
            Value::String(s) => columns[index].sample(s),
            Value::Number(n) => columns[index].sample(&n.to_string()),
            _ => {}
        }
    }
}

struct JsonRecord<'v, 'a> {
    parent: Option<&'v Json<'a>>,
    item: &'v Json<'a>,
}

impl<'v, 'a> JsonRecord<'v, 'a> {
    fn lookup(&self, key: &str) -> Option<&'v Json<'a>> {
        fn in_properties<'m, 'a>(o: &'m Json<'a>, key: &str) -> Option<&'m Json<'a>> {
            o.get("properties").and_then(|p| p.get(key))
        }
        self.item
            .get(key)
            .or_else(|| self.parent.and_then(|p| p.get(key)))
            .or_else(|| in_properties(self.item, key))
            .or_else(|| self.parent.and_then(|p| in_properties(p, key)))
    }
}

/// A JSON value as the field a record plan reads.
pub fn field_of<'v>(value: Option<&'v Json<'_>>) -> Field<'v> {
    match value {
        None | Some(Json::Null) => Field::Missing,
        Some(Json::Str(s)) => text_field(s),
        Some(Json::Number(n)) => Field::Number(*n),
        Some(Json::Integer(n)) => Field::Integer(*n),
        Some(Json::Bool(b)) => Field::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
        Some(Json::Object(_) | Json::Array(_)) => Field::Nested,
    }
}

impl Record<String> for JsonRecord<'_, '_> {
    fn field(&self, key: &String) -> Field<'_> {
        field_of(self.lookup(key))
    }

    fn raw_text(&self) -> String {
        self.item.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_keyed_by_its_first_events_customer() {
        let mapping = Mapping {
            customer_fallback: Some("anon".into()),
            ..Mapping::named("user", "event", "ts")
        };
        let key = |line: &str| customer_of(line.as_bytes(), &mapping);
        assert_eq!(key(r#"{"user":"u1","event":"home"}"#), Some("u1".into()));
        assert_eq!(key(r#"{"properties":{"user":7}}"#), Some("7".into()));
        assert_eq!(key(r#"{"user":"","anon":"a9"}"#), Some("a9".into()));
        assert_eq!(
            key(r#"{"user":"p","events":[{"event":"home"},{"event":"cart"}]}"#),
            Some("p".into())
        );
        assert_eq!(key(r#"[{"user":"x1"},{"user":"x2"}]"#), Some("x1".into()));
        assert_eq!(key("not json"), None);
    }
}
