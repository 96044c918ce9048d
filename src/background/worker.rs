//! Long-lived background work, the second shape beside [`super::Task`]:
//! a [`Worker`] runs on a named thread, takes commands through a channel,
//! publishes its newest output for the UI to take, and fails once, with
//! why (an error it returns, a panic, or a thread the system refused).
//! Dropping it tells the work to stop; [`Worker::stop`] also hands back
//! the thread, for work that must finish (saving a state) before the
//! program ends; [`Worker::finish_within`] closes its commands and waits
//! for the work to go through those still waiting.

use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded};

use super::{Cancel, Waker, start};

/// Hands a worker's newest output to its owner, replacing one not yet
/// taken, and wakes the owner.
pub struct Publisher<O> {
    latest: Arc<Mutex<Option<O>>>,
    wake: Waker,
}

impl<O> Clone for Publisher<O> {
    fn clone(&self) -> Self {
        Publisher {
            latest: self.latest.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl<O> Publisher<O> {
    /// Publishes `output`; an error when a thread panicked while
    /// publishing (the owner then hears of that failure).
    pub fn publish(&self, output: O) -> Result<(), String> {
        let mut slot = self
            .latest
            .lock()
            .map_err(|_| "a thread failed while publishing".to_owned())?;
        *slot = Some(output);
        drop(slot);
        (self.wake)();
        Ok(())
    }
}

/// Commands a worker has room for by default: far more than a screen asks
/// for between two turns of its work.
pub const COMMANDS_WAITING: usize = 64;

/// A long-lived piece of background work taking commands `C` and
/// publishing outputs `O`; dropping it cancels the work.
pub struct Worker<C, O> {
    name: String,
    commands: Option<Sender<C>>,
    latest: Arc<Mutex<Option<O>>>,
    outcome: Receiver<Result<(), String>>,
    /// Set once the work ended: None when it ended as asked.
    ended: OnceLock<Option<String>>,
    cancel: Cancel,
    thread: Option<JoinHandle<()>>,
}

impl<C: Send + 'static, O: Send + 'static> Worker<C, O> {
    /// Runs `work` on a thread called `name`, with room for
    /// [`COMMANDS_WAITING`] commands; `wake` is called with each output
    /// and when it ends.
    pub fn spawn(
        name: &str,
        wake: Waker,
        work: impl FnOnce(&Cancel, &Receiver<C>, &Publisher<O>) -> Result<(), String> + Send + 'static,
    ) -> Self {
        Worker::spawn_with_room(name, COMMANDS_WAITING, wake, work)
    }

    /// [`Worker::spawn`] with room for `room` commands waiting at most:
    /// one more is refused.
    pub fn spawn_with_room(
        name: &str,
        room: usize,
        wake: Waker,
        work: impl FnOnce(&Cancel, &Receiver<C>, &Publisher<O>) -> Result<(), String> + Send + 'static,
    ) -> Self {
        let (commands, taken) = bounded(room);
        let (told, outcome) = bounded(1);
        let latest = Arc::new(Mutex::new(None));
        let publisher = Publisher {
            latest: latest.clone(),
            wake: wake.clone(),
        };
        let cancel = Cancel::default();
        let token = cancel.clone();
        let work_token = cancel.clone();
        let work_name = name.to_owned();
        let started = start(
            name,
            move || work(&work_token, &taken, &publisher),
            move |ended| {
                if token.is_cancelled()
                    && let Err(why) = &ended
                {
                    // Nobody looks at a stopped worker: the log is told.
                    log::error!("the {work_name} work failed as it stopped: {why}");
                }
                // The owner may be gone: the outcome then has no taker.
                let _ = told.send(ended);
                wake();
            },
        );
        let ended = OnceLock::new();
        let thread = match started {
            Ok(thread) => Some(thread),
            Err(why) => {
                let _ = ended.set(Some(format!("the {name} work could not start: {why}")));
                None
            }
        };
        Worker {
            name: name.to_owned(),
            commands: Some(commands),
            latest,
            outcome,
            ended,
            cancel,
            thread,
        }
    }

    /// Hands `command` to the work without waiting, unless as many as it
    /// has room for are waiting; false when refused (the work ended, or
    /// it is busy).
    pub fn send(&self, command: C) -> bool {
        self.commands.as_ref().is_some_and(|commands| {
            !matches!(
                commands.try_send(command),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_))
            )
        })
    }

    /// True when no command is waiting for the work.
    pub fn is_free(&self) -> bool {
        self.commands.as_ref().is_none_or(Sender::is_empty)
    }

    /// The newest output, if one was published since the last call.
    pub fn take(&self) -> Option<O> {
        // A poisoned slot means a publisher panicked: the work fails with
        // the panic, and `failure` says so.
        self.latest.lock().ok()?.take()
    }

    /// Why the work ended, if it failed; None while it runs and when it
    /// ended as asked.
    pub fn failure(&self) -> Option<String> {
        match self.outcome.try_recv() {
            Ok(outcome) => self.settle(Some(outcome)),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.settle(None),
        }
        self.ended.get().cloned().flatten()
    }

    /// Keeps how the work ended, the first time it is known (None: it
    /// ended without a word).
    fn settle(&self, outcome: Option<Result<(), String>>) {
        let ended = match outcome {
            Some(Ok(())) => None,
            Some(Err(why)) => Some(format!("the {} work failed: {why}", self.name)),
            None => Some(format!("the {} work stopped without saying why", self.name)),
        };
        // Known before: the first word stays.
        let _ = self.ended.set(ended);
    }

    /// Closes the work's commands without cancelling it and waits up to
    /// `wait` for it to end (it ends when it has gone through the commands
    /// still waiting): Ok when it ended as asked, the failure when it
    /// failed, None when it is still running after `wait` (it is then left
    /// to end with the process).
    pub fn finish_within(&mut self, wait: Duration) -> Option<Result<(), String>> {
        drop(self.commands.take());
        if self.ended.get().is_none() {
            match self.outcome.recv_timeout(wait) {
                Ok(outcome) => self.settle(Some(outcome)),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => self.settle(None),
            }
            if let Some(thread) = self.thread.take() {
                // It has said how it ended; joining only tidies up.
                let _ = thread.join();
            }
        }
        Some(self.ended.get().cloned().flatten().map_or(Ok(()), Err))
    }

    /// Tells the work to stop and hands back its thread, to wait for.
    pub fn stop(mut self) -> Option<JoinHandle<()>> {
        self.cancel.cancel();
        self.thread.take()
    }
}

impl<C, O> Drop for Worker<C, O> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_for<T>(mut what: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = what() {
                return found;
            }
            assert!(Instant::now() < deadline, "nothing within 10 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn commands_go_in_and_the_newest_output_comes_out() {
        let worker: Worker<u32, u32> = Worker::spawn(
            "doubling",
            super::super::no_waker(),
            |cancel, commands, out| {
                while !cancel.is_cancelled() {
                    if let Ok(n) = commands.recv_timeout(Duration::from_millis(10)) {
                        out.publish(n * 2)?;
                    }
                }
                Ok(())
            },
        );
        assert!(worker.send(21));
        assert_eq!(wait_for(|| worker.take()), 42);
        assert_eq!(worker.failure(), None);
        let thread = worker.stop().expect("a thread");
        thread.join().expect("ended as asked");
    }

    #[test]
    fn an_error_or_a_panic_is_said_once_and_stays() {
        let failing: Worker<(), ()> =
            Worker::spawn("failing", super::super::no_waker(), |_, _, _| {
                Err("the broker went away".into())
            });
        let why = wait_for(|| failing.failure());
        assert_eq!(why, "the failing work failed: the broker went away");
        assert_eq!(failing.failure(), Some(why));
        let panicking: Worker<(), ()> =
            Worker::spawn("panicking", super::super::no_waker(), |_, _, _| {
                panic!("a bug")
            });
        assert_eq!(
            wait_for(|| panicking.failure()),
            "the panicking work failed: a bug"
        );
    }

    #[test]
    fn a_full_worker_refuses_one_more_command() {
        let (go, wait) = bounded::<()>(0);
        let worker: Worker<u32, ()> = Worker::spawn_with_room(
            "slow",
            1,
            super::super::no_waker(),
            move |_, commands, _| {
                let _ = wait.recv();
                while commands.try_recv().is_ok() {}
                Ok(())
            },
        );
        assert!(worker.send(1));
        assert!(!worker.is_free());
        assert!(!worker.send(2));
        let _ = go.send(());
        assert_eq!(wait_for(|| worker.is_free().then_some(())), ());
    }
}
