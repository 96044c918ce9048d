//! `worker`: a headless member of a consumer group that publishes each
//! partition's journeys to a state topic (see [`crate::live::worker`]),
//! until SIGTERM or SIGINT, which it answers with a last publish.

use std::time::Duration;

use anyhow::anyhow;

use crate::cli::WorkerArgs;
use crate::live::state_topic::{Follower, StateTopic};
use crate::live::worker::{GroupWorker, Round, WorkerSetup};
use crate::source::kafka::group::detect_columns;
use crate::source::live_state::state_of_bytes;
use crate::source::schema::Mapping;

use super::live::{duration, print_line, spec_of};
use super::{Failure, finish_asked, finish_on_signals, settings, source_failure, usage};

/// This worker's name: the host's and the process id.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

/// The columns of the job's snapshots already on the state topic (read to
/// its end by `follower`), so that every worker of a job maps alike (None
/// when it has none yet).
fn job_mapping(follower: &Follower, job: &str, topic: &str) -> Option<Mapping> {
    let (_, snapshot) = follower
        .assembler()
        .latest()
        .iter()
        .find(|(k, _)| k.0 == job && k.1 == topic)?;
    let config = crate::engine::EngineConfig::default();
    state_of_bytes(&snapshot.state, config, None)
        .ok()
        .map(|(_, resume)| resume.mapping)
}

/// Prints a round as one JSON line.
fn print_round(round: &Round) -> Result<(), Failure> {
    let json = serde_json::to_string(round).map_err(|e| Failure::Failed(e.into()))?;
    print_line(&json)
}

/// Runs `worker`.
pub fn worker(args: &WorkerArgs) -> Result<(), Failure> {
    let settings = settings(&args.mapping, None, None)?;
    let mut spec = spec_of(&args.broker, &args.values, &args.from, &args.detect_wait)?;
    spec.group = Some(args.group.clone());
    let every = duration(&args.every, "every")?;
    let lateness = duration(&args.lateness, "lateness")?;
    if args.chunk_bytes < 1024 {
        return Err(usage(anyhow!("--chunk-bytes must be at least 1024")));
    }
    let job = args.job.clone().unwrap_or_else(|| args.group.clone());
    let state = StateTopic {
        spec: spec.clone(),
        name: args.state_topic.clone(),
    };
    // The state topic is read once: for the job's columns here, then by
    // the worker as partitions are assigned.
    state.create_if_missing().map_err(source_failure)?;
    let mut follower = Follower::open(&state).map_err(source_failure)?;
    follower.only_job(&job);
    follower
        .catch_up(Duration::from_secs(60))
        .map_err(source_failure)?;
    let detect = crate::source::kafka::KafkaSpec {
        mapping: job_mapping(&follower, &job, &spec.topic),
        ..spec.clone()
    };
    let (mapper, mapping) = detect_columns(&detect, &settings.source).map_err(source_failure)?;
    let name = worker_name();
    eprintln!(
        "worker {name}: job `{job}`, group `{}`, reading `{}` into `{}`",
        args.group, spec.topic, args.state_topic
    );
    let trigger_outputs = super::live::trigger_outputs(
        (
            args.triggers_topic.as_deref(),
            args.triggers_webhook.as_deref(),
        ),
        &spec.brokers,
        &spec.properties,
    )?;
    let setup = WorkerSetup {
        ids: settings
            .source
            .pseudonymize
            .as_ref()
            .map(|p| p.fingerprint()),
        spec,
        mapping,
        mapper,
        config: settings.engine.clone(),
        lateness_us: lateness.as_micros() as i64,
        keep_us: duration(&args.keep, "keep")?.as_micros() as i64,
        state,
        job,
        every,
        chunk_bytes: args.chunk_bytes,
        name,
        triggers: settings.questions.triggers.clone(),
        trigger_outputs,
    };
    finish_on_signals();
    let mut worker = GroupWorker::start(setup, follower).map_err(source_failure)?;
    while !finish_asked() {
        let round = worker
            .step(Duration::from_millis(200))
            .map_err(source_failure)?;
        if let Some(round) = round.filter(|_| args.every_line) {
            print_round(&round)?;
        }
    }
    let last = worker.finish().map_err(source_failure)?;
    if args.every_line {
        print_round(&last)?;
    }
    Ok(())
}
