//! Loading a source on a named background task, with progress the UI can
//! show; cancelling it cancels the task. The UI thread only polls.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::engine::Journeys;
use crate::engine::{PathsSpec, compute_paths};
use crate::report::Summary;
use crate::settings::Settings;
use crate::source::{self, SourceError};

use crate::background::{Cancel, Progress, Task};

/// What to open.
#[derive(Clone)]
pub struct SourceRequest {
    /// The file or database.
    pub path: PathBuf,
    /// How it is called on screen.
    pub label: String,
    /// Mapping flags and journey rules.
    pub settings: Settings,
    /// Keeps a temporary file (the bundled demo data) alive while open.
    pub keep_alive: Option<Arc<tempfile::TempPath>>,
}

/// A finished load.
pub struct Loaded {
    /// The summary shown on screen.
    pub summary: Arc<Summary>,
    /// The journeys behind it.
    pub journeys: Arc<Journeys>,
    /// Seconds from opening to the finished graph.
    pub seconds: f64,
    /// The request that produced it (for re-loading).
    pub request: SourceRequest,
}

/// A load in progress.
pub struct Loading {
    /// How the source is called on screen.
    pub label: String,
    events: Arc<AtomicU64>,
    rejected: Arc<AtomicU64>,
    task: Task<Result<Loaded, String>>,
    started: Instant,
}

impl Loading {
    /// Starts loading `request`; `wake` is called when it is done.
    pub fn start(request: SourceRequest, wake: impl Fn() + Send + Sync + 'static) -> Self {
        let events = Arc::new(AtomicU64::new(0));
        let rejected = Arc::new(AtomicU64::new(0));
        let label = request.label.clone();
        let (e, r) = (events.clone(), rejected.clone());
        let task = Task::spawn("loader", Arc::new(wake), move |cancel| {
            let started = Instant::now();
            let outcome = load(&request, &e, &r, cancel).map(|loaded| {
                loaded.map(|(summary, journeys)| Loaded {
                    summary: Arc::new(summary),
                    journeys: Arc::new(journeys),
                    seconds: started.elapsed().as_secs_f64(),
                    request: request.clone(),
                })
            });
            match outcome {
                Ok(Some(loaded)) => {
                    log::info!(
                        "opened {} ({} events) in {:.2} s",
                        loaded.request.label,
                        crate::format::thousands(loaded.summary.events),
                        loaded.seconds
                    );
                    Ok(loaded)
                }
                Ok(None) => Err(SourceError::Cancelled.to_string()),
                Err(e) => Err(crate::format::error_chain(&e)),
            }
        });
        Loading {
            label,
            events,
            rejected,
            task,
            started: Instant::now(),
        }
    }

    /// Events read so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Records rejected so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Seconds since the load started.
    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Asks the loader to stop.
    pub fn cancel(&self) {
        self.task.cancel();
    }

    /// The result, once there is one (a loader that failed is an error).
    pub fn poll(&mut self) -> Option<Result<Loaded, String>> {
        match self.task.poll() {
            Progress::Pending => None,
            Progress::Done(result) => Some(result),
            Progress::Failed(why) => Some(Err(why)),
        }
    }
}

type LoadOutcome = Result<Option<(Summary, Journeys)>, SourceError>;

fn load(
    request: &SourceRequest,
    events: &AtomicU64,
    rejected: &AtomicU64,
    cancel: &Cancel,
) -> LoadOutcome {
    let settings = &request.settings;
    let mut source = source::open(&request.path, &settings.source)?;
    let journeys = source::load_with_progress(
        source.as_mut(),
        &settings.source,
        settings.engine.clone(),
        |n, bad| {
            events.store(n, Ordering::Relaxed);
            rejected.store(bad, Ordering::Relaxed);
            !cancel.is_cancelled()
        },
    )?;
    Ok(journeys.map(|journeys| {
        // The paths view is ready with the map; segments and comparisons
        // are picked in the app.
        let funnel = settings.questions.funnel.as_ref();
        let mut summary = Summary::new(&request.label, source.mapping(), &journeys, funnel);
        summary.paths = Some(compute_paths(&journeys, &PathsSpec::default()));
        // What the triggers of --rules would have sent (the Triggers tab).
        let triggers = settings.questions.triggers.clone();
        if !triggers.is_empty() {
            let keep = crate::engine::triggers::Keep::Latest(crate::report::LATEST_ACTIONS);
            match crate::engine::triggers::backtest(&journeys, triggers, &request.label, keep) {
                Ok(backtest) => {
                    summary.triggers = Some(backtest.rules);
                    summary.trigger_actions = backtest.actions;
                }
                Err(e) => log::warn!("trigger rules: {e}"),
            }
        }
        (summary, journeys)
    }))
}
