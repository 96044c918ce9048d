//! One coherent palette for the map, light by default.

use egui::{Color32, Visuals};

use crate::layout::palette;

/// An egui colour of the shared palette.
pub fn rgb([r, g, b]: [u8; 3]) -> Color32 {
    Color32::from_rgb(r, g, b)
}

/// Background of the map canvas.
pub fn canvas(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(24, 27, 31)
    } else {
        Color32::from_rgb(250, 251, 252)
    }
}

/// Touchpoint boxes.
pub fn node(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode {
        // Lighter than the bands so that boxes stand out on them.
        Color32::from_rgb(214, 228, 245)
    } else {
        rgb(palette::NODE)
    }
}

/// START and END boxes.
pub fn terminal_node(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(150, 160, 170)
    } else {
        rgb(palette::TERMINAL)
    }
}

/// Forward bands.
pub fn forward_band(visuals: &Visuals) -> Color32 {
    let c = if visuals.dark_mode {
        Color32::from_rgb(90, 150, 220)
    } else {
        rgb(palette::FORWARD)
    };
    c.gamma_multiply(0.55)
}

/// Back edges and loops.
pub fn back_band(_visuals: &Visuals) -> Color32 {
    rgb(palette::BACK).gamma_multiply(0.22)
}

/// Bands without a time (from START, to END) in the time view.
pub fn neutral_band(visuals: &Visuals) -> Color32 {
    visuals.weak_text_color().gamma_multiply(0.35)
}

/// Green (fast, 0) to red (slow, 1).
pub fn time_colour_at(t: f32) -> Color32 {
    let t = t.clamp(0.0, 1.0);
    let lerp = |i: usize| {
        let (a, b) = (palette::FAST[i] as f32, palette::SLOW[i] as f32);
        (a + (b - a) * t) as u8
    };
    rgb([lerp(0), lerp(1), lerp(2)]).gamma_multiply(0.6)
}

/// A stable colour per touchpoint name, for timeline marks.
pub fn touchpoint_colour(name: &str, visuals: &Visuals) -> Color32 {
    let hash = name
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    let hue = (hash % 360) as f32 / 360.0;
    let value = if visuals.dark_mode { 0.9 } else { 0.7 };
    egui::ecolor::Hsva::new(hue, 0.65, value, 1.0).into()
}

/// Drop-offs: the sessions that leave at a touchpoint.
pub fn exit(_visuals: &Visuals) -> Color32 {
    rgb(palette::EXIT).gamma_multiply(0.8)
}

/// A compared band: blue where A's share is lower (−1), orange where it is
/// higher (+1), faint near 0.
pub fn change_colour_at(t: f32) -> Color32 {
    let (colour, opacity) = palette::change(t);
    rgb(colour).gamma_multiply(opacity)
}

/// A compared band whose change is not significant.
pub fn unchanged_band(visuals: &Visuals) -> Color32 {
    visuals.weak_text_color().gamma_multiply(0.2)
}

/// The labels of drop-off stubs: the exit colour, dark enough to read.
pub fn exit_text(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode {
        Color32::from_rgb(240, 130, 120)
    } else {
        Color32::from_rgb(170, 45, 40)
    }
}
