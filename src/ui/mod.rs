//! Views of the desktop app; each draws from app state and records what
//! the user asked for as [`crate::app::Command`]s.

pub mod customers;
pub mod funnel;
pub mod journey_map;
pub mod live_view;
pub mod overview;
pub mod rejected;
pub mod settings_panel;
pub mod start_screen;
pub mod theme;
pub mod timeline;
pub mod workspace_view;
