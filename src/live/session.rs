//! One live session: a Kafka source feeding a journey builder, resumed from
//! a state file when there is one and saved to it on request. The live
//! loop ([`super::LiveRun`]) runs on it.

use std::path::PathBuf;
use std::time::Duration;

use std::path::Path;

use crate::engine::{EngineConfig, LiveEngine, StreamMark};

use crate::source::kafka::{KafkaSource, KafkaSpec};
use crate::source::live_state::{Covering, advance, load_state, save_state};
use crate::source::{SourceError, SourceOptions};

/// A saved state that belongs to another stream: why, and what to do.
fn stale(path: &Path, why: String) -> SourceError {
    SourceError::TopicChanged(format!(
        "cannot resume from {}: {why}; nothing was read into it. Remove the file, or \
         give another --state, to start over",
        crate::format::printable(&path.display().to_string())
    ))
}

/// Names the state file in an error that says the topic changed under it.
fn on_state(state: &Option<PathBuf>, e: SourceError) -> SourceError {
    match (e, state) {
        (SourceError::TopicChanged(why), Some(path)) => stale(path, why),
        (e, _) => e,
    }
}

/// A consuming source, the engine it feeds and the offsets it covers.
pub struct LiveSession {
    /// The topic being read.
    pub source: KafkaSource,
    /// Everything taken in so far.
    pub engine: LiveEngine,
    covered: Vec<StreamMark>,
    state: Option<PathBuf>,
    /// The pseudonymization key's fingerprint, saved with the state.
    ids: Option<String>,
}

/// Why a state saved with ids `saved` cannot go on with ids `now` (each
/// None for raw ids, else the key's fingerprint): mixing raw ids and
/// pseudonyms, or two keys' pseudonyms, would count one customer twice.
fn ids_mismatch(saved: Option<&str>, now: Option<&str>) -> Option<&'static str> {
    match (saved, now) {
        (None, Some(_)) => Some(
            "it was saved without --pseudonymize and holds raw customer ids; going on with \
             pseudonyms would count each customer twice (start a new state file)",
        ),
        (Some(_), None) => {
            Some("it was saved with --pseudonymize: give --pseudonymize and the same key again")
        }
        (Some(a), Some(b)) if a != b => {
            Some("it was saved with another pseudonymization key: give the same key again")
        }
        _ => None,
    }
}

impl LiveSession {
    /// Resumes from `state` when that file exists (its columns and offsets
    /// win over detection and `spec.from`), then connects.
    pub fn open(
        spec: &KafkaSpec,
        options: &SourceOptions,
        config: EngineConfig,
        lateness_us: i64,
        state: Option<PathBuf>,
    ) -> Result<Self, SourceError> {
        let mut spec = spec.clone();
        let ids = options.pseudonymize.as_ref().map(|p| p.fingerprint());
        let (engine, covered) = match &state {
            Some(path) if path.exists() => {
                let failed = |source| SourceError::LiveState {
                    action: "resume from",
                    path: path.clone(),
                    source,
                };
                let (engine, resume) = load_state(path, config, lateness_us).map_err(failed)?;
                if let Some(topic) = resume.topic.as_ref().filter(|t| **t != spec.topic) {
                    return Err(stale(
                        path,
                        format!(
                            "it holds the journeys of topic `{topic}`, not `{}`",
                            spec.topic
                        ),
                    ));
                }
                if let Some(why) = ids_mismatch(resume.ids.as_deref(), ids.as_deref()) {
                    return Err(stale(path, why.into()));
                }
                // The saved columns: a quiet topic needs no detection.
                spec.mapping = Some(resume.mapping);
                (engine, resume.covered)
            }
            _ => (LiveEngine::new(config, lateness_us), Vec::new()),
        };
        spec.resume = covered.clone();
        let source = KafkaSource::open(&spec, options).map_err(|e| on_state(&state, e))?;
        Ok(LiveSession {
            source,
            engine,
            covered,
            state,
            ids,
        })
    }

    /// Takes in the next batch if one arrives within `timeout`; true when it
    /// held events or rejected records.
    pub fn poll(&mut self, timeout: Duration) -> Result<bool, SourceError> {
        let next = self.source.next_batch_within(timeout);
        let Some(batch) = next.map_err(|e| on_state(&self.state, e))? else {
            return Ok(false);
        };
        let news = !batch.is_empty() || !batch.rejected.is_empty();
        self.engine.ingest(&batch);
        advance(&mut self.covered, &batch.resume_at);
        self.source.recycle(batch);
        Ok(news)
    }

    /// Saves the state (when the session keeps one) and then, in a consumer
    /// group, commits the offsets whose events it holds.
    pub fn save(&self) -> Result<(), SourceError> {
        let Some(path) = &self.state else {
            return Ok(());
        };
        let covering = Covering {
            covered: &self.covered,
            mapping: self.source.mapping(),
            topic: self.source.topic(),
            ids: self.ids.as_deref(),
        };
        save_state(path, &self.engine, covering).map_err(|source| SourceError::LiveState {
            action: "save the state to",
            path: path.clone(),
            source,
        })?;
        let offsets: Vec<(i32, i64)> = self
            .covered
            .iter()
            .map(|m| (m.partition, m.next_offset))
            .collect();
        self.source.commit(&offsets)
    }

    /// Stops consuming (a group member leaves its group).
    pub fn close(self) {
        self.source.close();
    }
}
