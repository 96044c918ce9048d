//! What a reader of typed columns (the Parquet reader, DuckDB) reads for a
//! mapping: the columns, every field as text and the time last, and how
//! the time column is read by its type.

use super::SourceOptions;
use super::record::RecordPlan;
use super::schema::Mapping;

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
