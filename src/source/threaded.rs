//! Running a source on its own named thread, so that reading and parsing
//! overlap with the engine's work. Batches travel through a bounded channel:
//! when the engine falls behind, the reader waits.

use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, bounded};

use crate::engine::EventBatch;

use super::{EventSource, Mapping, SourceError};

/// Batches in flight between the reader thread and the engine.
const CHANNEL_BATCHES: usize = 4;

/// A source whose reading happens on a background thread.
pub struct ThreadedSource {
    name: String,
    mapping: Mapping,
    batches: Receiver<Result<EventBatch, SourceError>>,
    reader: Option<JoinHandle<()>>,
}

/// Moves `source` (already past detection) onto a reader thread.
pub fn spawn<S: EventSource + 'static>(mut source: S) -> Box<dyn EventSource> {
    let name = source.name().to_owned();
    let mapping = source.mapping().clone();
    let (sender, batches) = bounded(CHANNEL_BATCHES);
    let reader = thread::Builder::new()
        .name("source reader".into())
        .spawn(move || {
            while let Some(message) = source.next_batch().transpose() {
                let failed = message.is_err();
                // A closed channel means the consumer was dropped (cancelled).
                if sender.send(message).is_err() || failed {
                    break;
                }
            }
        });
    let reader = match reader {
        Ok(handle) => Some(handle),
        Err(e) => {
            let (sender, rx) = bounded(1);
            let _ = sender.send(Err(SourceError::Reader(e.to_string())));
            return Box::new(ThreadedSource {
                name,
                mapping,
                batches: rx,
                reader: None,
            });
        }
    };
    Box::new(ThreadedSource {
        name,
        mapping,
        batches,
        reader,
    })
}

impl EventSource for ThreadedSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    fn next_batch(&mut self) -> Result<Option<EventBatch>, SourceError> {
        match self.batches.recv() {
            Ok(message) => message.map(Some),
            Err(_) => match self.reader.take().map(JoinHandle::join) {
                Some(Err(_)) => Err(SourceError::Reader("the reader thread panicked".into())),
                _ => Ok(None),
            },
        }
    }
}
