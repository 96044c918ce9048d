//! Choosing a topic's mapping at the start: the first messages are read
//! (joining the group first, if any) and held back, their columns sampled
//! and the roles detected, unless the command line gives them all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;

use crate::source::jsonl::JsonMapper;
use crate::source::schema::{ColumnSample, DetectionBudget, Mapping};
use crate::source::values::{MessageMapper, ValueDecoder, sample_message};
use crate::source::{DETECTION_SAMPLE, SourceError, SourceOptions};

use super::{EventConsumer, KafkaSpec, Pending, StartAt};

/// Why no columns could be detected: no readable event arrived in time.
fn nothing_to_detect(spec: &KafkaSpec) -> SourceError {
    let latest = match spec.from {
        StartAt::Latest => {
            " (reading started at the latest offset: only events produced after \
             connecting count)"
        }
        _ => "",
    };
    SourceError::Kafka(format!(
        "no {} events arrived on `{}` within {} s to detect the columns from{latest}; \
         pass --customer, --event and --time, or start --from earlier",
        match spec.values.format {
            crate::source::values::ValueFormat::Auto => "readable",
            format => format.as_str(),
        },
        spec.topic,
        spec.detect_wait.as_secs()
    ))
}

/// Waits until the group assigns partitions (a few seconds); messages
/// that arrive meanwhile are kept in `pending`, partitions read to their
/// end in `ends`.
fn join_group(
    consumer: &EventConsumer,
    spec: &KafkaSpec,
    pending: &mut Vec<Pending>,
    ends: &mut std::collections::BTreeSet<i32>,
) -> Result<(), SourceError> {
    let deadline = Instant::now() + spec.detect_wait;
    while consumer.assignment().map_or(true, |a| a.count() == 0) && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                ends.remove(&message.partition());
                pending.push(Pending::of(&message));
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ends.insert(partition);
            }
            Some(Err(e)) => return Err(spec.error(e)),
            None => {}
        }
    }
    Ok(())
}

/// The mapping chosen at the start, with the messages read to choose it.
pub(super) struct Detected {
    pub mapper: MessageMapper,
    pub mapping: Mapping,
    /// The first messages, held back until the columns were known.
    pub pending: Vec<Pending>,
    /// Partitions read to their end (the messages before held in `pending`).
    pub ends: std::collections::BTreeSet<i32>,
}

/// Reads the first messages (joining the group first, if any) and chooses
/// the mapping: the one `spec` gives, or the one detected from the columns
/// seen and given on the command line.
pub(super) fn detect_mapping(
    consumer: &EventConsumer,
    spec: &KafkaSpec,
    options: &SourceOptions,
    decoder: Arc<ValueDecoder>,
) -> Result<Detected, SourceError> {
    // Detection: hold the first messages back until the columns are known.
    let mut pending = Vec::new();
    // Partitions read to their end (the messages before held in `pending`).
    let mut ends = std::collections::BTreeSet::new();
    if spec.group.is_some() {
        join_group(consumer, spec, &mut pending, &mut ends)?;
    }
    let overrides = &options.overrides;
    let all_given = spec.mapping.is_some()
        || (overrides.customer.is_some() && overrides.event.is_some() && overrides.time.is_some());
    let mut columns = sample_columns(consumer, spec, &decoder, all_given, &mut pending, &mut ends)?;
    if !all_given && columns.is_empty() {
        return Err(nothing_to_detect(spec));
    }
    add_given_columns(&mut columns, options);
    let (mapper, mapping) = match &spec.mapping {
        Some(known) => (
            JsonMapper::new(known, options, options.time_parser()),
            known.clone(),
        ),
        None => JsonMapper::detect(&columns, options, options.time_parser())?,
    };
    Ok(Detected {
        mapper: MessageMapper::new(mapper, decoder),
        mapping,
        pending,
        ends,
    })
}

/// The columns seen in the messages held in `pending` and in more read
/// (held there too) until enough events are sampled, the detection budget
/// is spent or `spec.detect_wait` is over; none are read when every column
/// is given (`all_given`). Partitions read to their end are noted in `ends`.
fn sample_columns(
    consumer: &EventConsumer,
    spec: &KafkaSpec,
    decoder: &ValueDecoder,
    all_given: bool,
    pending: &mut Vec<Pending>,
    ends: &mut std::collections::BTreeSet<i32>,
) -> Result<Vec<ColumnSample>, SourceError> {
    let mut columns: Vec<ColumnSample> = Vec::new();
    let deadline = Instant::now() + spec.detect_wait;
    let mut sampled = 0;
    let mut budget = DetectionBudget::default();
    let sample =
        |columns: &mut Vec<ColumnSample>, budget: &mut DetectionBudget, message: &Pending| {
            let value = message.value.as_deref().unwrap_or_default();
            let events = sample_message(decoder, columns, value);
            budget.count_many(events.max(1), value.len());
            events
        };
    for p in pending.iter() {
        sampled += sample(&mut columns, &mut budget, p);
    }
    while !all_given && sampled < DETECTION_SAMPLE && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                ends.remove(&message.partition());
                let message = Pending::of(&message);
                sampled += sample(&mut columns, &mut budget, &message);
                pending.push(message);
                if !budget.wants_more() {
                    break;
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ends.insert(partition);
            }
            Some(Err(e)) => return Err(spec.error(e)),
            None if !pending.is_empty() && sampled > 0 => break,
            None => {}
        }
    }
    Ok(columns)
}

/// Adds the columns given on the command line to `columns`.
fn add_given_columns(columns: &mut Vec<ColumnSample>, options: &SourceOptions) {
    let overrides = &options.overrides;
    // Columns given on the command line need not have been seen yet.
    for name in [
        &overrides.customer,
        &overrides.event,
        &overrides.time,
        &overrides.event_id,
        &overrides.session_id,
    ]
    .into_iter()
    .flatten()
    {
        if !columns.iter().any(|c| c.name == *name) {
            columns.push(ColumnSample {
                name: name.clone(),
                ..ColumnSample::default()
            });
        }
    }
}
