//! Alert rules on the merged view of a job's workers: shares, funnels and
//! volumes need every partition, so they are checked here, on the parts
//! put together, as the live loop checks them on one engine, and their
//! alerts delivered the same way. Lag rules read the workers' lag (the
//! input's end against where each partition's snapshot covers).

use crate::engine::SegmentError;
use crate::engine::alerts::{Alert, AlertRule, Alerts, StreamState};
use crate::engine::kept::KeptEvents;
use crate::source::kafka::ClientError;

use super::alert_out::{AlertOutputs, AlertSender, DeliveryCounts, StreamOutputs};
use super::merged::MergedView;

/// The rules watched on a merged view and their delivery.
pub struct MergedAlerts {
    alerts: Alerts,
    sender: Option<AlertSender>,
    delivered: DeliveryCounts,
    outputs: AlertOutputs,
}

impl MergedAlerts {
    /// Watches `rules` on the journeys of `source`, delivering to `outputs`
    /// and each rule's own.
    pub fn start(
        rules: Vec<AlertRule>,
        source: &str,
        outputs: AlertOutputs,
    ) -> Result<Self, ClientError> {
        Ok(MergedAlerts {
            alerts: Alerts::new(rules, source),
            sender: Some(AlertSender::start(&outputs)?),
            delivered: DeliveryCounts::default(),
            outputs,
        })
    }

    /// The rules watched.
    pub fn rules(&self) -> &[AlertRule] {
        self.alerts.rules()
    }

    /// Watches `rules` from now on (a rule of an earlier one's name keeps
    /// its state).
    pub fn set_rules(&mut self, rules: Vec<AlertRule>) {
        self.alerts.set_rules(rules);
    }

    /// How much event time the rules read back (the workers must keep at
    /// least this much).
    pub fn keeps_us(&self) -> i64 {
        self.alerts.keeps_us()
    }

    /// Checks the rules on `view` at wall time `now_ms` (event-time rules
    /// once every partition's snapshot covers its end) and hands what they
    /// raise to delivery.
    pub fn check(&mut self, view: &MergedView, now_ms: i64) -> Result<Vec<Alert>, SegmentError> {
        if self.alerts.rules().is_empty() {
            return Ok(Vec::new());
        }
        let stream = StreamState {
            caught_up: view.workers_caught_up(),
            lag: view.progress().lag(now_ms),
            wall_us: now_ms.saturating_mul(1000),
        };
        let engine: &dyn KeptEvents = view.engine();
        let raised = self.alerts.check(engine, &stream)?;
        if let Some(sender) = &self.sender {
            let spec = &view.state_topic().spec;
            let to = StreamOutputs {
                outputs: &self.outputs,
                brokers: &spec.brokers,
                properties: &spec.properties,
            };
            sender.send_raised(&raised, self.alerts.rules(), &to);
        }
        Ok(raised)
    }

    /// True while event-time rules have steps of the merged stream left to
    /// check.
    pub fn is_behind(&self, view: &MergedView) -> bool {
        self.alerts.is_behind(view.engine())
    }

    /// How delivery has gone so far.
    pub fn delivery(&self) -> DeliveryCounts {
        self.sender
            .as_ref()
            .map_or(self.delivered, AlertSender::counts)
    }

    /// Delivers what is queued (a few seconds at most).
    pub fn finish(&mut self) -> DeliveryCounts {
        if let Some(sender) = self.sender.take() {
            self.delivered = sender.finish();
        }
        self.delivered
    }
}
