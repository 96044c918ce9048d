//! The engine child's heap as the bench counts it: anonymous resident
//! memory (`RssAnon`: resident less file and shared pages), sampled every
//! millisecond. Peak RSS also counts the program's own code pages, which
//! the kernel maps as the code runs, more or fewer by what the page cache
//! holds of the file: the same binary's code pages measured 30 MB in one
//! set of runs at 1M events and 23 MB in another, 40 minutes later.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::background;

/// Anonymous resident memory now (Linux: resident less shared pages, of
/// 4 KiB), in bytes; 0 when unknown.
pub(super) fn heap_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: Vec<u64> = statm
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    match pages[..] {
        [_, resident, shared, ..] => resident.saturating_sub(shared) * 4096,
        _ => 0,
    }
}

/// Follows [`heap_bytes`] on a thread of its own until stopped.
pub(super) struct HeapSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl HeapSampler {
    /// Starts sampling (without a thread, only the samples taken at
    /// [`HeapSampler::peak`] count).
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(heap_bytes()));
        let (stopped, highest) = (stop.clone(), peak.clone());
        let sample = move || {
            while !stopped.load(Ordering::Relaxed) {
                highest.fetch_max(heap_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        };
        let thread = background::start("heap sampler", sample, |_| {}).ok();
        HeapSampler { stop, peak, thread }
    }

    /// Stops sampling: the highest heap seen, a last sample included.
    pub fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.fetch_max(heap_bytes(), Ordering::Relaxed);
        self.peak.load(Ordering::Relaxed)
    }
}
