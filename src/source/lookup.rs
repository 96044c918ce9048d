//! One customer's records with all their fields, for the timeline's
//! details: the source is read again (the engine keeps only what the map
//! needs) and every other column is kept as a property.

use std::path::Path;

use super::{Mapping, SourceError, SourceOptions, open};

/// One of the customer's records as the source holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    /// When (µs since the epoch).
    pub time_us: i64,
    /// The raw event name.
    pub event: String,
    /// Every other non-empty field: (column, value).
    pub properties: Vec<(String, String)>,
}

/// Reads `path` again and returns the records of `customer`, in source
/// order, with every column that `mapping` does not use as a property;
/// stops (cancelled) as soon as `stop` says so.
pub fn customer_records(
    path: &Path,
    options: &SourceOptions,
    mapping: &Mapping,
    customer: &str,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<CustomerRecord>, SourceError> {
    let roles = [
        Some(&mapping.customer),
        mapping.customer_fallback.as_ref(),
        Some(&mapping.event),
        Some(&mapping.time),
    ];
    let mut options = options.clone();
    options.wanted_properties = mapping
        .columns
        .iter()
        .filter(|c| !roles.contains(&Some(c)))
        .cloned()
        .collect();
    let mut source = open(path, &options)?;
    let mut records = Vec::new();
    while let Some(batch) = source.next_batch()? {
        if stop() {
            return Err(SourceError::Cancelled);
        }
        records.extend(batch.iter().filter(|e| e.customer == customer).map(|e| {
            CustomerRecord {
                time_us: e.time_us,
                event: e.event.to_owned(),
                properties: e
                    .properties()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            }
        }));
        source.recycle(batch);
    }
    Ok(records)
}
