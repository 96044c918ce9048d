//! `journeyscope bench --map`: the CPU time of one frame of a journey map
//! of 200 touchpoints and 2,000 transitions, and of 1,000 and 10,000 —
//! egui's pass plus tessellation into triangles, everything but the GPU
//! upload — as the map opens (the main flow) and with everything shown,
//! compared with an empty frame measured in the same run.

use std::sync::Arc;
use std::time::Instant;

use egui::{Pos2, RawInput, Rect, Vec2};

use crate::layout::{LayoutStyle, MapFilter, Visible, layout};
use crate::report::synthetic::synthetic_summary;
use crate::ui::journey_map::JourneyMap;

fn input(size: Vec2, hover: Option<Pos2>) -> RawInput {
    let mut raw = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, size)),
        ..RawInput::default()
    };
    if let Some(p) = hover {
        raw.events.push(egui::Event::PointerMoved(p));
    }
    raw
}

/// The median frame while the map is dragged a few points a frame.
fn pan_frames(ctx: &egui::Context, size: Vec2, map: &mut JourneyMap, frames: usize) -> f64 {
    let centre = Pos2::new(size.x / 2.0, size.y / 2.0);
    let press = |pressed: bool, at: Pos2| egui::Event::PointerButton {
        pos: at,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::default(),
    };
    let mut raw = input(size, Some(centre));
    raw.events.push(press(true, centre));
    let _ = ctx.run_ui(raw, |ui| map.map_ui(ui));
    let mut samples: Vec<f64> = (1..=frames)
        .map(|i| {
            let at = centre + Vec2::new(i as f32 * 3.0, 0.0);
            let start = Instant::now();
            let output = ctx.run_ui(input(size, Some(at)), |ui| map.map_ui(ui));
            let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let mut raw = input(size, None);
    raw.events.push(press(false, centre));
    let _ = ctx.run_ui(raw, |ui| map.map_ui(ui));
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// What one map size measured.
pub struct MapBench {
    /// Median frame of the map (egui pass plus tessellation), ms.
    pub map_ms: f64,
    /// The slowest frame but one in twenty (95th percentile), ms.
    pub map_p95_ms: f64,
    /// Median frame while the map is dragged (drawn anew each frame), ms.
    pub pan_ms: f64,
    /// Median empty frame, same run, ms.
    pub empty_ms: f64,
    /// Laying out the graph the filter shows, once (off the UI thread), ms.
    pub layout_ms: f64,
    /// Transitions drawn.
    pub bands: usize,
    /// Touchpoints drawn.
    pub boxes: usize,
    /// What the map says it hides, as the window shows it.
    pub hidden: Option<String>,
}

/// Times `frames` frames of a map of `touchpoints` and `edges` shown with
/// `filter`, against empty frames in the same run.
pub fn measure(touchpoints: usize, edges: usize, filter: MapFilter, frames: usize) -> MapBench {
    let summary = Arc::new(synthetic_summary(touchpoints, edges));
    let ctx = egui::Context::default();
    let size = Vec2::new(1400.0, 860.0);
    let mut map = JourneyMap::new(summary.clone());
    map.filter = filter;
    // Until the layout for this window's size has landed and no other is
    // under way, then a few frames more so that text is laid out once.
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    let mut settled = 0;
    while settled < 5 && Instant::now() < deadline {
        let _ = ctx.run_ui(input(size, None), |ui| map.map_ui(ui));
        match map.layout().is_some() && !map.is_laying_out() {
            true => settled += 1,
            false => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    let visible = map.visible().cloned();
    let layout_ms = visible.as_ref().map_or(0.0, |v| {
        let started = Instant::now();
        let _ = layout(&v.nodes, &v.edges, &LayoutStyle::default());
        started.elapsed().as_secs_f64() * 1e3
    });
    let time_frames = |draw: &mut dyn FnMut(&mut egui::Ui)| -> (f64, f64) {
        let mut samples: Vec<f64> = (0..frames)
            .map(|i| {
                // Move the pointer so that hover testing runs too.
                let hover = Pos2::new(100.0 + (i % 50) as f32 * 20.0, 300.0);
                let start = Instant::now();
                let output = ctx.run_ui(input(size, Some(hover)), |ui| draw(ui));
                let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        (samples[samples.len() / 2], samples[samples.len() * 19 / 20])
    };
    let (map_ms, map_p95_ms) = time_frames(&mut |ui| map.map_ui(ui));
    let pan_ms = pan_frames(&ctx, size, &mut map, frames.min(60));
    let (empty_ms, _) = time_frames(&mut |ui| {
        ui.label("empty");
    });
    MapBench {
        map_ms,
        map_p95_ms,
        pan_ms,
        empty_ms,
        layout_ms,
        bands: visible.as_ref().map_or(0, |v| v.edges.len()),
        boxes: visible.as_ref().map_or(0, |v| v.nodes.len()),
        hidden: visible.as_ref().and_then(Visible::hidden_note),
    }
}
