//! Journeyscope turns customer events into a map of how customers move
//! between touchpoints.
//!
//! - [`engine`]: events → sessions → graph → statistics, with no I/O.
//! - [`source`]: files, DuckDB databases and Kafka topics as batches of
//!   events, and the live state file.
//! - [`report`]: the summary that the command line prints and tests compare.
//! - [`layout`] and [`export`]: the journey map's layout, SVG and other exports.
//! - [`generate`]: the realistic e-commerce sample data.
//! - [`cli`] and [`commands`]: the command line.
//! - [`app`] and [`ui`]: the desktop app; it reads snapshots and sends
//!   commands, and heavy work runs on worker threads.

#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod export;
pub mod generate;
pub mod layout;
pub mod reference;
pub mod report;
pub mod source;
pub mod ui;
