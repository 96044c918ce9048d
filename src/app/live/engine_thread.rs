//! The live engine thread: drives the live loop ([`crate::live::LiveRun`]:
//! consume, ingest, check the alert rules, deliver, save) and hands copies
//! of what the screen shows to the snapshot thread, which builds the
//! journeys.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;

use crate::background::{Cancel, Publisher, Worker, no_waker};

use crate::engine::FunnelSpec;
use crate::engine::alerts::{Alert, AlertRule};
use crate::engine::kept::KeptEvents;
use crate::engine::live_compare::StretchCopies;
use crate::engine::live_range::RangeError;
use crate::live::{Compared, ShownCopy, copy_compared, copy_shown};
use crate::report::Summary;
use crate::settings::Settings;
use crate::source::Mapping;

use super::loops::ShownLoop;
use super::{
    ALERTS_KEPT, Before, LiveRequest, LiveSnapshot, LiveStatus, LiveWindow, SNAPSHOT_EVERY,
    finish_closing,
};

/// What the screen asks of the engine, from its next turn on.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Wish {
    /// Show this window of event time.
    Window(LiveWindow),
    /// Compare it with this (None: nothing).
    Compare(Option<Before>),
    /// Snapshots carry the customers of the recent past since start.
    Customers(bool),
    /// Watch these alert rules instead.
    Rules(Vec<AlertRule>),
    /// Run these trigger rules instead.
    Triggers(Vec<crate::engine::triggers::TriggerRule>),
}

/// What the screen asks of the engine thread, as its wishes left it.
#[derive(Debug, Clone, Copy, Default)]
struct Wanted {
    /// The window of event time shown.
    window: LiveWindow,
    /// What it is compared with.
    compare: Option<Before>,
    /// The customers of the recent past, since start.
    customers: bool,
}

/// Why the trigger rules last given could not be run (None: they run).
type TriggersProblem = Option<String>;

impl Wanted {
    /// Follows `wish` (new rules go straight to the loop).
    fn take(&mut self, wish: Wish, live: &mut dyn ShownLoop, problem: &mut TriggersProblem) {
        match wish {
            Wish::Window(window) => self.window = window,
            Wish::Compare(before) => self.compare = before,
            Wish::Customers(customers) => self.customers = customers,
            Wish::Rules(rules) => live.set_rules(rules),
            Wish::Triggers(rules) => *problem = live.set_triggers(rules).err(),
        }
    }
}

/// What the engine thread hands to the snapshot thread.
struct Update {
    /// What the window shows, to build; None when nothing changed.
    shown: Option<ShownCopy>,
    /// The events of both stretches compared.
    compare: Option<StretchCopies>,
    /// Seconds the engine thread spent copying.
    copy_s: f64,
    /// Where the engine stood.
    status: LiveStatus,
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
    latest: &Publisher<LiveSnapshot>,
) -> Result<(), String> {
    let mut published: Option<LiveSnapshot> = None;
    while let Ok(update) = updates.recv() {
        let started = Instant::now();
        let snapshot = match update.shown {
            Some(shown) => {
                let (journeys, active) = shown.build();
                let newest = journeys.time_range_us.map(|(_, b)| b);
                let active = active
                    .into_iter()
                    .map(|(t, n)| (journeys.touchpoint_name(t).to_owned(), n))
                    .collect();
                // A funnel needs each customer's events: only with them.
                let funnel = context
                    .funnel
                    .as_ref()
                    .filter(|_| update.status.with_customers);
                let mut summary = Summary::new(&context.name, &context.mapping, &journeys, funnel);
                let mut compare_failed = None;
                summary.compare = update.compare.and_then(|copies| {
                    copies
                        .compare(true)
                        .map_err(|e| compare_failed = Some(e.to_string()))
                        .ok()
                });
                LiveSnapshot {
                    summary: Arc::new(summary),
                    journeys: Arc::new(journeys),
                    taken: Instant::now(),
                    newest_event_us: newest,
                    active,
                    snapshot_s: update.copy_s + started.elapsed().as_secs_f64(),
                    window_s: update.status.window.seconds(),
                    compare_failed,
                    status: update.status,
                }
            }
            // Nothing to build: the same journeys with the engine's status
            // as it stands (the copies' problems are those of the journeys).
            None => match published.clone() {
                Some(mut s) => {
                    let problems = (s.status.window_problem, s.status.compare_problem);
                    s.status = update.status;
                    (s.status.window_problem, s.status.compare_problem) = problems;
                    s.taken = Instant::now();
                    s
                }
                None => continue,
            },
        };
        latest.publish(snapshot.clone())?;
        published = Some(snapshot);
    }
    Ok(())
}

/// The engine thread: consumes, ingests, and hands a copy of the staged
/// events to the snapshot thread once a second (or as soon as that thread
/// is free again), so that ingesting never waits for a snapshot to build.
pub(super) fn run(
    request: &LiveRequest,
    settings: &Settings,
    stop: &Cancel,
    wishes: &Receiver<Wish>,
    latest: &Publisher<LiveSnapshot>,
) -> Result<(), String> {
    // An engine closed a moment ago may still be saving the state this one
    // resumes from: wait for it here, off the UI thread.
    if request.state.is_some() {
        finish_closing();
    }
    let mut live = super::loops::open(request, settings)?;
    let (name, mapping) = live.named();
    let context = Context {
        name,
        mapping,
        funnel: settings.questions.funnel.clone(),
    };
    let latest = latest.clone();
    // One update at a time: while the snapshot thread is busy, ingesting
    // goes on and the next copy waits.
    let snapshots: Worker<Update, ()> =
        Worker::spawn_with_room("live snapshots", 1, no_waker(), move |_, updates, _| {
            build_snapshots(updates, &context, &latest)
        });
    let mut last_snapshot: Option<Instant> = None;
    let mut snapshot_every = SNAPSHOT_EVERY;
    let mut changed = true;
    let mut shown: (LiveWindow, bool, Option<Compared>) = (LiveWindow::SinceStart, false, None);
    // Every comparison the screen offers finds its earlier stretch, whenever
    // it is picked.
    live.keep_for(LiveWindow::SinceStart, None, super::offered_history_us());
    let mut raised: Arc<Vec<Alert>> = Arc::default();
    let mut wanted = Wanted::default();
    let mut triggers_problem: TriggersProblem = None;
    while !stop.is_cancelled() {
        let (news, alerts) = live.step()?;
        changed |= news;
        for wish in wishes.try_iter() {
            wanted.take(wish, live.as_mut(), &mut triggers_problem);
            changed = true;
        }
        if let Some(failed) = snapshots.failure() {
            return Err(failed);
        }
        if !alerts.is_empty() {
            let all = Arc::make_mut(&mut raised);
            all.extend(alerts);
            let over = all.len().saturating_sub(ALERTS_KEPT);
            all.drain(..over);
            changed = true;
        }
        let Wanted {
            window,
            compare,
            customers,
        } = wanted;
        let compared = compare.map(|before| match window.range() {
            Some(range) => Compared::Range(before.of_range(range)),
            None => Compared::Last(before.comparison(window.seconds())),
        });
        if (window, customers, compared) != shown {
            shown = (window, customers, compared);
            live.keep_for(window, compared, super::offered_history_us());
            changed = true;
            last_snapshot = None;
        }
        live.save_when_due()?;
        if last_snapshot.is_none_or(|t| t.elapsed() >= snapshot_every) && snapshots.is_free() {
            let copied_at = Instant::now();
            let copies = changed.then(|| copy_for_screen(live.kept(), window, customers, compared));
            let (shown, window_problem, compare, compare_problem) = match copies {
                Some(c) => (
                    Some(c.shown),
                    c.window_problem,
                    c.compare,
                    c.compare_problem,
                ),
                None => (None, None, None, None),
            };
            // Copies are taken on this thread: with millions of customers
            // they come less often, so that ingesting keeps 80 % of it.
            snapshot_every = SNAPSHOT_EVERY.max(copied_at.elapsed() * 4);
            let mut status = live.status(window, raised.clone());
            status.with_customers = window != LiveWindow::SinceStart || customers;
            status.triggers_problem.clone_from(&triggers_problem);
            (status.window_problem, status.compare_problem) = (window_problem, compare_problem);
            let update = Update {
                shown,
                compare,
                copy_s: copied_at.elapsed().as_secs_f64(),
                status,
            };
            if snapshots.send(update) {
                changed = false;
                last_snapshot = Some(Instant::now());
            }
        }
    }
    // The state is saved once more, and queued alerts delivered.
    let closed = live.close();
    if let Some(thread) = snapshots.stop() {
        let _ = thread.join();
    }
    match closed {
        Ok(delivery) if delivery.undelivered > 0 => log::warn!(
            "{} not delivered when the live screen closed",
            crate::format::plural(delivery.undelivered as usize, "alert")
        ),
        Ok(_) => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The copies a snapshot is built from, taken on the engine thread.
struct Copies {
    shown: ShownCopy,
    window_problem: Option<RangeError>,
    compare: Option<StretchCopies>,
    compare_problem: Option<RangeError>,
}

/// Copies what `window` shows (since start with the recent customers only
/// when `customers`) and both stretches of the comparison; a fixed range
/// that cannot be shown or compared whole says why.
fn copy_for_screen(
    engine: &dyn KeptEvents,
    window: LiveWindow,
    customers: bool,
    compared: Option<Compared>,
) -> Copies {
    let mut shown = copy_shown(engine, window, customers);
    let (compare, compare_problem) = match compared.map(|c| copy_compared(engine, c)) {
        Some(Ok(copies)) => (copies, None),
        Some(Err(problem)) => (None, Some(problem)),
        None => (None, None),
    };
    Copies {
        window_problem: shown.window_problem.take(),
        shown,
        compare,
        compare_problem,
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
