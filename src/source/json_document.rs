//! JSON documents that are not one event per line: a pretty-printed array
//! of events (what `jq .` and many exports write), one object holding such
//! an array (`{"events": [ … ]}`), or a stream of pretty-printed objects.
//!
//! The document is read as a stream: each event's bytes are cut out of it
//! (strings and nesting followed, nothing else parsed) and handed on one
//! at a time, each held only while it is at most [`MAX_RECORD_BYTES`]
//! long, so a document of any size is read in bounded memory.

use std::io::{BufRead, Cursor, Read};
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::engine::{MAX_RECORD_BYTES, RejectReason, Rejected};

use super::SourceError;
use super::input::TextReader;

/// How much of an oversized value is kept to show the user.
const OVERSIZED_START: usize = 1024;

/// Members of a big object kept as the parent of its events, at most this
/// many bytes each.
const PARENT_MEMBER_BYTES: usize = 64 * 1024;

/// True when `start` (the first bytes of a JSON input) begins a document
/// whose first value runs over several lines, rather than JSON lines.
pub fn looks_like_document(start: &[u8]) -> bool {
    let text = start.trim_ascii_start();
    if !matches!(text.first(), Some(b'[' | b'{')) {
        return false;
    }
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    if serde_json::from_slice::<serde::de::IgnoredAny>(first_line).is_ok() {
        return false;
    }
    let mut values =
        serde_json::Deserializer::from_slice(text).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => true,
        Some(Err(e)) => e.is_eof(),
        None => false,
    }
}

/// One event's JSON text cut out of the document, or why it could not be.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A value's bytes (an event, an array of events, or an object with an
    /// array of events), with the members of the object it sits in, when it
    /// sits in a big one.
    Value {
        /// 1-based line where it starts.
        line: u64,
        /// Its JSON text.
        bytes: Vec<u8>,
        /// The plain members of the enclosing object seen before it.
        parent: Option<Map<String, Value>>,
    },
    /// A part of the document that holds no event.
    Rejected(Rejected),
}

/// How a value's capture ended.
enum Captured {
    /// The whole value is in the buffer.
    Whole,
    /// It was longer than the limit; its first bytes are in the buffer.
    Oversized,
    /// The input ended inside it.
    Truncated,
}

/// Where the reader is in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Between top-level values.
    Top,
    /// Inside the top-level array.
    TopArray,
    /// Between the members of a big top-level object.
    Members,
    /// Inside the array of events of a big top-level object.
    MemberArray,
}

/// Cuts a JSON document into events.
pub struct JsonDocument {
    reader: TextReader,
    path: PathBuf,
    line: u64,
    place: Place,
    /// The plain members of the big object being read.
    parent: Map<String, Value>,
}

/// The reader's buffered bytes, filled.
fn fill<'r>(reader: &'r mut TextReader, path: &std::path::Path) -> Result<&'r [u8], SourceError> {
    reader.fill_buf().map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn value_error(line: u64, detail: impl Into<String>, text: &[u8]) -> Item {
    Item::Rejected(Rejected::new(
        format!("line {line}"),
        RejectReason::Unparseable,
        detail,
        &String::from_utf8_lossy(text),
    ))
}

impl JsonDocument {
    /// Reads the document `reader` (the input `path`).
    pub fn new(reader: TextReader, path: PathBuf) -> Self {
        JsonDocument {
            reader,
            path,
            line: 1,
            place: Place::Top,
            parent: Map::new(),
        }
    }

    /// The next byte that is not white space, not consumed.
    fn peek_token(&mut self) -> Result<Option<u8>, SourceError> {
        loop {
            let available = fill(&mut self.reader, &self.path)?;
            if available.is_empty() {
                return Ok(None);
            }
            match available.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    self.line += available[..i].iter().filter(|b| **b == b'\n').count() as u64;
                    let token = available[i];
                    self.reader.consume(i);
                    return Ok(Some(token));
                }
                None => {
                    let n = available.len();
                    self.line += available.iter().filter(|b| **b == b'\n').count() as u64;
                    self.reader.consume(n);
                }
            }
        }
    }

    fn skip_byte(&mut self) {
        // Make sure the byte is buffered (it was peeked, so it is).
        if let Ok(available) = self.reader.fill_buf()
            && !available.is_empty()
        {
            self.reader.consume(1);
        }
    }

    /// Copies the value that starts here into `out` (at most `limit` bytes
    /// kept), following strings and nesting.
    fn capture(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<Captured, SourceError> {
        self.capture_with(out, limit, false)
    }

    /// Like [`JsonDocument::capture`]; with `stop_at_limit`, reading stops
    /// once `limit` bytes are in `out` (all of them kept, the rest unread).
    fn capture_with(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        stop_at_limit: bool,
    ) -> Result<Captured, SourceError> {
        out.clear();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        let mut scalar = false;
        let mut oversized = false;
        loop {
            let available = fill(&mut self.reader, &self.path)?;
            if available.is_empty() {
                let whole = scalar && !in_string && !out.is_empty();
                return Ok(match (whole, oversized) {
                    (true, false) => Captured::Whole,
                    (_, true) => Captured::Oversized,
                    _ => Captured::Truncated,
                });
            }
            let mut end = None;
            for (i, &b) in available.iter().enumerate() {
                if !started {
                    started = true;
                    match b {
                        b'{' | b'[' => depth = 1,
                        b'"' => in_string = true,
                        _ => scalar = true,
                    }
                    continue;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 && !scalar {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                if scalar {
                    if b.is_ascii_whitespace() || matches!(b, b',' | b']' | b'}') {
                        end = Some(i);
                        break;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let mut used = end.unwrap_or(available.len());
            let room = limit + 1 - out.len();
            let stop = stop_at_limit && used > room;
            if stop {
                used = room;
            }
            let chunk = &available[..used];
            self.line += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            if stop {
                out.extend_from_slice(chunk);
                self.reader.consume(used);
                return Ok(Captured::Oversized);
            }
            if !oversized {
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if out.len() > limit {
                    oversized = true;
                    out.truncate(OVERSIZED_START);
                }
            }
            self.reader.consume(used);
            if end.is_some() {
                return Ok(if oversized {
                    Captured::Oversized
                } else {
                    Captured::Whole
                });
            }
        }
    }

    /// Captures the value that starts here as an item at `line`.
    fn value_item(
        &mut self,
        line: u64,
        parent: Option<Map<String, Value>>,
    ) -> Result<Item, SourceError> {
        let mut bytes = Vec::new();
        Ok(match self.capture(&mut bytes, MAX_RECORD_BYTES)? {
            Captured::Whole => Item::Value {
                line,
                bytes,
                parent,
            },
            Captured::Oversized => Item::Rejected(Rejected::new(
                format!("line {line}"),
                RejectReason::Oversized,
                format!("the value is longer than {MAX_RECORD_BYTES} bytes"),
                &String::from_utf8_lossy(&bytes),
            )),
            Captured::Truncated => value_error(line, "the document ends inside this value", &bytes),
        })
    }

    /// The next event (or rejected part), or None at the end.
    pub fn next_item(&mut self) -> Result<Option<Item>, SourceError> {
        loop {
            let Some(token) = self.peek_token()? else {
                return Ok(match self.place {
                    Place::Top => None,
                    _ => {
                        self.place = Place::Top;
                        Some(value_error(
                            self.line,
                            "the document ends before its closing bracket",
                            b"",
                        ))
                    }
                });
            };
            let line = self.line;
            match (self.place, token) {
                (Place::Top, b'[') => {
                    self.skip_byte();
                    self.place = Place::TopArray;
                }
                (Place::Top, b'{') => return self.top_object(line).map(Some),
                (Place::TopArray | Place::MemberArray, b',') => self.skip_byte(),
                (Place::TopArray, b']') => {
                    self.skip_byte();
                    self.place = Place::Top;
                }
                (Place::MemberArray, b']') => {
                    self.skip_byte();
                    self.place = Place::Members;
                }
                (Place::TopArray, _) => return self.value_item(line, None).map(Some),
                (Place::MemberArray, _) => {
                    let parent = Some(self.parent.clone());
                    return self.value_item(line, parent).map(Some);
                }
                (Place::Members, b',') => self.skip_byte(),
                (Place::Members, b'}') => {
                    self.skip_byte();
                    self.place = Place::Top;
                    self.parent.clear();
                }
                (Place::Members, b'"') => {
                    if let Some(item) = self.member(line)? {
                        return Ok(Some(item));
                    }
                }
                (Place::Top | Place::Members, _) => {
                    // Not an event: pass over it as one value.
                    let mut bytes = Vec::new();
                    self.capture(&mut bytes, OVERSIZED_START)?;
                    if bytes.is_empty() {
                        self.skip_byte();
                        bytes.push(token);
                    }
                    return Ok(Some(Item::Rejected(Rejected::new(
                        format!("line {line}"),
                        RejectReason::WrongType,
                        "not a JSON object or an array of objects",
                        &String::from_utf8_lossy(&bytes),
                    ))));
                }
            }
        }
    }

    /// A top-level object: one value when it fits, else read member by
    /// member so that its array of events streams.
    fn top_object(&mut self, line: u64) -> Result<Item, SourceError> {
        let mut bytes = Vec::new();
        match self.capture_with(&mut bytes, MAX_RECORD_BYTES, true)? {
            Captured::Whole => Ok(Item::Value {
                line,
                bytes,
                parent: None,
            }),
            Captured::Truncated => Ok(value_error(
                line,
                "the document ends inside this object",
                &bytes,
            )),
            Captured::Oversized => {
                // Read it again from its `{`, member by member.
                let rest = std::mem::replace(&mut self.reader, Box::new(std::io::empty()));
                self.reader = replay(bytes, rest);
                self.line = line;
                self.skip_byte();
                self.place = Place::Members;
                self.parent.clear();
                Ok(self.next_item()?.unwrap_or_else(|| {
                    value_error(line, "the document ends inside this object", b"")
                }))
            }
        }
    }

    /// One member of a big object: an array of events starts streaming;
    /// anything else is kept as a parent field (when small).
    fn member(&mut self, line: u64) -> Result<Option<Item>, SourceError> {
        let mut key = Vec::new();
        if !matches!(
            self.capture(&mut key, PARENT_MEMBER_BYTES)?,
            Captured::Whole
        ) {
            return Ok(Some(value_error(
                line,
                "a member name that does not end",
                &key,
            )));
        }
        let key: String = serde_json::from_slice(&key).unwrap_or_default();
        if self.peek_token()? != Some(b':') {
            return Ok(Some(value_error(
                self.line,
                "expected `:` after a member name",
                b"",
            )));
        }
        self.skip_byte();
        match self.peek_token()? {
            Some(b'[') => {
                self.skip_byte();
                self.place = Place::MemberArray;
                Ok(None)
            }
            Some(_) => {
                let mut value = Vec::new();
                if let Captured::Whole = self.capture(&mut value, PARENT_MEMBER_BYTES)?
                    && let Ok(v) = serde_json::from_slice::<Value>(&value)
                {
                    self.parent.insert(key, v);
                }
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

/// Lets a captured prefix be read again before the rest of the input.
pub fn replay(prefix: Vec<u8>, rest: TextReader) -> TextReader {
    Box::new(std::io::BufReader::new(Cursor::new(prefix).chain(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<Item> {
        let mut document = JsonDocument::new(
            Box::new(Cursor::new(text.as_bytes().to_vec())),
            PathBuf::from("t.json"),
        );
        let mut out = Vec::new();
        while let Some(item) = document.next_item().unwrap() {
            out.push(item);
        }
        out
    }

    fn values(text: &str) -> Vec<(u64, String)> {
        items(text)
            .into_iter()
            .map(|i| match i {
                Item::Value { line, bytes, .. } => (line, String::from_utf8(bytes).unwrap()),
                Item::Rejected(r) => (0, format!("rejected {}: {}", r.position, r.reason)),
            })
            .collect()
    }

    #[test]
    fn documents_are_told_from_json_lines() {
        assert!(looks_like_document(b"[\n  {\"a\": 1}\n]"));
        assert!(looks_like_document(b"{\n  \"events\": [\n"));
        assert!(looks_like_document(b"[{\"a\":1},{\"a\""));
        assert!(!looks_like_document(b"{\"a\":1}\n{\"a\":2}\n"));
        assert!(!looks_like_document(b"[{\"a\":1}]\n[{\"a\":2}]\n"));
        assert!(!looks_like_document(b"not json\n{\"a\":1}"));
        assert!(!looks_like_document(b"{\"a\": 1,\n}\n"));
        assert!(!looks_like_document(b"a,b\n1,2"));
    }

    #[test]
    fn an_array_gives_its_elements_with_their_lines() {
        assert_eq!(
            values("[\n  {\"a\": \"]\"},\n  {\"b\": [1, {\"c\": 2}]}\n]\n"),
            vec![
                (2, "{\"a\": \"]\"}".to_owned()),
                (3, "{\"b\": [1, {\"c\": 2}]}".to_owned())
            ]
        );
    }

    #[test]
    fn pretty_objects_one_after_another() {
        assert_eq!(
            values("{\n \"a\": 1\n}\n{\n \"a\": 2\n}\n"),
            vec![
                (1, "{\n \"a\": 1\n}".to_owned()),
                (4, "{\n \"a\": 2\n}".to_owned())
            ]
        );
    }

    #[test]
    fn a_big_object_streams_its_events_with_its_plain_fields() {
        let pad = "x".repeat(MAX_RECORD_BYTES);
        let text = format!(
            "{{\n \"source\": \"shop\",\n \"events\": [\n  {{\"e\": 1}},\n  {{\"e\": 2, \"pad\": \"{pad}\"}},\n  {{\"e\": 3}}\n ]\n}}\n"
        );
        let got = items(&text);
        assert_eq!(
            got.len(),
            3,
            "{:?}",
            got.iter()
                .map(|i| matches!(i, Item::Value { .. }))
                .collect::<Vec<_>>()
        );
        match &got[0] {
            Item::Value {
                line,
                bytes,
                parent,
            } => {
                assert_eq!(*line, 4);
                assert_eq!(bytes, b"{\"e\": 1}");
                assert_eq!(parent.as_ref().unwrap()["source"], "shop");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&got[1], Item::Rejected(r) if r.reason == RejectReason::Oversized));
        assert!(matches!(&got[2], Item::Value { line: 6, .. }));
    }

    #[test]
    fn broken_documents_end_and_say_where() {
        let got = values("[\n {\"a\": 1},\n {\"a\": ");
        assert_eq!(got[0], (2, "{\"a\": 1}".to_owned()));
        assert!(
            got[1].1.starts_with("rejected line 3: unparseable"),
            "{got:?}"
        );
        let got = values("[1, \"two\", {\"a\": 3}]");
        assert_eq!(got.len(), 3);
        let got = values("\"just a string\"\n");
        assert!(got[0].1.contains("wrong_type"), "{got:?}");
    }
}
