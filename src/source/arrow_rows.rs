//! Rows of Arrow columns mapped into events: what the Parquet reader and
//! DuckDB's answers have in common. A selection names the columns a
//! mapping reads, every field as text and the time last; each batch of
//! arrays in that order is mapped row by row through the record plan.

use duckdb::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::engine::EventBatch;

use super::record::{Field, Record, RecordPlan, text_field};
use super::schema::Mapping;
use super::{BATCH_EVENTS, SourceError, SourceOptions, TimeParser};

/// How the time column is read, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeKind {
    /// TIMESTAMP WITH TIME ZONE: an instant.
    Instant,
    /// TIMESTAMP / DATE without zone: read in the configured zone.
    Naive,
    /// TIMESTAMPTZ_NS (Parquet's nanosecond instants): to the nanosecond.
    InstantNs,
    /// TIMESTAMP_NS: a wall-clock time to the nanosecond.
    NaiveNs,
    /// A whole number that fits 64 bits: epoch seconds, ms, µs or ns in
    /// the column's unit, exactly.
    Integer,
    /// Any other number: epoch seconds, ms, µs or ns in the column's unit.
    Number,
    /// Anything else, read as text.
    Text,
}

impl TimeKind {
    /// A native time type, which needs no unit.
    pub(super) fn is_native(self) -> bool {
        matches!(
            self,
            TimeKind::Instant | TimeKind::Naive | TimeKind::InstantNs | TimeKind::NaiveNs
        )
    }
}

/// The columns a mapping reads, in order, and how each becomes a field.
pub(super) struct Selection {
    /// The column names, in order; the plan's keys index them. The time
    /// column is the last.
    pub columns: Vec<String>,
    /// Where each field of an event is among `columns`.
    pub plan: RecordPlan<usize>,
    /// How the time column is read.
    pub time_kind: TimeKind,
}

impl Selection {
    /// What to read for `mapping`: every field as text, and the time last,
    /// read as `time_kind`; properties only from columns that `exists`.
    pub fn new(
        mapping: &Mapping,
        time_kind: TimeKind,
        exists: impl Fn(&str) -> bool,
        options: &SourceOptions,
    ) -> Selection {
        let mut columns: Vec<String> = Vec::new();
        let mut column = |name: &str| {
            columns.push(name.to_owned());
            columns.len() - 1
        };
        let customer = column(&mapping.customer);
        let customer_fallback = mapping.customer_fallback.as_deref().map(&mut column);
        let event = column(&mapping.event);
        let event_id = mapping.event_id.as_deref().map(&mut column);
        let session_id = mapping.session_id.as_deref().map(&mut column);
        let properties: Vec<(String, usize)> = options
            .property_columns(mapping)
            .into_iter()
            .filter(|(_, name)| exists(name))
            .map(|(p, name)| {
                let at = column(&name);
                (p, at)
            })
            .collect();
        let time = column(&mapping.time);
        let plan = RecordPlan {
            customer,
            customer_fallback,
            event,
            time,
            event_id,
            session_id,
            hidden: super::record::Hidden::new(&options.hidden_properties, |name| {
                properties
                    .iter()
                    .find(|(p, _)| p == name)
                    .map(|(_, at)| *at)
            }),
            properties,
            pseudonyms: options.pseudonymize.clone(),
        };
        Selection {
            columns,
            plan,
            time_kind,
        }
    }
}

/// Fills an event batch from Arrow arrays in a selection's order.
pub(super) struct BatchFiller<'a> {
    selection: &'a Selection,
    parser: &'a TimeParser,
    batch: EventBatch,
    /// Rows mapped so far, counting from the first row of the source.
    row_number: u64,
}

impl<'a> BatchFiller<'a> {
    /// A filler of `batch` whose next row is the source's row
    /// `rows_before + 1`.
    pub fn new(
        selection: &'a Selection,
        parser: &'a TimeParser,
        batch: EventBatch,
        rows_before: u64,
    ) -> Self {
        BatchFiller {
            selection,
            parser,
            batch,
            row_number: rows_before,
        }
    }

    /// Maps the rows of `arrays` into the batch.
    pub fn add(&mut self, arrays: &[ArrayRef]) -> Result<(), SourceError> {
        let plan = &self.selection.plan;
        let columns = ArrowColumns::new(arrays, self.selection.time_kind, plan.time)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        for row in 0..rows {
            self.row_number += 1;
            let record = ArrowRow {
                columns: &columns,
                row,
            };
            let row_number = self.row_number;
            plan.apply(
                &record,
                self.parser,
                || format!("row {row_number}"),
                &mut self.batch,
            );
        }
        Ok(())
    }

    /// True once the batch holds [`BATCH_EVENTS`] events and rejected
    /// records.
    pub fn is_full(&self) -> bool {
        self.batch.len() + self.batch.rejected.len() >= BATCH_EVENTS
    }

    /// The batch so far, `fresh` taking its place.
    pub fn swap(&mut self, fresh: EventBatch) -> EventBatch {
        std::mem::replace(&mut self.batch, fresh)
    }

    /// The batch, unless nothing went into it.
    pub fn rest(self) -> Option<EventBatch> {
        (!self.batch.is_empty() || !self.batch.rejected.is_empty()).then_some(self.batch)
    }
}

enum Column {
    Text(StringArray),
    /// Microseconds; `naive` when the type had no zone.
    Micros {
        values: Int64Array,
        naive: bool,
    },
    /// Nanoseconds; `naive` when the type had no zone.
    Nanos {
        values: Int64Array,
        naive: bool,
    },
    /// Whole epoch numbers, in the column's unit.
    Integer(Int64Array),
    Float(Float64Array),
}

struct ArrowColumns {
    columns: Vec<Column>,
}

impl ArrowColumns {
    fn new(
        arrays: &[ArrayRef],
        time_kind: TimeKind,
        time_index: usize,
    ) -> Result<Self, SourceError> {
        let arrow_error = SourceError::Arrow;
        let columns = arrays
            .iter()
            .enumerate()
            .map(|(i, array)| {
                Ok(match (i == time_index, time_kind) {
                    (true, TimeKind::Instant | TimeKind::Naive) => {
                        let array = cast(array, &DataType::Int64).map_err(arrow_error)?;
                        Column::Micros {
                            values: array.as_primitive::<Int64Type>().clone(),
                            naive: time_kind == TimeKind::Naive,
                        }
                    }
                    (true, TimeKind::InstantNs | TimeKind::NaiveNs) => {
                        let array = cast(array, &DataType::Int64).map_err(arrow_error)?;
                        Column::Nanos {
                            values: array.as_primitive::<Int64Type>().clone(),
                            naive: time_kind == TimeKind::NaiveNs,
                        }
                    }
                    (true, TimeKind::Integer) => {
                        let array = cast(array, &DataType::Int64).map_err(arrow_error)?;
                        Column::Integer(array.as_primitive::<Int64Type>().clone())
                    }
                    (true, TimeKind::Number) => {
                        let array = cast(array, &DataType::Float64).map_err(arrow_error)?;
                        Column::Float(array.as_primitive::<Float64Type>().clone())
                    }
                    _ => {
                        let array = cast(array, &DataType::Utf8).map_err(arrow_error)?;
                        Column::Text(array.as_string::<i32>().clone())
                    }
                })
            })
            .collect::<Result<_, SourceError>>()?;
        Ok(ArrowColumns { columns })
    }
}

struct ArrowRow<'a> {
    columns: &'a ArrowColumns,
    row: usize,
}

impl Record<usize> for ArrowRow<'_> {
    fn field(&self, key: &usize) -> Field<'_> {
        let row = self.row;
        match &self.columns.columns[*key] {
            Column::Text(a) if a.is_valid(row) => text_field(a.value(row)),
            Column::Micros { values, naive } if values.is_valid(row) => match naive {
                true => Field::LocalTimestampUs(values.value(row)),
                false => Field::TimestampUs(values.value(row)),
            },
            Column::Nanos { values, naive } if values.is_valid(row) => match naive {
                true => Field::LocalTimestampNs(values.value(row)),
                false => Field::TimestampNs(values.value(row)),
            },
            Column::Integer(a) if a.is_valid(row) => Field::Integer(a.value(row)),
            Column::Float(a) if a.is_valid(row) => Field::Number(a.value(row)),
            _ => Field::Missing,
        }
    }

    fn raw_text(&self) -> String {
        let values: Vec<String> = (0..self.columns.columns.len())
            .map(|i| match self.field(&i) {
                Field::Text(t) => t.into_owned(),
                Field::TimestampUs(us) | Field::LocalTimestampUs(us) => us.to_string(),
                Field::TimestampNs(ns) | Field::LocalTimestampNs(ns) => ns.to_string(),
                Field::Integer(n) => n.to_string(),
                Field::Number(n) => n.to_string(),
                _ => "NULL".to_owned(),
            })
            .collect();
        values.join(", ")
    }
}
