//! Decoding plans: a writer schema read once, per schema id, into the
//! steps that decode the mapped fields of its values straight into what
//! the mapping reads, and pass over the rest without building them. A
//! value a plan cannot read exactly as the crates' decoders would (bytes
//! cut short, a union index out of range, text that is not UTF-8) is left
//! to them, so every event and every rejection is what the decoder and
//! the JSON mapping give.

use std::borrow::Cow;

use crate::source::record::{Field, Record, RecordPlan};

/// The fields a mapping reads, each in a slot of its own.
pub(super) struct Wanted {
    /// The field names, by slot.
    names: Vec<String>,
    /// Slots read only as the time: a native timestamp may go to them as
    /// it is, without its text.
    time_only: Vec<bool>,
    /// The mapping's plan, reading slots.
    pub plan: RecordPlan<usize>,
}

impl Wanted {
    /// The slots of `plan`'s fields.
    pub fn of(plan: &RecordPlan<String>) -> Wanted {
        let mut names: Vec<String> = Vec::new();
        for key in plan.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
        let slot = |key: &String| names.iter().position(|n| n == key).unwrap_or(0);
        let plan = plan.map_keys(slot);
        let time_only = (0..names.len())
            .map(|slot| plan.keys().filter(|&&k| k == slot).count() == 1 && plan.time == slot)
            .collect();
        Wanted {
            names,
            time_only,
            plan,
        }
    }

    /// The slot of the field `name`, if the mapping reads it.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether the slot is read only as the time.
    pub fn time_only(&self, slot: usize) -> bool {
        self.time_only.get(slot).copied().unwrap_or(false)
    }

    /// How many slots there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// The names not among `found`: fields a plan would look for under
    /// `properties`.
    pub fn missing_from<'w>(&'w self, found: &[&str]) -> impl Iterator<Item = &'w str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(move |n| !found.contains(n))
    }
}

/// A value read with a plan.
pub(super) struct PlannedRecord<'a, W: Fn() -> String> {
    /// The mapped fields by slot.
    pub fields: Vec<Field<'a>>,
    /// The value decoded whole, as text (for a rejection).
    pub whole: W,
}

impl<W: Fn() -> String> Record<usize> for PlannedRecord<'_, W> {
    fn field(&self, slot: &usize) -> Field<'_> {
        match self.fields.get(*slot) {
            Some(Field::Text(text)) => Field::Text(Cow::Borrowed(text.as_ref())),
            Some(other) => other.clone(),
            None => Field::Missing,
        }
    }

    fn raw_text(&self) -> String {
        (self.whole)()
    }
}
