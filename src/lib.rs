//! Journeyscope turns customer events into a map of how customers move
//! between touchpoints.
//!
//! - [`engine`]: events → sessions → graph → statistics, with no I/O.
//! - [`source`]: files, DuckDB databases and Kafka topics as batches of
//!   events, and the live state file.
//! - [`report`]: the summary that the command line prints and tests compare.
//! - [`layout`] and [`export`]: the journey map's layout, SVG and other exports.
//! - [`format`]: text made safe for terminals, XML, DOT and spreadsheets.
//! - [`background`]: every thread: one-answer tasks, long-lived workers
//!   and reader streams, each named, stopped one way and failing with a text.
//! - [`files`]: files written whole through temporary files that no
//!   signal leaves behind.
//! - [`generate`]: the realistic e-commerce sample data.
//! - [`live`]: a Kafka topic read live: the one loop that takes batches
//!   into the live engine, checks alert rules, delivers alerts and saves
//!   the state, and what a window of it shows; the headless command, the
//!   window and the benchmark all drive it.
//! - [`settings`]: the journey and mapping settings both the app and the
//!   commands start from, and the bundled sample data.
//! - [`cli`] and [`commands`]: the command line.
//! - [`app`] and [`ui`]: the desktop app; it reads snapshots and sends
//!   commands, and heavy work runs on worker threads.

//!
//! Without the default `full` feature the crate is the engine and the file
//! parsers alone (no DuckDB, Kafka or window), which is what the fuzz
//! targets in `fuzz/` build.

#![warn(missing_docs)]

#[cfg(feature = "full")]
pub mod app;
pub mod background;
#[cfg(feature = "full")]
pub mod cli;
#[cfg(feature = "full")]
pub mod commands;
pub mod engine;
#[cfg(feature = "full")]
pub mod export;
pub mod files;
pub mod format;
pub mod fuzzing;
#[cfg(feature = "full")]
pub mod generate;
pub mod layout;
#[cfg(feature = "full")]
pub mod live;
#[cfg(feature = "full")]
pub mod reference;
pub mod report;
#[cfg(feature = "full")]
pub mod settings;
pub mod source;
#[cfg(feature = "full")]
pub mod ui;
