//! A [`Task`] is one piece of background work with one answer: pending,
//! done or failed (work that panics or disappears has failed, and says
//! so). The UI thread only polls it.

use crossbeam_channel::{Receiver, TryRecvError, bounded};

use super::{Cancel, Waker, start};

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
        let started = start(
            name,
            move || Ok(work(&token)),
            move |outcome| {
                // Nobody waits once the task is dropped: the answer has no taker.
                let _ = sender.send(outcome);
                wake();
            },
        );
        let result = match started {
            Ok(_) => result,
            Err(why) => {
                let (sender, result) = bounded(1);
                // The channel is ours and has room: this send cannot fail.
                let _ = sender.send(Err(why));
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

    /// Asks the work to stop (it sees its [`Cancel`] set); its answer, if
    /// it still gives one, is taken as usual.
    pub fn cancel(&self) {
        self.cancel.cancel();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::background::no_waker;
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
