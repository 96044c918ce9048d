//! The live engine thread: consumes and ingests, checks the alert rules,
//! saves the state, and hands copies to the snapshot thread, which builds
//! the journeys the screen shows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use crate::app::alert_out::{AlertSender, DeliveryCounts};
use crate::engine::alerts::{Alert, AlertRule, Alerts};
use crate::engine::live_compare::{LiveComparison, StretchCopies};
use crate::engine::live_range::{RangeComparison, RangeError};
use crate::engine::{FunnelSpec, RunningTotals, StagedCopy, active_sessions};
use crate::report::Summary;
use crate::settings::Settings;
use crate::source::Mapping;
use crate::source::kafka::KafkaProgress;
use crate::source::live_session::LiveSession;

use super::{
    ALERTS_KEPT, Before, LiveRequest, LiveSnapshot, LiveWindow, SNAPSHOT_EVERY, finish_closing,
};

/// How often at most the live state is saved (and group offsets committed) while
/// events arrive (less often when saving takes long); it is saved once more
/// when the view closes.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// What the screen asks of the engine thread.
pub(super) struct Wanted {
    /// The window of event time shown.
    pub window: Arc<Mutex<LiveWindow>>,
    /// What it is compared with ([`Before::code`]).
    pub compare: Arc<AtomicU64>,
    /// The customers of the recent past, since start.
    pub customers: Arc<AtomicBool>,
    /// New alert rules, taken once.
    pub rules: Arc<Mutex<Option<Vec<AlertRule>>>>,
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
    window: LiveWindow,
    window_problem: Option<RangeError>,
    compare_problem: Option<RangeError>,
    kept_s: f64,
    kept_from_us: i64,
    with_customers: bool,
    /// Seconds the engine thread spent copying.
    copy_s: f64,
    /// Every alert raised so far.
    alerts: Arc<Vec<Alert>>,
    /// The engine's customer numbering the copy was taken in.
    customer_numbering: u64,
    /// Settled customers forgotten so far.
    customers_forgotten: u64,
    /// The events of both stretches compared.
    compare: Option<StretchCopies>,
    /// How delivering alerts has gone.
    delivery: DeliveryCounts,
}

/// The comparison asked for: of the last minutes, or of a fixed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compared {
    Last(LiveComparison),
    Range(RangeComparison),
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
                summary.compare = update.compare.and_then(|copies| copies.compare(true).ok());
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
                    window_s: update.window.seconds(),
                    window: update.window,
                    window_problem: update.window_problem,
                    compare_problem: update.compare_problem,
                    kept_s: update.kept_s,
                    kept_from_us: update.kept_from_us,
                    with_customers: update.with_customers,
                    alerts: update.alerts.clone(),
                    customer_numbering: update.customer_numbering,
                    customers_forgotten: update.customers_forgotten,
                    delivery: update.delivery,
                }
            }
            None => match published.clone() {
                Some(mut s) => {
                    s.alerts = update.alerts.clone();
                    s.progress = update.progress;
                    s.taken = Instant::now();
                    s.last_message = update.last_message;
                    s.customers_forgotten = update.customers_forgotten;
                    s.delivery = update.delivery;
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
pub(super) fn run(
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
    let mut shown: (LiveWindow, bool, Option<Compared>) = (LiveWindow::SinceStart, false, None);
    let mut alerts = Alerts::new(request.alerts.clone(), session.source.name());
    // Every comparison the screen offers finds its earlier stretch, whenever
    // it is picked.
    session.engine.keep_at_least(super::offered_history_us());
    if !request.alerts.is_empty() {
        session.engine.keep_at_least(alerts.keeps_us());
    }
    let mut raised: Arc<Vec<Alert>> = Arc::default();
    // Alerts go to their rules' topics and webhooks (and those given for
    // every alert) as `live --headless` sends them.
    let sender = AlertSender::start(&request.alert_outputs)?;
    while !stop.load(Ordering::Relaxed) {
        // While rules catch up on event time, waiting for messages would
        // slow them down.
        let wait = match alerts.is_behind(&session.engine) && session.source.caught_up() {
            true => Duration::from_millis(1),
            false => Duration::from_millis(50),
        };
        if session
            .poll(wait)
            .map_err(|e| crate::format::error_chain(&e))?
        {
            last_message = Some(Instant::now());
            changed = true;
            unsaved = true;
        }
        // Event-time rules are checked once every partition is read to its
        // end, lag rules always (see `Alerts::check`).
        if let Some(rules) = wanted.rules.lock().ok().and_then(|mut r| r.take()) {
            alerts.set_rules(rules);
            session.engine.keep_at_least(alerts.keeps_us());
        }
        if !alerts.rules().is_empty() {
            let stream = session.source.stream_state();
            let new = alerts
                .check(&session.engine, &stream)
                .map_err(|e| e.to_string())?;
            send(&sender, request, alerts.rules(), &new);
            if !new.is_empty() {
                let all = Arc::make_mut(&mut raised);
                all.extend(new);
                let over = all.len().saturating_sub(ALERTS_KEPT);
                all.drain(..over);
                changed = true;
            }
        }
        let window = wanted.window.lock().map_or(LiveWindow::SinceStart, |w| *w);
        let customers = wanted.customers.load(Ordering::Relaxed);
        let compared =
            Before::of(wanted.compare.load(Ordering::Relaxed)).map(|before| match window.range() {
                Some(range) => Compared::Range(before.of_range(range)),
                None => Compared::Last(before.comparison(window.seconds())),
            });
        if (window, customers, compared) != shown {
            shown = (window, customers, compared);
            if let Some(Compared::Last(c)) = &compared {
                session.engine.keep_at_least(c.keeps_us());
            }
            // A fixed range (and the stretch it is compared with) stays
            // whole as the kept past moves on.
            let pinned = match compared {
                Some(Compared::Range(c)) => Some(c.keeps_from_us()),
                _ => window.range().map(|r| r.from_us),
            };
            session.engine.keep_from(pinned);
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
            let copies = changed.then(|| copy_shown(&session, window, customers, compared));
            let (staged, window_problem, compare, compare_problem) = match copies {
                Some(c) => (
                    Some(c.staged),
                    c.window_problem,
                    c.compare,
                    c.compare_problem,
                ),
                None => (None, None, None, None),
            };
            // Copies are taken on this thread: with millions of customers
            // they come less often, so that ingesting keeps 80 % of it.
            snapshot_every = SNAPSHOT_EVERY.max(copied_at.elapsed() * 4);
            let update = Update {
                staged,
                progress: session.source.progress(),
                last_message,
                out_of_order: session.engine.out_of_order(),
                duplicates: session.engine.duplicates(),
                window,
                window_problem,
                compare_problem,
                kept_s: session.engine.kept_s(),
                kept_from_us: session.engine.kept_from_us(),
                with_customers: window != LiveWindow::SinceStart || customers,
                alerts: raised.clone(),
                customer_numbering: session.engine.customer_numbering(),
                customers_forgotten: session.engine.settled_customers().1,
                delivery: sender.counts(),
                copy_s: copied_at.elapsed().as_secs_f64(),
                compare,
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
    finish_delivery(sender);
    drop(updates);
    if snapshots.join().is_err() {
        log::error!("the live snapshot thread panicked");
    }
    Ok(())
}

/// The copies a snapshot is built from, taken on the engine thread.
struct Copies {
    staged: (StagedCopy, Option<RunningTotals>),
    window_problem: Option<RangeError>,
    compare: Option<StretchCopies>,
    compare_problem: Option<RangeError>,
}

/// Copies the events of `window` (and for since start the running totals,
/// with the recent customers when `customers`), and of both stretches of
/// the comparison; a fixed range that cannot be shown or compared whole
/// says why.
fn copy_shown(
    session: &LiveSession,
    window: LiveWindow,
    customers: bool,
    compared: Option<Compared>,
) -> Copies {
    let engine = &session.engine;
    let mut window_problem = None;
    let staged = if let Some(range) = window.range() {
        let events = range.copy(engine).unwrap_or_else(|e| {
            window_problem = Some(e);
            engine.without_events()
        });
        (events, None)
    } else if window.seconds() > 0 {
        let from = session.window_start_us(Some(Duration::from_secs(window.seconds())));
        let events = from.map_or_else(|| engine.without_events(), |from| engine.recent(Some(from)));
        (events, None)
    } else {
        // Nothing from the recent past unless customers are shown.
        let events = if customers {
            engine.recent(None)
        } else {
            engine.without_events()
        };
        (events, Some(engine.running_totals()))
    };
    let mut compare_problem = None;
    let compare = compared.and_then(|c| match c {
        Compared::Last(c) => Some(c.copy(engine, engine.watermark_us()?)),
        Compared::Range(c) => c.copy(engine).map_err(|e| compare_problem = Some(e)).ok(),
    });
    Copies {
        staged,
        window_problem,
        compare,
        compare_problem,
    }
}

/// Queues `new` alerts for their rules' outputs (among `rules`) and the
/// request's outputs for every alert.
fn send(sender: &AlertSender, request: &LiveRequest, rules: &[AlertRule], new: &[Alert]) {
    for alert in new {
        let own = rules.iter().find(|r| r.name == alert.rule);
        let own = own.map(|r| r.outputs.clone()).unwrap_or_default();
        let to = request.alert_outputs.destinations(
            &own,
            &request.spec.brokers,
            &request.spec.properties,
        );
        sender.send(alert, to);
    }
}

/// Gives what is still being delivered a few seconds more, and logs what
/// was given up.
fn finish_delivery(sender: AlertSender) {
    let delivery = sender.finish();
    if delivery.undelivered > 0 {
        log::warn!(
            "{} not delivered when the live screen closed",
            crate::format::plural(delivery.undelivered as usize, "alert")
        );
    }
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
pub(super) fn yield_to_the_window() {
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
pub(super) fn yield_to_the_window() {}
