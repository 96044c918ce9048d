//! The feed between the live screen and its engine thread: what the
//! screen asks for (window, comparison, customers, rules) and the newest
//! snapshot the engine published.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::engine::alerts::AlertRule;
use crate::settings::Settings;

use super::engine_thread::{Wanted, run, yield_to_the_window};
use super::{LiveRequest, LiveSnapshot, LiveWindow};

/// A running feed; dropping it stops the engine thread.
pub struct LiveFeed {
    /// How the source is called on screen (no client properties).
    pub label: String,
    latest: Arc<Mutex<Option<LiveSnapshot>>>,
    error: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    window: Arc<Mutex<LiveWindow>>,
    /// What the window is compared with (as `Before::code` writes it).
    pub(super) compare: Arc<AtomicU64>,
    customers_wanted: Arc<AtomicBool>,
    /// Rules to watch from the engine's next turn on.
    rules: Arc<Mutex<Option<Vec<AlertRule>>>>,
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
        let window = Arc::new(Mutex::new(LiveWindow::SinceStart));
        let customers_wanted = Arc::new(AtomicBool::new(false));
        let compare = Arc::new(AtomicU64::new(0));
        let rules = Arc::new(Mutex::new(None));
        let label = request.spec.label();
        let (l, e, s) = (latest.clone(), error.clone(), stop.clone());
        let wanted = Wanted {
            window: window.clone(),
            compare: compare.clone(),
            customers: customers_wanted.clone(),
            rules: rules.clone(),
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
            window,
            compare,
            customers_wanted,
            rules,
            engine,
        }
    }

    /// Watches `rules` instead of the rules so far.
    pub fn set_rules(&self, rules: Vec<AlertRule>) {
        if let Ok(mut slot) = self.rules.lock() {
            *slot = Some(rules);
        }
    }

    /// Whether snapshots should carry the customers of the recent past
    /// (while the customer list is on screen); without them a snapshot
    /// since start costs only the running totals.
    pub fn want_customers(&self, wanted: bool) {
        self.customers_wanted.store(wanted, Ordering::Relaxed);
    }

    /// Shows `window` of event time from the engine's next turn on.
    pub fn set_window(&self, window: LiveWindow) {
        if let Ok(mut slot) = self.window.lock() {
            *slot = window;
        }
    }

    /// The window asked for.
    pub fn window(&self) -> LiveWindow {
        self.window.lock().map_or(LiveWindow::SinceStart, |w| *w)
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
