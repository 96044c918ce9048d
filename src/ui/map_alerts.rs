//! Marks drawn over the journey map: firing alerts (their bands and boxes
//! in red, each with a badge naming its rule), the expected journey's
//! outline, and the touchpoints trigger rules watch (with the customers
//! who would fire there if nothing more happens).

use egui::epaint::CubicBezierShape;
use egui::{Color32, FontId, Pos2, Rect, Stroke, Vec2};

use crate::engine::conformance_report::StepOnPath;
use crate::layout::MapLayout;
use crate::layout::palette;
use crate::layout::scene::Scene;

use super::geometry::{pos, rect};
use super::theme::rgb;

/// A step of the map a firing alert points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerted {
    /// The touchpoint (the one left, for a transition).
    pub from: String,
    /// The touchpoint reached, for a transition.
    pub to: Option<String>,
    /// The rule firing.
    pub rule: String,
}

/// A red badge with white `text` centred at `at`.
fn alert_badge(painter: &egui::Painter, at: Pos2, text: &str) {
    let red = rgb(palette::EXIT);
    let galley =
        painter.layout_no_wrap(text.to_owned(), FontId::proportional(11.0), Color32::WHITE);
    let badge = Rect::from_center_size(at, galley.size() + Vec2::new(10.0, 4.0));
    painter.rect_filled(badge, 4.0, red);
    painter.galley(badge.min + Vec2::new(5.0, 2.0), galley, Color32::WHITE);
}

/// Draws what firing alerts point at in red over the map: their bands
/// wide enough to see, their boxes outlined, each with its rule's name.
pub(super) fn paint_alerted(
    painter: &egui::Painter,
    picture: &Scene,
    map: &MapLayout,
    alerted: &[Alerted],
) {
    if alerted.is_empty() {
        return;
    }
    let red = rgb(palette::EXIT);
    for band in &picture.bands {
        let e = &map.edges[band.edge].stats;
        let Some(alert) = alerted
            .iter()
            .find(|a| a.from == e.from && a.to.as_deref() == Some(e.to.as_str()))
        else {
            continue;
        };
        for curve in &band.curves {
            painter.add(CubicBezierShape::from_points_stroke(
                curve.map(pos),
                false,
                Color32::TRANSPARENT,
                // A red core along the band: a wide curved stroke would
                // show its folds.
                Stroke::new(band.width.clamp(4.0, 10.0), red.gamma_multiply(0.9)),
            ));
        }
        if let Some(middle) = band.curves.get(band.curves.len() / 2) {
            let middle = CubicBezierShape::from_points_stroke(
                middle.map(pos),
                false,
                Color32::TRANSPARENT,
                Stroke::NONE,
            );
            // Above the band, clear of the labels on it.
            let at = middle.sample(0.5) - Vec2::new(0.0, band.width / 2.0 + 10.0);
            alert_badge(painter, at, &alert.rule);
        }
    }
    for b in &picture.boxes {
        let name = &map.nodes[b.node].name;
        if let Some(alert) = alerted.iter().find(|a| a.from == *name && a.to.is_none()) {
            let outline = rect(b.rect).expand(3.0);
            painter.rect_stroke(
                outline,
                3.0,
                Stroke::new(3.0, red),
                egui::StrokeKind::Outside,
            );
            alert_badge(
                painter,
                outline.center_top() - Vec2::new(0.0, 10.0),
                &alert.rule,
            );
        }
    }
}

/// Under each touchpoint a `stall` or `abandon` trigger watches (rule,
/// touchpoint, customers who would fire), an amber badge: how many would
/// fire if nothing more happens, and the rule.
pub(super) fn paint_watched(
    painter: &egui::Painter,
    picture: &Scene,
    map: &MapLayout,
    watched: &[(String, String, u64)],
) {
    if watched.is_empty() {
        return;
    }
    let amber = Color32::from_rgb(196, 120, 20);
    for b in &picture.boxes {
        let name = &map.nodes[b.node].name;
        let split = |w: &str| name.strip_prefix(w).is_some_and(|r| r.starts_with(": "));
        let mut below = rect(b.rect).center_bottom() + Vec2::new(0.0, 12.0);
        for (rule, _, n) in watched.iter().filter(|(_, w, _)| w == name || split(w)) {
            let text = format!("{rule}: {n} would fire");
            let galley = painter.layout_no_wrap(text, FontId::proportional(11.0), Color32::WHITE);
            let badge = Rect::from_center_size(below, galley.size() + Vec2::new(10.0, 4.0));
            painter.rect_filled(badge, 4.0, amber);
            painter.galley(badge.min + Vec2::new(5.0, 2.0), galley, Color32::WHITE);
            below.y += badge.height() + 2.0;
        }
    }
}

/// Outlines the expected journey's moves (each step to the next ones it
/// may move on to) and its steps' boxes over the map.
pub(super) fn paint_expected(
    painter: &egui::Painter,
    picture: &Scene,
    map: &MapLayout,
    steps: &[StepOnPath],
) {
    if steps.len() < 2 {
        return;
    }
    let colour = Color32::from_rgb(40, 190, 220);
    let expected = |from: &str, to: &str| {
        let (Some(a), Some(b)) = (
            steps.iter().position(|s| s.step == from),
            steps.iter().position(|s| s.step == to),
        ) else {
            return false;
        };
        // On to the next step, or past optional ones to the next required.
        b > a && steps[a + 1..b].iter().all(|s| s.optional)
    };
    for band in &picture.bands {
        let e = &map.edges[band.edge].stats;
        if !expected(&e.from, &e.to) {
            continue;
        }
        // A wide band gets an outline on either side, a thin one a line.
        let sides: &[f32] = if band.width < 6.0 {
            &[0.0]
        } else {
            &[-(band.width / 2.0 + 2.0), band.width / 2.0 + 2.0]
        };
        for curve in &band.curves {
            for &side in sides {
                painter.add(CubicBezierShape::from_points_stroke(
                    curve.map(|p| pos(p) + Vec2::new(0.0, side)),
                    false,
                    Color32::TRANSPARENT,
                    Stroke::new(2.0, colour),
                ));
            }
        }
    }
    for b in &picture.boxes {
        let name = &map.nodes[b.node].name;
        if steps.iter().any(|s| s.step == *name) {
            painter.rect_stroke(
                rect(b.rect).expand(4.0),
                3.0,
                Stroke::new(2.0, colour),
                egui::StrokeKind::Outside,
            );
        }
    }
}
