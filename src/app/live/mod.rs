//! The live feed: a named engine thread consumes the Kafka source and, once
//! a second, publishes a snapshot (summary, offsets, open sessions) that
//! the UI picks up; the UI never waits for the engine.

pub mod conformance;
mod engine_thread;
mod feed;
mod loops;

pub use crate::live::window::{LiveWindow, range_before, range_from_to, range_text, read_moment};
pub use feed::{LiveFeed, finish_closing, is_closing};

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::settings::Settings;

use crate::engine::Journeys;
use crate::engine::alerts::{Alert, AlertRule, AlertState};
use crate::engine::live_compare::LiveComparison;
use crate::engine::live_range::{EventRange, RangeComparison, RangeError};
use crate::report::Summary;
use crate::source::kafka::{KafkaProgress, KafkaSpec, StartAt};

/// How often the engine publishes a snapshot (less often when building one
/// takes longer: a snapshot is built off the engine thread, one at a time,
/// and when copying it takes the engine thread more than a fifth of the
/// time).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// The state of the journeys at one moment: what the snapshot thread
/// built, and the engine's status it was built with.
#[derive(Clone)]
pub struct LiveSnapshot {
    /// The journeys so far, as `summarize` would print them.
    pub summary: Arc<Summary>,
    /// The journeys themselves (customers, timelines).
    pub journeys: Arc<Journeys>,
    /// When the snapshot was taken.
    pub taken: Instant,
    /// Time of the newest event (µs since the epoch).
    pub newest_event_us: Option<i64>,
    /// Open sessions by current touchpoint (name, sessions), busiest first.
    pub active: Vec<(String, u64)>,
    /// Seconds the engine needed for this snapshot.
    pub snapshot_s: f64,
    /// The window shown, in seconds of event time (0 = since start).
    pub window_s: u64,
    /// Why the comparison could not be made.
    pub compare_failed: Option<String>,
    /// Where the engine stood.
    pub status: LiveStatus,
}

/// What the engine thread reports beside the journeys: offsets and counts,
/// the window and what became of it, the kept past, alerts and their
/// delivery.
#[derive(Clone)]
pub struct LiveStatus {
    /// Offsets read and lag per partition.
    pub progress: KafkaProgress,
    /// When the last message arrived.
    pub last_message: Option<Instant>,
    /// Events that arrived after a newer one of the same customer, and
    /// those of them beyond the allowed lateness, since start.
    pub out_of_order: (u64, u64),
    /// Duplicates dropped since start, whatever the window.
    pub duplicates: u64,
    /// The window shown.
    pub window: LiveWindow,
    /// Why a fixed range is not shown (its journeys are then empty).
    pub window_problem: Option<RangeError>,
    /// Why a fixed range is not compared like with like.
    pub compare_problem: Option<RangeError>,
    /// Seconds of event time kept for windows (an hour unless memory is
    /// short at high rates).
    pub kept_s: f64,
    /// Where the kept past starts (µs since the epoch).
    pub kept_from_us: i64,
    /// Whether the journeys hold the customers and their events (they are
    /// left out since start while the customer list is not shown).
    pub with_customers: bool,
    /// Every alert raised so far (the last [`ALERTS_KEPT`]), oldest first.
    pub alerts: Arc<Vec<Alert>>,
    /// Changes when the engine gives customers new ids (as it settles the
    /// quiet ones): a customer picked before is found again by name.
    pub customer_numbering: u64,
    /// Settled customers forgotten past the limit since start (one who
    /// comes back counts again).
    pub customers_forgotten: u64,
    /// How delivering alerts to topics and webhooks has gone so far.
    pub delivery: crate::live::alert_out::DeliveryCounts,
    /// The merged view of a job's workers: its partitions and snapshots.
    pub workers: Option<Arc<crate::live::merged::WorkersReport>>,
    /// What the per-customer triggers fired and who waits (None: no
    /// rules).
    pub triggers: Option<Arc<crate::engine::triggers::TriggerStats>>,
    /// How delivering their actions has gone so far.
    pub action_delivery: crate::live::alert_out::DeliveryCounts,
    /// Why the trigger rules last given could not be run.
    pub triggers_problem: Option<String>,
}

/// The views of the live screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveTab {
    /// The journey map and the plots.
    Map,
    /// Customers and their timelines.
    Customers,
    /// The alert rules and the alerts raised.
    Alerts,
    /// The per-customer triggers and their actions.
    Triggers,
    /// The records rejected so far: counts by reason and a sample.
    Rejected,
}

/// Points kept for the plots (one per snapshot: ten minutes).
const HISTORY: usize = 600;

/// One point of the live plots.
#[derive(Debug, Clone)]
pub struct Point {
    /// Seconds since the screen opened.
    pub t: f64,
    /// Messages read per second since the point before.
    pub messages_per_s: f64,
    /// Rejected records since start.
    pub rejected: u64,
    /// Duplicates dropped since start.
    pub duplicates: u64,
    /// Events beyond the allowed lateness since start.
    pub late: u64,
    /// Open sessions by touchpoint (name, sessions).
    pub active: Vec<(String, u64)>,
}

/// What the live screen's views ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveCommand {
    /// Show a view.
    ShowTab(LiveTab),
    /// Show this window of event time.
    SetWindow(LiveWindow),
    /// Compare the window with the one before it, or with the same stretch
    /// that many seconds earlier (None: compare nothing).
    CompareWith(Option<Before>),
    /// The customers whose open session's latest step is at this
    /// touchpoint, on the customers tab.
    HereNow(String),
    /// The customer list's search, sort, filter and conversion.
    SetCustomers(super::customers::ListQuery),
    /// Show this customer's timeline (None: none).
    SelectCustomer(Option<u32>),
    /// Watch these alert rules from now on, and save them.
    SetAlertRules(Vec<AlertRule>),
    /// Follow this expected journey (steps or a name; None: none).
    FollowJourney(Option<String>),
    /// Run these trigger rules from now on, and save them.
    SetTriggers(Vec<crate::engine::triggers::TriggerRule>),
    /// Show the timeline of the customer so named (when the recent past
    /// holds it).
    ShowCustomerNamed(String),
    /// The customers of these sessions, on their tab.
    ShowCustomersOf(super::customers::ListFilter),
}

/// What the live window is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// The window just before it.
    PreviousWindow,
    /// The same stretch this many seconds earlier.
    Earlier(u64),
}

impl Before {
    /// The stretches compared when the window shown is `window_s` seconds
    /// (0: since start, when the window is as long as the step back, and an
    /// hour for "the previous window").
    pub fn comparison(self, window_s: u64) -> LiveComparison {
        let back_s = match self {
            Before::PreviousWindow if window_s > 0 => window_s,
            Before::PreviousWindow => 3600,
            Before::Earlier(s) => s,
        };
        let window = if window_s > 0 { window_s } else { back_s };
        LiveComparison {
            window_us: window as i64 * 1_000_000,
            back_us: back_s as i64 * 1_000_000,
        }
    }

    /// The stretches compared when the window is the fixed `range`: the
    /// range against the one just before it, or the same range that many
    /// seconds earlier.
    pub fn of_range(self, range: EventRange) -> RangeComparison {
        let back_us = match self {
            Before::PreviousWindow => range.len_us(),
            Before::Earlier(s) => s as i64 * 1_000_000,
        };
        RangeComparison { range, back_us }
    }
}

/// Windows the live screen offers: (label, seconds of event time; 0 =
/// since start).
pub const OFFERED_WINDOWS: &[(&str, u64)] = &[
    ("since start", 0),
    ("last 5 minutes", 300),
    ("last 15 minutes", 900),
    ("last 60 minutes", 3600),
];

/// What the window can be compared with: (label, what).
pub const OFFERED_COMPARISONS: &[(&str, Option<Before>)] = &[
    ("nothing", None),
    ("the previous window", Some(Before::PreviousWindow)),
    ("1 hour earlier", Some(Before::Earlier(3600))),
    ("1 day earlier", Some(Before::Earlier(86_400))),
];

/// The event time every offered window and comparison needs, kept from
/// the start so that a comparison picked later (or on a replay, after the
/// reader has passed the hour it needs) finds its earlier stretch.
pub fn offered_history_us() -> i64 {
    OFFERED_WINDOWS
        .iter()
        .flat_map(|(_, window)| {
            OFFERED_COMPARISONS
                .iter()
                .filter_map(move |(_, before)| before.map(|b| b.comparison(*window).keeps_us()))
        })
        .max()
        .unwrap_or(0)
}

/// What the user picked to see on a live screen, carried over to the next
/// one (a reconnect keeps the window and the comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveChoices {
    /// The window shown.
    pub window: LiveWindow,
    /// What the window is compared with.
    pub compare: Option<Before>,
}

/// The live screen as data: the feed, the newest snapshot, the history the
/// plots draw and the customer list.
pub struct LiveScreen {
    feed: LiveFeed,
    /// When it started at the latest offset: the same request from the
    /// earliest, offered when nothing new arrives.
    from_latest: Option<LiveRequest>,
    /// The view shown.
    pub tab: LiveTab,
    /// The newest snapshot.
    pub latest: Option<LiveSnapshot>,
    /// One point per snapshot, oldest first.
    pub history: VecDeque<Point>,
    /// Bumped with every snapshot.
    pub snapshots: u64,
    /// Bumped when a snapshot brought other journeys (not just offsets).
    pub journey_changes: u64,
    /// The customer list and the customer picked.
    pub customers: super::customers::Customers,
    /// The zone of times typed or shown until the user picks one (the
    /// source's `--timezone`).
    pub timezone: Option<chrono_tz::Tz>,
    /// The alert rules watched and their file.
    pub rules: super::alert_rules::AlertRules,
    /// The trigger rules run (saved to the rules file with the alerts).
    pub triggers: Vec<crate::engine::triggers::TriggerRule>,
    /// Whether actions are sent anywhere (a trigger topic or webhook).
    pub sends_actions: bool,
    /// A customer to show once a snapshot holds the customers.
    customer_named: Option<String>,
    /// The expected journey followed and its report.
    pub conformance: conformance::LiveConformance,
    opened: Instant,
    wake: crate::background::Waker,
}

impl LiveScreen {
    /// Starts watching `request`; `wake` asks for a repaint.
    pub fn start(request: LiveRequest, settings: Settings, wake: crate::background::Waker) -> Self {
        let waker = wake.clone();
        let conformance = conformance::LiveConformance::following(
            settings.questions.journey.clone(),
            request.alerts_file.as_deref(),
            settings.source.time_parser(),
        );
        let rules = super::alert_rules::AlertRules::new(
            request.alerts.clone(),
            request.alerts_file.clone(),
            settings.source.time_parser(),
        );
        LiveScreen {
            triggers: request.triggers.clone(),
            sends_actions: request.trigger_outputs.topic.is_some()
                || request.trigger_outputs.webhook.is_some(),
            customer_named: None,
            rules,
            from_latest: (request.spec.from == StartAt::Latest).then(|| {
                let mut again = request.clone();
                again.spec.from = StartAt::Earliest;
                again
            }),
            feed: LiveFeed::start(request, settings.clone(), waker),
            tab: LiveTab::Map,
            latest: None,
            history: VecDeque::new(),
            snapshots: 0,
            journey_changes: 0,
            customers: super::customers::Customers::default(),
            timezone: settings.source.timezone,
            conformance,
            opened: Instant::now(),
            wake,
        }
    }

    /// How the source is called on screen.
    pub fn label(&self) -> &str {
        &self.feed.label
    }

    /// Why the feed stopped, if it did.
    pub fn error(&self) -> Option<String> {
        self.feed.error()
    }

    /// The window shown.
    pub fn window(&self) -> LiveWindow {
        self.feed.window()
    }

    /// The alerts whose rule is firing now (the latest alert of each rule,
    /// when it is a firing one).
    pub fn firing(&self) -> Vec<Alert> {
        let Some(snapshot) = &self.latest else {
            return Vec::new();
        };
        let mut last: Vec<&Alert> = Vec::new();
        let watched = |alert: &&Alert| self.rules.rules.iter().any(|r| r.name == alert.rule);
        for alert in snapshot.status.alerts.iter().filter(watched) {
            last.retain(|a| a.rule != alert.rule);
            last.push(alert);
        }
        last.into_iter()
            .filter(|a| a.state == AlertState::Firing)
            .cloned()
            .collect()
    }

    /// The same topic read from the earliest offset, when this screen
    /// started at the latest.
    pub fn from_the_earliest(&self) -> Option<LiveRequest> {
        self.from_latest.clone()
    }

    /// What the window is compared with.
    pub fn compared_with(&self) -> Option<Before> {
        self.feed.compared_with()
    }

    /// The window and comparison picked, to carry over to a reconnect.
    pub fn choices(&self) -> LiveChoices {
        LiveChoices {
            window: self.window(),
            compare: self.compared_with(),
        }
    }

    /// Shows the window and comparison of `choices`.
    pub fn choose(&mut self, choices: LiveChoices) {
        self.apply(LiveCommand::SetWindow(choices.window));
        self.apply(LiveCommand::CompareWith(choices.compare));
    }

    /// Messages read per second at the newest point.
    pub fn messages_per_s(&self) -> Option<f64> {
        self.history.back().map(|p| p.messages_per_s)
    }

    /// Applies what a view asked for.
    pub fn apply(&mut self, command: LiveCommand) {
        match command {
            LiveCommand::ShowTab(tab) => self.tab = tab,
            LiveCommand::SetWindow(window) => self.feed.set_window(window),
            LiveCommand::HereNow(touchpoint) => {
                self.customers.query.filter =
                    Some(super::customers::ListFilter::HereNow(touchpoint));
                self.customers.selected = None;
                self.tab = LiveTab::Customers;
            }
            LiveCommand::CompareWith(choice) => {
                self.feed.compare_with(choice);
            }
            LiveCommand::SetCustomers(query) => self.customers.query = query,
            LiveCommand::SelectCustomer(customer) => self.customers.selected = customer,
            LiveCommand::SetAlertRules(rules) => {
                self.feed.set_rules(rules.clone());
                self.rules.replace(rules);
            }
            LiveCommand::FollowJourney(text) => self.conformance.follow(text.as_deref()),
            LiveCommand::SetTriggers(triggers) => {
                self.feed.set_triggers(triggers.clone());
                self.rules.replace_triggers(&triggers);
                self.triggers = triggers;
            }
            LiveCommand::ShowCustomerNamed(name) => {
                // Found once a snapshot holds the customers.
                self.customer_named = Some(name);
                self.customers.query.filter = None;
                self.customers.selected = None;
                self.tab = LiveTab::Customers;
            }
            LiveCommand::ShowCustomersOf(filter) => {
                self.customers.query.filter = Some(filter);
                self.customers.selected = None;
                self.tab = LiveTab::Customers;
            }
        }
    }

    /// Takes the newest snapshot in and keeps the customer list current.
    pub fn poll(&mut self) {
        // The journey is walked along each customer's events.
        self.feed
            .want_customers(self.tab == LiveTab::Customers || self.conformance.journey.is_some());
        self.receive();
        if let Some(snapshot) = &self.latest
            && snapshot.status.with_customers
        {
            let journeys = snapshot.journeys.clone();
            if let Some(name) = self.customer_named.take() {
                self.customers.selected = journeys.customer_id(&name);
            }
            self.customers.poll(&journeys, &self.wake);
            self.conformance
                .poll(snapshot, self.journey_changes, &self.wake);
        }
    }

    fn receive(&mut self) {
        let Some(snapshot) = self.feed.take() else {
            return;
        };
        let t = snapshot.taken.duration_since(self.opened).as_secs_f64();
        let read = snapshot.status.progress.consumed;
        let messages_per_s = match (self.history.back(), &self.latest) {
            (Some(p), Some(previous)) if t > p.t => {
                read.saturating_sub(previous.status.progress.consumed) as f64 / (t - p.t)
            }
            _ => 0.0,
        };
        self.history.push_back(Point {
            t,
            messages_per_s,
            rejected: snapshot.summary.rejected.total,
            duplicates: snapshot.status.duplicates,
            late: snapshot.status.out_of_order.1,
            active: snapshot.active.clone(),
        });
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        // A quiet stream republishes the same journeys with new offsets:
        // the map and the customer list then have nothing to redo.
        let same = self
            .latest
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(&l.summary, &snapshot.summary));
        if !same {
            self.journey_changes += 1;
            self.customers.invalidate();
        }
        if let Some(previous) = &self.latest
            && previous.status.customer_numbering != snapshot.status.customer_numbering
        {
            self.customers
                .renumbered(&previous.journeys, &snapshot.journeys);
        }
        self.snapshots += 1;
        self.latest = Some(snapshot);
    }
}

/// Alerts a live screen keeps to show.
pub const ALERTS_KEPT: usize = 200;

/// Lateness allowed when none is given (as `live --lateness`' default).
pub const DEFAULT_LATENESS_US: i64 = 10_000_000;

/// What to watch, and where to keep the state between runs.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    /// The topic and how to read it.
    pub spec: KafkaSpec,
    /// Resume from this file when it exists, and save to it (atomically)
    /// while events arrive and on closing.
    pub state: Option<PathBuf>,
    /// How much older than a customer's newest event an arrival may be
    /// before it counts as late.
    pub lateness_us: i64,
    /// Alert rules checked as events arrive.
    pub alerts: Vec<AlertRule>,
    /// Where the Alerts panel saves the rules (None: not saved).
    pub alerts_file: Option<PathBuf>,
    /// Where every alert is sent besides its rule's own outputs (the
    /// command line's `--alerts-topic` and `--alerts-webhook`).
    pub alert_outputs: crate::live::alert_out::AlertOutputs,
    /// Per-customer trigger rules run as events arrive.
    pub triggers: Vec<crate::engine::triggers::TriggerRule>,
    /// Where their actions go (`--triggers-topic`, `--triggers-webhook`).
    pub trigger_outputs: crate::live::alert_out::AlertOutputs,
    /// Show the merged view of a job's workers instead of reading `spec`'s
    /// topic (whose brokers and client properties reach the state topic).
    pub merged: Option<MergedRequest>,
}

/// The workers' state topic to follow, and the job to show.
#[derive(Debug, Clone)]
pub struct MergedRequest {
    /// The state topic.
    pub state_topic: String,
    /// The job (None: the only one there).
    pub job: Option<String>,
}
