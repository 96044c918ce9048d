//! JSON documents that are not one event per line: a pretty-printed array
//! of events (what `jq .` and many exports write), one object holding such
//! an array (`{"events": [ … ]}`), or a stream of pretty-printed objects.
//!
//! The document is read as a stream: each event's bytes are cut out of it
//! (strings and nesting followed, nothing else parsed) and handed on one
//! at a time, each held only while it is at most [`MAX_RECORD_BYTES`]
//! long, so a document of any size is read in bounded memory.

use std::io::BufRead;
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
    /// The input ended inside it; all of it is in the buffer.
    Truncated,
    /// The input ended inside it after more than the limit: it never
    /// closed, and what it swallowed is gone.
    Unclosed,
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
    reader: Rewindable,
    path: PathBuf,
    line: u64,
    place: Place,
    /// The plain members of the big object being read.
    parent: Map<String, Value>,
}

/// The reader's buffered bytes, filled.
fn fill<'r>(reader: &'r mut Rewindable, path: &std::path::Path) -> Result<&'r [u8], SourceError> {
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
            reader: Rewindable::new(reader),
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
                    (true, true) => Captured::Oversized,
                    (false, true) => Captured::Unclosed,
                    (false, false) => Captured::Truncated,
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
                    if b == b'\n' {
                        // Valid JSON has no raw line break in a string: the
                        // string is broken, and ends here so that what follows
                        // is followed as structure again.
                        in_string = false;
                        escaped = false;
                        if depth == 0 && !scalar {
                            end = Some(i);
                            break;
                        }
                    } else if escaped {
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
            Captured::Whole => self.whole(line, bytes, parent),
            Captured::Oversized => Item::Rejected(Rejected::new(
                format!("line {line}"),
                RejectReason::Oversized,
                format!("the value is longer than {MAX_RECORD_BYTES} bytes"),
                &String::from_utf8_lossy(&bytes),
            )),
            Captured::Truncated => {
                self.unfinished(line, bytes, "the document ends inside this value")
            }
            Captured::Unclosed => return Err(self.unclosed(line)),
        })
    }

    /// A value the input ended inside, all of it held: either the input
    /// was cut short there, or the value broke earlier (an unbalanced
    /// bracket or quote) and swallowed what follows.
    fn unfinished(&mut self, line: u64, bytes: Vec<u8>, ends_inside: &str) -> Item {
        match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            Err(e) if !e.is_eof() => self.resync(line, &bytes, &e),
            _ => value_error(line, ends_inside, &bytes),
        }
    }

    /// A whole value as an item, unless its text breaks before its last
    /// line: then its brackets only balanced by taking in lines that belong
    /// to the values after it, and those are read again.
    fn whole(&mut self, line: u64, bytes: Vec<u8>, parent: Option<Map<String, Value>>) -> Item {
        let lines = memchr::memchr_iter(b'\n', &bytes).count() + 1;
        if lines > 1
            && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
            && !e.is_eof()
            && e.line() < lines
        {
            return self.resync(line, &bytes, &e);
        }
        Item::Value {
            line,
            bytes,
            parent,
        }
    }

    /// Rejects the lines of `bytes` (a value starting at `line`) up to the
    /// one where it `broke`, and reads the rest again from the next line.
    fn resync(&mut self, line: u64, bytes: &[u8], broke: &serde_json::Error) -> Item {
        let cut = memchr::memchr_iter(b'\n', bytes)
            .nth(broke.line().saturating_sub(1))
            .map_or(bytes.len(), |i| i + 1);
        let break_line = line + broke.line() as u64 - 1;
        let detail = format!(
            "not valid JSON at line {break_line}, column {}; reading goes on at the next line",
            broke.column()
        );
        let item = value_error(line, detail, &bytes[..cut]);
        self.line = line + memchr::memchr_iter(b'\n', &bytes[..cut]).count() as u64;
        self.reader.unread(&bytes[cut..]);
        item
    }

    /// The error for a value that starts at `line` and never closes.
    fn unclosed(&self, line: u64) -> SourceError {
        SourceError::Malformed {
            path: self.path.clone(),
            line,
            detail: format!(
                "a value starts there that never closes (an unbalanced bracket or quote?): it runs \
                 past {MAX_RECORD_BYTES} bytes to the end of the input (line {}), so nothing after \
                 it can be read as events; mend the file at that line",
                self.line
            ),
        }
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
                (Place::Members, _) => {
                    return Err(SourceError::Malformed {
                        path: self.path.clone(),
                        line,
                        detail: format!(
                            "the object being read expects a member name (in quotes) here, not \
                             `{}`; nothing after this can be read as events; mend the file at that \
                             line",
                            crate::format::printable(&String::from_utf8_lossy(&[token]))
                        ),
                    });
                }
                (Place::Top, _) => {
                    // Not an event: pass over it as one value.
                    let mut bytes = Vec::new();
                    match self.capture(&mut bytes, MAX_RECORD_BYTES)? {
                        Captured::Truncated => {
                            let ends_inside = "the document ends inside this value";
                            return Ok(Some(self.unfinished(line, bytes, ends_inside)));
                        }
                        Captured::Unclosed => return Err(self.unclosed(line)),
                        Captured::Whole | Captured::Oversized => {}
                    }
                    bytes.truncate(OVERSIZED_START);
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
            Captured::Whole => Ok(self.whole(line, bytes, None)),
            Captured::Truncated => {
                Ok(self.unfinished(line, bytes, "the document ends inside this object"))
            }
            Captured::Unclosed => Err(self.unclosed(line)),
            Captured::Oversized => {
                // Read it again from its `{`, member by member.
                self.reader.unread(&bytes);
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

/// The document's input, with bytes already taken out that can be put
/// back in front, however often, without nesting readers.
struct Rewindable {
    /// Bytes put back, read before `rest` from `at` on.
    front: Vec<u8>,
    at: usize,
    rest: TextReader,
}

impl Rewindable {
    fn new(rest: TextReader) -> Self {
        Rewindable {
            front: Vec::new(),
            at: 0,
            rest,
        }
    }

    /// Puts `bytes` back, to be read next.
    fn unread(&mut self, bytes: &[u8]) {
        let mut front = Vec::with_capacity(bytes.len() + self.front.len() - self.at);
        front.extend_from_slice(bytes);
        front.extend_from_slice(&self.front[self.at..]);
        self.front = front;
        self.at = 0;
    }

    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.at < self.front.len() {
            Ok(&self.front[self.at..])
        } else {
            self.rest.fill_buf()
        }
    }

    fn consume(&mut self, n: usize) {
        if self.at < self.front.len() {
            self.at += n;
            if self.at >= self.front.len() {
                self.front = Vec::new();
                self.at = 0;
            }
        } else {
            self.rest.consume(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

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
    fn a_broken_object_among_pretty_ones_costs_only_its_own_lines() {
        assert_eq!(
            values("{\n \"a\": 1\n}\n{not json\n{\n \"a\": 2\n}\n"),
            vec![
                (1, "{\n \"a\": 1\n}".to_owned()),
                (0, "rejected line 4: unparseable".to_owned()),
                (5, "{\n \"a\": 2\n}".to_owned()),
            ]
        );
    }

    #[test]
    fn a_broken_element_does_not_swallow_the_elements_after_it() {
        assert_eq!(
            values(
                "[\n {\"a\": 1},\n {\"a\": [1, 2},\n {\"a\": 3},\n {\"a\": \"x},\n {\"a\": 4}\n]\n"
            ),
            vec![
                (2, "{\"a\": 1}".to_owned()),
                (0, "rejected line 3: unparseable".to_owned()),
                (4, "{\"a\": 3}".to_owned()),
                (0, "rejected line 5: unparseable".to_owned()),
                (6, "{\"a\": 4}".to_owned()),
            ]
        );
    }

    #[test]
    fn many_broken_values_are_each_rejected_and_the_rest_read() {
        let mut text = String::from("[\n");
        for i in 0..20_000 {
            if i % 2 == 0 {
                text.push_str(&format!(" {{\"a\": [{i}}},\n"));
            } else {
                text.push_str(&format!(" {{\"a\": {i}}},\n"));
            }
        }
        text.push_str(" {\"a\": -1}\n]\n");
        let got = values(&text);
        let kept = got.iter().filter(|(line, _)| *line > 0).count();
        let rejected = got.len() - kept;
        assert_eq!((kept, rejected), (10_001, 10_000));
    }

    #[test]
    fn a_value_that_never_closes_is_an_error_with_its_line() {
        let mut text = String::from("[\n {\"a\": 1},\n {\"a\": [1,\n");
        for i in 0..100_000 {
            text.push_str(&format!(
                " {{\"a\": {i}, \"pad\": \"xxxxxxxxxxxxxxxx\"}},\n"
            ));
        }
        text.push_str("]\n");
        let mut document = JsonDocument::new(
            Box::new(Cursor::new(text.into_bytes())),
            PathBuf::from("t.json"),
        );
        assert!(matches!(
            document.next_item(),
            Ok(Some(Item::Value { line: 2, .. }))
        ));
        match document.next_item() {
            Err(SourceError::Malformed { line, detail, .. }) => {
                assert_eq!(line, 3);
                assert!(detail.contains("never closes"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
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
