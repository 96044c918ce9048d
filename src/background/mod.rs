//! Every thread of the program starts here, through [`start`]: it has a
//! name, a panic in it becomes the text of its failure, and a thread the
//! system refuses is an error, not a silent nothing. Three shapes are
//! built on it, one per kind of work:
//!
//! - [`Task`]: one answer (loading a file, the customer list); pending,
//!   done or failed; cancelled when dropped.
//! - [`Worker`]: long-lived work taking commands through a bounded channel
//!   and publishing its newest output (the live engine, alert delivery,
//!   the lag watcher); stopped when dropped, or finished once its
//!   commands are done; its failure is said once.
//! - a stream of batches (`source::threaded::ReaderLink`): a reader
//!   thread whose failure arrives in the stream as its last item.
//! - [`on_two_threads`]: one piece of work in two halves, the later on a
//!   scoped thread of its own (grouping, the walk, a Parquet file's
//!   sample).
//!
//! Work stops in one way, by its [`Cancel`] (set when its owner drops it)
//! or the end of its command channel, and fails in one way, with a text.

mod halves;
mod task;
mod worker;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

pub use halves::on_two_threads;
pub use task::{Progress, Task};
pub use worker::{COMMANDS_WAITING, Publisher, Worker};

/// Set to a task's name ("customers", "funnel"…), makes every task of that
/// name panic: how the tests check that a failing worker is said on screen.
pub const FAIL_TASK: &str = "JOURNEYSCOPE_FAIL_TASK";

/// What to call when a task has news (the UI's repaint).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A waker that does nothing (for work nobody waits to see).
pub fn no_waker() -> Waker {
    Arc::new(|| {})
}

/// Tells a piece of work that it is no longer wanted.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// True once the work was dropped or cancelled: stop early.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks the work to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Starts `work` on a thread called `name` and hands its outcome to
/// `then`, on that thread: the work's own error, or the text of its panic.
/// When [`FAIL_TASK`] names `name`, the work panics first (how the tests
/// make a worker fail). An error when the system refuses the thread.
pub fn start<T>(
    name: &str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
    then: impl FnOnce(Result<T, String>) + Send + 'static,
) -> Result<JoinHandle<()>, String> {
    let fail = std::env::var_os(FAIL_TASK).is_some_and(|v| v == name);
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                if fail {
                    panic!("{FAIL_TASK} asked this task to fail");
                }
                work()
            }))
            .map_err(|payload| panic_text(payload.as_ref()))
            .and_then(|outcome| outcome);
            then(outcome);
        })
        .map_err(|e| format!("the system refused a thread: {e}"))
}

/// Locks `mutex`, also when a thread panicked while holding it: every
/// thread is started by [`start`], so that panic is already that thread's
/// failure, said where its owner looks (a task's answer, a worker's
/// failure, a reader's stream); what the mutex guards must stay whole
/// between any two of its steps, as it does for figures and caches.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "it panicked".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_or_an_error_reaches_then_as_text() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let tx2 = tx.clone();
        let a = start::<()>(
            "panicking",
            || panic!("no such column"),
            move |o| {
                let _ = tx.send(o);
            },
        );
        let b = start::<()>(
            "failing",
            || Err("the broker went away".into()),
            move |o| {
                let _ = tx2.send(o);
            },
        );
        a.expect("a thread").join().expect("joined");
        b.expect("a thread").join().expect("joined");
        let mut got: Vec<_> = rx.try_iter().collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                Err("no such column".to_owned()),
                Err("the broker went away".to_owned())
            ]
        );
    }
}
