//! The plans of the writer schemas met so far, made the first time each
//! is met (see [`super::plan`]).

use std::cell::RefCell;
use std::sync::Arc;

use crate::source::record::Field;

use super::plan_avro::AvroPlan;
use super::plan_protobuf::ProtobufPlan;

/// A writer schema's plan.
pub(super) enum Plan {
    /// For an Avro record schema.
    Avro(AvroPlan),
    /// For a Protobuf message.
    Protobuf(ProtobufPlan),
}

impl Plan {
    /// The mapped fields of `payload` by slot; None when the plan cannot
    /// read it as the decoder would (then the decoder does).
    pub fn read<'a>(&'a self, payload: &'a [u8], slots: usize) -> Option<Vec<Field<'a>>> {
        let mut fields = vec![Field::Missing; slots];
        let read = match self {
            Plan::Avro(plan) => plan.read(payload, &mut fields),
            Plan::Protobuf(plan) => plan.read(payload, &mut fields),
        };
        read.then_some(fields)
    }
}

/// Which writer schema a value is read with: its registry id (none for
/// `--schema`), and for Protobuf the framing's message indexes as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlanKey {
    pub id: Option<u32>,
    pub indexes: Vec<u8>,
}

/// The plans made so far (a topic has a few writer schemas at most); None
/// for a schema no plan reads (then its values are decoded whole).
#[derive(Default)]
pub(super) struct Plans(RefCell<Vec<(PlanKey, Option<Arc<Plan>>)>>);

/// More writer schemas than this and the oldest plans are forgotten.
const PLANS_KEPT: usize = 64;

impl Plans {
    /// The plan for `key`, made with `make` the first time.
    pub fn get(
        &self,
        id: Option<u32>,
        indexes: &[u8],
        make: impl FnOnce() -> Option<Plan>,
    ) -> Option<Arc<Plan>> {
        let found = self
            .0
            .borrow()
            .iter()
            .find(|(key, _)| key.id == id && key.indexes == indexes)
            .map(|(_, plan)| plan.clone());
        if let Some(plan) = found {
            return plan;
        }
        let plan = make().map(Arc::new);
        let mut plans = self.0.borrow_mut();
        if plans.len() >= PLANS_KEPT {
            plans.remove(0);
        }
        let key = PlanKey {
            id,
            indexes: indexes.to_vec(),
        };
        plans.push((key, plan.clone()));
        plan
    }
}
