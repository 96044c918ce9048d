//! A kept property's values along a customer's ordered events, held as
//! the points where the value changes.

use super::value_ids::ValueIds;

/// The values one kept property has along the ordered events, as the
/// points where it changes: a few bytes per session, not per event.
#[derive(Debug, Clone, Default)]
pub struct PropertyColumn {
    /// (index of the first event with the value, value id + 1 or 0: none).
    changes: Vec<(u32, u32)>,
}

impl PropertyColumn {
    /// The column of property `p` from values laid out `kept` per event.
    pub(super) fn from_runs(values: &ValueIds, kept: usize, p: usize) -> PropertyColumn {
        fn changes<T: Copy + Into<u32>>(values: &[T], kept: usize, p: usize) -> Vec<(u32, u32)> {
            let mut changes: Vec<(u32, u32)> = Vec::new();
            for (i, v) in values.iter().skip(p).step_by(kept).enumerate() {
                let v: u32 = (*v).into();
                if changes.last().is_none_or(|(_, last)| *last != v) {
                    changes.push((i as u32, v));
                }
            }
            changes.shrink_to_fit();
            changes
        }
        let changes = match values {
            ValueIds::Narrow(values) => changes(values, kept, p),
            ValueIds::Wide(values) => changes(values, kept, p),
        };
        PropertyColumn { changes }
    }

    /// The value id + 1 (0: none) at event `index`.
    pub fn at(&self, index: usize) -> u32 {
        let after = self.changes.partition_point(|(i, _)| *i as usize <= index);
        after.checked_sub(1).map_or(0, |k| self.changes[k].1)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.changes.len() * std::mem::size_of::<(u32, u32)>()
    }
}
