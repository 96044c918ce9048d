//! Avro object container files (`.avro`, any codec the Avro crate reads:
//! null, deflate, snappy, zstandard): each record is mapped as the same
//! JSON object would be, with the file's own schema.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use apache_avro::{Codec, Schema};

use super::json_tree::Json;

use crate::engine::{EventBatch, RejectReason, Rejected};

use super::input::TextReader;
use super::jsonl::{JsonMapper, sample_parsed};
use super::schema::{self, ColumnSample, DetectionBudget, Mapping};
use super::values::{AvroSchema, DecodeError, decode_datum};
use super::{BATCH_EVENTS, EventSource, SourceError, SourceOptions, SpareBatches};

/// What one record counts for in detection's byte budget: the reader does
/// not say how many bytes a record took.
const RECORD_BYTES_GUESS: usize = 100;

/// Blocks larger than this are not read (as the Avro crate's own limit).
const MAX_BLOCK_BYTES: u64 = 512 << 20;

/// Header metadata larger than this is not read.
const MAX_HEADER_BYTES: usize = 64 << 20;

/// One record of the file, as read.
enum Datum {
    /// Decoded.
    Record(Json<'static>),
    /// Nests deeper than the engine walks: rejected, and passed over.
    TooDeep,
    /// In the same block after a record too deep to find its end: not read.
    Lost,
    /// Cannot be read, nor anything after it: why.
    Broken(String),
}

/// An Avro object container: a header (magic, metadata with the schema
/// and codec, a sync marker), then blocks of records. Read here rather
/// than by the Avro crate's reader so that each record is walked before
/// it is decoded (see `values::avro_walk`).
struct Container {
    input: TextReader,
    schema: AvroSchema,
    codec: Codec,
    marker: [u8; 16],
    /// The current block, decompressed, and where the next record starts.
    block: Vec<u8>,
    at: usize,
    /// Records left in the current block.
    left: u64,
    /// Records of the current block passed over unread.
    lost: u64,
}

fn read_long(input: &mut TextReader) -> Result<Option<i64>, String> {
    let mut value = 0u64;
    for shift in 0..10 {
        let mut byte = [0u8];
        match input.read(&mut byte) {
            Ok(0) if shift == 0 => return Ok(None),
            Ok(0) => return Err("the file ends inside a number".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        value |= u64::from(byte[0] & 0x7f) << (shift * 7);
        if byte[0] & 0x80 == 0 {
            return Ok(Some(((value >> 1) as i64) ^ -((value & 1) as i64)));
        }
    }
    Err("a number longer than ten bytes".into())
}

fn read_exactly(input: &mut TextReader, length: i64, limit: u64) -> Result<Vec<u8>, String> {
    let length = u64::try_from(length).map_err(|_| format!("a length of {length}"))?;
    if length > limit {
        return Err(format!("a part of {length} bytes, more than {limit}"));
    }
    let mut bytes = Vec::new();
    input
        .take(length)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if (bytes.len() as u64) < length {
        return Err("the file ends early".into());
    }
    Ok(bytes)
}

impl Container {
    fn open(mut input: TextReader) -> Result<Self, String> {
        let mut magic = [0u8; 4];
        input.read_exact(&mut magic).map_err(|e| e.to_string())?;
        if magic != *b"Obj\x01" {
            return Err("it does not start with the Avro magic bytes".into());
        }
        let metadata = Self::metadata(&mut input)?;
        let field = |key: &str| metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let schema_text = field("avro.schema").ok_or("the header holds no schema")?;
        let json: serde_json::Value = serde_json::from_slice(schema_text)
            .map_err(|e| format!("its schema is not JSON: {e}"))?;
        let schema = Schema::parse(&json).map_err(|e| e.to_string())?;
        let codec = match field("avro.codec") {
            None => Codec::Null,
            Some(name) => {
                let name = String::from_utf8_lossy(name);
                Codec::from_str(&name)
                    .map_err(|_| format!("the codec `{name}` is not supported"))?
            }
        };
        let mut marker = [0u8; 16];
        input.read_exact(&mut marker).map_err(|e| e.to_string())?;
        Ok(Container {
            input,
            schema: AvroSchema::plain(schema)?,
            codec,
            marker,
            block: Vec::new(),
            at: 0,
            left: 0,
            lost: 0,
        })
    }

    /// The header's metadata: a map of byte strings.
    fn metadata(input: &mut TextReader) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut entries = Vec::new();
        let mut bytes = 0usize;
        loop {
            let count = read_long(input)?.ok_or("the file ends in its header")?;
            if count == 0 {
                return Ok(entries);
            }
            if count < 0 {
                read_long(input)?;
            }
            for _ in 0..count.unsigned_abs() {
                let length = read_long(input)?.ok_or("the file ends in its header")?;
                let key = read_exactly(input, length, MAX_HEADER_BYTES as u64)?;
                let length = read_long(input)?.ok_or("the file ends in its header")?;
                let value = read_exactly(input, length, MAX_HEADER_BYTES as u64)?;
                bytes += key.len() + value.len() + 2;
                if bytes > MAX_HEADER_BYTES {
                    return Err("its header is larger than 64 MiB".into());
                }
                entries.push((String::from_utf8_lossy(&key).into_owned(), value));
            }
        }
    }

    /// Reads the next block; false at the end of the file.
    fn next_block(&mut self) -> Result<bool, String> {
        let Some(count) = read_long(&mut self.input)? else {
            return Ok(false);
        };
        let size = read_long(&mut self.input)?.ok_or("the file ends inside a block")?;
        let mut block = read_exactly(&mut self.input, size, MAX_BLOCK_BYTES)?;
        let mut marker = [0u8; 16];
        self.input
            .read_exact(&mut marker)
            .map_err(|_| "the file ends inside a block")?;
        if marker != self.marker {
            return Err("a block does not end with the file's sync marker".into());
        }
        self.codec
            .decompress(&mut block)
            .map_err(|e| e.to_string())?;
        let count = u64::try_from(count).map_err(|_| format!("a block of {count} records"))?;
        // Each record takes a byte but for a few thousand (nulls, empty
        // records): more is no count of records.
        if count > block.len() as u64 * 2 + 4096 {
            return Err(format!(
                "a block says it holds {count} records in {} bytes",
                block.len()
            ));
        }
        self.block = block;
        self.at = 0;
        self.left = count;
        Ok(true)
    }

    fn next(&mut self) -> Option<Datum> {
        if self.lost > 0 {
            self.lost -= 1;
            return Some(Datum::Lost);
        }
        while self.left == 0 {
            match self.next_block() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Datum::Broken(e)),
            }
        }
        self.left -= 1;
        let (decoded, taken) = decode_datum(&self.schema, &self.block[self.at..]);
        if let (Err(DecodeError::TooDeep), None) = (&decoded, taken) {
            // Where it ends is not known: the rest of its block is passed
            // over, each record counted.
            self.lost = std::mem::take(&mut self.left);
            return Some(Datum::TooDeep);
        }
        let Some(taken) = taken else {
            let why = match decoded {
                Err(e) => e.to_string(),
                Ok(_) => "a record without an end".into(),
            };
            return Some(Datum::Broken(why));
        };
        self.at += taken;
        Some(match decoded {
            Ok(record) => Datum::Record(record),
            Err(DecodeError::TooDeep) => Datum::TooDeep,
            Err(DecodeError::Mismatch(e)) => Datum::Broken(e),
        })
    }
}

/// Reads the records of an Avro container file.
pub struct AvroFileSource {
    name: String,
    records: Container,
    /// Records read for detection, not mapped yet (and the error that
    /// stopped detection, if one did).
    pending: VecDeque<Datum>,
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
        let mut records = Container::open(text).map_err(|e| {
            SourceError::NotEvents(format!("{shown} is not an Avro container file: {e}"))
        })?;
        let parser = options.time_parser();
        let mut pending = VecDeque::new();
        let mut columns: Vec<ColumnSample> = Vec::new();
        let mut budget = DetectionBudget::default();
        let mut broken = false;
        while budget.wants_more() && !broken {
            let Some(datum) = records.next() else {
                break;
            };
            match &datum {
                Datum::Record(record) => {
                    let events = sample_parsed(&mut columns, &record.to_value());
                    budget.count_many(events.max(1), RECORD_BYTES_GUESS);
                }
                Datum::TooDeep | Datum::Lost => budget.count_many(1, RECORD_BYTES_GUESS),
                Datum::Broken(_) => broken = true,
            }
            pending.push_back(datum);
        }
        let empty = pending.is_empty();
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

    fn process(&mut self, datum: Datum, batch: &mut EventBatch) {
        self.read += 1;
        let number = self.read;
        match datum {
            Datum::Record(record) => {
                self.mapper
                    .map_record(&record, || format!("record {number}"), batch)
            }
            Datum::TooDeep => batch.reject(Rejected::new(
                format!("record {number}"),
                RejectReason::TooDeep,
                format!("{}: not decoded", DecodeError::TooDeep),
                "",
            )),
            Datum::Lost => batch.reject(Rejected::new(
                format!("record {number}"),
                RejectReason::Unparseable,
                "not read: it follows, in the same block, a record nested too deep to find \
                 where that record ends",
                "",
            )),
            Datum::Broken(error) => self.fail(&error, batch),
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
                    Some(datum) => datum,
                    None => break,
                },
            };
            records += 1;
            self.process(record, &mut batch);
        }
        Ok((records > 0).then_some(batch))
    }
}
