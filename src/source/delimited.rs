//! CSV, TSV and other delimited text: header row, quoted fields, the
//! delimiter sniffed from the header (`,` `;` tab `|`) unless given.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};

use crate::engine::{EventBatch, MAX_RECORD_BYTES, RejectReason, Rejected};

use super::record::{Field, Record, RecordPlan, text_field};
use super::schema::{self, ColumnSample, Mapping};
use super::{
    BATCH_EVENTS, DETECTION_SAMPLE, EventSource, SourceError, SourceOptions, SpareBatches,
    TimeParser, input,
};

/// Reads a delimited text file.
pub struct DelimitedSource {
    name: String,
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    headers: usize,
    pending: VecDeque<Result<ByteRecord, Rejected>>,
    plan: RecordPlan<usize>,
    mapping: Mapping,
    parser: TimeParser,
    /// Consumed batches kept for reuse.
    spare: SpareBatches,
    done: bool,
    path: std::path::PathBuf,
}

const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The delimiter that occurs most often outside quotes in the first line.
pub fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let mut counts = [0usize; CANDIDATE_DELIMITERS.len()];
    let mut quoted = false;
    for byte in first_line {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATE_DELIMITERS.iter().position(|d| d == byte) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..counts.len()).max_by_key(|i| (counts[*i], usize::MAX - i));
    match best {
        Some(i) if counts[i] > 0 => CANDIDATE_DELIMITERS[i],
        _ => b',',
    }
}

impl DelimitedSource {
    /// Opens the file, finds the delimiter and header, and detects the
    /// mapping from the first rows.
    pub fn open(path: &Path, options: &SourceOptions) -> Result<Self, SourceError> {
        let io = |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = input::open_text(path)?;
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => sniff_delimiter(text.fill_buf().map_err(io)?),
        };
        let mut reader = ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(text);
        let headers = reader
            .byte_headers()
            .map_err(|e| SourceError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e),
            })?
            .clone();
        let names: Vec<String> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let name = String::from_utf8_lossy(h).trim().to_owned();
                let name = name.trim_start_matches('\u{feff}').to_owned();
                if name.is_empty() {
                    format!("column{}", i + 1)
                } else {
                    name
                }
            })
            .collect();
        let mut columns: Vec<ColumnSample> = names
            .iter()
            .map(|n| ColumnSample {
                name: n.clone(),
                ..ColumnSample::default()
            })
            .collect();
        let mut pending = VecDeque::new();
        let mut done = false;
        while pending.len() < DETECTION_SAMPLE {
            let mut record = ByteRecord::new();
            match reader.read_byte_record(&mut record) {
                Ok(true) => {
                    for (column, value) in columns.iter_mut().zip(record.iter()) {
                        if let Ok(v) = std::str::from_utf8(value)
                            && !v.trim().is_empty()
                        {
                            column.values.push(v.to_owned());
                        }
                    }
                    pending.push_back(Ok(record));
                }
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    return Err(SourceError::Io {
                        path: path.to_path_buf(),
                        source: std::io::Error::other(e.to_string()),
                    });
                }
                Err(e) => pending.push_back(Err(unreadable(&e))),
            }
        }
        let mapping = schema::detect(&columns, &options.overrides, &options.time_parser())?;
        let index = |name: &String| names.iter().position(|n| n == name).unwrap_or(usize::MAX);
        let plan = RecordPlan {
            customer: index(&mapping.customer),
            customer_fallback: mapping.customer_fallback.as_ref().map(index),
            event: index(&mapping.event),
            time: index(&mapping.time),
            event_id: mapping.event_id.as_ref().map(index),
            session_id: mapping.session_id.as_ref().map(index),
            properties: options
                .wanted_properties
                .iter()
                .filter_map(|p| Some((p.clone(), names.iter().position(|n| n == p)?)))
                .collect(),
        };
        Ok(DelimitedSource {
            name: path.display().to_string(),
            reader,
            headers: names.len(),
            pending,
            plan,
            mapping,
            parser: options.time_parser(),
            spare: SpareBatches::default(),
            done,
            path: path.to_path_buf(),
        })
    }

    fn process(&self, record: &ByteRecord, batch: &mut EventBatch) {
        let line = record.position().map_or(0, |p| p.line());
        let position = || format!("line {line}");
        let raw = || {
            let fields: Vec<Cow<str>> = record.iter().map(String::from_utf8_lossy).collect();
            fields.join(",")
        };
        if record.as_slice().len() > MAX_RECORD_BYTES {
            let detail = format!("the row is longer than {MAX_RECORD_BYTES} bytes");
            batch.reject(Rejected::new(
                position(),
                RejectReason::Oversized,
                detail,
                &raw(),
            ));
        } else if record.len() != self.headers {
            let detail = format!("expected {} fields, found {}", self.headers, record.len());
            batch.reject(Rejected::new(
                position(),
                RejectReason::Unparseable,
                detail,
                &raw(),
            ));
        } else {
            self.plan
                .apply(&CsvRecord(record), &self.parser, position, batch);
        }
    }
}

impl EventSource for DelimitedSource {
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
        let mut rows = 0;
        let mut record = ByteRecord::new();
        while rows < BATCH_EVENTS {
            if let Some(pending) = self.pending.pop_front() {
                match pending {
                    Ok(record) => self.process(&record, &mut batch),
                    Err(rejected) => batch.reject(rejected),
                }
                rows += 1;
                continue;
            }
            if self.done {
                break;
            }
            match self.reader.read_byte_record(&mut record) {
                Ok(true) => {
                    self.process(&record, &mut batch);
                    rows += 1;
                }
                Ok(false) => self.done = true,
                Err(e) => match e.kind() {
                    csv::ErrorKind::Io(_) => {
                        return Err(SourceError::Io {
                            path: self.path.clone(),
                            source: std::io::Error::other(e.to_string()),
                        });
                    }
                    _ => {
                        batch.reject(unreadable(&e));
                        rows += 1;
                    }
                },
            }
        }
        Ok((rows > 0).then_some(batch))
    }
}

fn unreadable(e: &csv::Error) -> Rejected {
    let line = e.position().map_or(0, |p| p.line());
    Rejected::new(
        format!("line {line}"),
        RejectReason::Unparseable,
        e.to_string(),
        "",
    )
}

struct CsvRecord<'a>(&'a ByteRecord);

impl Record<usize> for CsvRecord<'_> {
    fn field(&self, key: &usize) -> Field<'_> {
        match self.0.get(*key) {
            None => Field::Missing,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => text_field(text),
                Err(_) => Field::InvalidUtf8,
            },
        }
    }

    fn raw_text(&self) -> String {
        let fields: Vec<Cow<str>> = self.0.iter().map(String::from_utf8_lossy).collect();
        fields.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3"), b',');
        assert_eq!(
            sniff_delimiter(b"Case ID;Activity;Complete Timestamp\n"),
            b';'
        );
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|c"), b'|');
        assert_eq!(sniff_delimiter(b"\"x;y\",b,c"), b',');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }
}
