//! The live feed: a named engine thread consumes the Kafka source and, once
//! a second, publishes a snapshot (summary, offsets, open sessions) that
//! the UI picks up; the UI never waits for the engine.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::settings::Settings;
use crossbeam_channel::{Receiver, bounded};

use crate::engine::alerts::{Alert, AlertRule, AlertState, Alerts};
use crate::engine::live_compare::{LiveComparison, compare_journeys};
use crate::engine::{FunnelSpec, Journeys, RunningTotals, StagedCopy, active_sessions};
use crate::report::Summary;
use crate::source::Mapping;
use crate::source::kafka::{KafkaProgress, KafkaSpec, StartAt};
use crate::source::live_session::LiveSession;

/// How often the engine publishes a snapshot (less often when building one
/// takes longer: a snapshot is built off the engine thread, one at a time,
/// and when copying it takes the engine thread more than a fifth of the
/// time).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// The state of the journeys at one moment.
#[derive(Clone)]
pub struct LiveSnapshot {
    /// The journeys so far, as `summarize` would print them.
    pub summary: Arc<Summary>,
    /// Every alert raised so far (the last [`ALERTS_KEPT`]), oldest first.
    pub alerts: Arc<Vec<Alert>>,
    /// The journeys themselves (customers, timelines).
    pub journeys: Arc<Journeys>,
    /// Offsets read and lag per partition.
    pub progress: KafkaProgress,
    /// When the snapshot was taken.
    pub taken: Instant,
    /// Time of the newest event (µs since the epoch).
    pub newest_event_us: Option<i64>,
    /// When the last message arrived.
    pub last_message: Option<Instant>,
    /// Open sessions by current touchpoint (name, sessions), busiest first.
    pub active: Vec<(String, u64)>,
    /// Seconds the engine needed for this snapshot.
    pub snapshot_s: f64,
    /// Events that arrived after a newer one of the same customer, and
    /// those of them beyond the allowed lateness, since start.
    pub out_of_order: (u64, u64),
    /// Duplicates dropped since start, whatever the window.
    pub duplicates: u64,
    /// The window shown, in seconds of event time (0 = since start).
    pub window_s: u64,
    /// Seconds of event time kept for windows (an hour unless memory is
    /// short at high rates).
    pub kept_s: f64,
    /// Whether `journeys` holds the customers and their events (they are
    /// left out since start while the customer list is not shown).
    pub with_customers: bool,
}

/// The views of the live screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveTab {
    /// The journey map and the plots.
    Map,
    /// Customers and their timelines.
    Customers,
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
    /// Show the last `seconds` of event time (0 = since start).
    SetWindow(u64),
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
    /// As the feed's atomic holds it: 0 nothing, `u64::MAX` the previous
    /// window, else the seconds back.
    fn code(choice: Option<Before>) -> u64 {
        match choice {
            None => 0,
            Some(Before::PreviousWindow) => u64::MAX,
            Some(Before::Earlier(s)) => s.max(1),
        }
    }

    fn of(code: u64) -> Option<Before> {
        match code {
            0 => None,
            u64::MAX => Some(Before::PreviousWindow),
            s => Some(Before::Earlier(s)),
        }
    }

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
    opened: Instant,
    wake: super::task::Waker,
}

impl LiveScreen {
    /// Starts watching `request`; `wake` asks for a repaint.
    pub fn start(request: LiveRequest, settings: Settings, wake: super::task::Waker) -> Self {
        let waker = wake.clone();
        LiveScreen {
            from_latest: (request.spec.from == StartAt::Latest).then(|| {
                let mut again = request.clone();
                again.spec.from = StartAt::Earliest;
                again
            }),
            feed: LiveFeed::start(request, settings, move || waker()),
            tab: LiveTab::Map,
            latest: None,
            history: VecDeque::new(),
            snapshots: 0,
            journey_changes: 0,
            customers: super::customers::Customers::default(),
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

    /// The window shown, in seconds of event time (0 = since start).
    pub fn window_s(&self) -> u64 {
        self.feed.window_s()
    }

    /// The alerts whose rule is firing now (the latest alert of each rule,
    /// when it is a firing one).
    pub fn firing(&self) -> Vec<Alert> {
        let Some(snapshot) = &self.latest else {
            return Vec::new();
        };
        let mut last: Vec<&Alert> = Vec::new();
        for alert in snapshot.alerts.iter() {
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
        Before::of(self.feed.compare.load(Ordering::Relaxed))
    }

    /// Messages read per second at the newest point.
    pub fn messages_per_s(&self) -> Option<f64> {
        self.history.back().map(|p| p.messages_per_s)
    }

    /// Applies what a view asked for.
    pub fn apply(&mut self, command: LiveCommand) {
        match command {
            LiveCommand::ShowTab(tab) => self.tab = tab,
            LiveCommand::SetWindow(seconds) => self.feed.set_window_s(seconds),
            LiveCommand::HereNow(touchpoint) => {
                self.customers.query.filter =
                    Some(super::customers::ListFilter::HereNow(touchpoint));
                self.customers.selected = None;
                self.tab = LiveTab::Customers;
            }
            LiveCommand::CompareWith(choice) => {
                self.feed
                    .compare
                    .store(Before::code(choice), Ordering::Relaxed);
            }
            LiveCommand::SetCustomers(query) => self.customers.query = query,
            LiveCommand::SelectCustomer(customer) => self.customers.selected = customer,
        }
    }

    /// Takes the newest snapshot in and keeps the customer list current.
    pub fn poll(&mut self) {
        self.feed.want_customers(self.tab == LiveTab::Customers);
        self.receive();
        if let Some(snapshot) = &self.latest
            && snapshot.with_customers
        {
            let journeys = snapshot.journeys.clone();
            self.customers.poll(&journeys, &self.wake);
        }
    }

    fn receive(&mut self) {
        let Some(snapshot) = self.feed.take() else {
            return;
        };
        let t = snapshot.taken.duration_since(self.opened).as_secs_f64();
        let read = snapshot.progress.consumed;
        let messages_per_s = match (self.history.back(), &self.latest) {
            (Some(p), Some(previous)) if t > p.t => {
                read.saturating_sub(previous.progress.consumed) as f64 / (t - p.t)
            }
            _ => 0.0,
        };
        self.history.push_back(Point {
            t,
            messages_per_s,
            rejected: snapshot.summary.rejected.total,
            duplicates: snapshot.duplicates,
            late: snapshot.out_of_order.1,
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
}

/// A running feed; dropping it stops the engine thread.
pub struct LiveFeed {
    /// How the source is called on screen (no client properties).
    pub label: String,
    latest: Arc<Mutex<Option<LiveSnapshot>>>,
    error: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    window_s: Arc<AtomicU64>,
    /// What the window is compared with ([`Before::code`]).
    compare: Arc<AtomicU64>,
    customers_wanted: Arc<AtomicBool>,
    engine: Option<thread::JoinHandle<()>>,
}

impl LiveFeed {
    /// Connects in the background and starts publishing snapshots; `wake`
    /// is called after each one.
    pub fn start(
        request: LiveRequest,
        settings: Settings,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let latest = Arc::new(Mutex::new(None));
        let error = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let window_s = Arc::new(AtomicU64::new(0));
        let customers_wanted = Arc::new(AtomicBool::new(false));
        let compare = Arc::new(AtomicU64::new(0));
        let label = request.spec.label();
        let (l, e, s) = (latest.clone(), error.clone(), stop.clone());
        let wanted = Wanted {
            window_s: window_s.clone(),
            compare: compare.clone(),
            customers: customers_wanted.clone(),
        };
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(wake);
        let spawned = thread::Builder::new()
            .name("live engine".into())
            .spawn(move || {
                // The Kafka reader and librdkafka's threads start from this
                // one and take its priority with them.
                yield_to_the_window();
                if let Err(message) = run(&request, &settings, l, &s, &wanted, wake.clone())
                    && let Ok(mut slot) = e.lock()
                {
                    *slot = Some(message);
                    wake();
                }
            });
        let engine = match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                if let Ok(mut slot) = error.lock() {
                    *slot = Some(format!("cannot start the live engine: {e}"));
                }
                None
            }
        };
        LiveFeed {
            label,
            latest,
            error,
            stop,
            window_s,
            compare,
            customers_wanted,
            engine,
        }
    }

    /// Whether snapshots should carry the customers of the recent past
    /// (while the customer list is on screen); without them a snapshot
    /// since start costs only the running totals.
    pub fn want_customers(&self, wanted: bool) {
        self.customers_wanted.store(wanted, Ordering::Relaxed);
    }

    /// Shows only the last `seconds` of event time (0 = since start).
    pub fn set_window_s(&self, seconds: u64) {
        self.window_s.store(seconds, Ordering::Relaxed);
    }

    /// The window asked for.
    pub fn window_s(&self) -> u64 {
        self.window_s.load(Ordering::Relaxed)
    }

    /// The newest snapshot, if one arrived since the last call.
    pub fn take(&self) -> Option<LiveSnapshot> {
        self.latest.lock().ok()?.take()
    }

    /// Why the feed stopped, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok()?.clone()
    }
}

/// Engines told to stop that may still be saving their state.
static CLOSING: Mutex<Vec<thread::JoinHandle<()>>> = Mutex::new(Vec::new());

impl Drop for LiveFeed {
    /// Tells the engine to stop; it saves its state (if it keeps one) and
    /// leaves the stream on its own thread, so closing the screen returns
    /// at once. [`finish_closing`] waits for it before the program ends.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(engine) = self.engine.take()
            && let Ok(mut closing) = CLOSING.lock()
        {
            closing.retain(|h| !h.is_finished());
            closing.push(engine);
        }
    }
}

/// Waits for every stopped engine to finish saving its state (call before
/// the program ends); true when none is left running.
pub fn finish_closing() -> bool {
    let handles = match CLOSING.lock() {
        Ok(mut closing) => std::mem::take(&mut *closing),
        Err(_) => return false,
    };
    let mut all_done = true;
    for handle in handles {
        if handle.join().is_err() {
            log::error!("a live engine panicked while it was closing");
            all_done = false;
        }
    }
    all_done
}

/// True while a stopped engine is still saving its state.
pub fn is_closing() -> bool {
    CLOSING
        .lock()
        .map(|c| c.iter().any(|h| !h.is_finished()))
        .unwrap_or(false)
}

/// How often at most the live state is saved (and group offsets committed) while
/// events arrive (less often when saving takes long); it is saved once more
/// when the view closes.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// What the screen asks of the engine thread.
struct Wanted {
    /// The window, in seconds of event time (0 = since start).
    window_s: Arc<AtomicU64>,
    /// What it is compared with ([`Before::code`]).
    compare: Arc<AtomicU64>,
    /// The customers of the recent past, since start.
    customers: Arc<AtomicBool>,
}

/// What the engine thread hands to the snapshot thread.
struct Update {
    /// The recent events to build journeys from, and for "since start" the
    /// running totals to lay over them; None when nothing changed.
    staged: Option<(StagedCopy, Option<RunningTotals>)>,
    progress: KafkaProgress,
    last_message: Option<Instant>,
    out_of_order: (u64, u64),
    duplicates: u64,
    window_s: u64,
    kept_s: f64,
    with_customers: bool,
    /// Seconds the engine thread spent copying.
    copy_s: f64,
    /// Every alert raised so far.
    alerts: Arc<Vec<Alert>>,
    /// The events of both stretches compared, what they are and the newest
    /// event's time.
    compare: Option<(StagedCopy, LiveComparison, i64)>,
}

/// What snapshots are named and summarised with.
struct Context {
    name: String,
    mapping: Mapping,
    funnel: Option<FunnelSpec>,
}

/// The snapshot thread: builds journeys from each copy and publishes them;
/// ends when the engine thread does.
fn build_snapshots(
    updates: &Receiver<Update>,
    context: &Context,
    latest: &Mutex<Option<LiveSnapshot>>,
    wake: &(dyn Fn() + Send + Sync),
) {
    let mut published: Option<LiveSnapshot> = None;
    while let Ok(update) = updates.recv() {
        let started = Instant::now();
        let snapshot = match update.staged {
            Some((staged, running)) => {
                let recent = staged.build();
                let (journeys, active) = match running {
                    Some(totals) => {
                        let since_start = totals.over(recent);
                        (since_start.journeys, since_start.active)
                    }
                    None => {
                        let newest = recent.time_range_us.map(|(_, b)| b);
                        let active =
                            newest.map_or_else(Vec::new, |now| active_sessions(&recent, now));
                        (recent, active)
                    }
                };
                let newest = journeys.time_range_us.map(|(_, b)| b);
                let active = active
                    .into_iter()
                    .map(|(t, n)| (journeys.touchpoint_name(t).to_owned(), n))
                    .collect();
                // A funnel needs each customer's events: only with them.
                let funnel = context.funnel.as_ref().filter(|_| update.with_customers);
                let mut summary = Summary::new(&context.name, &context.mapping, &journeys, funnel);
                summary.compare = update.compare.and_then(|(events, spec, now)| {
                    compare_journeys(&events.build(), &spec, now).ok()
                });
                LiveSnapshot {
                    summary: Arc::new(summary),
                    journeys: Arc::new(journeys),
                    progress: update.progress,
                    taken: Instant::now(),
                    newest_event_us: newest,
                    last_message: update.last_message,
                    active,
                    snapshot_s: update.copy_s + started.elapsed().as_secs_f64(),
                    out_of_order: update.out_of_order,
                    duplicates: update.duplicates,
                    window_s: update.window_s,
                    kept_s: update.kept_s,
                    with_customers: update.with_customers,
                    alerts: update.alerts.clone(),
                }
            }
            None => match published.clone() {
                Some(mut s) => {
                    s.alerts = update.alerts.clone();
                    s.progress = update.progress;
                    s.taken = Instant::now();
                    s.last_message = update.last_message;
                    s
                }
                None => continue,
            },
        };
        if let Ok(mut slot) = latest.lock() {
            *slot = Some(snapshot.clone());
        }
        published = Some(snapshot);
        wake();
    }
}

/// The engine thread: consumes, ingests, and hands a copy of the staged
/// events to the snapshot thread once a second (or as soon as that thread
/// is free again), so that ingesting never waits for a snapshot to build.
fn run(
    request: &LiveRequest,
    settings: &Settings,
    latest: Arc<Mutex<Option<LiveSnapshot>>>,
    stop: &AtomicBool,
    wanted: &Wanted,
    wake: Arc<dyn Fn() + Send + Sync>,
) -> Result<(), String> {
    // An engine closed a moment ago may still be saving the state this one
    // resumes from: wait for it here, off the UI thread.
    if request.state.is_some() {
        finish_closing();
    }
    let mut session = LiveSession::open(
        &request.spec,
        &settings.source,
        settings.engine.clone(),
        request.lateness_us,
        request.state.clone(),
    )
    .map_err(|e| crate::format::error_chain(&e))?;
    let (updates, received) = bounded::<Update>(1);
    let context = Context {
        name: session.source.name().to_owned(),
        mapping: session.source.mapping().clone(),
        funnel: settings.questions.funnel.clone(),
    };
    let snapshots = thread::Builder::new()
        .name("live snapshots".into())
        .spawn(move || build_snapshots(&received, &context, &latest, wake.as_ref()))
        .map_err(|e| format!("cannot start the snapshot thread: {e}"))?;
    let mut last_snapshot: Option<Instant> = None;
    let mut snapshot_every = SNAPSHOT_EVERY;
    let mut last_save = Instant::now();
    let mut save_every = SAVE_EVERY;
    let mut last_message = None;
    let mut changed = true;
    let mut unsaved = false;
    let mut shown: (u64, bool, Option<LiveComparison>) = (0, false, None);
    let mut alerts = Alerts::new(request.alerts.clone(), session.source.name());
    if !request.alerts.is_empty() {
        session.engine.keep_at_least(alerts.keeps_us());
    }
    let mut raised: Arc<Vec<Alert>> = Arc::default();
    while !stop.load(Ordering::Relaxed) {
        if session
            .poll(Duration::from_millis(50))
            .map_err(|e| crate::format::error_chain(&e))?
        {
            last_message = Some(Instant::now());
            changed = true;
            unsaved = true;
        }
        // Rules are checked in event time once every partition is read to
        // its end (see `Alerts::check`).
        if !request.alerts.is_empty() && session.source.caught_up() {
            let new = alerts.check(&session.engine).map_err(|e| e.to_string())?;
            if !new.is_empty() {
                let all = Arc::make_mut(&mut raised);
                all.extend(new);
                let over = all.len().saturating_sub(ALERTS_KEPT);
                all.drain(..over);
                changed = true;
            }
        }
        let window = wanted.window_s.load(Ordering::Relaxed);
        let customers = wanted.customers.load(Ordering::Relaxed);
        let compared = Before::of(wanted.compare.load(Ordering::Relaxed))
            .map(|before| before.comparison(window));
        if (window, customers, compared) != shown {
            shown = (window, customers, compared);
            if let Some(c) = &compared {
                session.engine.keep_at_least(c.keeps_us());
            }
            changed = true;
            last_snapshot = None;
        }
        if unsaved && last_save.elapsed() >= save_every {
            let started = Instant::now();
            session.save().map_err(|e| crate::format::error_chain(&e))?;
            // A large state is saved less often: at most a tenth of the
            // engine's time goes to saving.
            save_every = SAVE_EVERY.max(started.elapsed() * 10);
            last_save = Instant::now();
            unsaved = false;
        }
        if last_snapshot.is_none_or(|t| t.elapsed() >= snapshot_every) && updates.is_empty() {
            let copied_at = Instant::now();
            let staged = changed.then(|| {
                let engine = &session.engine;
                if window > 0 {
                    let from = session.window_start_us(Some(Duration::from_secs(window)));
                    let events = from
                        .map_or_else(|| engine.without_events(), |from| engine.recent(Some(from)));
                    (events, None)
                } else {
                    // Nothing from the recent past unless customers are shown.
                    let events = if customers {
                        engine.recent(None)
                    } else {
                        engine.without_events()
                    };
                    (events, Some(engine.running_totals()))
                }
            });
            // Copies are taken on this thread: with millions of customers
            // they come less often, so that ingesting keeps 80 % of it.
            snapshot_every = SNAPSHOT_EVERY.max(copied_at.elapsed() * 4);
            let update = Update {
                staged,
                progress: session.source.progress(),
                last_message,
                out_of_order: session.engine.out_of_order(),
                duplicates: session.engine.duplicates(),
                window_s: window,
                kept_s: session.engine.kept_s(),
                with_customers: window > 0 || customers,
                alerts: raised.clone(),
                copy_s: copied_at.elapsed().as_secs_f64(),
                compare: compared.filter(|_| changed).and_then(|c| {
                    let now = session.engine.watermark_us()?;
                    Some((session.engine.recent(Some(now - c.keeps_us())), c, now))
                }),
            };
            // The snapshot thread takes one update at a time; while it is
            // busy, ingesting goes on and the next copy waits.
            if updates.try_send(update).is_ok() {
                changed = false;
                last_snapshot = Some(Instant::now());
            }
        }
    }
    if unsaved {
        session.save().map_err(|e| crate::format::error_chain(&e))?;
    }
    session.close();
    drop(updates);
    if snapshots.join().is_err() {
        log::error!("the live snapshot thread panicked");
    }
    Ok(())
}

/// How much lower than the window's the live threads run (Linux nice
/// steps): drawing under software GL takes most of a core at 30 frames a
/// second, and at an equal priority a full-speed ingest cut that to about
/// 22; five steps lower the window keeps 30 and the ingest the rest.
const BELOW_THE_WINDOW: i32 = 5;

/// Lowers the calling thread's priority by [`BELOW_THE_WINDOW`] (threads it
/// starts inherit it); a no-op where threads have no nice value of their
/// own.
#[cfg(target_os = "linux")]
fn yield_to_the_window() {
    // SAFETY: gettid and getpriority/setpriority on the calling thread's
    // own id only read and set its scheduling priority.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if libc::setpriority(libc::PRIO_PROCESS, tid, now + BELOW_THE_WINDOW) != 0 {
            log::debug!("the live threads keep the window's priority");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_to_the_window() {}
