//! Physical lines of a text input, each held only while it is at most
//! [`MAX_RECORD_BYTES`] long: a longer line is passed over without being
//! kept (its first bytes are kept for the rejected-records sample), so no
//! input, not even one without a line break, can make a reader grow.

use std::io::BufRead;
use std::path::PathBuf;

use crate::engine::MAX_RECORD_BYTES;

use super::SourceError;
use super::input::TextReader;

/// How much of an oversized line is kept to show the user.
const OVERSIZED_START: usize = 1024;

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The last line, without a line break.
    None,
    /// `\n`.
    Lf,
    /// `\r\n`.
    CrLf,
    /// A lone `\r` (old Mac files), when the reader splits on it.
    Cr,
}

impl Ending {
    /// The line break's bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Ending::None => b"",
            Ending::Lf => b"\n",
            Ending::CrLf => b"\r\n",
            Ending::Cr => b"\r",
        }
    }
}

/// One physical line, or the start of one that was too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line of at most [`MAX_RECORD_BYTES`] bytes.
    Text {
        /// 1-based line number.
        number: u64,
        /// The bytes before the line break.
        bytes: Vec<u8>,
        /// The line break.
        ending: Ending,
    },
    /// A line longer than [`MAX_RECORD_BYTES`].
    Oversized {
        /// 1-based line number.
        number: u64,
        /// Its first bytes.
        start: Vec<u8>,
    },
}

impl Line {
    /// The line's 1-based number.
    pub fn number(&self) -> u64 {
        match self {
            Line::Text { number, .. } | Line::Oversized { number, .. } => *number,
        }
    }
}

/// Reads lines of at most [`MAX_RECORD_BYTES`] bytes.
pub struct LineReader {
    inner: TextReader,
    number: u64,
    path: PathBuf,
    /// Whether a lone `\r` ends a line.
    split_on_cr: bool,
}

impl LineReader {
    /// Lines of `inner` ended by `\n` or `\r\n`, numbered from 1; `path`
    /// names it in errors.
    pub fn new(inner: TextReader, path: PathBuf) -> Self {
        LineReader {
            inner,
            number: 0,
            path,
            split_on_cr: false,
        }
    }

    /// Lines also ended by a lone `\r`, as old Mac spreadsheets write them.
    pub fn split_on_cr(mut self) -> Self {
        self.split_on_cr = true;
        self
    }

    fn fill(&mut self) -> Result<&[u8], SourceError> {
        self.inner.fill_buf().map_err(|source| SourceError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The next line, or None at the end of the input. A line over the limit
    /// is read to its end without being kept, unless `stop_at_limit`: then
    /// reading stops at the limit (for a header, where nothing after it
    /// could be used).
    pub fn next_line_with(&mut self, stop_at_limit: bool) -> Result<Option<Line>, SourceError> {
        self.next_line_in(Vec::new(), stop_at_limit)
    }

    /// Like [`LineReader::next_line_with`], reading into `bytes` (cleared
    /// first), so that a caller can reuse one allocation line after line.
    pub fn next_line_in(
        &mut self,
        mut bytes: Vec<u8>,
        stop_at_limit: bool,
    ) -> Result<Option<Line>, SourceError> {
        bytes.clear();
        let mut oversized = false;
        let mut read_any = false;
        let mut ending = Ending::None;
        let split_on_cr = self.split_on_cr;
        loop {
            let available = self.fill()?;
            if available.is_empty() {
                break;
            }
            read_any = true;
            let found = if split_on_cr {
                memchr::memchr2(b'\n', b'\r', available)
            } else {
                memchr::memchr(b'\n', available)
            };
            let (chunk_len, brk) = match found {
                Some(i) => (i, Some(available[i])),
                None => (available.len(), None),
            };
            if !oversized {
                let room = MAX_RECORD_BYTES + 1 - bytes.len();
                bytes.extend_from_slice(&available[..chunk_len.min(room)]);
                if bytes.len() > MAX_RECORD_BYTES {
                    oversized = true;
                    bytes.truncate(OVERSIZED_START);
                }
            }
            match brk {
                None => {
                    self.inner.consume(chunk_len);
                    if oversized && stop_at_limit {
                        break;
                    }
                }
                Some(b'\n') => {
                    self.inner.consume(chunk_len + 1);
                    ending = Ending::Lf;
                    break;
                }
                Some(_) => {
                    self.inner.consume(chunk_len + 1);
                    ending = match self.fill()?.first() {
                        Some(b'\n') => {
                            self.inner.consume(1);
                            Ending::CrLf
                        }
                        _ => Ending::Cr,
                    };
                    break;
                }
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
        if ending == Ending::Lf && bytes.last() == Some(&b'\r') {
            bytes.pop();
            ending = Ending::CrLf;
        }
        Ok(Some(Line::Text {
            number,
            bytes,
            ending,
        }))
    }

    /// The next line (see [`LineReader::next_line_with`]).
    pub fn next_line(&mut self) -> Result<Option<Line>, SourceError> {
        self.next_line_with(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(bytes: Vec<u8>) -> LineReader {
        LineReader::new(Box::new(Cursor::new(bytes)), PathBuf::from("test"))
    }

    #[test]
    fn long_lines_are_passed_over_and_numbering_goes_on() {
        let mut input = b"a,b\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        input.extend_from_slice(b"\nlast");
        let mut lines = reader(input);
        assert_eq!(
            lines.next_line().unwrap(),
            Some(Line::Text {
                number: 1,
                bytes: b"a,b".to_vec(),
                ending: Ending::CrLf
            })
        );
        match lines.next_line().unwrap() {
            Some(Line::Oversized { number: 2, start }) => assert_eq!(start.len(), 1024),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            lines.next_line().unwrap(),
            Some(Line::Text {
                number: 3,
                bytes: b"last".to_vec(),
                ending: Ending::None
            })
        );
        assert_eq!(lines.next_line().unwrap(), None);
    }

    #[test]
    fn lone_carriage_returns_end_lines_when_asked() {
        let mut lines = reader(b"a\rb\r\nc".to_vec()).split_on_cr();
        let mut got = Vec::new();
        while let Some(Line::Text { bytes, ending, .. }) = lines.next_line().unwrap() {
            got.push((bytes, ending));
        }
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), Ending::Cr),
                (b"b".to_vec(), Ending::CrLf),
                (b"c".to_vec(), Ending::None)
            ]
        );
        let mut plain = reader(b"a\rb\n".to_vec());
        assert!(matches!(
            plain.next_line().unwrap(),
            Some(Line::Text { bytes, .. }) if bytes == b"a\rb"
        ));
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        let input = vec![b'y'; MAX_RECORD_BYTES];
        match reader(input).next_line().unwrap() {
            Some(Line::Text { bytes, .. }) => assert_eq!(bytes.len(), MAX_RECORD_BYTES),
            other => panic!("{other:?}"),
        }
    }
}
