//! A [`Memo`] keeps a background [`Task`]'s result for the inputs it was
//! made from and starts a new task when the inputs asked for change.

use std::sync::Arc;

use crate::background::{Progress, Task};

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
    use crate::background::no_waker;
    use std::time::{Duration, Instant};

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
}
