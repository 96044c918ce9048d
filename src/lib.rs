//! Journeyscope turns customer events into a map of how customers move
//! between touchpoints.
//!
//! - [`engine`]: events → sessions → graph → statistics, with no I/O.
//! - [`source`]: files and DuckDB databases as batches of events.
//! - [`report`]: the summary that the command line prints and tests compare.
//! - [`layout`] and [`export`]: the journey map's layout, SVG and other exports.
//! - [`generate`]: the realistic e-commerce sample data.
//! - [`cli`] and [`commands`]: the command line.

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
