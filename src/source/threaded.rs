//! Sources read on their own named thread, so that reading and parsing
//! overlap with the engine's work. Batches travel through a bounded channel
//! (when the engine falls behind, the reader waits) and come back through a
//! second one to be reused.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::background::start;
use crate::engine::EventBatch;

use super::{BATCH_EVENTS, EventSource, Mapping, SourceError};

/// Batches in flight between a reader thread and the engine.
const CHANNEL_BATCHES: usize = 4;

/// The engine's end of a reader thread: batches in, used batches back.
pub struct ReaderLink {
    batches: Receiver<Result<EventBatch, SourceError>>,
    recycle: Sender<EventBatch>,
    reader: Option<JoinHandle<()>>,
}

/// The reader thread's end: where to send batches and where to find
/// batches to reuse.
pub struct ReaderEnd {
    /// Where batches (or the error that ended reading) go.
    pub batches: Sender<Result<EventBatch, SourceError>>,
    /// Consumed batches sent back for reuse.
    pub recycled: Receiver<EventBatch>,
}

impl ReaderEnd {
    /// An empty batch, reusing a consumed one when there is one.
    pub fn fresh_batch(&self) -> EventBatch {
        self.recycled
            .try_recv()
            .unwrap_or_else(|_| EventBatch::with_capacity(BATCH_EVENTS))
    }
}

impl ReaderLink {
    /// Starts `read` on a thread called `name` (see [`crate::background`]);
    /// when it panics, the stream ends with the panic's text.
    pub fn spawn(
        name: &str,
        read: impl FnOnce(ReaderEnd) + Send + 'static,
    ) -> Result<Self, SourceError> {
        Self::spawn_holding(name, CHANNEL_BATCHES, read)
    }

    /// Like [`ReaderLink::spawn`], with at most `in_flight` batches waiting
    /// to be taken (and as many kept for reuse).
    pub fn spawn_holding(
        name: &str,
        in_flight: usize,
        read: impl FnOnce(ReaderEnd) + Send + 'static,
    ) -> Result<Self, SourceError> {
        let (batch_tx, batches) = bounded(in_flight);
        let (recycle, recycled) = bounded(in_flight);
        let end = ReaderEnd {
            batches: batch_tx,
            recycled,
        };
        let failed = end.batches.clone();
        let reader_name = name.to_owned();
        let reader = start(
            name,
            move || {
                read(end);
                Ok(())
            },
            move |outcome| {
                if let Err(why) = outcome {
                    // A closed stream: nobody reads it any more.
                    let _ = failed.send(Err(SourceError::ReaderFailed(format!(
                        "the {reader_name} failed: {why}"
                    ))));
                }
            },
        )
        .map_err(|why| SourceError::ReaderFailed(format!("cannot start the {name}: {why}")))?;
        Ok(ReaderLink {
            batches,
            recycle,
            reader: Some(reader),
        })
    }

    /// True when no batch waits to be taken.
    pub fn is_drained(&self) -> bool {
        self.batches.is_empty()
    }

    /// The next batch; None once the reader has finished.
    pub fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        match self.batches.recv() {
            Ok(message) => message.map(Some),
            Err(_) => {
                // The batches kept for reuse go with their channel.
                self.recycle = bounded(0).0;
                let joined = self.reader.take().map(JoinHandle::join);
                return_freed_reader_memory();
                match joined {
                    Some(Err(_)) => Err(SourceError::ReaderStopped("reader thread")),
                    _ => Ok(None),
                }
            }
        }
    }

    /// The next batch if one arrives within `timeout` (None if not); an
    /// error once the reader has stopped.
    pub fn next_batch_within(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<Option<EventBatch>, SourceError> {
        match self.batches.recv_timeout(timeout) {
            Ok(message) => message.map(Some),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                Err(SourceError::ReaderStopped("reader"))
            }
        }
    }

    /// Stops the reader: closes its channel and waits for the thread to
    /// notice (at its next batch) and finish, so that what it holds (a
    /// consumer in a group, say) is closed properly.
    pub fn shutdown(&mut self) {
        let (_, closed) = bounded(1);
        drop(std::mem::replace(&mut self.batches, closed));
        if let Some(reader) = self.reader.take() {
            // A reader that panicked has already ended its stream; nothing
            // is left to report here.
            let _ = reader.join();
        }
    }

    /// Hands a consumed batch back to the reader.
    pub fn recycle(&self, batch: EventBatch) {
        // A reader with spare batches enough drops this one.
        let _ = self.offer(batch);
    }

    /// Hands a consumed batch back to the reader if it has room for
    /// another spare one; else gives it back (cleared).
    pub fn offer(&self, mut batch: EventBatch) -> Option<EventBatch> {
        batch.clear();
        self.recycle.try_send(batch).err().map(|e| e.into_inner())
    }
}

/// Hands the memory finished reader threads freed (their batches and
/// decoded pages, in their own allocator arenas) back to the system, so
/// that the engine's grouping of the events, which comes next, does not
/// stack on it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn return_freed_reader_memory() {
    // SAFETY: malloc_trim only releases memory that is free; it reads no
    // memory of ours and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn return_freed_reader_memory() {}

/// A source whose reading happens on a background thread.
pub struct ThreadedSource {
    name: String,
    mapping: Mapping,
    link: ReaderLink,
    empty: bool,
}

/// Moves `source` (already past detection) onto a reader thread.
pub fn spawn<S: EventSource + 'static>(mut source: S) -> Result<Box<dyn EventSource>, SourceError> {
    let name = source.name().to_owned();
    let mapping = source.mapping().clone();
    let empty = source.is_empty_input();
    let link = ReaderLink::spawn("source reader", move |end| {
        while let Some(message) = source.next_batch().transpose() {
            let failed = message.is_err();
            // A closed channel means the consumer was dropped (cancelled).
            if end.batches.send(message).is_err() || failed {
                break;
            }
            if let Ok(used) = end.recycled.try_recv() {
                source.recycle(used);
            }
        }
    })?;
    Ok(Box::new(ThreadedSource {
        name,
        mapping,
        link,
        empty,
    }))
}

impl EventSource for ThreadedSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        self.link.next_batch()
    }

    fn recycle(&mut self, batch: EventBatch) {
        self.link.recycle(batch);
    }

    fn is_empty_input(&self) -> bool {
        self.empty
    }
}
