//! The engine child's heap as the bench counts it: anonymous resident
//! memory (`RssAnon`: resident less file and shared pages), sampled every
//! millisecond. Peak RSS also counts the program's own code pages, which
//! the kernel maps as the code runs, more or fewer by what the page cache
//! holds of the file: the same binary's code pages measured 30 MB in one
//! set of runs at 1M events and 23 MB in another, 40 minutes later.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::background;

/// Anonymous resident memory now (Linux: resident less shared pages, of
/// 4 KiB), in bytes; 0 when unknown.
pub(super) fn heap_bytes() -> u64 {
    Statm::open().heap_bytes()
}

/// `/proc/self/statm`, opened once and read again from its start for
/// every sample: the sampler neither opens a file nor allocates while it
/// shares the cores with the engine it measures.
struct Statm {
    file: Option<File>,
}

impl Statm {
    fn open() -> Self {
        Statm {
            file: File::open("/proc/self/statm").ok(),
        }
    }

    /// See [`heap_bytes`].
    fn heap_bytes(&self) -> u64 {
        let mut text = [0u8; 256];
        let read = match &self.file {
            Some(file) => file.read_at(&mut text, 0).unwrap_or(0),
            None => 0,
        };
        let text = std::str::from_utf8(&text[..read]).unwrap_or_default();
        // Pages: total, resident, shared, …
        let mut pages = text.split_ascii_whitespace().skip(1).map(str::parse::<u64>);
        match (pages.next(), pages.next()) {
            (Some(Ok(resident)), Some(Ok(shared))) => resident.saturating_sub(shared) * 4096,
            _ => 0,
        }
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
            let statm = Statm::open();
            while !stopped.load(Ordering::Relaxed) {
                highest.fetch_max(statm.heap_bytes(), Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `RssAnon` as `/proc/self/status` gives it, in bytes.
    fn status_rss_anon() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("RssAnon:"));
        let kib = line.and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok());
        kib.unwrap_or(0) * 1024
    }

    /// The sampled heap is the kernel's own `RssAnon`, follows memory
    /// written, and the sampler's peak holds what it saw.
    #[test]
    fn the_heap_is_anonymous_resident_memory_and_its_peak_is_kept() {
        let statm = Statm::open();
        let (before, reference) = (statm.heap_bytes(), status_rss_anon());
        assert!(before > 0);
        assert!(
            before.abs_diff(reference) < 1 << 20,
            "{before} against {reference}"
        );
        let sampler = HeapSampler::start();
        let written = vec![1u8; 64 << 20];
        std::thread::sleep(Duration::from_millis(20));
        let during = statm.heap_bytes();
        assert!(during >= before + (60 << 20), "{during} after {before}");
        assert!(written.iter().step_by(4096).all(|&b| b == 1));
        drop(written);
        assert!(sampler.peak() >= during);
        assert!(statm.heap_bytes() < during);
    }
}
