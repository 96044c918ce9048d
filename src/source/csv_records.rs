//! CSV records assembled from physical lines, so that one bad line costs
//! one record.
//!
//! A record is one line, parsed with `csv-core` (quotes, doubled quotes,
//! any delimiter). Only when a line ends inside a quoted field are the
//! following lines joined to it, and the joined record is kept only if its
//! quotes are well formed (each closing quote followed by a delimiter or
//! the end), it has the header's number of fields and it stays within
//! [`MAX_RECORD_BYTES`]. Otherwise the opening line alone is rejected and
//! reading goes on at the line after it: a stray quote never swallows the
//! rest of a file.

use std::collections::VecDeque;

use crate::engine::{MAX_RECORD_BYTES, RejectReason, Rejected};

use super::SourceError;
use super::lines::{Ending, Line, LineReader};

/// The quote character.
const QUOTE: u8 = b'"';

/// One record: its fields and the text it was read from.
#[derive(Debug, Clone, Default)]
pub struct CsvRow {
    /// The 1-based line it starts on.
    pub line: u64,
    data: Vec<u8>,
    ends: Vec<usize>,
    raw: Vec<u8>,
}

impl CsvRow {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The field at `index`, unquoted.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            i => self.ends[i - 1],
        };
        Some(&self.data[start..end])
    }

    /// Every field, in order.
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The record's text as the file holds it.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    fn clear(&mut self, line: u64) {
        self.line = line;
        self.data.clear();
        self.ends.clear();
        self.raw.clear();
    }
}

/// What the next record turned out to be.
#[derive(Debug)]
pub enum Outcome {
    /// A record, now in the row passed in.
    Row,
    /// A record that could not be read.
    Rejected(Rejected),
}

/// How far a piece of input took the record.
enum Fed {
    /// The record is complete.
    Complete,
    /// More input is needed (inside a quoted field, or before the line break).
    Open,
}

/// Records of a delimited text, read line by line.
pub struct CsvRecords {
    lines: LineReader,
    /// Lines read ahead while trying a record over several lines, to be read
    /// again.
    replay: VecDeque<Line>,
    core: csv_core::Reader,
    delimiter: u8,
    /// The header's number of fields, once known.
    expected_fields: Option<usize>,
    /// A line's buffer to read the next line into.
    spare: Vec<u8>,
}

impl CsvRecords {
    /// Records of `lines` (which should split on lone `\r` as well).
    pub fn new(lines: LineReader, delimiter: u8) -> Self {
        CsvRecords {
            lines,
            replay: VecDeque::new(),
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            expected_fields: None,
            spare: Vec::new(),
        }
    }

    /// From now on a record over several lines must have this many fields.
    pub fn expect_fields(&mut self, fields: usize) {
        self.expected_fields = Some(fields);
    }

    fn next_line(&mut self) -> Result<Option<Line>, SourceError> {
        match self.replay.pop_front() {
            Some(line) => Ok(Some(line)),
            None => self
                .lines
                .next_line_in(std::mem::take(&mut self.spare), false),
        }
    }

    /// Reads the first non-empty line as the header; an error when it is
    /// longer than [`MAX_RECORD_BYTES`]. None for an empty input.
    pub fn header(&mut self) -> Result<Option<CsvRow>, SourceError> {
        loop {
            match self.lines.next_line_with(true)? {
                None => return Ok(None),
                Some(Line::Oversized { number, start }) => {
                    return Err(SourceError::NotEvents(format!(
                        "line {number}, the header, is longer than {} MiB (it starts `{}`): \
                         this does not look like a CSV file",
                        MAX_RECORD_BYTES >> 20,
                        crate::format::excerpt_bytes(&start, 60)
                    )));
                }
                Some(Line::Text { bytes, .. }) if bytes.is_empty() => continue,
                Some(line) => {
                    self.replay.push_front(line);
                    break;
                }
            }
        }
        let mut row = CsvRow::default();
        match self.next(&mut row)? {
            None => Ok(None),
            Some(Outcome::Row) => Ok(Some(row)),
            // A header with a stray quote is taken field by field as written.
            Some(Outcome::Rejected(_)) => {
                let raw = std::mem::take(&mut row.raw);
                row.clear(row.line);
                for field in raw.split(|b| *b == self.delimiter) {
                    row.data.extend_from_slice(field);
                    row.ends.push(row.data.len());
                }
                row.raw = raw;
                Ok(Some(row))
            }
        }
    }

    /// Reads the next record into `row`; None at the end of the input.
    pub fn next(&mut self, row: &mut CsvRow) -> Result<Option<Outcome>, SourceError> {
        let (number, bytes, ending) = loop {
            match self.next_line()? {
                None => return Ok(None),
                Some(Line::Oversized { number, start }) => {
                    row.clear(number);
                    return Ok(Some(Outcome::Rejected(Rejected::new(
                        format!("line {number}"),
                        RejectReason::Oversized,
                        format!("the line is longer than {MAX_RECORD_BYTES} bytes"),
                        &String::from_utf8_lossy(&start),
                    ))));
                }
                // Blank lines separate nothing and are passed over.
                Some(Line::Text { bytes, .. }) if bytes.is_empty() => continue,
                Some(Line::Text {
                    number,
                    bytes,
                    ending,
                }) => break (number, bytes, ending),
            }
        };
        row.clear(number);
        if memchr::memchr(QUOTE, &bytes).is_none() {
            // No quote: the fields are what the delimiters separate.
            split_plain(&bytes, self.delimiter, row);
            // The line becomes the row's text; its old buffer is read into next.
            self.spare = std::mem::replace(&mut row.raw, bytes);
            return Ok(Some(Outcome::Row));
        }
        self.core.reset();
        row.raw.extend_from_slice(&bytes);
        let mut complete = matches!(self.feed_line(&bytes, ending, row), Fed::Complete);
        let mut taken = Vec::new();
        let mut previous_ending = ending;
        // A line that ends inside a quoted field: try the following lines.
        while !complete && previous_ending != Ending::None {
            let Some(next) = self.next_line()? else {
                complete = matches!(self.feed(&[], row), Fed::Complete);
                break;
            };
            let Line::Text {
                bytes: more,
                ending: next_ending,
                ..
            } = &next
            else {
                taken.push(next);
                break;
            };
            if row.raw.len() + previous_ending.bytes().len() + more.len() > MAX_RECORD_BYTES {
                taken.push(next);
                break;
            }
            row.raw.extend_from_slice(previous_ending.bytes());
            row.raw.extend_from_slice(more);
            complete = matches!(self.feed_line(more, *next_ending, row), Fed::Complete);
            previous_ending = *next_ending;
            taken.push(next);
        }
        let quoting = quoting(&row.raw, self.delimiter);
        let single_line = taken.is_empty();
        let fields_fit = self.expected_fields.is_none_or(|n| n == row.len());
        let keep = complete
            && !quoting.open_at_end
            && (single_line || (quoting.well_formed && fields_fit));
        if keep {
            self.spare = bytes;
            return Ok(Some(Outcome::Row));
        }
        for line in taken.into_iter().rev() {
            self.replay.push_front(line);
        }
        row.raw.truncate(bytes.len());
        row.data.clear();
        row.ends.clear();
        Ok(Some(Outcome::Rejected(Rejected::new(
            format!("line {number}"),
            RejectReason::Unparseable,
            "a quoted field opens on this line and does not close on it \
             (nor as a well-formed field over the next lines)",
            &String::from_utf8_lossy(&bytes),
        ))))
    }

    /// Feeds one physical line and its line break.
    fn feed_line(&mut self, bytes: &[u8], ending: Ending, row: &mut CsvRow) -> Fed {
        match self.feed(bytes, row) {
            Fed::Complete => Fed::Complete,
            Fed::Open => self.feed_ending(ending, row),
        }
    }

    /// Feeds a line break; the end of the input when there is none.
    fn feed_ending(&mut self, ending: Ending, row: &mut CsvRow) -> Fed {
        self.feed(ending.bytes(), row)
    }

    /// Feeds bytes to the CSV parser (empty bytes mean the end of the
    /// input), collecting fields into `row`.
    fn feed(&mut self, input: &[u8], row: &mut CsvRow) -> Fed {
        let mut at = 0;
        let mut ends_room = 16;
        loop {
            // Unquoted output is never longer than its input; field ends are
            // counted from the start of the record by csv-core itself.
            let (data_at, ends_at) = (row.data.len(), row.ends.len());
            row.data.resize(data_at + (input.len() - at).max(1), 0);
            row.ends.resize(ends_at + ends_room, 0);
            let (result, read, wrote, ended) = self.core.read_record(
                &input[at..],
                &mut row.data[data_at..],
                &mut row.ends[ends_at..],
            );
            at += read;
            row.data.truncate(data_at + wrote);
            row.ends.truncate(ends_at + ended);
            match result {
                csv_core::ReadRecordResult::InputEmpty => return Fed::Open,
                csv_core::ReadRecordResult::OutputFull => {}
                csv_core::ReadRecordResult::OutputEndsFull => ends_room *= 2,
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => {
                    return Fed::Complete;
                }
            }
        }
    }
}

/// Fields of a line without quotes, into `row` (its text is set apart).
fn split_plain(line: &[u8], delimiter: u8, row: &mut CsvRow) {
    let mut start = 0;
    for at in memchr::memchr_iter(delimiter, line) {
        row.data.extend_from_slice(&line[start..at]);
        row.ends.push(row.data.len());
        start = at + 1;
    }
    row.data.extend_from_slice(&line[start..]);
    row.ends.push(row.data.len());
}

/// How the quotes of a record's text stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quoting {
    /// Every closing quote is followed by a delimiter or the end.
    well_formed: bool,
    /// The text ends inside a quoted field.
    open_at_end: bool,
}

/// Walks `raw` field by field as csv-core reads it (a quote opens a field
/// only at its start; a quote after a closing quote is a literal one).
fn quoting(raw: &[u8], delimiter: u8) -> Quoting {
    #[derive(Clone, Copy)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut well_formed = true;
    let mut state = State::FieldStart;
    for &b in raw {
        state = match state {
            State::FieldStart if b == QUOTE => State::Quoted,
            State::FieldStart | State::Unquoted if b == delimiter => State::FieldStart,
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted if b == QUOTE => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == QUOTE => State::Quoted,
            State::QuoteInQuoted if b == delimiter => State::FieldStart,
            State::QuoteInQuoted => {
                well_formed = false;
                State::Unquoted
            }
        };
    }
    Quoting {
        well_formed,
        open_at_end: matches!(state, State::Quoted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::path::PathBuf;

    fn records(text: &str) -> Vec<Result<Vec<String>, (u64, RejectReason)>> {
        let lines = LineReader::new(
            Box::new(Cursor::new(text.as_bytes().to_vec())),
            PathBuf::from("t.csv"),
        )
        .split_on_cr();
        let mut csv = CsvRecords::new(lines, b',');
        let header = csv.header().unwrap().unwrap();
        csv.expect_fields(header.len());
        let mut out = Vec::new();
        let mut row = CsvRow::default();
        while let Some(outcome) = csv.next(&mut row).unwrap() {
            out.push(match outcome {
                Outcome::Row => Ok(row
                    .fields()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect()),
                Outcome::Rejected(r) => Err((
                    r.position
                        .trim_start_matches("line ")
                        .parse()
                        .unwrap_or_default(),
                    r.reason,
                )),
            });
        }
        out
    }

    fn ok(fields: &[&str]) -> Result<Vec<String>, (u64, RejectReason)> {
        Ok(fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn quoted_fields_and_doubled_quotes() {
        assert_eq!(
            records("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",3\r\n\n4,5,6"),
            vec![ok(&["x, y", "say \"hi\"", "3"]), ok(&["4", "5", "6"])]
        );
    }

    #[test]
    fn a_stray_quote_costs_its_own_line_only() {
        assert_eq!(
            records("a,b,c\nc0,\"home,t0\nc1,home,t1\nc2,home,t2\n"),
            vec![
                Err((2, RejectReason::Unparseable)),
                ok(&["c1", "home", "t1"]),
                ok(&["c2", "home", "t2"])
            ]
        );
        // A second stray quote further on does not pair up with the first.
        assert_eq!(
            records("a,b,c\nc0,\"home,t0\nc1,\"home,t1\nc2,home,t2"),
            vec![
                Err((2, RejectReason::Unparseable)),
                Err((3, RejectReason::Unparseable)),
                ok(&["c2", "home", "t2"])
            ]
        );
    }

    #[test]
    fn real_multi_line_fields_are_kept() {
        assert_eq!(
            records("a,b,c\nc0,\"two\nlines\",t0\nc1,x,t1\n"),
            vec![ok(&["c0", "two\nlines", "t0"]), ok(&["c1", "x", "t1"])]
        );
        assert_eq!(
            records("a,b,c\r\nc0,\"crlf\r\nkept\",t0\r\n"),
            vec![ok(&["c0", "crlf\r\nkept", "t0"])]
        );
    }

    #[test]
    fn an_unclosed_quote_on_the_last_line_is_rejected() {
        assert_eq!(
            records("a,b,c\nc0,x,t0\nc1,\"x,t1"),
            vec![ok(&["c0", "x", "t0"]), Err((3, RejectReason::Unparseable))]
        );
    }

    #[test]
    fn old_mac_line_breaks_are_lines() {
        assert_eq!(
            records("a,b,c\rc0,x,t0\rc1,y,t1"),
            vec![ok(&["c0", "x", "t0"]), ok(&["c1", "y", "t1"])]
        );
    }

    #[test]
    fn quoting_rules() {
        let q = |raw: &[u8]| {
            let q = quoting(raw, b',');
            (q.well_formed, q.open_at_end)
        };
        assert_eq!(q(b"a,\"b\",c"), (true, false));
        assert_eq!(q(b"a,\"b\nc"), (true, true));
        assert_eq!(q(b"a,\"b\nc\"d"), (false, false));
        assert_eq!(q(b"a,b\"c,d"), (true, false));
    }
}
