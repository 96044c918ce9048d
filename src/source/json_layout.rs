//! Whether a JSON input is JSON lines or one document, decided from its
//! whole first line, however long it is.
//!
//! A file of newline-separated objects is JSON lines even when its first
//! record is longer than any fixed window: the first line is read to its
//! end (up to [`FIRST_LINE_BOUND`]) and looked at whole, then handed back
//! to be read again.

use std::io::{BufRead, Read};
use std::path::Path;

use crate::engine::MAX_RECORD_BYTES;

use super::SourceError;
use super::input::TextReader;

/// How a JSON input is cut into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonLayout {
    /// One record (an event, or an array of events) per line.
    Lines,
    /// Values that run over several lines: a pretty-printed array, an
    /// object holding one, or pretty objects one after another.
    Document,
}

/// Bytes read past the first line, so that a document's first value can be
/// told from a broken first record.
const WINDOW_BYTES: usize = 64 * 1024;

/// The longest first line held to decide. A longer one is a single-line
/// document (read as a stream); a JSON-lines record that long would be
/// rejected as oversized anyway.
pub const FIRST_LINE_BOUND: usize = 16 * 1024 * 1024;

/// Reads the first line of `text` (and a window past it), decides its
/// layout, and hands the bytes back unread.
pub fn sniff(mut text: TextReader, path: &Path) -> Result<(JsonLayout, TextReader), SourceError> {
    let mut prefix = Vec::new();
    let mut first_line_end = None;
    loop {
        let available = text.fill_buf().map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if available.is_empty() {
            break;
        }
        let n = available.len();
        if first_line_end.is_none()
            && let Some(i) = memchr::memchr(b'\n', available)
        {
            first_line_end = Some(prefix.len() + i);
        }
        prefix.extend_from_slice(available);
        text.consume(n);
        let enough = match first_line_end {
            Some(end) => prefix.len() >= end + WINDOW_BYTES,
            None => prefix.len() > FIRST_LINE_BOUND,
        };
        if enough {
            break;
        }
    }
    let first_line_whole = first_line_end.is_some() || prefix.len() <= FIRST_LINE_BOUND;
    let layout = if looks_like_document(&prefix, first_line_whole) {
        JsonLayout::Document
    } else {
        JsonLayout::Lines
    };
    // A chain of two buffered readers is a buffered reader: the bytes past
    // the prefix are read from `text`'s own buffer, not copied again.
    Ok((layout, Box::new(std::io::Cursor::new(prefix).chain(text))))
}

/// True when `start` (the first bytes of a JSON input, holding its whole
/// first line when `first_line_whole`) begins a document whose first value
/// runs over several lines (or one line too long to be a record), rather
/// than JSON lines.
pub fn looks_like_document(start: &[u8], first_line_whole: bool) -> bool {
    let text = start.trim_ascii_start();
    let Some(&first) = text.first() else {
        return false;
    };
    if !matches!(first, b'[' | b'{') {
        return false;
    }
    if !first_line_whole {
        return true;
    }
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    if serde_json::from_slice::<serde::de::IgnoredAny>(first_line).is_ok() {
        // One value on its own line: JSON lines, unless it is an array too
        // long to be one record (a whole document on one line streams).
        return first == b'[' && first_line.len() > MAX_RECORD_BYTES;
    }
    let mut values =
        serde_json::Deserializer::from_slice(text).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => true,
        Some(Err(e)) if e.is_eof() => true,
        // The first value breaks somewhere: a broken first record of JSON
        // lines (the lines after it are values of their own), or a document
        // with a broken part (its lines are pieces of values).
        Some(Err(_)) => !mostly_whole_values(text),
        None => false,
    }
}

/// True when most of the lines after the first (up to 20 of them) hold a
/// whole JSON value each, as JSON lines do.
fn mostly_whole_values(text: &[u8]) -> bool {
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .skip(1)
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
        .take(20)
        .collect();
    let whole = lines
        .iter()
        .filter(|l| serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok())
        .count();
    whole > 0 && whole * 2 >= lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    fn layout_of(text: &[u8]) -> (JsonLayout, Vec<u8>) {
        let reader: TextReader = Box::new(std::io::BufReader::with_capacity(
            1024,
            Cursor::new(text.to_vec()),
        ));
        let (layout, mut again) = sniff(reader, Path::new("t.json")).unwrap();
        let mut read = Vec::new();
        again.read_to_end(&mut read).unwrap();
        (layout, read)
    }

    #[test]
    fn tells_documents_from_lines() {
        assert!(looks_like_document(b"[\n  {\"a\": 1}\n]", true));
        assert!(looks_like_document(b"{\n  \"events\": [\n", true));
        assert!(looks_like_document(b"[{\"a\":1},{\"a\"", true));
        assert!(!looks_like_document(b"{\"a\":1}\n{\"a\":2}\n", true));
        assert!(!looks_like_document(b"[{\"a\":1}]\n[{\"a\":2}]\n", true));
        assert!(!looks_like_document(b"not json\n{\"a\":1}", true));
        assert!(!looks_like_document(
            b"{\"a\": 1,\n{\"a\": 2}\n{\"a\": 3}\n",
            true
        ));
        assert!(looks_like_document(b"{\"a\": 1,\n}\n", true));
        assert!(looks_like_document(
            b"[\n{\n \"a\": [1}\n},\n{\n \"a\": 2\n}\n]\n",
            true
        ));
        assert!(!looks_like_document(b"a,b\n1,2", true));
    }

    #[test]
    fn a_long_first_line_is_still_json_lines() {
        for first_len in [1000, 70_000, 300_000, 2_000_000] {
            let pad = "x".repeat(first_len);
            let text = format!("{{\"pad\":\"{pad}\"}}\n{{\"a\":1}}\n{{not json\n{{\"a\":2}}\n");
            let (layout, read) = layout_of(text.as_bytes());
            assert_eq!(layout, JsonLayout::Lines, "first line of {first_len} bytes");
            assert_eq!(read, text.as_bytes(), "every byte is read again");
        }
    }

    #[test]
    fn a_pretty_document_with_a_long_first_element_is_a_document() {
        let pad = "x".repeat(200_000);
        let text = format!("[{{\"pad\":\"{pad}\",\n \"a\": 1}},\n{{\"a\": 2}}\n]\n");
        assert_eq!(layout_of(text.as_bytes()).0, JsonLayout::Document);
    }

    #[test]
    fn a_whole_array_on_one_long_line_streams_as_a_document() {
        let event = "{\"a\":1},".repeat(MAX_RECORD_BYTES / 8 + 10);
        let text = format!("[{}{{\"a\":2}}]", event);
        assert_eq!(layout_of(text.as_bytes()).0, JsonLayout::Document);
        let short = "[{\"a\":1},{\"a\":2}]\n[{\"a\":3}]\n";
        assert_eq!(layout_of(short.as_bytes()).0, JsonLayout::Lines);
    }
}
