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
    fn add(&mut self, arrays: &[ArrayRef]) -> Result<(), SourceError> {
        let plan = &self.selection.plan;
        let columns = ArrowColumns::new(arrays, self.selection.time_kind, plan.time)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let mut quick = Quick::of(&columns, plan, rows);
        for row in 0..rows {
            self.row_number += 1;
            if let Some(quick) = &mut quick
                && quick.push(row, self.parser, &mut self.batch)
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
/// maps it. A text column of few distinct values (an event name, a
/// channel) puts each value in the batch once, and the property names
/// are put there once.
struct Quick<'c> {
    customer: Texts<'c>,
    event: Texts<'c>,
    event_id: Option<Texts<'c>>,
    session_id: Option<Texts<'c>>,
    /// Each property's name, where the batch holds it, and its column.
    properties: Vec<(&'c str, Option<Span>, Texts<'c>)>,
    /// The (name, value) of a row's properties, reused.
    spans: Vec<(Span, Span)>,
    times: &'c Int64Array,
    /// The times are wall-clock times, read in the parser's zone.
    naive: bool,
}

/// A text column as the quick loop reads it, with what of its values the
/// batch already holds when it has few of them.
struct Texts<'c> {
    column: &'c Column,
    /// By dictionary key: whether the value is plain text, and where the
    /// batch holds it. Empty when the column is not read this way.
    held: Vec<Held>,
}

/// What the quick loop knows of one dictionary value.
#[derive(Clone, Copy)]
enum Held {
    /// Not met yet.
    Unknown,
    /// Blank or missing: not a plain event's.
    NotPlain,
    /// Plain text, held by the batch here.
    At(Span),
}

/// A plain text value of a row: held by the batch, or to be put there.
#[derive(Clone, Copy)]
enum Plain<'c> {
    Held(Span),
    Text(&'c str, Option<usize>),
}

impl<'c> Texts<'c> {
    /// The column, its values remembered when it is a dictionary of at
    /// most a quarter as many values as there are `rows`.
    fn of(column: &'c Column, rows: usize) -> Self {
        let held = match column {
            Column::Dictionary { values, .. } if values.len() * 4 <= rows => {
                vec![Held::Unknown; values.len()]
            }
            _ => Vec::new(),
        };
        Texts { column, held }
    }

    /// The plain text at `row`, or None when it is blank or missing.
    fn plain(&mut self, row: usize) -> Option<Plain<'c>> {
        let key = match self.column {
            Column::Dictionary { keys, .. } if !self.held.is_empty() && keys.is_valid(row) => {
                usize::try_from(keys.value(row)).ok()
            }
            _ => None,
        };
        match key.and_then(|k| self.held.get(k)) {
            Some(Held::At(span)) => return Some(Plain::Held(*span)),
            Some(Held::NotPlain) => return None,
            _ => {}
        }
        let plain = match self.column.text(row).map(text_field) {
            Some(Field::Text(Cow::Borrowed(text))) => Some(Plain::Text(text, key)),
            _ => None,
        };
        if plain.is_none()
            && let Some(held) = key.and_then(|k| self.held.get_mut(k))
        {
            *held = Held::NotPlain;
        }
        plain
    }

    /// Where `batch` holds the value `plain` of the optional column
    /// `texts`, if there is one.
    fn hold_some(
        texts: &mut Option<Texts<'c>>,
        plain: Option<Plain<'c>>,
        batch: &mut EventBatch,
    ) -> Option<Span> {
        Some(texts.as_mut()?.hold(plain?, batch))
    }

    /// Where `batch` holds `plain`, putting it there (once, for a value
    /// remembered) if it does not yet.
    fn hold(&mut self, plain: Plain<'c>, batch: &mut EventBatch) -> Span {
        match plain {
            Plain::Held(span) => span,
            Plain::Text(text, key) => {
                let span = batch.hold(text);
                if let Some(held) = key.and_then(|k| self.held.get_mut(k)) {
                    *held = Held::At(span);
                }
                span
            }
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
                .map(|(name, key)| text(*key).map(|texts| (name.as_str(), None, texts)))
                .collect::<Option<_>>()?,
            spans: Vec::new(),
            times,
            naive,
        })
    }

    /// Pushes `row` as an event; false (nothing pushed) when it is not a
    /// plain one.
    fn push(&mut self, row: usize, parser: &TimeParser, batch: &mut EventBatch) -> bool {
        let (Some(customer), Some(event)) = (self.customer.plain(row), self.event.plain(row))
        else {
            return false;
        };
        if !self.times.is_valid(row) {
            return false;
        }
        let us = self.times.value(row);
        let time_us = match self.naive {
            false => us,
            true => match parser.localize(us, 0) {
                Some(ReadTime {
                    us, adjusted: None, ..
                }) => us,
                _ => return false,
            },
        };
        if !(EARLIEST_US..=LATEST_US).contains(&time_us) {
            return false;
        }
        let event_id = self.event_id.as_mut().and_then(|t| t.plain(row));
        let session_id = self.session_id.as_mut().and_then(|t| t.plain(row));
        let held = HeldEvent {
            customer: self.customer.hold(customer, batch),
            event: self.event.hold(event, batch),
            time_us,
            sub_us_ns: 0,
            event_id: Texts::hold_some(&mut self.event_id, event_id, batch),
            session_id: Texts::hold_some(&mut self.session_id, session_id, batch),
        };
        self.spans.clear();
        for (name, name_span, texts) in &mut self.properties {
            if let Some(value) = texts.plain(row) {
                let name = *name_span.get_or_insert_with(|| batch.hold(name));
                self.spans.push((name, texts.hold(value, batch)));
            }
        }
        batch.push_held(held, self.spans.drain(..));
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

impl Column {
    /// The text at `row` of a text column; None when it is null (or the
    /// column is not text).
    fn text(&self, row: usize) -> Option<&str> {
        match self {
            Column::Text(array) => array.is_valid(row).then(|| array.value(row)),
            Column::Dictionary { keys, values } => match keys.is_valid(row) {
                true => {
                    let key = usize::try_from(keys.value(row)).ok()?;
                    (key < values.len() && values.is_valid(key)).then(|| values.value(key))
                }
                false => None,
            },
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
mod tests {
    use std::sync::Arc;

    use duckdb::arrow::array::TimestampMicrosecondArray;

    use super::*;
    use crate::engine::Rejected;
    use crate::source::{Mapping, SourceOptions};

    /// Rows that are plain events and rows that are not: blank, missing
    /// and white-space-led values, times out of range, a local time the
    /// clock skipped; all of them `repeat` times over.
    fn arrays(naive: bool, dictionary: bool, repeat: usize) -> Vec<ArrayRef> {
        let texts = |values: &[Option<&str>]| -> ArrayRef {
            let repeated = std::iter::repeat_n(values, repeat).flatten().copied();
            let plain: ArrayRef = Arc::new(repeated.collect::<StringArray>());
            let as_dictionary =
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
            match dictionary {
                true => cast(&plain, &as_dictionary).unwrap_or(plain),
                false => plain,
            }
        };
        let skipped = 1_679_797_800_000_000; // 2023-03-26 02:30 in Europe/Paris
        let times = [
            Some(1_700_000_000_000_000),
            Some(1_700_000_001_000_000),
            None,
            Some(i64::MAX / 2),
            Some(skipped),
            Some(1_700_000_002_000_000),
            Some(1_700_000_003_000_000),
        ];
        let times: TimestampMicrosecondArray =
            std::iter::repeat_n(times, repeat).flatten().collect();
        let times = match naive {
            true => times,
            false => times.with_timezone("UTC"),
        };
        vec![
            texts(&[
                Some("c1"),
                Some(" "),
                Some("c3"),
                Some("c4"),
                Some("c5"),
                None,
                Some(" c7"),
            ]),
            texts(&[
                Some("view"),
                Some("buy"),
                Some("view"),
                Some("view"),
                Some("buy"),
                Some("view"),
                Some("\tcart"),
            ]),
            texts(&[
                Some("e1"),
                None,
                Some(""),
                Some("e4"),
                Some("e5"),
                Some("e6"),
                Some(" "),
            ]),
            texts(&[
                Some("web"),
                Some("app"),
                None,
                Some(" "),
                Some("web"),
                Some("app"),
                Some("mail"),
            ]),
            Arc::new(times),
        ]
    }

    fn selection(naive: bool, hidden: &[&str]) -> Selection {
        let mapping = Mapping {
            event_id: Some("id".into()),
            channel: Some("channel".into()),
            ..Mapping::named("customer", "event", "time")
        };
        let options = SourceOptions {
            hidden_properties: hidden.iter().map(|h| h.to_string()).collect(),
            ..SourceOptions::default()
        };
        let kind = match naive {
            true => TimeKind::Naive,
            false => TimeKind::Instant,
        };
        Selection::new(&mapping, kind, |_| true, &options)
    }

    type Row = (String, String, i64, Option<String>, Vec<(String, String)>);

    fn contents(batch: &EventBatch) -> (Vec<Row>, Vec<Rejected>, u64) {
        let events = batch
            .iter()
            .map(|e| {
                let properties = e
                    .properties()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let id = e.event_id.map(str::to_owned);
                (e.customer.into(), e.event.into(), e.time_us, id, properties)
            })
            .collect();
        (events, batch.rejected.clone(), batch.times_adjusted.total())
    }

    /// The quick loop maps every row as the record plan alone does.
    #[test]
    fn the_quick_loop_maps_as_the_plan_does() {
        let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap_or(chrono_tz::UTC);
        // Repeated, a dictionary's values are few beside its rows: each
        // is then held once per batch.
        let cases = [
            (false, None, false, 1),
            (true, None, false, 1),
            (true, Some(paris), false, 1),
            (false, None, true, 1),
            (false, None, true, 8),
            (true, Some(paris), true, 8),
        ];
        for (naive, zone, dictionary, repeat) in cases {
            let parser = TimeParser::new(zone);
            let arrays_of = arrays;
            let arrays = arrays_of(naive, dictionary, repeat);
            assert_eq!(
                matches!(arrays[1].data_type(), DataType::Dictionary(..)),
                dictionary
            );
            let quick_selection = selection(naive, &[]);
            let mut filler = BatchFiller::new(&quick_selection, &parser, EventBatch::default(), 10);
            assert!(filler.add(&arrays).is_ok());
            let Some(quick) = filler.rest() else {
                panic!("nothing was mapped");
            };

            let plan = &quick_selection.plan;
            let columns = ArrowColumns::new(&arrays, quick_selection.time_kind, plan.time);
            let Ok(columns) = columns else {
                panic!("the columns do not read");
            };
            assert!(Quick::of(&columns, plan, arrays[0].len()).is_some());
            let mut reference = EventBatch::default();
            for row in 0..arrays[0].len() {
                let record = ArrowRow {
                    columns: &columns,
                    row,
                };
                let position = || format!("row {}", 11 + row);
                plan.apply(&record, &parser, position, &mut reference);
            }
            let (events, rejected, adjusted) = contents(&quick);
            assert_eq!(
                (events.clone(), rejected.len(), adjusted),
                {
                    let (e, r, a) = contents(&reference);
                    (e, r.len(), a)
                },
                "naive {naive}, zone {zone:?}, dictionary {dictionary}"
            );
            let positions = |r: &[Rejected]| -> Vec<String> {
                r.iter()
                    .map(|r| format!("{} {}", r.position, r.record))
                    .collect()
            };
            assert_eq!(positions(&rejected), positions(&reference.rejected));
            assert!(events.len() >= 3 && !rejected.is_empty());
            if dictionary && repeat > 1 {
                // Fewer bytes than the same rows read as plain text.
                let mut plain =
                    BatchFiller::new(&quick_selection, &parser, EventBatch::default(), 10);
                assert!(plain.add(&arrays_of(naive, false, repeat)).is_ok());
                let plain_bytes = plain.rest().map_or(0, |b| b.text_bytes());
                assert!(quick.text_bytes() < plain_bytes);
            }
        }
    }

    /// Hidden properties are the plan's to write.
    #[test]
    fn hidden_properties_leave_the_quick_loop() {
        let arrays = arrays(false, false, 1);
        let selection = selection(false, &["channel"]);
        let plan = &selection.plan;
        let columns = ArrowColumns::new(&arrays, selection.time_kind, plan.time);
        assert!(columns.is_ok_and(|c| Quick::of(&c, plan, 7).is_none()));
    }
}
