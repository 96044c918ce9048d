//! The feed between the live screen and its engine: what the screen asks
//! for (window, comparison, customers, rules) goes to the engine as
//! [`Wish`]es, and the newest snapshot it published comes back. The engine
//! is a [`Worker`]: one way to stop it (dropping the feed) and one way it
//! reports failure (an error or a panic, said on screen).

use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::background::{Waker, Worker, lock};
use crate::engine::alerts::AlertRule;
use crate::settings::Settings;

use super::engine_thread::{Wish, run, yield_to_the_window};
use super::{Before, LiveRequest, LiveSnapshot, LiveWindow};

/// A running feed; dropping it stops the engine, which saves its state on
/// its own thread ([`finish_closing`] waits for it).
pub struct LiveFeed {
    /// How the source is called on screen (no client properties).
    pub label: String,
    engine: Option<Worker<Wish, LiveSnapshot>>,
    /// What was asked last (the engine follows).
    window: LiveWindow,
    compare: Option<Before>,
    customers: bool,
}

impl LiveFeed {
    /// Connects in the background and starts publishing snapshots; `wake`
    /// is called after each one.
    pub fn start(request: LiveRequest, settings: Settings, wake: Waker) -> Self {
        let label = match &request.merged {
            Some(_) => format!("{} (the workers' journeys, merged)", request.spec.label()),
            None => request.spec.label(),
        };
        let engine = Worker::spawn("live engine", wake, move |stop, wishes, snapshots| {
            // The Kafka reader and librdkafka's threads start from this
            // one and take its priority with them.
            yield_to_the_window();
            run(&request, &settings, stop, wishes, snapshots)
        });
        LiveFeed {
            label,
            engine: Some(engine),
            window: LiveWindow::SinceStart,
            compare: None,
            customers: false,
        }
    }

    fn tell(&self, wish: Wish) {
        if let Some(engine) = &self.engine
            && !engine.send(wish)
            && engine.failure().is_none()
        {
            log::warn!("the live engine is not taking what the screen asks for");
        }
    }

    /// Watches `rules` instead of the rules so far.
    pub fn set_rules(&self, rules: Vec<AlertRule>) {
        self.tell(Wish::Rules(rules));
    }

    /// Runs the trigger `rules` instead of those so far.
    pub fn set_triggers(&self, rules: Vec<crate::engine::triggers::TriggerRule>) {
        self.tell(Wish::Triggers(rules));
    }

    /// Whether snapshots should carry the customers of the recent past
    /// (while the customer list is on screen); without them a snapshot
    /// since start costs only the running totals.
    pub fn want_customers(&mut self, wanted: bool) {
        if wanted != self.customers {
            self.customers = wanted;
            self.tell(Wish::Customers(wanted));
        }
    }

    /// Shows `window` of event time from the engine's next turn on.
    pub fn set_window(&mut self, window: LiveWindow) {
        self.window = window;
        self.tell(Wish::Window(window));
    }

    /// The window asked for.
    pub fn window(&self) -> LiveWindow {
        self.window
    }

    /// Compares the window with `choice` from the engine's next turn on.
    pub fn compare_with(&mut self, choice: Option<Before>) {
        self.compare = choice;
        self.tell(Wish::Compare(choice));
    }

    /// What the window is compared with.
    pub fn compared_with(&self) -> Option<Before> {
        self.compare
    }

    /// The newest snapshot, if one arrived since the last call.
    pub fn take(&self) -> Option<LiveSnapshot> {
        self.engine.as_ref()?.take()
    }

    /// Why the feed stopped, if it did.
    pub fn error(&self) -> Option<String> {
        self.engine.as_ref()?.failure()
    }
}

/// Engines told to stop that may still be saving their state: the program
/// waits for them before it ends ([`finish_closing`]), and an engine that
/// resumes from a state waits for them first.
static CLOSING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

impl Drop for LiveFeed {
    /// Tells the engine to stop; it saves its state (if it keeps one) and
    /// leaves the stream on its own thread, so closing the screen returns
    /// at once.
    fn drop(&mut self) {
        if let Some(thread) = self.engine.take().and_then(Worker::stop) {
            let mut closing = lock(&CLOSING);
            closing.retain(|h| !h.is_finished());
            closing.push(thread);
        }
    }
}

/// Waits for every stopped engine to finish saving its state (call before
/// the program ends); true when none failed.
pub fn finish_closing() -> bool {
    let threads = std::mem::take(&mut *lock(&CLOSING));
    let mut all_done = true;
    for thread in threads {
        if thread.join().is_err() {
            log::error!("a live engine panicked while it was closing");
            all_done = false;
        }
    }
    all_done
}

/// True while a stopped engine is still saving its state.
pub fn is_closing() -> bool {
    lock(&CLOSING).iter().any(|h| !h.is_finished())
}
