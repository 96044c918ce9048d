//! Rows of Arrow columns mapped into events: what the Parquet reader and
//! DuckDB's answers have in common. Each batch of arrays, in a
//! [`Selection`]'s order, is mapped row by row: through a quick loop when
//! a row is plainly an event, else through the record plan.

use duckdb::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, StringArray,
};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};

use std::borrow::Cow;

use crate::engine::{EARLIEST_US, EventBatch, HeldEvent, LATEST_US, Span};

use super::record::{Field, Record, RecordPlan, text_field};
use super::selection::{Selection, TimeKind};
use super::threaded::ReaderEnd;
use super::timestamp::ReadTime;
use super::{BATCH_EVENTS, SourceError, TimeParser};

/// Fills an event batch from Arrow arrays in a selection's order.
pub(super) struct BatchFiller<'a> {
    selection: &'a Selection,
    parser: &'a TimeParser,
    batch: EventBatch,
    /// Rows mapped so far, counting from the first row of the source.
    row_number: u64,
    /// The quick loop's reading of the rows, column by column.
    rows: QuickRows,
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
            rows: QuickRows::default(),
        }
    }

    /// Maps the rows of `arrays` into the batch.
    fn add(&mut self, arrays: &[ArrayRef]) -> Result<(), SourceError> {
        let plan = &self.selection.plan;
        let columns = ArrowColumns::new(arrays, self.selection.time_kind, plan.time)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let mut quick = Quick::of(&columns, plan, rows);
        if let Some(quick) = &mut quick {
            quick.read(&mut self.rows, self.parser, &mut self.batch);
        }
        for row in 0..rows {
            self.row_number += 1;
            if let Some(quick) = &quick
                && quick.push(&self.rows, row, &mut self.batch)
            {
                continue;
            }
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

    /// Maps the rows of `arrays` and sends the batch to `end` once it
    /// holds [`BATCH_EVENTS`] events and rejected records; false when
    /// nobody reads any more (the reading was cancelled).
    pub fn add_sending(
        &mut self,
        arrays: &[ArrayRef],
        end: &ReaderEnd,
    ) -> Result<bool, SourceError> {
        self.add(arrays)?;
        if self.batch.len() + self.batch.rejected.len() < BATCH_EVENTS {
            return Ok(true);
        }
        let full = std::mem::replace(&mut self.batch, end.fresh_batch());
        Ok(end.batches.send(Ok(full)).is_ok())
    }

    /// The batch, unless nothing went into it.
    pub fn rest(self) -> Option<EventBatch> {
        (!self.batch.is_empty() || !self.batch.rejected.is_empty()).then_some(self.batch)
    }
}

/// The common case read without the record plan's generality: every
/// field a text column, the time in microseconds, nothing pseudonymized
/// or hidden and no fallback customer column. A row it cannot take as a
/// plain event (a field blank or missing, a time out of range or moved by
/// a clock change) is left to the plan, so every row maps as the plan
/// maps it. The rows are read column by column first ([`QuickRows`]). A
/// column stored as a dictionary of at most as many values as rows (an
/// event name, a channel) puts each of its values in the batch once per
/// batch of rows, and the property names are put there once.
struct Quick<'c> {
    customer: Texts<'c>,
    event: Texts<'c>,
    event_id: Option<Texts<'c>>,
    session_id: Option<Texts<'c>>,
    /// Each property's name and its column.
    properties: Vec<(&'c str, Texts<'c>)>,
    /// Where the batch holds each property's name (see [`Quick::read`]).
    names: Vec<Span>,
    times: &'c Int64Array,
    /// The times are wall-clock times, read in the parser's zone.
    naive: bool,
}

/// A batch of rows as the quick loop reads it, column by column: per row,
/// where the batch holds each field's plain text, and the time when it is
/// a plain event's. Reused from one batch of rows to the next.
#[derive(Default)]
struct QuickRows {
    customer: QuickColumn,
    event: QuickColumn,
    /// Empty without an event id column.
    event_id: QuickColumn,
    /// Empty without a session id column.
    session_id: QuickColumn,
    /// By property, in the plan's order.
    properties: Vec<QuickColumn>,
    times: Vec<Option<i64>>,
}

/// One text column of a batch of rows as the quick loop reads it.
#[derive(Default)]
struct QuickColumn {
    /// By row: where the batch holds the plain text (None: blank or
    /// missing).
    spans: Vec<Option<Span>>,
    /// By dictionary key: what the batch holds of each value met in this
    /// batch of rows.
    held: HeldValues,
}

/// By dictionary key, where the batch holds each value met in the current
/// batch of rows (None: not plain), so that it is put there once. Values
/// met in an earlier batch of rows count as not met: the memory is reused
/// without being cleared.
#[derive(Default)]
struct HeldValues {
    /// The current batch of rows, counting from 1.
    rows_batch: u32,
    /// By key: the batch of rows it was met in, and where it is held.
    by_key: Vec<(u32, Option<Span>)>,
}

impl HeldValues {
    /// Starts on a batch of rows of a dictionary of `values` values.
    fn begin(&mut self, values: usize) {
        if self.rows_batch == u32::MAX {
            self.by_key.clear();
            self.rows_batch = 0;
        }
        self.rows_batch += 1;
        if self.by_key.len() < values {
            self.by_key.resize(values, (0, None));
        }
    }
}

/// A text column as the quick loop reads it.
struct Texts<'c> {
    column: &'c Column,
    /// A dictionary whose values are put in the batch once each: one of at
    /// most as many values as there are rows.
    remembered: bool,
}

/// Where `batch` holds `text` when it is plain (not blank or missing).
fn hold_plain(text: Option<&str>, batch: &mut EventBatch) -> Option<Span> {
    match text.map(text_field) {
        Some(Field::Text(Cow::Borrowed(text))) => Some(batch.hold(text)),
        _ => None,
    }
}

impl<'c> Texts<'c> {
    /// The column, its values remembered when it is a dictionary of at
    /// most as many values as there are `rows`.
    fn of(column: &'c Column, rows: usize) -> Self {
        let remembered = match column {
            Column::Dictionary { values, .. } => values.len() <= rows,
            _ => false,
        };
        Texts { column, remembered }
    }

    /// Puts every row's plain text in `batch` (a remembered value once),
    /// and where the batch holds it in `into`'s spans, by row.
    fn hold_all(&self, batch: &mut EventBatch, into: &mut QuickColumn) {
        let spans = &mut into.spans;
        spans.clear();
        match self.column {
            Column::Dictionary { keys, values } if self.remembered => {
                let held = &mut into.held;
                held.begin(values.len());
                let now = held.rows_batch;
                for key in keys.iter() {
                    let at = key.and_then(|k| usize::try_from(k).ok());
                    let span = match at.and_then(|k| held.by_key.get_mut(k)) {
                        Some((met, span)) if *met == now => *span,
                        Some((met, span)) => {
                            *span = hold_plain(value_text(values, key), batch);
                            *met = now;
                            *span
                        }
                        None => None,
                    };
                    spans.push(span);
                }
            }
            Column::Dictionary { keys, values } => {
                for key in keys.iter() {
                    spans.push(hold_plain(value_text(values, key), batch));
                }
            }
            Column::Text(array) => {
                spans.extend(array.iter().map(|text| hold_plain(text, batch)));
            }
            _ => {}
        }
    }
}

impl<'c> Quick<'c> {
    /// The quick reading of `columns` (`rows` of them) under `plan`, when
    /// it applies.
    fn of(columns: &'c ArrowColumns, plan: &'c RecordPlan<usize>, rows: usize) -> Option<Self> {
        if plan.pseudonyms.is_some()
            || plan.customer_fallback.is_some()
            || !plan.hidden.names.is_empty()
        {
            return None;
        }
        let text = |key: usize| match columns.columns.get(key) {
            Some(column @ (Column::Text(_) | Column::Dictionary { .. })) => {
                Some(Texts::of(column, rows))
            }
            _ => None,
        };
        let optional = |key: Option<usize>| match key {
            None => Some(None),
            Some(key) => text(key).map(Some),
        };
        let (times, naive) = match columns.columns.get(plan.time) {
            Some(Column::Micros { values, naive }) => (values, *naive),
            _ => return None,
        };
        Some(Quick {
            customer: text(plan.customer)?,
            event: text(plan.event)?,
            event_id: optional(plan.event_id)?,
            session_id: optional(plan.session_id)?,
            properties: plan
                .properties
                .iter()
                .map(|(name, key)| text(*key).map(|texts| (name.as_str(), texts)))
                .collect::<Option<_>>()?,
            names: Vec::new(),
            times,
            naive,
        })
    }

    /// Reads every row into `rows`, column by column, putting the plain
    /// texts in `batch` (those of rows that turn out not to be plain
    /// events stay there unused).
    fn read(&mut self, rows: &mut QuickRows, parser: &TimeParser, batch: &mut EventBatch) {
        self.customer.hold_all(batch, &mut rows.customer);
        self.event.hold_all(batch, &mut rows.event);
        let optional =
            |texts: &Option<Texts<'c>>, into: &mut QuickColumn, batch: &mut _| match texts {
                Some(texts) => texts.hold_all(batch, into),
                None => into.spans.clear(),
            };
        optional(&self.event_id, &mut rows.event_id, batch);
        optional(&self.session_id, &mut rows.session_id, batch);
        rows.properties
            .resize_with(self.properties.len(), QuickColumn::default);
        for ((_, texts), into) in self.properties.iter().zip(&mut rows.properties) {
            texts.hold_all(batch, into);
        }
        self.names = (self.properties.iter())
            .map(|(name, _)| batch.hold(name))
            .collect();
        rows.times.clear();
        let naive = self.naive;
        rows.times.extend(self.times.iter().map(|us| {
            let time_us = match naive {
                false => us?,
                true => match parser.localize(us?, 0) {
                    Some(ReadTime {
                        us, adjusted: None, ..
                    }) => us,
                    _ => return None,
                },
            };
            (EARLIEST_US..=LATEST_US)
                .contains(&time_us)
                .then_some(time_us)
        }));
    }

    /// Pushes `row`, read into `rows`, as an event; false (nothing
    /// pushed) when it is not a plain one.
    fn push(&self, rows: &QuickRows, row: usize, batch: &mut EventBatch) -> bool {
        let at = |column: &QuickColumn| column.spans.get(row).copied().flatten();
        let (Some(customer), Some(event), Some(Some(time_us))) = (
            at(&rows.customer),
            at(&rows.event),
            rows.times.get(row).copied(),
        ) else {
            return false;
        };
        let held = HeldEvent {
            customer,
            event,
            time_us,
            sub_us_ns: 0,
            event_id: at(&rows.event_id),
            session_id: at(&rows.session_id),
        };
        let properties = (self.names.iter().zip(&rows.properties))
            .filter_map(|(name, values)| Some((*name, at(values)?)));
        batch.push_held(held, properties);
        true
    }
}

enum Column {
    Text(StringArray),
    /// Text read as a dictionary: each row's key into the values.
    Dictionary {
        keys: Int32Array,
        values: StringArray,
    },
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

/// The text a dictionary's `key` stands for among its `values`; None for
/// a null key, a key out of range or a null value.
fn value_text(values: &StringArray, key: Option<i32>) -> Option<&str> {
    let key = usize::try_from(key?).ok()?;
    (key < values.len() && values.is_valid(key)).then(|| values.value(key))
}

impl Column {
    /// The text at `row` of a text column; None when it is null (or the
    /// column is not text).
    fn text(&self, row: usize) -> Option<&str> {
        match self {
            Column::Text(array) => array.is_valid(row).then(|| array.value(row)),
            Column::Dictionary { keys, values } => {
                value_text(values, keys.is_valid(row).then(|| keys.value(row)))
            }
            _ => None,
        }
    }
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
                    _ => match array.as_dictionary_opt::<Int32Type>() {
                        Some(dictionary) if dictionary.values().data_type() == &DataType::Utf8 => {
                            Column::Dictionary {
                                keys: dictionary.keys().clone(),
                                values: dictionary.values().as_string::<i32>().clone(),
                            }
                        }
                        _ => {
                            let array = cast(array, &DataType::Utf8).map_err(arrow_error)?;
                            Column::Text(array.as_string::<i32>().clone())
                        }
                    },
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
        let column = &self.columns.columns[*key];
        match column {
            Column::Text(_) | Column::Dictionary { .. } => match column.text(row) {
                Some(text) => text_field(text),
                None => Field::Missing,
            },
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

#[cfg(test)]
mod tests;
