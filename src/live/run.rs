//! The live loop: each [`LiveRun::step`] polls the reader, takes the batch
//! into the live engine, checks the alert rules and hands the alerts they
//! raise to delivery. Saving the state is the caller's to time: now
//! ([`LiveRun::save`]) or when due ([`LiveRun::save_when_due`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::engine::alerts::{Alert, AlertRule, Alerts};
use crate::engine::{EngineConfig, LiveEngine, SegmentError};
use crate::source::kafka::KafkaSpec;
use crate::source::{SourceError, SourceOptions};

use crate::engine::triggers::compiled::TriggerError;
use crate::engine::triggers::{Action, TriggerRule};

use super::action_out::ActionDelivery;
use super::alert_out::{AlertOutputs, AlertSender, DeliveryCounts, StreamOutputs};
use super::session::LiveSession;
use crate::source::kafka::ClientError;

/// How often at most [`LiveRun::save_when_due`] saves the state (and
/// commits group offsets) while events arrive; less often when saving
/// takes long.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// What a live run reads, how, and where its alerts go.
pub struct LiveSetup {
    /// The topic and how to read it.
    pub spec: KafkaSpec,
    /// How records become events.
    pub options: SourceOptions,
    /// Sessions and what is kept.
    pub config: EngineConfig,
    /// Arrivals within this of their customer's newest event are put in
    /// order.
    pub lateness_us: i64,
    /// The state file resumed from and saved to.
    pub state: Option<PathBuf>,
    /// The alert rules watched from the start.
    pub rules: Vec<AlertRule>,
    /// Where every alert goes besides its rule's own outputs.
    pub outputs: AlertOutputs,
    /// The per-customer trigger rules.
    pub triggers: Vec<TriggerRule>,
    /// Where their actions go (`--triggers-topic`, `--triggers-webhook`).
    pub trigger_outputs: AlertOutputs,
}

/// Why a live run stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Reading the topic, or resuming or saving the state, failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// An alert rule could not be checked.
    #[error("alert rules: {0}")]
    Rules(#[from] SegmentError),
    /// The alerts' producer could not start.
    #[error("cannot start the alerts producer: {0}")]
    Delivery(#[from] ClientError),
    /// The trigger rules cannot be watched.
    #[error("trigger rules: {0}")]
    Triggers(#[from] TriggerError),
}

/// What one step brought.
#[derive(Debug, Default)]
pub struct Step {
    /// Events or rejected records arrived.
    pub news: bool,
    /// Alerts raised, already handed to delivery.
    pub alerts: Vec<Alert>,
    /// Seconds spent checking the rules.
    pub check_s: f64,
    /// Actions the triggers fired, handed to delivery when it has
    /// somewhere to send them.
    pub actions: Vec<Action>,
}

/// A topic read live: the session, its alert rules and their delivery.
pub struct LiveRun {
    session: LiveSession,
    alerts: Alerts,
    /// Delivers alerts until [`LiveRun::finish_delivery`].
    sender: Option<AlertSender>,
    delivered: DeliveryCounts,
    outputs: AlertOutputs,
    /// The brokers and client properties of the topic read: an alert
    /// topic without brokers of its own is on them.
    brokers: String,
    properties: Vec<(String, String)>,
    last_message: Option<Instant>,
    /// When something last arrived, or the run began.
    last_news: Instant,
    unsaved: bool,
    last_save: Instant,
    save_every: Duration,
    /// Where actions go, and those queued for delivery.
    actions: ActionDelivery,
    actions_delivered: DeliveryCounts,
    /// Whether each step hands back the actions fired, made whole.
    print_actions: bool,
}

impl LiveRun {
    /// Resumes from the state file when there is one, connects and starts
    /// delivering alerts (a producer the client properties refuse stops
    /// the run before anything is read).
    pub fn open(setup: LiveSetup) -> Result<Self, LiveError> {
        let mut session = LiveSession::open(
            &setup.spec,
            &setup.options,
            setup.config,
            setup.lateness_us,
            setup.state,
        )?;
        let alerts = Alerts::new(setup.rules, session.source.name());
        if !alerts.rules().is_empty() {
            session.engine.keep_at_least(alerts.keeps_us());
        }
        session.engine.set_triggers(setup.triggers)?;
        let actions = ActionDelivery::new(&setup.trigger_outputs);
        let source = format!("kafka://{}/{}", setup.spec.brokers, setup.spec.topic);
        session
            .engine
            .triggers_mut()
            .set_output(&source, actions.is_on());
        let sender = AlertSender::start(&setup.outputs)?;
        Ok(LiveRun {
            session,
            alerts,
            sender: Some(sender),
            delivered: DeliveryCounts::default(),
            outputs: setup.outputs,
            brokers: setup.spec.brokers,
            properties: setup.spec.properties,
            last_message: None,
            last_news: Instant::now(),
            unsaved: false,
            last_save: Instant::now(),
            save_every: SAVE_EVERY,
            actions,
            print_actions: false,
            actions_delivered: DeliveryCounts::default(),
        })
    }

    /// The session: its source and engine.
    pub fn session(&self) -> &LiveSession {
        &self.session
    }

    /// The engine, to say what it keeps.
    pub fn engine_mut(&mut self) -> &mut LiveEngine {
        &mut self.session.engine
    }

    /// Takes in what arrives within a short wait (none while event-time
    /// rules catch up, which waiting would slow down), then checks the
    /// rules: lag rules always, event-time rules once every partition is
    /// read to its end (while a replay catches up, its partitions stand
    /// hours apart in event time).
    pub fn step(&mut self) -> Result<Step, LiveError> {
        let wait = match self.rules_behind() && self.session.source.caught_up() {
            true => Duration::from_millis(1),
            false => Duration::from_millis(50),
        };
        let news = self.session.poll(wait)?;
        if news {
            self.last_news = Instant::now();
            self.last_message = Some(self.last_news);
            self.unsaved = true;
        }
        let mut step = self.check(false)?;
        step.news = news;
        step.actions = self.hand_over_actions();
        Ok(step)
    }

    /// Takes what the triggers fired, queues the actions not yet delivered
    /// (a full queue leaves them for the next step) and tells the triggers
    /// which deliveries are over.
    fn hand_over_actions(&mut self) -> Vec<Action> {
        let triggers = self.session.engine.triggers_mut();
        let fired = match self.print_actions {
            true => triggers.take_fired(),
            false => {
                triggers.drop_fired();
                Vec::new()
            }
        };
        let Some(sender) = &self.sender else {
            return fired;
        };
        self.unsaved |= self.actions.queue(sender, triggers);
        let done = self.actions.done(sender);
        self.unsaved |= triggers.confirm(&done);
        fired
    }

    /// Whether each step hands back the actions the triggers fired (made
    /// whole: only when something prints them).
    pub fn hand_back_actions(&mut self, yes: bool) {
        self.print_actions = yes;
        self.session.engine.triggers_mut().hand_back(yes);
    }

    /// How delivering the triggers' actions has gone so far.
    pub fn action_delivery(&self) -> DeliveryCounts {
        match &self.sender {
            Some(sender) => sender.action_counts(),
            None => self.actions_delivered,
        }
    }

    /// Checks the rules as if every partition were read to its end (a
    /// benchmark's replay catching up on event time).
    pub fn check_as_caught_up(&mut self) -> Result<Step, LiveError> {
        self.check(true)
    }

    fn check(&mut self, caught_up: bool) -> Result<Step, LiveError> {
        if self.alerts.rules().is_empty() {
            return Ok(Step::default());
        }
        let started = Instant::now();
        let mut stream = self.session.source.stream_state();
        stream.caught_up |= caught_up;
        let alerts = self.alerts.check(&self.session.engine, &stream)?;
        let check_s = started.elapsed().as_secs_f64();
        if let Some(sender) = &self.sender {
            let stream = StreamOutputs {
                outputs: &self.outputs,
                brokers: &self.brokers,
                properties: &self.properties,
            };
            sender.send_raised(&alerts, self.alerts.rules(), &stream);
        }
        Ok(Step {
            news: false,
            alerts,
            check_s,
            actions: Vec::new(),
        })
    }

    /// Event-time rules have not yet reached the newest event.
    pub fn rules_behind(&self) -> bool {
        self.alerts.is_behind(&self.session.engine)
    }

    /// The alert rules watched.
    pub fn rules(&self) -> &[AlertRule] {
        self.alerts.rules()
    }

    /// Watches `rules` from now on.
    pub fn set_rules(&mut self, rules: Vec<AlertRule>) {
        self.alerts.set_rules(rules);
        self.session.engine.keep_at_least(self.alerts.keeps_us());
    }

    /// Watches the per-customer trigger `rules` from now on.
    pub fn set_triggers(&mut self, rules: Vec<TriggerRule>) -> Result<(), TriggerError> {
        self.session.engine.set_triggers(rules)
    }

    /// When the last message arrived.
    pub fn last_message(&self) -> Option<Instant> {
        self.last_message
    }

    /// Nothing came for `quiet`, every partition is read to its end, no
    /// reader is still decoding (say waiting for a slow registry) and the
    /// event-time rules have caught up.
    pub fn is_idle(&self, quiet: Duration) -> bool {
        let source = &self.session.source;
        self.last_news.elapsed() >= quiet
            && source.read_to_the_end()
            && !source.is_verifying()
            && !(source.caught_up() && self.rules_behind())
    }

    /// Saves the state now (when the run keeps one) and, in a consumer
    /// group, commits the offsets it covers.
    pub fn save(&mut self) -> Result<(), LiveError> {
        self.session.save()?;
        self.unsaved = false;
        self.last_save = Instant::now();
        Ok(())
    }

    /// Saves when events or rejected records arrived since the last save
    /// (a state that holds them all is left as it is).
    pub fn save_if_changed(&mut self) -> Result<(), LiveError> {
        match self.unsaved {
            true => self.save(),
            false => Ok(()),
        }
    }

    /// Saves when something arrived since the last save and
    /// [`SAVE_EVERY`] has passed; a large state is saved less often, so
    /// that at most a tenth of the loop's time goes to saving.
    pub fn save_when_due(&mut self) -> Result<(), LiveError> {
        if !self.unsaved || self.last_save.elapsed() < self.save_every {
            return Ok(());
        }
        let started = Instant::now();
        self.save()?;
        self.save_every = SAVE_EVERY.max(started.elapsed() * 10);
        Ok(())
    }

    /// How delivering alerts has gone so far.
    pub fn delivery(&self) -> DeliveryCounts {
        match &self.sender {
            Some(sender) => sender.counts(),
            None => self.delivered,
        }
    }

    /// Delivers what is queued, waiting a few seconds at most
    /// ([`super::alert_out::FINISH_WAIT`]); alerts raised after are not
    /// delivered.
    pub fn finish_delivery(&mut self) -> DeliveryCounts {
        self.hand_over_actions();
        if let Some(sender) = self.sender.take() {
            let (alerts, actions, done) = sender.finish_both();
            self.delivered = alerts;
            self.actions_delivered = actions;
            self.unsaved |= self.session.engine.triggers_mut().confirm(&done);
        }
        self.delivered
    }

    /// Finishes delivering alerts and actions, saves what is unsaved (the
    /// actions still undelivered with it) and leaves the stream (a group
    /// member leaves its group).
    pub fn close(mut self) -> Result<DeliveryCounts, LiveError> {
        let delivery = self.finish_delivery();
        let saved = self.save_if_changed();
        self.session.close();
        saved.map(|()| delivery)
    }
}
