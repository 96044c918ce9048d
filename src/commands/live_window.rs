//! `live --headless` with a fixed range of event time (`--window-from`,
//! `--window-to`): reading the range, the journeys of exactly its events,
//! and its comparison with the same length earlier.

use anyhow::anyhow;

use crate::cli::LiveArgs;
use crate::engine::live_compare::LiveComparison;
use crate::engine::live_range::{EventRange, RangeComparison, RangeError};
use crate::live::{Compared, LiveWindow, copy_compared, copy_shown};

use super::{Failure, Settings, usage};

/// `--window-from` and `--window-to`: a fixed range of event time, its
/// times in `--timezone` (a time of day alone is the one nearest now).
pub(super) fn window_range(
    args: &LiveArgs,
    settings: &Settings,
) -> Result<Option<EventRange>, Failure> {
    let (Some(from), Some(to)) = (&args.window_from, &args.window_to) else {
        return Ok(None);
    };
    let zone = settings.source.timezone.unwrap_or(chrono_tz::Tz::UTC);
    let now = chrono::Utc::now().timestamp_micros();
    crate::live::window::range_from_to(from, to, zone, now)
        .map(Some)
        .map_err(|e| usage(anyhow!("--window-from/--window-to: {e}")))
}

/// The journeys of exactly the events of `range`, with the sessions open
/// at its end. A range outside the kept past is refused; one nothing of
/// which has arrived is refused on the last summary (`last`) and empty
/// before it.
pub(super) fn range_journeys(
    engine: &dyn crate::engine::kept::KeptEvents,
    range: EventRange,
    last: bool,
) -> Result<(crate::engine::Journeys, Vec<(u32, u64)>), Failure> {
    let refuse = |e: RangeError| {
        usage(anyhow!(
            "--window-from/--window-to: {e}. Events read span {}",
            read_span(engine)
        ))
    };
    // Nothing of a range that ends before the first event read was read.
    let first = engine.oldest_kept_us();
    if last && first.is_some_and(|first| first >= range.to_us) {
        return Err(usage(anyhow!(
            "--window-from/--window-to: the range ends before the first event read, so \
             nothing of it was read. Events read span {}; pick a range inside it, or start \
             reading earlier with --from earliest (or a time before the range)",
            read_span(engine)
        )));
    }
    let mut copy = copy_shown(engine, LiveWindow::Range(range), true);
    match copy.window_problem.take() {
        Some(e @ RangeError::BeforeKept { .. }) => return Err(refuse(e)),
        Some(e) if last => return Err(refuse(e)),
        _ => {}
    }
    if let Some(first) = first
        && first > range.from_us
        && last
    {
        eprintln!(
            "note: the range starts at {}, before the first event read ({}): events before \
             that were not read; start with --from earliest (or a time before the range) to \
             see the range whole",
            rfc3339(range.from_us),
            rfc3339(first)
        );
    }
    Ok(copy.build())
}

/// The event time held, as "FROM to NEWEST" (or that none arrived).
fn read_span(engine: &dyn crate::engine::kept::KeptEvents) -> String {
    match (engine.oldest_kept_us(), engine.watermark_us()) {
        (Some(first), Some(newest)) => format!(
            "{} to {} (UTC)",
            rfc3339(first.max(engine.kept_from_us())),
            rfc3339(newest)
        ),
        _ => "nothing yet: no event has arrived".into(),
    }
}

/// A time as RFC 3339 in UTC, to the second (or finer when it has it).
pub(super) fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// The comparison asked for with `--compare`: of the last minutes, or of
/// a fixed range with the same length earlier when that is wholly kept
/// (else it says why on standard error and compares nothing).
pub(super) fn compared(
    engine: &dyn crate::engine::kept::KeptEvents,
    compared: Option<LiveComparison>,
    range: Option<EventRange>,
    explain: bool,
) -> Result<Option<crate::engine::CompareReport>, Failure> {
    let compared = match (compared, range) {
        (Some(c), Some(range)) => Compared::Range(RangeComparison {
            range,
            back_us: c.back_us,
        }),
        (Some(c), None) => Compared::Last(c),
        (None, _) => return Ok(None),
    };
    let copies = copy_compared(engine, compared).unwrap_or_else(|e| {
        eprintln!("not compared: {e}");
        None
    });
    copies
        .map(|c| c.compare(explain))
        .transpose()
        .map_err(|e| usage(anyhow!(e)))
}
