//! The desktop window and its views. Each view draws from the app's state
//! ([`crate::app`]), keeps only its own widget state (pan, zoom, what is
//! being typed), and records what the user asked for as
//! [`crate::app::Command`]s, which the window applies once per frame.

pub mod alerts_panel;
pub mod conformance;
pub mod controls;
pub mod customers;
pub mod explain;
pub mod funnel;
pub mod geometry;
pub mod insight_panel;
pub mod journey_map;
pub mod live_triggers;
pub mod live_view;
pub mod live_window;
pub mod map_alerts;
pub mod map_paint;
pub mod overview;
pub mod paths;
pub mod rejected;
pub mod settings_panel;
pub mod start_screen;
pub mod theme;
pub mod timeline;
pub mod triggers;
pub mod variants;
pub mod window;
pub mod workers_panel;
pub mod workspace_view;
pub mod zone;
