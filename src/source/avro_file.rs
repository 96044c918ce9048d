//! Avro object container files (`.avro`, any codec the Avro crate reads:
//! null, deflate, snappy, zstandard): each record is mapped as the same
//! JSON object would be, with the file's own schema.

use std::collections::VecDeque;
use std::path::Path;

use super::json_tree::Json;

use crate::engine::{EventBatch, RejectReason, Rejected};

use super::input::TextReader;
use super::jsonl::{JsonMapper, sample_parsed};
use super::schema::{self, ColumnSample, DetectionBudget, Mapping};
use super::values::avro_to_json;
use super::{BATCH_EVENTS, EventSource, SourceError, SourceOptions, SpareBatches};

/// What one record counts for in detection's byte budget: the reader does
/// not say how many bytes a record took.
const RECORD_BYTES_GUESS: usize = 100;

/// Reads the records of an Avro container file.
pub struct AvroFileSource {
    name: String,
    records: apache_avro::Reader<'static, TextReader>,
    /// Records read for detection, not mapped yet (and the error that
    /// stopped detection, if one did).
    pending: VecDeque<Result<Json<'static>, String>>,
    mapper: JsonMapper,
    mapping: Mapping,
    spare: SpareBatches,
    empty: bool,
    /// Records read so far (the next one's number is this + 1).
    read: u64,
    /// True once a block could not be read: nothing after it can be.
    broken: bool,
}

impl AvroFileSource {
    /// Reads the file's header and first records, and detects the mapping
    /// from them.
    pub fn open(
        path: &Path,
        text: TextReader,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let shown = crate::format::printable(&path.display().to_string()).into_owned();
        let mut records = apache_avro::Reader::new(text).map_err(|e| {
            SourceError::NotEvents(format!("{shown} is not an Avro container file: {e}"))
        })?;
        let parser = options.time_parser();
        let mut pending = VecDeque::new();
        let mut columns: Vec<ColumnSample> = Vec::new();
        let mut budget = DetectionBudget::default();
        let mut broken = None;
        while budget.wants_more() {
            match records.next() {
                None => break,
                Some(Ok(record)) => {
                    let record = avro_to_json(record);
                    let events = sample_parsed(&mut columns, &record.to_value());
                    budget.count_many(events.max(1), RECORD_BYTES_GUESS);
                    pending.push_back(Ok(record));
                }
                Some(Err(e)) => {
                    broken = Some(e.to_string());
                    pending.push_back(Err(e.to_string()));
                    break;
                }
            }
        }
        let empty = pending.is_empty() && broken.is_none();
        let mapping = if empty {
            Mapping::of_empty(&columns, &options.overrides, &parser)?
        } else {
            schema::detect(&columns, &options.overrides, &parser)?
        };
        let mapper = JsonMapper::new(&mapping, options, parser);
        Ok(AvroFileSource {
            name: path.display().to_string(),
            records,
            pending,
            mapper,
            mapping,
            spare: SpareBatches::default(),
            empty,
            read: 0,
            broken: false,
        })
    }

    fn process(&mut self, record: Result<Json<'static>, String>, batch: &mut EventBatch) {
        self.read += 1;
        let number = self.read;
        match record {
            Ok(record) => self
                .mapper
                .map_record(&record, || format!("record {number}"), batch),
            Err(error) => self.fail(&error, batch),
        }
    }

    /// A block that cannot be read ends the file: counted once, as a
    /// rejected record at its place.
    fn fail(&mut self, error: &str, batch: &mut EventBatch) {
        self.broken = true;
        batch.reject(Rejected::new(
            format!("record {}", self.read),
            RejectReason::Unparseable,
            format!("the Avro file cannot be read from here on: {error}"),
            "",
        ));
    }
}

impl EventSource for AvroFileSource {
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
        let mut records = 0;
        while batch.len() < BATCH_EVENTS && records < BATCH_EVENTS && !self.broken {
            let record = match self.pending.pop_front() {
                Some(record) => record,
                None => match self.records.next() {
                    Some(Ok(record)) => Ok(avro_to_json(record)),
                    Some(Err(e)) => Err(e.to_string()),
                    None => break,
                },
            };
            records += 1;
            self.process(record, &mut batch);
        }
        Ok((records > 0).then_some(batch))
    }
}
