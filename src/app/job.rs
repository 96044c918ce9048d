//! Work handed to a named background thread; the UI thread only polls.

use std::thread;

use crossbeam_channel::{Receiver, bounded};

/// One piece of background work and, once done, its result.
pub struct Job<T> {
    result: Receiver<T>,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a thread called `name`; `ctx` is asked to repaint when
    /// the result is ready.
    pub fn spawn(
        name: &str,
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Self {
        let (sender, result) = bounded(1);
        let ctx = ctx.clone();
        let spawned = thread::Builder::new().name(name.into()).spawn(move || {
            let _ = sender.send(work());
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            // The system refused a thread: nothing will arrive, and the view
            // keeps showing what it had.
            eprintln!("cannot start the {name} thread: {e}");
        }
        Job { result }
    }

    /// The result, once there is one (returned once).
    pub fn poll(&self) -> Option<T> {
        self.result.try_recv().ok()
    }
}
