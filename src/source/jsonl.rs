//! JSON lines: one event per line (flat, or Segment-style with a nested
//! `properties` object), a line holding an array of events, or a line whose
//! object carries an array of events that inherit the parent's fields
//! (`{"session":7,"events":[{"ts":…,"type":"clicks"}]}`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};

use crate::engine::{EventBatch, MAX_RECORD_BYTES, RejectReason, Rejected};

use super::record::{Field, Record, RecordPlan, text_field};
use super::schema::{self, ColumnSample, Mapping};
use super::{
    BATCH_EVENTS, DETECTION_SAMPLE, EventSource, SourceError, SourceOptions, SpareBatches,
    TimeParser, input,
};

/// Reads JSON lines from a (possibly compressed) file.
pub struct JsonLinesSource {
    name: String,
    reader: LineReader,
    pending: VecDeque<Line>,
    mapper: JsonMapper,
    mapping: Mapping,
    /// Consumed batches kept for reuse.
    spare: SpareBatches,
}

/// One physical line, or why it could not be read whole.
enum Line {
    Text { number: u64, bytes: Vec<u8> },
    Oversized { number: u64, start: Vec<u8> },
}

impl JsonLinesSource {
    /// Opens the file and detects the mapping from its first records.
    pub fn open(path: &Path, options: &SourceOptions) -> Result<Self, SourceError> {
        let mut reader = LineReader {
            inner: input::open_text(path)?,
            number: 0,
            path: path.to_path_buf(),
        };
        let parser = options.time_parser();
        let mut pending = VecDeque::new();
        let mut columns: Vec<ColumnSample> = Vec::new();
        let mut sampled = 0;
        while sampled < DETECTION_SAMPLE {
            let Some(line) = reader.next_line()? else {
                break;
            };
            if let Line::Text { bytes, .. } = &line {
                sampled += sample_value(&mut columns, bytes);
            }
            pending.push_back(line);
        }
        let (mapper, mapping) = JsonMapper::detect(&columns, options, parser)?;
        Ok(JsonLinesSource {
            name: path.display().to_string(),
            reader,
            pending,
            mapper,
            mapping,
            spare: SpareBatches::default(),
        })
    }

    fn process(&self, line: Line, batch: &mut EventBatch) {
        let (number, bytes) = match line {
            Line::Oversized { number, start } => {
                batch.reject(Rejected::new(
                    format!("line {number}"),
                    RejectReason::Oversized,
                    format!("the line is longer than {} bytes", MAX_RECORD_BYTES),
                    &String::from_utf8_lossy(&start),
                ));
                return;
            }
            Line::Text { number, bytes } => (number, bytes),
        };
        self.mapper
            .map_bytes(&bytes, || format!("line {number}"), batch);
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
    /// Detects the mapping from the columns sampled in `columns` (see
    /// [`sample_value`]).
    pub fn detect(
        columns: &[ColumnSample],
        options: &SourceOptions,
        parser: TimeParser,
    ) -> Result<(Self, Mapping), SourceError> {
        let mapping = schema::detect(columns, &options.overrides, &parser)?;
        Ok((JsonMapper::new(&mapping, options, parser), mapping))
    }

    /// Maps with a mapping decided elsewhere (a resumed live state).
    pub fn new(mapping: &Mapping, options: &SourceOptions, parser: TimeParser) -> Self {
        let plan = RecordPlan {
            customer: mapping.customer.clone(),
            customer_fallback: mapping.customer_fallback.clone(),
            event: mapping.event.clone(),
            time: mapping.time.clone(),
            event_id: mapping.event_id.clone(),
            session_id: mapping.session_id.clone(),
            properties: options
                .wanted_properties
                .iter()
                .map(|p| (p.clone(), p.clone()))
                .collect(),
        };
        JsonMapper { plan, parser }
    }

    /// Maps one record's bytes into `batch` as events or a rejection at
    /// `position`.
    pub fn map_bytes(&self, bytes: &[u8], position: impl Fn() -> String, batch: &mut EventBatch) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            batch.reject(Rejected::new(
                position(),
                RejectReason::InvalidUtf8,
                "the record is not valid UTF-8",
                &String::from_utf8_lossy(bytes),
            ));
            return;
        };
        if text.trim().is_empty() {
            return;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                batch.reject(Rejected::new(
                    position(),
                    RejectReason::Unparseable,
                    e.to_string(),
                    text,
                ));
                return;
            }
        };
        let mut events = 0;
        for_each_event(&value, |parent, item| {
            events += 1;
            let record = JsonRecord { parent, item };
            self.plan.apply(&record, &self.parser, &position, batch);
        });
        if events == 0 {
            batch.reject(Rejected::new(
                position(),
                RejectReason::WrongType,
                "not a JSON object or an array of objects",
                text,
            ));
        }
    }
}

/// Adds the fields of the events in `bytes` (if it is JSON) to `columns`;
/// returns how many events it held.
pub fn sample_value(columns: &mut Vec<ColumnSample>, bytes: &[u8]) -> usize {
    let mut sampled = 0;
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        for_each_event(&value, |parent, item| {
            sampled += 1;
            sample_columns(columns, parent, item);
        });
    }
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

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        let mut batch = self.spare.take();
        let mut lines = 0;
        while batch.len() < BATCH_EVENTS && lines < BATCH_EVENTS {
            let line = match self.pending.pop_front() {
                Some(line) => line,
                None => match self.reader.next_line()? {
                    Some(line) => line,
                    None => break,
                },
            };
            lines += 1;
            self.process(line, &mut batch);
        }
        Ok((lines > 0).then_some(batch))
    }
}

/// The customer of the first event a JSON line holds, found as mapping
/// finds it (the event, its parent, then their `properties`; the fallback
/// column when the first is empty): what a Kafka message is keyed by.
pub fn customer_of(line: &[u8], mapping: &Mapping) -> Option<String> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let mut customer = None;
    for_each_event(&value, |parent, item| {
        if customer.is_some() {
            return;
        }
        let record = JsonRecord { parent, item };
        let text = |column: &str| match record.lookup(column)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        customer = text(&mapping.customer).or_else(|| text(mapping.customer_fallback.as_deref()?));
    });
    customer
}

/// Calls `f(parent, event)` for each event a JSON line holds.
fn for_each_event<'v>(
    value: &'v Value,
    mut f: impl FnMut(Option<&'v Map<String, Value>>, &'v Map<String, Value>),
) {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .for_each(|o| f(None, o)),
        Value::Object(object) => match nested_events(object) {
            Some(items) => items
                .iter()
                .filter_map(Value::as_object)
                .for_each(|o| f(Some(object), o)),
            None => f(None, object),
        },
        _ => {}
    }
}

/// The array of child events inside a parent object, if it has one: a
/// non-empty array of objects under any key but `properties` (`events`
/// preferred).
fn nested_events(object: &Map<String, Value>) -> Option<&Vec<Value>> {
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
    for (key, value) in item.iter().chain(parent_fields) {
        if key == "properties" {
            continue;
        }
        let index = match columns.iter().position(|c| c.name == *key) {
            Some(i) => i,
            None => {
                columns.push(ColumnSample {
                    name: key.clone(),
                    ..ColumnSample::default()
                });
                columns.len() - 1
            }
        };
        match value {
            Value::String(s) if !s.is_empty() => columns[index].values.push(s.clone()),
            Value::Number(n) => columns[index].values.push(n.to_string()),
            _ => {}
        }
    }
}

struct JsonRecord<'v> {
    parent: Option<&'v Map<String, Value>>,
    item: &'v Map<String, Value>,
}

impl<'v> JsonRecord<'v> {
    fn lookup(&self, key: &str) -> Option<&'v Value> {
        fn in_properties<'m>(o: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
            o.get("properties")
                .and_then(Value::as_object)
                .and_then(|p| p.get(key))
        }
        self.item
            .get(key)
            .or_else(|| self.parent.and_then(|p| p.get(key)))
            .or_else(|| in_properties(self.item, key))
            .or_else(|| self.parent.and_then(|p| in_properties(p, key)))
    }
}

impl Record<String> for JsonRecord<'_> {
    fn field(&self, key: &String) -> Field<'_> {
        match self.lookup(key) {
            None | Some(Value::Null) => Field::Missing,
            Some(Value::String(s)) => text_field(s),
            Some(Value::Number(n)) => n.as_f64().map_or(Field::Missing, Field::Number),
            Some(Value::Bool(b)) => Field::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
            Some(Value::Object(_) | Value::Array(_)) => Field::Nested,
        }
    }

    fn raw_text(&self) -> String {
        Value::Object(self.item.clone()).to_string()
    }
}

/// Reads lines of at most [`MAX_RECORD_BYTES`] bytes, skipping over longer
/// ones without holding them in memory.
struct LineReader {
    inner: Box<dyn BufRead + Send>,
    number: u64,
    path: std::path::PathBuf,
}

impl LineReader {
    fn next_line(&mut self) -> Result<Option<Line>, SourceError> {
        let mut bytes = Vec::new();
        let mut oversized = false;
        let mut read_any = false;
        loop {
            let available = self.inner.fill_buf().map_err(|source| SourceError::Io {
                path: self.path.clone(),
                source,
            })?;
            if available.is_empty() {
                break;
            }
            read_any = true;
            let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let used = chunk.len();
            if !oversized {
                bytes.extend_from_slice(chunk);
                if bytes.len() > MAX_RECORD_BYTES + 2 {
                    oversized = true;
                    bytes.truncate(1024);
                }
            }
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.number += 1;
        let number = self.number;
        if oversized {
            return Ok(Some(Line::Oversized {
                number,
                start: bytes,
            }));
        }
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.len() > MAX_RECORD_BYTES {
            return Ok(Some(Line::Oversized {
                number,
                start: bytes,
            }));
        }
        Ok(Some(Line::Text { number, bytes }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_keyed_by_its_first_events_customer() {
        let mapping = Mapping {
            customer: "user".into(),
            customer_fallback: Some("anon".into()),
            event: "event".into(),
            time: "ts".into(),
            event_id: None,
            session_id: None,
            channel: None,
            convention: "aliases".into(),
            columns: Vec::new(),
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
