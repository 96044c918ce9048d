//! The triggers' actions on their way out: the actions fired and not yet
//! confirmed (kept with the triggers, and so with the saved state) are
//! queued on the delivery thread the alerts use, each once, and confirmed
//! once their delivery is over. A full queue leaves them for the next
//! round; a crash leaves them in the state, sent again after resuming with
//! the same id (at least once).

use rustc_hash::FxHashSet;

use crate::engine::triggers::TriggerRunner;

use super::alert_out::{AlertOutputs, AlertSender, Destination};

/// Where actions go and which are queued.
#[derive(Debug, Default)]
pub struct ActionDelivery {
    to: Vec<Destination>,
    queued: FxHashSet<String>,
}

impl ActionDelivery {
    /// Actions to `outputs`' topic (idempotent producer) and webhook.
    pub fn new(outputs: &AlertOutputs) -> Self {
        ActionDelivery {
            to: outputs.action_destinations(),
            queued: FxHashSet::default(),
        }
    }

    /// True when actions go somewhere.
    pub fn is_on(&self) -> bool {
        !self.to.is_empty()
    }

    /// Queues the actions of `triggers` not yet delivered nor queued;
    /// true when any was queued.
    pub fn queue(&mut self, sender: &AlertSender, triggers: &TriggerRunner) -> bool {
        let mut any = false;
        if !self.is_on() {
            return any;
        }
        for action in triggers.unsent() {
            if self.queued.contains(&action.id) {
                continue;
            }
            if !sender.send_action(action, self.to.clone()) {
                break;
            }
            self.queued.insert(action.id.clone());
            any = true;
        }
        any
    }

    /// The actions whose delivery is over since the last call (to confirm
    /// with the triggers that fired them).
    pub fn done(&mut self, sender: &AlertSender) -> Vec<String> {
        let done = sender.take_done_actions();
        for id in &done {
            self.queued.remove(id);
        }
        done
    }
}
