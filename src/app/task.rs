//! One shape for background work: a [`Task`] runs on a named thread and is
//! pending, done or failed (a worker that panics or disappears has failed,
//! and says so); a [`Memo`] keeps the result for the inputs it was made
//! from and starts a task when the inputs change. The UI thread only polls.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crossbeam_channel::{Receiver, TryRecvError, bounded};

/// Set to a task's name ("customers", "funnel"…), makes every task of that
/// name panic: how the tests check that a failing worker is said on screen.
pub const FAIL_TASK: &str = "JOURNEYSCOPE_FAIL_TASK";

/// What to call when a task has news (the UI's repaint).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A waker that does nothing (for work nobody waits to see).
pub fn no_waker() -> Waker {
    Arc::new(|| {})
}

/// Tells a task's work that its result is no longer wanted.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// True once the task was dropped or cancelled: stop early.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(super) fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Where a task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<T> {
    /// Still running.
    Pending,
    /// Finished (given once).
    Done(T),
    /// Panicked, or could not start, or stopped without an answer.
    Failed(String),
}

/// One piece of background work; dropping it cancels it.
pub struct Task<T> {
    name: String,
    result: Receiver<Result<T, String>>,
    cancel: Cancel,
    finished: bool,
}

/// Runs the work called `name` on the calling thread, a panic becoming its text; when
/// [`FAIL_TASK`] names `name`, panics first (how the tests make a worker
/// fail).
pub(super) fn guarded<T>(name: &str, work: impl FnOnce() -> T) -> Result<T, String> {
    let fail = std::env::var_os(FAIL_TASK).is_some_and(|v| v == name);
    catch_unwind(AssertUnwindSafe(|| {
        if fail {
            panic!("{FAIL_TASK} asked this task to fail");
        }
        work()
    }))
    .map_err(|payload| panic_text(payload.as_ref()))
}

/// The text of a panic's payload.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "it panicked".to_owned())
}

impl<T: Send + 'static> Task<T> {
    /// Runs `work` on a thread called `name`; `wake` is called when it is
    /// done. `work` may look at its [`Cancel`] to stop early.
    pub fn spawn(
        name: &str,
        wake: Waker,
        work: impl FnOnce(&Cancel) -> T + Send + 'static,
    ) -> Self {
        let (sender, result) = bounded(1);
        let cancel = Cancel::default();
        let token = cancel.clone();
        let task_name = name.to_owned();
        let spawned = thread::Builder::new().name(name.into()).spawn(move || {
            let outcome = guarded(&task_name, || work(&token));
            // Nobody waits once the task is dropped: the answer has no taker.
            let _ = sender.send(outcome);
            wake();
        });
        let result = match spawned {
            Ok(_) => result,
            Err(e) => {
                let (sender, result) = bounded(1);
                // The channel is ours and has room: this send cannot fail.
                let _ = sender.send(Err(format!("the system refused a thread: {e}")));
                result
            }
        };
        Task {
            name: name.to_owned(),
            result,
            cancel,
            finished: false,
        }
    }

    /// Where the task stands; its result is given once.
    pub fn poll(&mut self) -> Progress<T> {
        if self.finished {
            return Progress::Pending;
        }
        match self.result.try_recv() {
            Ok(Ok(value)) => {
                self.finished = true;
                Progress::Done(value)
            }
            Ok(Err(why)) => {
                self.finished = true;
                Progress::Failed(format!("the {} work failed: {why}", self.name))
            }
            Err(TryRecvError::Empty) => Progress::Pending,
            Err(TryRecvError::Disconnected) => {
                self.finished = true;
                Progress::Failed(format!("the {} work stopped without an answer", self.name))
            }
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A result kept for the inputs (`K`) it was computed from, recomputed in
/// the background when the inputs asked for change.
pub struct Memo<K, T> {
    shown: Option<(K, Result<Arc<T>, String>)>,
    running: Option<(K, Task<T>)>,
    /// Start a new task at once when the inputs change, dropping (and so
    /// cancelling) the running one; otherwise the new inputs wait for it.
    restart: bool,
}

impl<K, T> Default for Memo<K, T> {
    fn default() -> Self {
        Memo {
            shown: None,
            running: None,
            restart: false,
        }
    }
}

impl<K: Clone + PartialEq, T: Send + 'static> Memo<K, T> {
    /// A memo whose running task is replaced as soon as other inputs are
    /// asked for (for work such as reading a source again).
    pub fn restarting() -> Self {
        Memo {
            restart: true,
            ..Memo::default()
        }
    }

    /// Takes a finished task's result; then, when `key` is neither shown
    /// nor being computed, starts `start(key)`. True while the result shown
    /// is not the one for `key`.
    pub fn want(&mut self, key: &K, start: impl FnOnce(&K) -> Task<T>) -> bool {
        self.poll();
        let shown = self.shown.as_ref().is_some_and(|(k, _)| k == key);
        let running = self.running.as_ref().map(|(k, _)| k);
        let start_now = !shown && running != Some(key) && (running.is_none() || self.restart);
        if start_now {
            self.running = Some((key.clone(), start(key)));
        }
        !shown
    }

    /// Takes a finished task's result, if there is one.
    pub fn poll(&mut self) {
        let Some((_, task)) = &mut self.running else {
            return;
        };
        let result = match task.poll() {
            Progress::Pending => return,
            Progress::Done(value) => Ok(Arc::new(value)),
            Progress::Failed(why) => Err(why),
        };
        if let Some((key, _)) = self.running.take() {
            self.shown = Some((key, result));
        }
    }

    /// The inputs of the result shown, if there is one.
    pub fn shown_key(&self) -> Option<&K> {
        self.shown.as_ref().map(|(k, _)| k)
    }

    /// The last result computed, whatever inputs it was for.
    pub fn value(&self) -> Option<&Arc<T>> {
        self.shown.as_ref().and_then(|(_, r)| r.as_ref().ok())
    }

    /// The result for exactly `key`, if it is the one shown.
    pub fn value_for(&self, key: &K) -> Option<&Arc<T>> {
        self.shown
            .as_ref()
            .filter(|(k, _)| k == key)
            .and_then(|(_, r)| r.as_ref().ok())
    }

    /// Why the last computation failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.shown
            .as_ref()
            .and_then(|(_, r)| r.as_ref().err())
            .map(String::as_str)
    }

    /// True while a computation runs.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Forgets the result and drops the running computation.
    pub fn clear(&mut self) {
        self.shown = None;
        self.running = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait<T: Send + 'static>(task: &mut Task<T>) -> Progress<T> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match task.poll() {
                Progress::Pending if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => return other,
            }
        }
    }

    #[test]
    fn a_task_gives_its_result_once() {
        let mut task = Task::spawn("sum", no_waker(), |_| 2 + 2);
        assert_eq!(wait(&mut task), Progress::Done(4));
        assert_eq!(task.poll(), Progress::Pending);
    }

    #[test]
    fn a_panicking_worker_is_a_failure_that_says_why() {
        let mut task: Task<u32> = Task::spawn("broken", no_waker(), |_| panic!("no such column"));
        match wait(&mut task) {
            Progress::Failed(why) => {
                assert!(
                    why.contains("broken") && why.contains("no such column"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_memo_computes_once_per_inputs_and_restarts_when_asked() {
        let mut memo: Memo<u32, u32> = Memo::default();
        let started = std::cell::Cell::new(0);
        let start = |k: &u32| {
            started.set(started.get() + 1);
            let k = *k;
            Task::spawn("double", no_waker(), move |_| k * 2)
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while memo.want(&3, start) {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(memo.value_for(&3).map(|v| **v), Some(6));
        assert!(!memo.want(&3, start));
        assert_eq!(started.get(), 1);
        assert!(memo.want(&4, start));
        assert_eq!(
            memo.value().map(|v| **v),
            Some(6),
            "the old value stays meanwhile"
        );
    }

    #[test]
    fn dropping_a_task_cancels_its_work() {
        let (seen, saw) = bounded(1);
        let task = Task::spawn("slow", no_waker(), move |cancel| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !cancel.is_cancelled() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = seen.send(cancel.is_cancelled());
        });
        drop(task);
        assert_eq!(saw.recv_timeout(Duration::from_secs(10)), Ok(true));
    }
}
