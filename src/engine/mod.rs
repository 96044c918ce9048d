//! The journey engine: events → sessions → graph → statistics.
//!
//! Plain library code with no knowledge of screens, brokers or databases.
//! Sources hand it [`EventBatch`]es; [`JourneyBuilder::finish`] returns
//! [`Journeys`], whose [`JourneyGraph`] merges with graphs of other customers.

pub mod alerts;
pub mod batch;
pub mod compare;
pub mod conformance;
pub mod conformance_compare;
pub mod conformance_report;
pub mod event;
pub mod explain;
pub mod explore;
pub mod funnel;
pub mod graph;
mod grouping;
pub mod ingest;
pub mod intern;
pub mod journeys;
pub mod kept;
pub mod live;
pub mod live_compare;
pub mod live_range;
pub mod merge;
pub mod paths;
pub mod property_column;
pub mod proportions;
pub mod rejected;
pub mod rules;
mod running;
pub mod saved;
mod seen_texts;
pub mod segment;
mod settled;
mod staging;
pub mod stats;
mod store;
pub mod triggers;
mod value_ids;
pub mod variants;
pub mod walk;

pub use batch::{
    EARLIEST_US, EventBatch, HeldEvent, LATEST_US, MAX_NESTING, MAX_RECORD_BYTES, NewEvent,
    RejectReason, Rejected, Span, StreamMark, TimeAdjustment, TimesAdjusted, is_event_time,
};
pub use compare::{CompareReport, CompareSpec, ComparedFunnel, compare, compare_funnel};
pub use conformance::ExpectedJourney;
pub use conformance_compare::{ComparedConformance, compare_conformance};
pub use conformance_report::{ConformanceReport, compute_conformance};
pub use event::{END_NAME, EngineConfig, Event, START_NAME, is_terminal_name};
pub use explore::{CustomerRow, Selection, active_sessions, customer_rows, guess_conversion};
pub use funnel::{FunnelReport, FunnelSpec, compute_funnel};
pub use graph::{EdgeReport, JourneyGraph, NodeReport};
pub use ingest::{JourneyBuilder, StagedCopy};
pub use journeys::Journeys;
pub use live::{LiveEngine, RunningTotals, SavedEngine, SinceStart};
pub use paths::{PathsAnchor, PathsReport, PathsSpec, compute_paths};
pub use rejected::RejectedLog;
pub use rules::TouchpointRules;
pub use running::RestoreError;
pub use segment::{Segment, SegmentError, SyntaxProblem};
pub use stats::{DurationStats, DurationSummary};
pub use store::Anchors;
pub use variants::{VariantsReport, VariantsSpec, compute_variants};
