//! Views of the desktop app; each draws from app state and records what
//! the user asked for as [`crate::app::Command`]s.

pub mod journey_map;
pub mod overview;
pub mod start_screen;
pub mod theme;
