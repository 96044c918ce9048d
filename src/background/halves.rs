//! One piece of work in two halves: the first done here while a named,
//! scoped thread does the later half, or both here, one after the other,
//! when no thread can be had.

use std::sync::{Mutex, PoisonError};

/// Runs `first` here and `later` on a thread named `name`, and gives both
/// results once both are done. When no thread can be had, `later` runs
/// here after `first`.
pub fn on_two_threads<A, B: Send>(
    name: &str,
    first: impl FnOnce() -> A,
    later: impl FnOnce() -> B + Send,
) -> (A, B) {
    // Whichever thread takes `later` runs it.
    let cell = Mutex::new(Some(later));
    let run = || {
        let later = cell.lock().unwrap_or_else(PoisonError::into_inner).take();
        later.map(|later| later())
    };
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn_scoped(scope, run);
        let first = first();
        let there = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        };
        match there.or_else(run) {
            Some(later) => (first, later),
            None => unreachable!("`later` is taken once, and run by whoever takes it"),
        }
    })
}

#[cfg(test)]
mod tests {
    /// Both halves run, each once, and their results come back in place.
    #[test]
    fn both_halves_run_once() {
        let (a, b) = super::on_two_threads("test half", || 1 + 1, || "later".len());
        assert_eq!((a, b), (2, 5));
    }
}
