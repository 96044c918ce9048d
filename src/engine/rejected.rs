//! Counts of rejected records by reason, with a bounded sample to inspect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::batch::{RejectReason, Rejected, TimesAdjusted};

/// How many rejected records are kept for the user to look at.
pub const REJECTED_SAMPLE_SIZE: usize = 100;

/// Every rejected record counted by reason; the first
/// [`REJECTED_SAMPLE_SIZE`] kept with their position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RejectedLog {
    /// Number of rejected records.
    pub total: u64,
    /// Number of rejected records per reason (only reasons that occurred).
    pub by_reason: BTreeMap<RejectReason, u64>,
    /// The first rejected records, in source order.
    pub sample: Vec<Rejected>,
    /// Records kept whose local time (`--timezone`) the clock skipped or
    /// showed twice, read by the rule [`super::batch::TimeAdjustment`] names: not
    /// rejected, counted so that the moved times are seen.
    #[serde(default)]
    pub times_adjusted: TimesAdjusted,
}

impl RejectedLog {
    /// Counts one rejected record and keeps it if the sample has room.
    pub fn record(&mut self, rejected: &Rejected) {
        self.total += 1;
        *self.by_reason.entry(rejected.reason).or_default() += 1;
        if self.sample.len() < REJECTED_SAMPLE_SIZE {
            self.sample.push(rejected.clone());
        }
    }

    /// The number of records rejected for `reason`.
    pub fn count(&self, reason: RejectReason) -> u64 {
        self.by_reason.get(&reason).copied().unwrap_or(0)
    }

    /// Adds another log's counts; the sample keeps its first entries.
    pub fn merge(&mut self, other: &RejectedLog) {
        self.total += other.total;
        for (reason, n) in &other.by_reason {
            *self.by_reason.entry(*reason).or_default() += n;
        }
        let room = REJECTED_SAMPLE_SIZE.saturating_sub(self.sample.len());
        self.sample.extend(other.sample.iter().take(room).cloned());
        self.times_adjusted.add(&other.times_adjusted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_record_but_keeps_a_bounded_sample() {
        let mut log = RejectedLog::default();
        for i in 0..250 {
            let reason = if i % 2 == 0 {
                RejectReason::BadTimestamp
            } else {
                RejectReason::Unparseable
            };
            log.record(&Rejected::new(format!("line {i}"), reason, "", "x"));
        }
        assert_eq!(log.total, 250);
        assert_eq!(log.count(RejectReason::BadTimestamp), 125);
        assert_eq!(log.sample.len(), REJECTED_SAMPLE_SIZE);
        assert_eq!(log.sample[0].position, "line 0");
    }
}
