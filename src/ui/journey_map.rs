//! The journey map: a left-to-right flow diagram drawn with egui's painter
//! from a layout computed on a worker thread.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, bounded};
use egui::epaint::CubicBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use crate::engine::{END_NAME, START_NAME};
use crate::format::{human_duration, thousands};
use crate::layout::{
    BAND_LABEL_MIN_WIDTH, EdgeKind, LOOP_ROOM, LabelAlign, LabelRequest, LayoutStyle, MapFilter,
    MapLayout, Visible, edge_curves, layout_following, place_label_choices, visible_part,
};
use crate::report::Summary;

use super::theme;

/// A computed layout with the filter it was computed for.
struct Computed {
    filter: MapFilter,
    layout: MapLayout,
    visible: Visible,
}

/// A label's laid-out text.
enum MapLabel {
    /// A touchpoint's name and count.
    Node(Arc<egui::Galley>, Arc<egui::Galley>),
    /// A band's count and median time.
    Edge(Arc<egui::Galley>),
}

/// What the pointer is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapItem {
    /// A touchpoint (index into the layout's nodes).
    Node(usize),
    /// A transition (index into the layout's edges).
    Edge(usize),
}

/// The map view's state.
pub struct JourneyMap {
    summary: Arc<Summary>,
    style: LayoutStyle,
    /// The sliders as the user set them.
    pub filter: MapFilter,
    /// Colour bands by median time instead of volume.
    pub time_view: bool,
    current: Option<Computed>,
    pending: Option<Receiver<Computed>>,
    /// The context to wake when a layout is done, once the map was drawn.
    repaint: Option<egui::Context>,
    /// The pending layout will wake the screen when it is done.
    pending_wakes: bool,
    pan: Vec2,
    zoom: f32,
    fit_requested: bool,
    /// Fit every new layout until the user pans or zooms (a growing live
    /// map stays in view).
    follow_fit: bool,
    /// Keep touchpoints where the previous layout had them (live updates).
    pub stable: bool,
    /// The item the user clicked.
    pub selected: Option<MapItem>,
    /// Screen position of layout (0, 0) and the zoom, as last drawn.
    drawn_at: Option<(Pos2, f32)>,
}

impl JourneyMap {
    /// A map of `summary`; its first layout is computed right away.
    pub fn new(summary: Arc<Summary>) -> Self {
        let mut map = JourneyMap {
            summary,
            style: LayoutStyle::default(),
            filter: MapFilter::default(),
            time_view: false,
            current: None,
            pending: None,
            repaint: None,
            pending_wakes: false,
            pan: Vec2::ZERO,
            zoom: 1.0,
            fit_requested: true,
            follow_fit: true,
            stable: false,
            selected: None,
            drawn_at: None,
        };
        map.request_layout();
        map
    }

    /// The layout on screen, once computed.
    pub fn layout(&self) -> Option<&MapLayout> {
        self.current.as_ref().map(|c| &c.layout)
    }

    /// The visible part on screen, once computed.
    pub fn visible(&self) -> Option<&Visible> {
        self.current.as_ref().map(|c| &c.visible)
    }

    /// Shows `summary` instead, keeping the view's zoom and sliders.
    pub fn set_summary(&mut self, summary: Arc<Summary>) {
        self.summary = summary;
        self.request_layout();
    }

    /// The summary drawn.
    pub fn summary(&self) -> &Arc<Summary> {
        &self.summary
    }

    /// The clicked touchpoint (name, None) or transition (from, Some(to)).
    pub fn selected_names(&self) -> Option<(String, Option<String>)> {
        let layout = self.layout()?;
        match self.selected? {
            MapItem::Node(i) => Some((layout.nodes.get(i)?.name.clone(), None)),
            MapItem::Edge(k) => {
                let e = &layout.edges.get(k)?.stats;
                Some((e.from.clone(), Some(e.to.clone())))
            }
        }
    }

    /// Where the touchpoint `name` was drawn on screen in the last frame.
    pub fn node_screen_rect(&self, name: &str) -> Option<Rect> {
        let (origin, zoom) = self.drawn_at?;
        let layout = self.layout()?;
        let n = &layout.nodes[layout.node_index(name)?];
        Some(Rect::from_min_size(
            origin + Vec2::new(n.x, n.y) * zoom,
            Vec2::new(self.style.node_width, n.height) * zoom,
        ))
    }

    fn request_layout(&mut self) {
        let (sender, receiver) = bounded(1);
        let summary = self.summary.clone();
        let (filter, style) = (self.filter, self.style);
        let previous = self
            .current
            .as_ref()
            .filter(|_| self.stable)
            .map(|c| c.layout.clone());
        let repaint = self.repaint.clone();
        self.pending_wakes = repaint.is_some();
        let spawned = thread::Builder::new().name("layout".into()).spawn(move || {
            let visible = visible_part(&summary.nodes, &summary.edges, &filter);
            let layout =
                layout_following(&visible.nodes, &visible.edges, &style, previous.as_ref());
            let _ = sender.send(Computed {
                filter,
                layout,
                visible,
            });
            if let Some(ctx) = repaint {
                ctx.request_repaint();
            }
        });
        if spawned.is_ok() {
            self.pending = Some(receiver);
        }
    }

    fn receive_layout(&mut self) {
        let Some(pending) = &self.pending else { return };
        if let Ok(computed) = pending.try_recv() {
            self.current = Some(computed);
            self.pending = None;
            self.selected = None;
            if self.follow_fit {
                self.fit_requested = true;
            }
        }
        let stale = self
            .current
            .as_ref()
            .is_some_and(|c| c.filter != self.filter);
        if stale && self.pending.is_none() {
            self.request_layout();
        }
    }

    /// The controls above the map.
    pub fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut self.time_view, false, "Frequency");
            ui.selectable_value(&mut self.time_view, true, "Time")
                .on_hover_text("Colour each step by its median time, from fast to slow");
            if self.time_view {
                self.time_legend_ui(ui);
            }
            ui.separator();
            share_slider(ui, &mut self.filter.touchpoint_share, "of touchpoints");
            share_slider(ui, &mut self.filter.path_share, "of paths");
            if ui
                .button("Fit")
                .on_hover_text("Show the whole map, and keep it in view as it changes")
                .clicked()
            {
                self.fit_requested = true;
                self.follow_fit = true;
            }
            if let Some(note) = self.visible().and_then(Visible::hidden_note) {
                ui.separator();
                ui.label(egui::RichText::new(note).color(ui.visuals().weak_text_color()));
            }
        });
    }

    /// The colour scale of the time view: fastest and slowest median.
    fn time_legend_ui(&self, ui: &mut egui::Ui) {
        let Some(map) = self.layout() else { return };
        let medians: Vec<f64> = map
            .edges
            .iter()
            .filter_map(|e| e.stats.time_s.map(|t| t.median))
            .filter(|m| *m > 0.0)
            .collect();
        if medians.is_empty() {
            return;
        }
        let (lo, hi) = log_range(&medians);
        ui.weak("median step");
        ui.label(human_duration(lo.exp()));
        let (rect, _) = ui.allocate_exact_size(Vec2::new(90.0, 10.0), Sense::hover());
        let steps = 30;
        for i in 0..steps {
            let t = i as f64 / (steps - 1) as f64;
            let median = (lo + (hi - lo) * t).exp();
            let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
            let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
            ui.painter().rect_filled(
                Rect::from_min_max(Pos2::new(x0, rect.top()), Pos2::new(x1, rect.bottom())),
                0.0,
                theme::time_colour(median, lo, hi),
            );
        }
        ui.label(human_duration(hi.exp()))
            .on_hover_text("Median time of a step: fastest to slowest on this map");
    }

    /// The map canvas.
    pub fn map_ui(&mut self, ui: &mut egui::Ui) {
        self.receive_layout();
        self.repaint.get_or_insert_with(|| ui.ctx().clone());
        // A layout asked for before the map was first drawn cannot wake the
        // screen when it is done: look again next frame.
        if self.pending.is_some() && !self.pending_wakes {
            ui.ctx().request_repaint();
        }
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let canvas = response.rect;
        painter.rect_filled(canvas, 0.0, theme::canvas(ui.visuals()));
        let Some(computed) = &self.current else {
            painter.text(
                canvas.center(),
                Align2::CENTER_CENTER,
                "Laying out the map…",
                FontId::proportional(16.0),
                ui.visuals().text_color(),
            );
            return;
        };
        let map = &computed.layout;
        let margin = Vec2::new(150.0, 40.0);
        if self.fit_requested {
            let size = Vec2::new(map.width, map.height + LOOP_ROOM) + margin * 2.0;
            self.zoom = (canvas.width() / size.x)
                .min(canvas.height() / size.y)
                .clamp(0.05, 2.0);
            let drawn = size * self.zoom;
            self.pan = (canvas.size() - drawn) / 2.0;
            self.fit_requested = false;
        }
        if response.dragged() {
            self.pan += response.drag_delta();
            self.follow_fit = false;
        }
        if response.hovered() {
            let (scroll, zoom_delta, pointer) = ui.input(|i| {
                (
                    i.smooth_scroll_delta(),
                    i.zoom_delta(),
                    i.pointer.hover_pos(),
                )
            });
            if zoom_delta != 1.0 || scroll != Vec2::ZERO {
                self.follow_fit = false;
            }
            if zoom_delta != 1.0 {
                let anchor = pointer.unwrap_or(canvas.center()) - canvas.min;
                let new_zoom = (self.zoom * zoom_delta).clamp(0.05, 4.0);
                self.pan = anchor - (anchor - self.pan) * (new_zoom / self.zoom);
                self.zoom = new_zoom;
            } else {
                self.pan += scroll;
            }
        }
        let zoom = self.zoom;
        let origin = canvas.min + self.pan + margin * zoom;
        self.drawn_at = Some((origin, zoom));
        let to_screen = |x: f32, y: f32| origin + Vec2::new(x, y) * zoom;
        let painter = painter.with_clip_rect(canvas);
        let visuals = ui.visuals().clone();

        let medians: Vec<f64> = map
            .edges
            .iter()
            .filter_map(|e| e.stats.time_s.map(|t| t.median))
            .collect();
        let (slow_lo, slow_hi) = log_range(&medians);
        let pointer = ui
            .input(|i| i.pointer.hover_pos())
            .filter(|p| canvas.contains(*p));
        let mut hovered: Option<MapItem> = None;

        for (k, e) in map.edges.iter().enumerate() {
            let curves: Vec<[Pos2; 4]> = edge_curves(map, e, &self.style)
                .iter()
                .map(|c| c.map(|[x, y]| to_screen(x, y)))
                .collect();
            let width = (e.width * zoom).max(1.0);
            let colour = if self.time_view {
                e.stats.time_s.map_or(theme::neutral_band(&visuals), |t| {
                    theme::time_colour(t.median, slow_lo, slow_hi)
                })
            } else if e.kind == EdgeKind::Forward {
                theme::forward_band(&visuals)
            } else {
                theme::back_band(&visuals)
            };
            let highlighted = self.selected == Some(MapItem::Edge(k));
            let colour = if highlighted {
                colour.gamma_multiply(1.8)
            } else {
                colour
            };
            for curve in &curves {
                painter.add(CubicBezierShape::from_points_stroke(
                    *curve,
                    false,
                    Color32::TRANSPARENT,
                    Stroke::new(width, colour),
                ));
            }
            if let Some(p) = pointer
                && hovered.is_none()
                && near_curve(&curves, p, width / 2.0 + 3.0)
            {
                hovered = Some(MapItem::Edge(k));
            }
        }

        // Node boxes first, then labels placed without overlaps: touchpoint
        // names by volume, then the counts of the widest forward bands.
        let font = (13.0 * zoom.sqrt()).clamp(10.0, 16.0);
        let mut obstacles = Vec::new();
        let mut requests = Vec::new();
        let mut texts = Vec::new();
        for (i, n) in map.nodes.iter().enumerate() {
            let rect = Rect::from_min_size(
                to_screen(n.x, n.y),
                Vec2::new(self.style.node_width, n.height) * zoom,
            );
            obstacles.push([rect.left(), rect.top(), rect.right(), rect.bottom()]);
            let fill = if n.is_terminal() {
                theme::terminal_node(&visuals)
            } else {
                theme::node(&visuals)
            };
            painter.rect_filled(rect, 3.0, fill);
            if self.selected == Some(MapItem::Node(i)) {
                painter.rect_stroke(
                    rect.expand(2.0),
                    3.0,
                    Stroke::new(2.0, visuals.selection.stroke.color),
                    egui::StrokeKind::Outside,
                );
            }
            let name = painter.layout_no_wrap(
                n.name.clone(),
                FontId::proportional(font),
                visuals.strong_text_color(),
            );
            let number = painter.layout_no_wrap(
                thousands(n.shown_count()),
                FontId::proportional(font * 0.85),
                visuals.weak_text_color(),
            );
            let size = [
                name.size().x.max(number.size().x) + 4.0,
                name.size().y + number.size().y,
            ];
            // Right of the box, else left of it, above or below.
            let priority = n.label_priority();
            let place = |anchor: Pos2, align| LabelRequest {
                anchor: [anchor.x, anchor.y],
                size,
                align,
                priority,
            };
            let right = place(
                Pos2::new(rect.right() + 5.0, rect.center().y),
                LabelAlign::Left,
            );
            let left = place(
                Pos2::new(rect.left() - 5.0, rect.center().y),
                LabelAlign::Right,
            );
            let above = place(
                Pos2::new(rect.center().x, rect.top() - size[1] / 2.0 - 2.0),
                LabelAlign::Center,
            );
            let below = place(
                Pos2::new(rect.center().x, rect.bottom() + size[1] / 2.0 + 2.0),
                LabelAlign::Center,
            );
            requests.push(match n.name.as_str() {
                END_NAME => vec![left, above, below],
                START_NAME => vec![right, above, below],
                _ => vec![right, left, above, below],
            });
            texts.push(MapLabel::Node(name, number));
            if let Some(p) = pointer
                && rect.expand(3.0).contains(p)
            {
                hovered = Some(MapItem::Node(i));
            }
        }
        for e in map
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Forward && e.width * zoom >= BAND_LABEL_MIN_WIDTH)
        {
            let (a, b) = (&map.nodes[e.from], &map.nodes[e.to]);
            let mid = to_screen(
                (a.x + self.style.node_width + b.x) / 2.0,
                (e.from_y + e.to_y) / 2.0,
            );
            let galley = painter.layout_no_wrap(
                e.band_label(),
                FontId::proportional(11.0),
                visuals.text_color(),
            );
            requests.push(vec![LabelRequest {
                anchor: [mid.x, mid.y],
                size: [galley.size().x + 6.0, galley.size().y + 2.0],
                align: LabelAlign::Center,
                priority: e.stats.transitions,
            }]);
            texts.push(MapLabel::Edge(galley));
        }
        let chosen = place_label_choices(&requests, &obstacles);
        let halo = theme::canvas(&visuals).gamma_multiply(0.85);
        for ((choices, text), chosen) in requests.iter().zip(texts).zip(chosen) {
            let Some(k) = chosen else {
                continue;
            };
            let request = &choices[k];
            let [left, top, right, bottom] = request.rect();
            match text {
                MapLabel::Node(name, number) => {
                    // Each line left-, right- or centre-aligned in the box.
                    let line_x = |width: f32| match request.align {
                        LabelAlign::Left => left + 2.0,
                        LabelAlign::Right => right - 2.0 - width,
                        LabelAlign::Center => (left + right - width) / 2.0,
                    };
                    let (name_x, number_x) = (line_x(name.size().x), line_x(number.size().x));
                    let name_height = name.size().y;
                    painter.galley(Pos2::new(name_x, top), name, visuals.text_color());
                    painter.galley(
                        Pos2::new(number_x, top + name_height),
                        number,
                        visuals.text_color(),
                    );
                }
                MapLabel::Edge(galley) => {
                    painter.rect_filled(
                        Rect::from_min_max(Pos2::new(left, top), Pos2::new(right, bottom)),
                        3.0,
                        halo,
                    );
                    painter.galley(
                        Pos2::new(left + 3.0, top + 1.0),
                        galley,
                        visuals.text_color(),
                    );
                }
            }
        }

        if response.clicked() {
            self.selected = hovered;
        }
        if let Some(item) = hovered {
            let tip = item_summary(map, item);
            response.on_hover_ui_at_pointer(|ui| {
                ui.label(tip);
            });
        }
    }
}

/// A slider for a share (0..1) shown in percent, from 10 % to 100 %.
fn share_slider(ui: &mut egui::Ui, share: &mut f64, label: &str) {
    let mut percent = *share * 100.0;
    ui.add(
        egui::Slider::new(&mut percent, 10.0..=100.0)
            .suffix(" %")
            .integer()
            .text(label),
    );
    *share = percent / 100.0;
}

/// A one-paragraph description of a node or edge for tooltips.
pub fn item_summary(map: &MapLayout, item: MapItem) -> String {
    match item {
        MapItem::Node(i) => {
            let n = &map.nodes[i].stats;
            format!(
                "{}\n{} events · {} sessions · {} customers\n{} sessions ended here",
                n.name,
                thousands(n.events),
                thousands(n.sessions),
                thousands(n.customers),
                thousands(n.exits)
            )
        }
        MapItem::Edge(k) => {
            let e = &map.edges[k].stats;
            let mut text = format!(
                "{} » {}\n{} transitions · {} customers\n{:.1} % of everyone leaving {}",
                e.from,
                e.to,
                thousands(e.transitions),
                thousands(e.customers),
                e.share * 100.0,
                e.from
            );
            if let Some(t) = e.time_s {
                text.push_str(&format!(
                    "\nTime: median {}, mean {}, p90 {}, p99 {} (min {}, max {})",
                    human_duration(t.median),
                    human_duration(t.mean),
                    human_duration(t.p90),
                    human_duration(t.p99),
                    human_duration(t.min),
                    human_duration(t.max)
                ));
            }
            text
        }
    }
}

fn log_range(values: &[f64]) -> (f64, f64) {
    let logs = values.iter().filter(|v| **v > 0.0).map(|v| v.ln());
    let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
}

fn near_curve(curves: &[[Pos2; 4]], p: Pos2, tolerance: f32) -> bool {
    curves.iter().any(|c| {
        let mut previous = c[0];
        (1..=16).any(|step| {
            let t = step as f32 / 16.0;
            let u = 1.0 - t;
            let q = Pos2::ZERO
                + c[0].to_vec2() * (u * u * u)
                + c[1].to_vec2() * (3.0 * u * u * t)
                + c[2].to_vec2() * (3.0 * u * t * t)
                + c[3].to_vec2() * (t * t * t);
            let hit = distance_to_segment(p, previous, q) <= tolerance;
            previous = q;
            hit
        })
    })
}

fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let t = if ab.length_sq() == 0.0 {
        0.0
    } else {
        ((p - a).dot(ab) / ab.length_sq()).clamp(0.0, 1.0)
    };
    (a + ab * t).distance(p)
}
