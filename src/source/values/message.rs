//! Kafka message values mapped as events: decoded as the value format
//! says, then mapped as JSON objects are.

use std::sync::Arc;

use crate::engine::{EventBatch, MAX_RECORD_BYTES, RejectReason, Rejected};
use crate::source::jsonl::{JsonMapper, is_blank, sample_parsed, sample_value};
use crate::source::schema::ColumnSample;

use super::plan::{PlannedRecord, Wanted};
use super::plan_cache::Plans;
use super::{Decoded, ValueDecoder};
use crate::format::value_text;

/// Maps message values into batches: values with a schema through the
/// decoding plan of their writer schema, made the first time it is met,
/// else decoded whole.
pub struct MessageMapper {
    mapper: JsonMapper,
    decoder: Arc<ValueDecoder>,
    wanted: Wanted,
    /// None: every value is decoded whole.
    plans: Option<Plans>,
    /// Values read by a plan so far.
    planned: std::cell::Cell<u64>,
}

impl MessageMapper {
    /// Maps with `mapper` what `decoder` reads.
    pub fn new(mapper: JsonMapper, decoder: Arc<ValueDecoder>) -> Self {
        MessageMapper {
            wanted: Wanted::of(mapper.record_plan()),
            mapper,
            decoder,
            plans: Some(Plans::default()),
            planned: std::cell::Cell::new(0),
        }
    }

    /// How many values a decoding plan read (the others were decoded
    /// whole).
    pub fn planned(&self) -> u64 {
        self.planned.get()
    }

    /// Decodes every value whole with the crates' decoders, without
    /// plans: what the plans are measured and tested against.
    pub fn decoding_whole(mut self) -> Self {
        self.plans = None;
        self
    }

    /// Maps the message at `offset` of `partition` (see
    /// [`MessageMapper::map_message`]); its rejected records are placed in
    /// event time after the event before them on the partition
    /// (`last_event_us`, moved on by the events mapped), the same in a
    /// replay whatever the batches.
    pub fn map_on_partition(
        &self,
        value: Option<&[u8]>,
        (partition, offset): (i32, i64),
        batch: &mut EventBatch,
        last_event_us: &mut Option<i64>,
    ) {
        let (events, rejected) = (batch.len(), batch.rejected.len());
        batch.from_partition(partition);
        self.map_message(
            value,
            || format!("partition {partition} offset {offset}"),
            batch,
        );
        if batch.len() > events {
            *last_event_us = batch.last_time_us();
        }
        if batch.rejected.len() > rejected {
            batch.place_rejected_from(rejected, *last_event_us);
        }
    }

    /// Maps one message's value: no value (a tombstone) and an empty value
    /// are rejected under their own reasons; a value no decoder reads, with
    /// why each failed.
    pub fn map_message(
        &self,
        value: Option<&[u8]>,
        position: impl Fn() -> String,
        batch: &mut EventBatch,
    ) {
        let bytes = match value {
            Some(bytes) if bytes.len() > MAX_RECORD_BYTES => {
                return batch.reject(oversized(bytes, position()));
            }
            Some(bytes) if !is_blank(bytes) => bytes,
            other => return self.mapper.map_message(other, position, batch),
        };
        if self.map_planned(bytes, &position, batch) {
            return;
        }
        match self.decoder.decode(bytes) {
            Ok(Decoded::Json { bytes, tried }) => {
                self.mapper
                    .map_bytes_after(bytes, tried.as_deref(), position, batch)
            }
            Ok(Decoded::Record(record)) => self.mapper.map_record(&record, position, batch),
            Err(failure) => batch.reject(Rejected::new(
                position(),
                failure.reason,
                failure.detail,
                &value_text(bytes),
            )),
        }
    }
}

impl MessageMapper {
    /// Maps `bytes` with its writer schema's plan; false when no plan
    /// read it (then it is decoded whole).
    fn map_planned(
        &self,
        bytes: &[u8],
        position: &impl Fn() -> String,
        batch: &mut EventBatch,
    ) -> bool {
        let Some(plans) = &self.plans else {
            return false;
        };
        let Some(target) = self.decoder.plan_target(bytes) else {
            return false;
        };
        let plan = plans.get(target.id, target.indexes, || {
            self.decoder.make_plan(&target, &self.wanted)
        });
        let Some(fields) = plan
            .as_ref()
            .and_then(|plan| plan.read(target.payload, self.wanted.len()))
        else {
            return false;
        };
        let record = PlannedRecord {
            fields,
            whole: || self.decoder.whole_text(bytes),
        };
        self.mapper
            .map_with(&self.wanted.plan, &record, position, batch);
        self.planned.set(self.planned.get() + 1);
        true
    }
}

/// The rejection of a value larger than a record may be, not decoded: the
/// same limit as a line of a file.
fn oversized(bytes: &[u8], position: String) -> Rejected {
    let start = &bytes[..bytes.len().min(OVERSIZED_SHOWN)];
    Rejected::new(
        position,
        RejectReason::Oversized,
        format!(
            "the value is {} bytes, longer than {MAX_RECORD_BYTES}: not decoded",
            bytes.len()
        ),
        &value_text(start),
    )
}

/// How much of an oversized value is kept to show.
const OVERSIZED_SHOWN: usize = 1024;

/// Adds the fields of the events in a message's value (decoded as
/// `decoder` reads it) to `columns`; returns how many events it held
/// (none for a value larger than a record may be).
pub fn sample_message(
    decoder: &ValueDecoder,
    columns: &mut Vec<ColumnSample>,
    value: &[u8],
) -> usize {
    if value.len() > MAX_RECORD_BYTES {
        return 0;
    }
    match decoder.decode(value) {
        Ok(Decoded::Json { bytes, .. }) => sample_value(columns, bytes),
        Ok(Decoded::Record(record)) => sample_parsed(columns, &record.to_value()),
        Err(_) => 0,
    }
}
