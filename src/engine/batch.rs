//! The one interface between sources and the engine: batches of mapped
//! events plus the records that were rejected on the way.
//!
//! A batch keeps all of its text in one arena so that a million events cost a
//! handful of allocations, not millions.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Why a source record could not become an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The record is not valid JSON / CSV (or has the wrong number of fields).
    Unparseable,
    /// The customer field is missing or empty.
    MissingCustomer,
    /// The event field is missing or empty.
    MissingEvent,
    /// The timestamp field is missing or empty.
    MissingTime,
    /// The timestamp is present but cannot be read as a time.
    BadTimestamp,
    /// A field holds an object or array where a plain value belongs.
    WrongType,
    /// The record is larger than [`MAX_RECORD_BYTES`].
    Oversized,
    /// The record's bytes are not valid UTF-8.
    InvalidUtf8,
    /// A Kafka message without a value (a tombstone, which deletes a key in
    /// a compacted topic).
    Tombstone,
    /// A Kafka message whose value is empty or only white space.
    EmptyValue,
    /// A value no decoder could read (not registry-framed and not JSON,
    /// or framed without a registry to decode it).
    Undecodable,
    /// A registry-framed value whose schema id the registry does not know.
    UnknownSchemaId,
    /// A registry-framed value that its schema cannot decode.
    SchemaMismatch,
    /// A value that nests deeper than [`MAX_NESTING`] levels.
    TooDeep,
    /// A registry-framed value whose schema could not be fetched: the
    /// registry did not answer in time, answered with an error, or refused
    /// the credentials.
    RegistryUnavailable,
}

impl RejectReason {
    /// Every reason, in display order.
    pub const ALL: [RejectReason; 15] = [
        RejectReason::Unparseable,
        RejectReason::MissingCustomer,
        RejectReason::MissingEvent,
        RejectReason::MissingTime,
        RejectReason::BadTimestamp,
        RejectReason::WrongType,
        RejectReason::Oversized,
        RejectReason::InvalidUtf8,
        RejectReason::Tombstone,
        RejectReason::EmptyValue,
        RejectReason::Undecodable,
        RejectReason::UnknownSchemaId,
        RejectReason::SchemaMismatch,
        RejectReason::TooDeep,
        RejectReason::RegistryUnavailable,
    ];

    /// The snake_case name used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Unparseable => "unparseable",
            RejectReason::MissingCustomer => "missing_customer",
            RejectReason::MissingEvent => "missing_event",
            RejectReason::MissingTime => "missing_time",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::WrongType => "wrong_type",
            RejectReason::Oversized => "oversized",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::Tombstone => "tombstone",
            RejectReason::EmptyValue => "empty_value",
            RejectReason::Undecodable => "undecodable",
            RejectReason::UnknownSchemaId => "unknown_schema_id",
            RejectReason::SchemaMismatch => "schema_mismatch",
            RejectReason::TooDeep => "too_deep",
            RejectReason::RegistryUnavailable => "registry_unavailable",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The earliest time an event may have: 0001-01-01T00:00:00Z, in µs.
/// Sources reject times outside [`EARLIEST_US`, `LATEST_US`], so the
/// engine's differences of times never overflow.
pub const EARLIEST_US: i64 = -62_135_596_800_000_000;

/// The latest time an event may have: 9999-12-31T23:59:59.999999Z, in µs.
pub const LATEST_US: i64 = 253_402_300_799_999_999;

/// True when `time_us` is a time an event may have.
pub fn is_event_time(time_us: i64) -> bool {
    (EARLIEST_US..=LATEST_US).contains(&time_us)
}

/// Records larger than this are rejected as [`RejectReason::Oversized`].
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Values that nest objects, arrays (or records, maps) deeper than this
/// are rejected as [`RejectReason::TooDeep`] before anything walks them
/// recursively (JSON text is held to the same depth by its parser).
pub const MAX_NESTING: usize = 128;

/// How much of a rejected record's text is kept for the user to inspect.
pub const REJECTED_TEXT_CHARS: usize = 300;

/// One record a source could not turn into an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Where it was: "line 7", "row 12", "partition 3 offset 981".
    pub position: String,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// Human-readable detail ("`not-a-time` is not a timestamp").
    pub detail: String,
    /// The start of the record's text.
    pub record: String,
    /// Its customer id, if it had one, is already a pseudonym in `record`
    /// (see [`super::EngineConfig::withhold_unmasked_records`]).
    #[serde(skip)]
    pub masked: bool,
}

impl Rejected {
    /// A rejection whose record text and detail (which may quote a value)
    /// are cut to [`REJECTED_TEXT_CHARS`].
    pub fn new(
        position: impl Into<String>,
        reason: RejectReason,
        detail: impl Into<String>,
        record: &str,
    ) -> Self {
        Rejected {
            position: position.into(),
            reason,
            detail: cut(detail.into(), REJECTED_TEXT_CHARS),
            record: cut(record, REJECTED_TEXT_CHARS),
            masked: false,
        }
    }
}

/// `text` cut to `chars` characters, with `…` where it was cut.
fn cut(text: impl AsRef<str> + Into<String>, chars: usize) -> String {
    match text.as_ref().char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text.as_ref()[..at]),
        None => text.into(),
    }
}

/// What became of a local time that has no single instant in its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeAdjustment {
    /// The clock skipped it (spring forward, 02:30 on a night that jumps
    /// from 02:00 to 03:00): read as the instant of the jump, which lies
    /// after every time before the gap and not after any time after it,
    /// so the order of wall-clock times is kept.
    Gap,
    /// The clock showed it twice (fall back): read as the earlier instant.
    Overlap,
}

/// How many kept times were read by each [`TimeAdjustment`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimesAdjusted {
    /// Local times in a gap, read as the instant of the jump.
    pub gap: u64,
    /// Ambiguous local times, read as the earlier instant.
    pub overlap: u64,
}

impl TimesAdjusted {
    /// Counts one time read by `adjustment`.
    pub fn count(&mut self, adjustment: TimeAdjustment) {
        match adjustment {
            TimeAdjustment::Gap => self.gap += 1,
            TimeAdjustment::Overlap => self.overlap += 1,
        }
    }

    /// Adds another count.
    pub fn add(&mut self, other: &TimesAdjusted) {
        self.gap += other.gap;
        self.overlap += other.overlap;
    }

    /// Times read by any rule.
    pub fn total(&self) -> u64 {
        self.gap + self.overlap
    }

    /// What the counts mean, for a person ("1 local time in a
    /// daylight-saving gap, read as the moment the clock jumped"); None
    /// when there are none.
    pub fn describe(&self) -> Option<String> {
        let times = |n: u64, what: &str| match n {
            1 => format!("1 {what} local time"),
            n => format!("{} {what} local times", crate::format::thousands(n)),
        };
        let mut parts = Vec::new();
        if self.gap > 0 {
            parts.push(format!(
                "{} in a daylight-saving gap, read as the moment the clock jumped",
                times(self.gap, "skipped")
            ));
        }
        if self.overlap > 0 {
            parts.push(format!(
                "{} in a daylight-saving overlap, read as the earlier of its two moments",
                times(self.overlap, "ambiguous")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A byte range into a batch's text arena: text the batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    start: u32,
    end: u32,
}

/// One mapped event inside a batch; its strings live in the batch.
#[derive(Debug, Clone)]
pub struct BatchEvent {
    customer: Span,
    event: Span,
    event_id: Option<Span>,
    session_id: Option<Span>,
    properties: Range<u32>,
    /// When it happened, in microseconds since the Unix epoch (UTC).
    pub time_us: i64,
    /// Nanoseconds past `time_us` (0..=999), see [`EventRef::sub_us_ns`].
    sub_us_ns: u16,
    /// The partition it was read from (0 for a file).
    partition: i32,
}

/// A batch of mapped events and rejected records, in source order.
#[derive(Debug, Clone, Default)]
pub struct EventBatch {
    text: String,
    events: Vec<BatchEvent>,
    properties: Vec<(Span, Span)>,
    /// Records the source rejected while producing this batch, in order.
    pub rejected: Vec<Rejected>,
    /// Per rejected record, when a stream can say it: the event time of the
    /// last event before it on its partition (missing or None: unknown).
    pub rejected_at_us: Vec<Option<i64>>,
    /// Where a stream goes on once this batch is taken in, for every
    /// partition it advanced. Empty for files.
    pub resume_at: Vec<StreamMark>,
    /// Local times of this batch's events that the clock skipped or showed
    /// twice, by how they were read.
    pub times_adjusted: TimesAdjusted,
    /// The partition the events appended next are read from (0 for a file).
    partition: i32,
}

/// Where a stream's partition goes on, and what its last message read was
/// like (so that a resumed view can tell its topic was recreated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMark {
    /// The partition.
    pub partition: i32,
    /// The offset of the next message to read.
    pub next_offset: i64,
    /// The broker's timestamp of the message just before `next_offset`.
    pub last_timestamp_ms: Option<i64>,
    /// The partition's end offset (high watermark) last seen.
    pub high_watermark: Option<i64>,
}

/// The fields of one event, borrowed from a batch.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// Who.
    pub customer: &'a str,
    /// What happened (the raw event name, before touchpoint rules).
    pub event: &'a str,
    /// When, in microseconds since the Unix epoch.
    pub time_us: i64,
    /// Nanoseconds past `time_us` (0..=999), when the source gave them:
    /// they order the events of one customer within a microsecond, and are
    /// not kept after (durations are reported in µs).
    pub sub_us_ns: u16,
    /// Unique id used for de-duplication.
    pub event_id: Option<&'a str>,
    /// Explicit session id.
    pub session_id: Option<&'a str>,
    /// The stream partition it was read from (0 for a file).
    pub partition: i32,
    batch: &'a EventBatch,
    properties: &'a Range<u32>,
}

impl<'a> EventRef<'a> {
    /// The value of a property the source was asked to keep.
    pub fn property(&self, name: &str) -> Option<&'a str> {
        self.properties().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// All kept properties as (name, value).
    pub fn properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let batch = self.batch;
        let range = self.properties.start as usize..self.properties.end as usize;
        batch.properties[range]
            .iter()
            .map(move |(k, v)| (batch.str(*k), batch.str(*v)))
    }
}

/// The fields of an event being added to a batch.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// Who.
    pub customer: &'a str,
    /// What happened.
    pub event: &'a str,
    /// When, in microseconds since the Unix epoch.
    pub time_us: i64,
    /// Unique id used for de-duplication.
    pub event_id: Option<&'a str>,
    /// Explicit session id.
    pub session_id: Option<&'a str>,
}

/// The fields of an event being added to a batch, its texts held by the
/// batch already (see [`EventBatch::hold`]).
#[derive(Debug, Clone, Copy)]
pub struct HeldEvent {
    /// Who.
    pub customer: Span,
    /// What happened.
    pub event: Span,
    /// When, in microseconds since the Unix epoch.
    pub time_us: i64,
    /// Nanoseconds past `time_us` (0..=999; more is cut to 999).
    pub sub_us_ns: u16,
    /// Unique id used for de-duplication.
    pub event_id: Option<Span>,
    /// Explicit session id.
    pub session_id: Option<Span>,
}

/// Bytes of text a batch has room for per event: a customer id, an event
/// name, an event id and a property (a generated shop's take 55).
const TEXT_PER_EVENT: usize = 64;

impl EventBatch {
    /// An empty batch with room for `events` events, their names and ids
    /// and a property each (a batch of a typical file then never grows;
    /// the room is only address space until it is written).
    pub fn with_capacity(events: usize) -> Self {
        EventBatch {
            text: String::with_capacity(events * TEXT_PER_EVENT),
            events: Vec::with_capacity(events),
            properties: Vec::with_capacity(events),
            rejected: Vec::new(),
            rejected_at_us: Vec::new(),
            resume_at: Vec::new(),
            times_adjusted: TimesAdjusted::default(),
            partition: 0,
        }
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Span {
            start,
            end: self.text.len() as u32,
        }
    }

    fn str(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// Holds `text` in the batch, for events pushed with
    /// [`EventBatch::push_held`]: a text that many events share (an event
    /// name, a property's value) is held once and given by its span again.
    pub fn hold(&mut self, text: &str) -> Span {
        self.push_str(text)
    }

    /// Appends an event with the given properties.
    pub fn push<'p>(
        &mut self,
        event: NewEvent<'_>,
        properties: impl IntoIterator<Item = (&'p str, &'p str)>,
    ) {
        self.push_with_sub_us(event, 0, properties);
    }

    /// Appends an event whose time has `sub_us_ns` nanoseconds past its
    /// microsecond (0..=999; more is cut to 999).
    pub fn push_with_sub_us<'p, V: AsRef<str>>(
        &mut self,
        event: NewEvent<'_>,
        sub_us_ns: u16,
        properties: impl IntoIterator<Item = (&'p str, V)>,
    ) {
        let held = HeldEvent {
            customer: self.push_str(event.customer),
            event: self.push_str(event.event),
            time_us: event.time_us,
            sub_us_ns,
            event_id: event.event_id.map(|s| self.push_str(s)),
            session_id: event.session_id.map(|s| self.push_str(s)),
        };
        let first = self.properties.len();
        for (k, v) in properties {
            let k = self.push_str(k);
            let v = self.push_str(v.as_ref());
            self.properties.push((k, v));
        }
        self.push_event(held, first);
    }

    /// Appends an event whose texts the batch holds already (see
    /// [`EventBatch::hold`]), with its properties as (name, value).
    pub fn push_held(
        &mut self,
        event: HeldEvent,
        properties: impl IntoIterator<Item = (Span, Span)>,
    ) {
        let first = self.properties.len();
        self.properties.extend(properties);
        self.push_event(event, first);
    }

    /// Appends `event`, whose properties are those from `first` on.
    fn push_event(&mut self, event: HeldEvent, first: usize) {
        self.events.push(BatchEvent {
            customer: event.customer,
            event: event.event,
            event_id: event.event_id,
            session_id: event.session_id,
            properties: first as u32..self.properties.len() as u32,
            time_us: event.time_us,
            sub_us_ns: event.sub_us_ns.min(999),
            partition: self.partition,
        });
    }

    /// Empties the batch, keeping its memory for reuse.
    pub fn clear(&mut self) {
        self.text.clear();
        self.events.clear();
        self.properties.clear();
        self.rejected.clear();
        self.rejected_at_us.clear();
        self.resume_at.clear();
        self.times_adjusted = TimesAdjusted::default();
        self.partition = 0;
    }

    /// The events appended from now on are read from stream partition
    /// `partition`.
    pub fn from_partition(&mut self, partition: i32) {
        self.partition = partition;
    }

    /// Appends a rejected record.
    pub fn reject(&mut self, rejected: Rejected) {
        self.rejected.push(rejected);
    }

    /// The time of the last event appended.
    pub fn last_time_us(&self) -> Option<i64> {
        self.events.last().map(|e| e.time_us)
    }

    /// Places the rejected records from `from` on at event time `at_us`.
    pub fn place_rejected_from(&mut self, from: usize, at_us: Option<i64>) {
        self.rejected_at_us.resize(from, None);
        self.rejected_at_us.resize(self.rejected.len(), at_us);
    }

    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the batch holds no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes of text held; sources use it to decide when a batch is full.
    pub fn text_bytes(&self) -> usize {
        self.text.len()
    }

    /// The customer of each event, in source order.
    pub fn customers(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(|e| self.str(e.customer))
    }

    /// The events in source order.
    pub fn iter(&self) -> impl Iterator<Item = EventRef<'_>> {
        self.events.iter().map(move |e| EventRef {
            customer: self.str(e.customer),
            event: self.str(e.event),
            time_us: e.time_us,
            sub_us_ns: e.sub_us_ns,
            event_id: e.event_id.map(|s| self.str(s)),
            session_id: e.session_id.map(|s| self.str(s)),
            partition: e.partition,
            batch: self,
            properties: &e.properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trips_fields_and_properties() {
        let mut batch = EventBatch::default();
        batch.push(
            NewEvent {
                customer: "c1",
                event: "page_view",
                time_us: 5,
                event_id: Some("e1"),
                session_id: None,
            },
            [("page_path", "/cart")],
        );
        batch.push(
            NewEvent {
                customer: "c2",
                event: "purchase",
                time_us: 9,
                event_id: None,
                session_id: Some("s"),
            },
            [],
        );
        let events: Vec<_> = batch.iter().collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].customer, "c1");
        assert_eq!(events[0].property("page_path"), Some("/cart"));
        assert_eq!(events[1].property("page_path"), None);
        assert_eq!(events[1].session_id, Some("s"));
        assert_eq!(events[1].time_us, 9);
    }

    #[test]
    fn rejected_record_text_is_cut() {
        let long = "x".repeat(1000);
        let r = Rejected::new("line 1", RejectReason::Oversized, "", &long);
        assert_eq!(r.record.chars().count(), REJECTED_TEXT_CHARS + 1);
    }
}
