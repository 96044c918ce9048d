//! What the live engine thread drives: a topic read live
//! ([`crate::live::LiveRun`]), or the merged view of a job's workers
//! ([`crate::live::merged::MergedView`], their snapshots followed on the
//! state topic). Both take in what arrives, check the alert rules, and are
//! read as one stream ([`KeptEvents`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::alerts::{Alert, AlertRule};
use crate::engine::kept::KeptEvents;
use crate::engine::triggers::TriggerRule;
use crate::live::alert_out::DeliveryCounts;
use crate::live::merged::MergedView;
use crate::live::merged_alerts::MergedAlerts;
use crate::live::state_topic::StateTopic;
use crate::live::{Compared, LiveRun, LiveSetup};
use crate::settings::Settings;
use crate::source::Mapping;

use super::{LiveRequest, LiveStatus, LiveWindow};

/// A stream the live screen shows, however it is read.
pub(super) trait ShownLoop {
    /// Takes in what arrives within a short wait: whether anything did,
    /// and the alerts raised (already handed to delivery).
    fn step(&mut self) -> Result<(bool, Vec<Alert>), String>;
    /// The stream as the windows read it.
    fn kept(&self) -> &dyn KeptEvents;
    /// What the stream is called, and the columns it is mapped with.
    fn named(&self) -> (String, Mapping);
    /// Where it stands, showing `window`, with the alerts `raised`.
    fn status(&self, window: LiveWindow, raised: Arc<Vec<Alert>>) -> LiveStatus;
    /// Keeps what `window` and `compared` need (as far as it decides what
    /// is kept), and at least `at_least_us` of event time.
    fn keep_for(&mut self, window: LiveWindow, compared: Option<Compared>, at_least_us: i64);
    /// Watches `rules` from now on.
    fn set_rules(&mut self, rules: Vec<AlertRule>);
    /// Runs the trigger `rules` from now on (a merged view's workers run
    /// their own).
    fn set_triggers(&mut self, rules: Vec<TriggerRule>) -> Result<(), String>;
    /// Saves its state when due (when it keeps one).
    fn save_when_due(&mut self) -> Result<(), String>;
    /// Saves, leaves and finishes delivering alerts.
    fn close(self: Box<Self>) -> Result<DeliveryCounts, String>;
}

/// Opens what `request` asks for.
pub(super) fn open(
    request: &LiveRequest,
    settings: &Settings,
) -> Result<Box<dyn ShownLoop>, String> {
    if let Some(merged) = &request.merged {
        let state = StateTopic {
            spec: request.spec.clone(),
            name: merged.state_topic.clone(),
        };
        let view = MergedView::open(state, merged.job.clone(), settings.engine.clone())
            .map_err(|e| crate::format::error_chain(&e))?;
        let alerts = MergedAlerts::start(
            request.alerts.clone(),
            &merged.state_topic,
            request.alert_outputs.clone(),
        )
        .map_err(|e| format!("cannot start the alerts producer: {e}"))?;
        return Ok(Box::new(MergedRun {
            view,
            alerts,
            last_message: None,
        }));
    }
    let live = LiveRun::open(LiveSetup {
        spec: request.spec.clone(),
        options: settings.source.clone(),
        config: settings.engine.clone(),
        lateness_us: request.lateness_us,
        state: request.state.clone(),
        rules: request.alerts.clone(),
        outputs: request.alert_outputs.clone(),
        triggers: request.triggers.clone(),
        trigger_outputs: request.trigger_outputs.clone(),
    })
    .map_err(|e| crate::format::error_chain(&e))?;
    Ok(Box::new(live))
}

/// Where a stream stands as far as what it keeps and its `progress` say,
/// showing `window` with the alerts `raised` (the counts only the loop
/// knows are the caller's to fill in).
fn status_of(
    kept: &dyn KeptEvents,
    progress: crate::source::kafka::KafkaProgress,
    window: LiveWindow,
    raised: Arc<Vec<Alert>>,
) -> LiveStatus {
    LiveStatus {
        progress,
        last_message: None,
        out_of_order: (0, 0),
        duplicates: 0,
        window,
        window_problem: None,
        compare_problem: None,
        kept_s: kept.kept_s(),
        kept_from_us: kept.kept_from_us(),
        with_customers: false,
        alerts: raised,
        customer_numbering: 0,
        customers_forgotten: 0,
        delivery: DeliveryCounts::default(),
        workers: None,
        triggers: None,
        action_delivery: DeliveryCounts::default(),
        triggers_problem: None,
    }
}

impl ShownLoop for LiveRun {
    fn step(&mut self) -> Result<(bool, Vec<Alert>), String> {
        let step = LiveRun::step(self).map_err(|e| crate::format::error_chain(&e))?;
        Ok((step.news, step.alerts))
    }

    fn kept(&self) -> &dyn KeptEvents {
        &self.session().engine
    }

    fn named(&self) -> (String, Mapping) {
        let source = &self.session().source;
        (source.name().to_owned(), source.mapping().clone())
    }

    fn status(&self, window: LiveWindow, raised: Arc<Vec<Alert>>) -> LiveStatus {
        let engine = &self.session().engine;
        LiveStatus {
            last_message: self.last_message(),
            out_of_order: engine.out_of_order(),
            duplicates: engine.duplicates(),
            customer_numbering: engine.customer_numbering(),
            customers_forgotten: engine.settled_customers().1,
            delivery: self.delivery(),
            triggers: engine
                .triggers()
                .is_watching()
                .then(|| Arc::new(engine.triggers().stats())),
            action_delivery: self.action_delivery(),
            ..status_of(engine, self.session().source.progress(), window, raised)
        }
    }

    fn keep_for(&mut self, window: LiveWindow, compared: Option<Compared>, at_least_us: i64) {
        let engine = self.engine_mut();
        engine.keep_at_least(at_least_us);
        if let Some(Compared::Last(c)) = &compared {
            engine.keep_at_least(c.keeps_us());
        }
        let pinned = match compared {
            Some(Compared::Range(c)) => Some(c.keeps_from_us()),
            _ => window.range().map(|r| r.from_us),
        };
        engine.keep_from(pinned);
    }

    fn set_rules(&mut self, rules: Vec<AlertRule>) {
        LiveRun::set_rules(self, rules);
    }

    fn set_triggers(&mut self, rules: Vec<TriggerRule>) -> Result<(), String> {
        LiveRun::set_triggers(self, rules).map_err(|e| e.to_string())
    }

    fn save_when_due(&mut self) -> Result<(), String> {
        LiveRun::save_when_due(self).map_err(|e| crate::format::error_chain(&e))
    }

    fn close(self: Box<Self>) -> Result<DeliveryCounts, String> {
        LiveRun::close(*self).map_err(|e| crate::format::error_chain(&e))
    }
}

/// The merged view of a job's workers, with the alert rules watched on it.
struct MergedRun {
    view: MergedView,
    alerts: MergedAlerts,
    /// When a snapshot last arrived.
    last_message: Option<Instant>,
}

impl ShownLoop for MergedRun {
    fn step(&mut self) -> Result<(bool, Vec<Alert>), String> {
        let news = self
            .view
            .poll(Duration::from_millis(50))
            .map_err(|e| crate::format::error_chain(&e))?;
        if news {
            self.last_message = Some(Instant::now());
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let raised = self
            .alerts
            .check(&self.view, now_ms)
            .map_err(|e| format!("alert rules: {e}"))?;
        Ok((news, raised))
    }

    fn kept(&self) -> &dyn KeptEvents {
        self.view.engine()
    }

    fn named(&self) -> (String, Mapping) {
        let name = format!("the workers' snapshots on {}", self.view.state_topic().name);
        let mapping = self
            .view
            .mapping()
            .cloned()
            .unwrap_or_else(crate::source::schema::no_columns);
        (name, mapping)
    }

    fn status(&self, window: LiveWindow, raised: Arc<Vec<Alert>>) -> LiveStatus {
        let engine = self.view.engine();
        let now_ms = chrono::Utc::now().timestamp_millis();
        LiveStatus {
            last_message: self.last_message,
            out_of_order: engine.out_of_order(),
            duplicates: engine.duplicates(),
            customer_numbering: engine.numbering(),
            customers_forgotten: engine.settled_customers().1,
            delivery: self.alerts.delivery(),
            workers: Some(Arc::new(self.view.workers(now_ms))),
            ..status_of(engine, self.view.progress(), window, raised)
        }
    }

    /// The workers decide what they keep: an hour unless told otherwise.
    fn keep_for(&mut self, _: LiveWindow, _: Option<Compared>, _: i64) {}

    fn set_rules(&mut self, rules: Vec<AlertRule>) {
        self.alerts.set_rules(rules);
    }

    fn set_triggers(&mut self, _: Vec<TriggerRule>) -> Result<(), String> {
        Err("the workers run the triggers of their own --rules".into())
    }

    fn save_when_due(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn close(mut self: Box<Self>) -> Result<DeliveryCounts, String> {
        Ok(self.alerts.finish())
    }
}
