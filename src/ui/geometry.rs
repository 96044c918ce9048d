//! Points and rectangles of the layout (plain arrays) as egui's.

use egui::{Pos2, Rect};

/// An `[x, y]` point.
pub fn pos([x, y]: [f32; 2]) -> Pos2 {
    Pos2::new(x, y)
}

/// A `[left, top, right, bottom]` rectangle.
pub fn rect([left, top, right, bottom]: [f32; 4]) -> Rect {
    Rect::from_min_max(Pos2::new(left, top), Pos2::new(right, bottom))
}
