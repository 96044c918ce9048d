//! CSV, TSV and other delimited text: header row, quoted fields, the
//! delimiter sniffed from the header (`,` `;` tab `|`) unless given.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

use crate::engine::{EventBatch, RejectReason, Rejected};

use super::csv_records::{CsvRecords, CsvRow, Outcome};
use super::input::TextReader;
use super::lines::LineReader;
use super::record::{Field, Record, RecordPlan, text_field};
use super::schema::{self, ColumnSample, DetectionBudget, Mapping};
use super::{BATCH_EVENTS, EventSource, SourceError, SourceOptions, SpareBatches, TimeParser};

/// Reads a delimited text file.
pub struct DelimitedSource {
    name: String,
    records: CsvRecords,
    headers: usize,
    pending: VecDeque<Result<CsvRow, Rejected>>,
    plan: RecordPlan<usize>,
    mapping: Mapping,
    parser: TimeParser,
    /// Consumed batches kept for reuse.
    spare: SpareBatches,
    /// The row read into, reused.
    row: CsvRow,
    done: bool,
    /// True when the input held no record at all.
    empty: bool,
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
    /// Reads the header of `text` (the input `path`), finds the delimiter,
    /// and detects the mapping from the first rows.
    pub fn open(
        path: &Path,
        mut text: TextReader,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let delimiter = match options.delimiter {
            Some(d) => d,
            None => sniff_delimiter(text.fill_buf().map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?),
        };
        let lines = LineReader::new(text, path.to_path_buf()).split_on_cr();
        let mut records = CsvRecords::new(lines, delimiter);
        let header = records.header()?;
        let names: Vec<String> = header
            .iter()
            .flat_map(|h| h.fields())
            .enumerate()
            .map(|(i, h)| {
                let name = String::from_utf8_lossy(h).trim().to_owned();
                if name.is_empty() {
                    format!("column{}", i + 1)
                } else {
                    name
                }
            })
            .collect();
        records.expect_fields(names.len());
        let mut columns: Vec<ColumnSample> = names
            .iter()
            .map(|n| ColumnSample {
                name: n.clone(),
                ..ColumnSample::default()
            })
            .collect();
        let mut pending = VecDeque::new();
        let mut done = header.is_none();
        let mut budget = DetectionBudget::default();
        while !done && budget.wants_more() {
            let mut row = CsvRow::default();
            match records.next(&mut row)? {
                Some(Outcome::Row) => {
                    budget.count(row.raw().len());
                    for (column, value) in columns.iter_mut().zip(row.fields()) {
                        if let Ok(v) = std::str::from_utf8(value) {
                            column.sample(v);
                        }
                    }
                    pending.push_back(Ok(row));
                }
                Some(Outcome::Rejected(rejected)) => {
                    budget.count(rejected.record.len());
                    pending.push_back(Err(rejected));
                }
                None => done = true,
            }
        }
        let empty = done && pending.is_empty();
        let mapping = if empty {
            Mapping::of_empty(&columns, &options.overrides, &options.time_parser())?
        } else {
            schema::detect(&columns, &options.overrides, &options.time_parser())?
        };
        let index = |name: &String| names.iter().position(|n| n == name).unwrap_or(usize::MAX);
        let plan = RecordPlan {
            customer: index(&mapping.customer),
            customer_fallback: mapping.customer_fallback.as_ref().map(index),
            event: index(&mapping.event),
            time: index(&mapping.time),
            event_id: mapping.event_id.as_ref().map(index),
            session_id: mapping.session_id.as_ref().map(index),
            properties: options
                .property_columns(&mapping)
                .into_iter()
                .filter_map(|(p, column)| Some((p, names.iter().position(|n| *n == column)?)))
                .collect(),
            pseudonyms: options.pseudonymize.clone(),
            hidden: super::record::Hidden::new(&options.hidden_properties, |name| {
                names.iter().position(|n| n == name)
            }),
        };
        Ok(DelimitedSource {
            name: path.display().to_string(),
            records,
            headers: names.len(),
            pending,
            plan,
            parser: options.time_parser_for(&mapping),
            mapping,
            spare: SpareBatches::default(),
            row: CsvRow::default(),
            done,
            empty,
        })
    }

    fn process(
        plan: &RecordPlan<usize>,
        parser: &TimeParser,
        headers: usize,
        row: &CsvRow,
        batch: &mut EventBatch,
    ) {
        let line = row.line;
        let position = || format!("line {line}");
        if row.len() != headers {
            let detail = format!("expected {headers} fields, found {}", row.len());
            batch.reject(Rejected::new(
                position(),
                RejectReason::Unparseable,
                detail,
                &String::from_utf8_lossy(row.raw()),
            ));
        } else {
            plan.apply(&CsvRecord(row), parser, position, batch);
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

    fn is_empty_input(&self) -> bool {
        self.empty
    }

    fn recycle(&mut self, batch: EventBatch) {
        self.spare.put(batch);
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        let mut batch = self.spare.take();
        let mut rows = 0;
        while rows < BATCH_EVENTS {
            if let Some(pending) = self.pending.pop_front() {
                match pending {
                    Ok(row) => {
                        Self::process(&self.plan, &self.parser, self.headers, &row, &mut batch)
                    }
                    Err(rejected) => batch.reject(rejected),
                }
                rows += 1;
                continue;
            }
            if self.done {
                break;
            }
            match self.records.next(&mut self.row)? {
                Some(Outcome::Row) => {
                    Self::process(
                        &self.plan,
                        &self.parser,
                        self.headers,
                        &self.row,
                        &mut batch,
                    );
                    rows += 1;
                }
                Some(Outcome::Rejected(rejected)) => {
                    batch.reject(rejected);
                    rows += 1;
                }
                None => self.done = true,
            }
        }
        Ok((rows > 0).then_some(batch))
    }
}

struct CsvRecord<'a>(&'a CsvRow);

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
        String::from_utf8_lossy(self.0.raw()).into_owned()
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
