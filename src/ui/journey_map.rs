//! The journey map: a left-to-right flow diagram drawn with egui's painter
//! from a layout computed on a worker thread.

use std::sync::Arc;

use egui::epaint::CubicBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use crate::app::task::{Memo, Task};
use crate::engine::compare::CompareReport;
use crate::format::{human_duration, thousands};
use crate::layout::scene::{
    Changes, Ink, Role, Scene, View, describe_edge, describe_node, scene, time_scale,
};
use crate::layout::{
    LOOP_ROOM, LayoutStyle, MapFilter, MapLayout, Visible, layout_following, visible_part,
};
use crate::report::Summary;
use crate::report::words::side_in_words;

use super::geometry::{pos, rect};
pub use super::map_alerts::Alerted;
use super::map_alerts::paint_alerted;
use super::theme::{self, rgb};
use crate::layout::palette;

/// A computed layout and what of the graph it shows.
struct Computed {
    layout: MapLayout,
    visible: Visible,
}

/// What a layout is computed from: the summary's generation, the sliders
/// and the column spacing (whole layout units).
type LayoutKey = (u64, MapFilter, u32);

/// The map's margins around the layout, in layout units: room for the
/// labels of START and END.
const MARGIN: Vec2 = Vec2::new(70.0, 40.0);

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
    /// Bumped whenever `summary` is replaced.
    summary_generation: u64,
    style: LayoutStyle,
    /// The sliders as the user set them.
    pub filter: MapFilter,
    /// Colour bands by median time instead of volume.
    pub time_view: bool,
    layouts: Memo<LayoutKey, Computed>,
    /// The inputs of the layout drawn last, to notice a new one.
    drawn_key: Option<LayoutKey>,
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
    /// The picture drawn last, for what is where on screen.
    drawn: Option<Scene>,
    /// The layout the selection indexes (the one shown before a new one).
    previous: Option<Arc<Computed>>,
    /// What firing alerts point at, drawn red with the rule's name.
    pub alerted: Vec<Alerted>,
    /// The canvas size the map was last fitted to.
    fitted_to: Vec2,
    /// How each transition's share changed, when the summary compares.
    changes: Option<Changes>,
}

impl JourneyMap {
    /// A map of `summary`; its layout is computed once the map is kept up
    /// to date ([`JourneyMap::update`]).
    pub fn new(summary: Arc<Summary>) -> Self {
        JourneyMap {
            changes: summary.compare.as_ref().map(Changes::of),
            summary,
            summary_generation: 0,
            style: LayoutStyle::default(),
            filter: MapFilter::default(),
            time_view: false,
            layouts: Memo::default(),
            drawn_key: None,
            pan: Vec2::ZERO,
            zoom: 1.0,
            fit_requested: true,
            follow_fit: true,
            stable: false,
            selected: None,
            drawn_at: None,
            drawn: None,
            previous: None,
            alerted: Vec::new(),
            fitted_to: Vec2::ZERO,
        }
    }

    fn current(&self) -> Option<&Computed> {
        self.layouts.value().map(|c| c.as_ref())
    }

    /// The layout on screen, once computed.
    pub fn layout(&self) -> Option<&MapLayout> {
        self.current().map(|c| &c.layout)
    }

    /// The visible part on screen, once computed.
    pub fn visible(&self) -> Option<&Visible> {
        self.current().map(|c| &c.visible)
    }

    /// Shows `summary` instead, keeping the view's zoom and sliders.
    pub fn set_summary(&mut self, summary: Arc<Summary>) {
        self.changes = summary.compare.as_ref().map(Changes::of);
        self.summary = summary;
        self.summary_generation += 1;
    }

    /// The summary drawn.
    pub fn summary(&self) -> &Arc<Summary> {
        &self.summary
    }

    /// True while the layout on screen is not the one for the summary and
    /// sliders.
    pub fn is_laying_out(&self) -> bool {
        self.layouts.value_for(&self.key()).is_none()
    }

    fn key(&self) -> LayoutKey {
        (
            self.summary_generation,
            self.filter,
            self.style.column_spacing as u32,
        )
    }

    /// Takes a finished layout and starts the one the summary and sliders
    /// ask for (on a worker; `ctx` is woken when it is done).
    pub fn update(&mut self, ctx: &egui::Context) {
        let key = self.key();
        let summary = self.summary.clone();
        let style = self.style;
        let previous = self
            .current()
            .filter(|_| self.stable)
            .map(|c| c.layout.clone());
        let repaint = ctx.clone();
        self.layouts.want(&key, |&(_, filter, _)| {
            Task::spawn(
                "layout",
                Arc::new(move || repaint.request_repaint()),
                move |_| {
                    let visible = visible_part(&summary.nodes, &summary.edges, &filter);
                    let layout =
                        layout_following(&visible.nodes, &visible.edges, &style, previous.as_ref());
                    Computed { layout, visible }
                },
            )
        });
        let shown = self.layouts.shown_key().copied();
        if shown.is_some() && shown != self.drawn_key {
            self.drawn_key = shown;
            // The selection stays on what it names, if the new layout
            // still shows it.
            let before = self.previous.as_ref().map(|c| &c.layout);
            let selected = self.selected_names_in(before);
            self.selected = None;
            if let Some((from, to)) = selected {
                self.select(&from, to.as_deref());
            }
            self.previous = self.layouts.value().cloned();
            if self.follow_fit {
                self.fit_requested = true;
            }
        }
    }

    /// The clicked touchpoint (name, None) or transition (from, Some(to)).
    pub fn selected_names(&self) -> Option<(String, Option<String>)> {
        self.selected_names_in(self.layout())
    }

    fn selected_names_in(&self, layout: Option<&MapLayout>) -> Option<(String, Option<String>)> {
        let layout = layout?;
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

    /// The controls above the map.
    pub fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut self.time_view, false, "Frequency");
            ui.selectable_value(&mut self.time_view, true, "Time")
                .on_hover_text("Colour each step by its median time, from fast to slow");
            if self.time_view {
                self.time_legend_ui(ui);
            } else {
                self.compare_legend_ui(ui);
            }
            ui.separator();
            share_slider(
                ui,
                &mut self.filter.touchpoint_share,
                10.0,
                "of touchpoints",
            )
            .on_hover_text("Show the busiest touchpoints that hold this share of all events");
            share_slider(ui, &mut self.filter.path_share, 0.0, "of paths").on_hover_text(
                "Show the busiest moves between touchpoints that carry this share of all \
                 moves; each touchpoint keeps its busiest way in and out. At 100 % every \
                 transition is drawn. Exits (red stubs) and repeats (badges) always show.",
            );
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
                let note = egui::RichText::new(note).color(ui.visuals().weak_text_color());
                // Whole on one line (the row wraps before it, not inside).
                ui.add(egui::Label::new(note).extend())
                    .on_hover_text("The sliders show them; at 100 % and 100 % the map is whole");
            }
        });
    }

    /// What is compared and how the colours read.
    fn compare_legend_ui(&self, ui: &mut egui::Ui) {
        let (Some(compare), Some(changes)) = (&self.summary.compare, &self.changes) else {
            return;
        };
        let scale = changes.scale;
        let zone = super::zone::display_zone(ui.ctx(), None);
        ui.label(format!(
            "Each step's share: {} vs {}",
            side_in_words(&compare.a, zone),
            side_in_words(&compare.b, zone)
        ));
        ui.label(format!("−{scale:.1} pp"));
        let (rect, _) = ui.allocate_exact_size(Vec2::new(90.0, 10.0), Sense::hover());
        let steps = 30;
        for i in 0..steps {
            let t = -1.0 + 2.0 * i as f32 / (steps - 1) as f32;
            let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
            let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
            ui.painter().rect_filled(
                Rect::from_min_max(Pos2::new(x0, rect.top()), Pos2::new(x1, rect.bottom())),
                0.0,
                theme::change_colour_at(t),
            );
        }
        ui.label(format!("+{scale:.1} pp")).on_hover_text(
            "Blue: a smaller share of sessions take this step in A than in B; orange: a larger \
             one. Grey: no significant difference (q ≥ 0.01, or fewer than 30 sessions). \
             Widths are those of A and B together.",
        );
    }

    /// Selects the transition `from → to` (or the touchpoint `from` when
    /// `to` is None), if the map shows it.
    pub fn select(&mut self, from: &str, to: Option<&str>) {
        let Some(layout) = self.layout() else {
            return;
        };
        let item = match to {
            None => layout.node_index(from).map(MapItem::Node),
            Some(to) => layout
                .edges
                .iter()
                .position(|e| e.stats.from == from && e.stats.to == to)
                .map(MapItem::Edge),
        };
        if item.is_some() {
            self.selected = item;
        }
    }

    /// The colour scale of the time view: fastest and slowest median.
    fn time_legend_ui(&self, ui: &mut egui::Ui) {
        let Some((fastest, slowest)) = self.layout().and_then(time_scale) else {
            return;
        };
        ui.weak("median step");
        ui.label(human_duration(fastest));
        let (rect, _) = ui.allocate_exact_size(Vec2::new(90.0, 10.0), Sense::hover());
        let steps = 30;
        for i in 0..steps {
            let t = i as f32 / (steps - 1) as f32;
            let x0 = rect.left() + rect.width() * i as f32 / steps as f32;
            let x1 = rect.left() + rect.width() * (i + 1) as f32 / steps as f32;
            ui.painter().rect_filled(
                Rect::from_min_max(Pos2::new(x0, rect.top()), Pos2::new(x1, rect.bottom())),
                0.0,
                theme::time_colour_at(t),
            );
        }
        ui.label(human_duration(slowest))
            .on_hover_text("Median time of a step: fastest to slowest on this map");
    }

    /// The map canvas.
    pub fn map_ui(&mut self, ui: &mut egui::Ui) {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let canvas = response.rect;
        if let Some(layout) = self.layout() {
            self.style.column_spacing = fitting_spacing(canvas.size(), layout);
        }
        self.update(ui.ctx());
        painter.rect_filled(canvas, 0.0, theme::canvas(ui.visuals()));
        let Some((width, height)) = self.layout().map(|l| (l.width, l.height)) else {
            painter.text(
                canvas.center(),
                Align2::CENTER_CENTER,
                "Laying out the map…",
                FontId::proportional(16.0),
                ui.visuals().text_color(),
            );
            return;
        };
        let margin = MARGIN;
        self.navigate(ui, &response, Vec2::new(width, height), margin);
        let origin = canvas.min + self.pan + margin * self.zoom;
        self.drawn_at = Some((origin, self.zoom));
        let view = View {
            origin: [origin.x, origin.y],
            zoom: self.zoom,
            time_view: self.time_view,
        };
        let Some(computed) = self.layouts.value().cloned() else {
            return;
        };
        let map = &computed.layout;
        let painter = painter.with_clip_rect(canvas);
        let measure = |text: &str, size: f32| {
            let size = painter
                .layout_no_wrap(text.to_owned(), FontId::proportional(size), Color32::WHITE)
                .size();
            [size.x, size.y]
        };
        let mut picture = scene(map, &self.style, &view, &measure);
        if let Some(changes) = &self.changes {
            changes.colour(&mut picture, map);
        }
        let pointer = ui
            .input(|i| i.pointer.hover_pos())
            .filter(|p| canvas.contains(*p));
        let hovered = pointer.and_then(|p| hit(&picture, p));
        let lit = Lit {
            hovered,
            selected: self.selected,
        };
        paint(&painter, &picture, map, ui.visuals(), lit);
        paint_alerted(&painter, &picture, map, &self.alerted);
        legend(&painter, canvas, ui.visuals());
        if response.clicked() {
            self.selected = hovered;
        }
        if let Some(item) = hovered {
            let mut tip = describe(map, item);
            if let Some(compare) = &self.summary.compare {
                let zone = super::zone::display_zone(ui.ctx(), None);
                tip.push_str(&compared_shares(compare, map, item, zone));
            }
            response.on_hover_ui_at_pointer(|ui| {
                ui.label(tip);
            });
        }
        self.drawn = Some(picture);
    }

    /// Where the repeat badge of touchpoint `name` was drawn in the last
    /// frame.
    pub fn badge_screen_rect(&self, name: &str) -> Option<Rect> {
        let layout = self.layout()?;
        let node = layout.node_index(name)?;
        self.drawn
            .as_ref()?
            .badges
            .iter()
            .find(|b| layout.edges.get(b.edge).is_some_and(|e| e.from == node))
            .map(|b| rect(b.rect))
    }

    /// Fitting on request, dragging to pan, pinching or the wheel to zoom
    /// (about the pointer), sideways scrolling to pan.
    fn navigate(&mut self, ui: &egui::Ui, response: &egui::Response, map: Vec2, margin: Vec2) {
        let canvas = response.rect;
        // A canvas that changes size (a panel beside it settling, the window
        // resized) is fitted again while the map follows the fit.
        if self.follow_fit && canvas.size() != self.fitted_to {
            self.fit_requested = true;
        }
        if self.fit_requested {
            self.fitted_to = canvas.size();
            let size = Vec2::new(map.x, map.y + LOOP_ROOM) + margin * 2.0;
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
            // The wheel zooms, as in other map tools; dragging pans.
            let zoom_delta = if zoom_delta == 1.0 && scroll.y != 0.0 {
                (scroll.y * 0.002).exp()
            } else {
                zoom_delta
            };
            if zoom_delta != 1.0 {
                let anchor = pointer.unwrap_or(canvas.center()) - canvas.min;
                let new_zoom = (self.zoom * zoom_delta).clamp(0.05, 4.0);
                self.pan = anchor - (anchor - self.pan) * (new_zoom / self.zoom);
                self.zoom = new_zoom;
            } else {
                self.pan.x += scroll.x;
            }
        }
    }
}

/// The colour of a role on this screen.
fn colour(role: Role, visuals: &egui::Visuals) -> Color32 {
    match role {
        Role::Node => theme::node(visuals),
        Role::Terminal => theme::terminal_node(visuals),
        Role::Forward => theme::forward_band(visuals),
        Role::Back => theme::back_band(visuals),
        Role::Exit => theme::exit(visuals).gamma_multiply(0.75),
        Role::Time(t) => theme::time_colour_at(t),
        Role::Untimed => theme::neutral_band(visuals),
        Role::Change(t) => theme::change_colour_at(t),
        Role::Unchanged => theme::unchanged_band(visuals),
    }
}

/// What is hovered and what is selected, drawn forward.
#[derive(Debug, Clone, Copy)]
struct Lit {
    hovered: Option<MapItem>,
    selected: Option<MapItem>,
}

impl Lit {
    fn has(&self, item: MapItem) -> bool {
        self.hovered == Some(item) || self.selected == Some(item)
    }

    /// Is the band of edge `k` lit, itself or by a lit end?
    fn lights_edge(&self, map: &MapLayout, k: usize) -> bool {
        let e = &map.edges[k];
        self.has(MapItem::Edge(k))
            || self.has(MapItem::Node(e.from))
            || self.has(MapItem::Node(e.to))
    }
}

/// Points sampled along a band's curve to fill it.
const RIBBON_SAMPLES: usize = 32;

/// A wide band running left to right, filled between its top and bottom
/// edges (the centre line moved up and down by half its width, as a
/// Sankey band is drawn), with a feathered edge; None for a thin band or
/// a curve that turns back (an arc), which a stroke draws. A stroke as
/// wide as a busy band folds over itself where the curve bends sharply.
fn ribbon(curve: [Pos2; 4], stroke: Stroke) -> Option<egui::Mesh> {
    let [p0, p1, p2, p3] = curve;
    let runs_right = p0.x <= p1.x && p1.x <= p2.x && p2.x <= p3.x && p3.x - p0.x > 1.0;
    if stroke.width < 2.0 || !runs_right {
        return None;
    }
    let half = stroke.width / 2.0;
    let feather = 0.6;
    let mut mesh = egui::Mesh::default();
    for i in 0..=RIBBON_SAMPLES {
        let t = i as f32 / RIBBON_SAMPLES as f32;
        let u = 1.0 - t;
        let c = (p0.to_vec2() * (u * u * u)
            + p1.to_vec2() * (3.0 * u * u * t)
            + p2.to_vec2() * (3.0 * u * t * t)
            + p3.to_vec2() * (t * t * t))
            .to_pos2();
        for (dy, colour) in [
            (-half - feather, Color32::TRANSPARENT),
            (-half + feather, stroke.color),
            (half - feather, stroke.color),
            (half + feather, Color32::TRANSPARENT),
        ] {
            mesh.colored_vertex(Pos2::new(c.x, c.y + dy), colour);
        }
        if i > 0 {
            let (a, b) = ((i as u32 - 1) * 4, i as u32 * 4);
            for k in 0..3 {
                mesh.add_triangle(a + k, a + k + 1, b + k);
                mesh.add_triangle(a + k + 1, b + k + 1, b + k);
            }
        }
    }
    Some(mesh)
}

/// Paints the scene: bands (arcs back quiet unless lit), boxes (the
/// selection outlined), badges, then labels.
fn paint(
    painter: &egui::Painter,
    picture: &Scene,
    map: &MapLayout,
    visuals: &egui::Visuals,
    lit: Lit,
) {
    let stroke_of = |band: &crate::layout::scene::Band, forward: bool| {
        let mut colour = colour(band.role, visuals);
        let mut width = band.width;
        if forward {
            colour = if band.role == Role::Back {
                rgb(palette::BACK).gamma_multiply(0.9)
            } else {
                colour.gamma_multiply(1.8)
            };
            width = width.max(2.5);
        }
        Stroke::new(width, colour)
    };
    let draw = |band: &crate::layout::scene::Band, stroke: Stroke| {
        for curve in &band.curves {
            let points = curve.map(pos);
            match ribbon(points, stroke) {
                Some(mesh) => painter.add(mesh),
                None => painter.add(CubicBezierShape::from_points_stroke(
                    points,
                    false,
                    Color32::TRANSPARENT,
                    stroke,
                )),
            };
        }
    };
    let mut forward = Vec::new();
    for band in &picture.bands {
        if lit.lights_edge(map, band.edge) {
            forward.push(band);
        } else {
            draw(band, stroke_of(band, false));
        }
    }
    for band in forward {
        draw(band, stroke_of(band, true));
    }
    for b in &picture.boxes {
        painter.rect_filled(rect(b.rect), 3.0, colour(b.role, visuals));
        if lit.selected == Some(MapItem::Node(b.node)) {
            painter.rect_stroke(
                rect(b.rect).expand(2.0),
                3.0,
                Stroke::new(2.0, visuals.selection.stroke.color),
                egui::StrokeKind::Outside,
            );
        }
    }
    for badge in &picture.badges {
        let strong = lit.has(MapItem::Edge(badge.edge));
        let fill = rgb(palette::BACK).gamma_multiply(if strong { 0.45 } else { 0.2 });
        painter.rect_filled(rect(badge.rect), 6.0, fill);
        if lit.selected == Some(MapItem::Edge(badge.edge)) {
            painter.rect_stroke(
                rect(badge.rect),
                6.0,
                Stroke::new(1.5, visuals.selection.stroke.color),
                egui::StrokeKind::Outside,
            );
        }
        painter.text(
            pos(badge.text.at),
            Align2::LEFT_TOP,
            &badge.text.text,
            FontId::proportional(badge.text.size),
            visuals.text_color(),
        );
    }
    let halo = theme::canvas(visuals).gamma_multiply(0.85);
    for label in &picture.labels {
        if let Some(backdrop) = label.backdrop {
            painter.rect_filled(rect(backdrop), 3.0, halo);
        }
        for line in &label.lines {
            let ink = match line.ink {
                Ink::Strong => visuals.strong_text_color(),
                Ink::Count | Ink::Normal => visuals.text_color(),
                Ink::Exit => theme::exit_text(visuals),
            };
            painter.text(
                pos(line.at),
                Align2::LEFT_TOP,
                &line.text,
                FontId::proportional(line.size),
                ink,
            );
        }
    }
}

/// The key to the map, in the canvas's lower left corner: what widths,
/// stubs, badges and arcs mean.
fn legend(painter: &egui::Painter, canvas: Rect, visuals: &egui::Visuals) {
    let font = FontId::proportional(11.0);
    let rows: [(&str, Color32, f32); 4] = [
        (
            "band width: sessions moving on",
            theme::forward_band(visuals),
            7.0,
        ),
        (
            "red stub: sessions ending there (share of visits)",
            theme::exit(visuals),
            5.0,
        ),
        (
            "badge: repeats of a step in a row",
            rgb(palette::BACK).gamma_multiply(0.5),
            0.0,
        ),
        (
            "thin arc below: back to an earlier step",
            theme::back_band(visuals),
            1.5,
        ),
    ];
    let line_height = 16.0;
    let size = Vec2::new(290.0, rows.len() as f32 * line_height + 8.0);
    let frame = Rect::from_min_size(canvas.left_bottom() + Vec2::new(8.0, -size.y - 8.0), size);
    painter.rect_filled(frame, 4.0, theme::canvas(visuals).gamma_multiply(0.92));
    painter.rect_stroke(
        frame,
        4.0,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        egui::StrokeKind::Inside,
    );
    for (i, (text, colour, width)) in rows.into_iter().enumerate() {
        let y = frame.top() + 4.0 + line_height * (i as f32 + 0.5);
        let x = frame.left() + 8.0;
        if width > 0.0 {
            painter.line_segment(
                [Pos2::new(x, y), Pos2::new(x + 22.0, y)],
                Stroke::new(width, colour),
            );
        } else {
            painter.rect_filled(
                Rect::from_center_size(Pos2::new(x + 11.0, y), Vec2::new(22.0, 10.0)),
                5.0,
                colour,
            );
        }
        painter.text(
            Pos2::new(x + 30.0, y),
            Align2::LEFT_CENTER,
            text,
            font.clone(),
            visuals.text_color(),
        );
    }
}

/// What is under `p`: a box before a band, the first band drawn otherwise.
fn hit(picture: &Scene, p: Pos2) -> Option<MapItem> {
    if let Some(b) = picture
        .boxes
        .iter()
        .find(|b| rect(b.rect).expand(3.0).contains(p))
    {
        return Some(MapItem::Node(b.node));
    }
    if let Some(b) = picture
        .badges
        .iter()
        .find(|b| rect(b.rect).expand(2.0).contains(p))
    {
        return Some(MapItem::Edge(b.edge));
    }
    // The band whose centre line is nearest (thinner first on a tie), so
    // that a thin band under a wide one can be reached.
    picture
        .bands
        .iter()
        .filter_map(|band| {
            let d = curve_distance(&band.curves, p);
            (d <= band.width / 2.0 + 3.0).then_some((d, band.width, band.edge))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, edge)| MapItem::Edge(edge))
}

/// A slider for a share (0..1) shown in percent, from `least` % to 100 %.
fn share_slider(ui: &mut egui::Ui, share: &mut f64, least: f64, label: &str) -> egui::Response {
    let mut percent = *share * 100.0;
    let response = ui.add(
        egui::Slider::new(&mut percent, least..=100.0)
            .suffix(" %")
            .integer()
            .text(label),
    );
    *share = percent / 100.0;
    response
}

/// A one-paragraph description of a node or edge for tooltips.
pub fn describe(map: &MapLayout, item: MapItem) -> String {
    match item {
        MapItem::Node(i) => describe_node(map, i),
        MapItem::Edge(k) => describe_edge(map, k),
    }
}

/// Both sides' shares and counts of a band (its share of the steps moving
/// on) or a touchpoint (its sessions ending there) in a comparison, as
/// tooltip lines ("" when the comparison has no row for it).
fn compared_shares(
    compare: &CompareReport,
    map: &MapLayout,
    item: MapItem,
    zone: chrono_tz::Tz,
) -> String {
    let names = [
        side_in_words(&compare.a, zone),
        side_in_words(&compare.b, zone),
    ];
    let lines = |sides: [(f64, u64, u64); 2], what: &str| {
        let mut text = String::new();
        for ((share, count, whole), (letter, name)) in
            sides.into_iter().zip(["A", "B"].iter().zip(&names))
        {
            text.push_str(&format!(
                "\n{letter} ({name}): {:.1} % ({} of {} {what})",
                share * 100.0,
                thousands(count),
                thousands(whole)
            ));
        }
        text
    };
    match item {
        MapItem::Edge(k) => {
            let e = &map.edges[k].stats;
            compare
                .edges
                .iter()
                .find(|r| r.from == e.from && r.to == e.to)
                .map_or(String::new(), |r| {
                    lines(
                        [
                            (r.a.share, r.a.transitions, r.a.outflow),
                            (r.b.share, r.b.transitions, r.b.outflow),
                        ],
                        "steps moving on",
                    )
                })
        }
        MapItem::Node(i) => {
            let name = &map.nodes[i].stats.name;
            compare
                .nodes
                .iter()
                .find(|r| &r.name == name)
                .map_or(String::new(), |r| {
                    lines(
                        [
                            (r.a.exit_share, r.a.exits, r.a.sessions),
                            (r.b.exit_share, r.b.exits, r.b.sessions),
                        ],
                        "sessions ending here",
                    )
                })
        }
    }
}

/// The column spacing (whole tens, 120 to 260) that gives the map about
/// the canvas's proportions, so that a fitted map fills it.
fn fitting_spacing(canvas: Vec2, layout: &MapLayout) -> f32 {
    let style = LayoutStyle::default();
    let columns = layout.columns.max(1) as f32;
    let tall = layout.height + LOOP_ROOM + 2.0 * MARGIN.y;
    let wide = canvas.x / canvas.y.max(1.0) * tall - 2.0 * MARGIN.x - style.node_width;
    ((wide / columns / 10.0).round() * 10.0).clamp(120.0, 260.0)
}

/// The distance from `p` to the nearest point of the curves.
fn curve_distance(curves: &[[[f32; 2]; 4]], p: Pos2) -> f32 {
    let mut nearest = f32::INFINITY;
    for c in curves {
        let c = c.map(pos);
        let mut previous = c[0];
        for step in 1..=16 {
            let t = step as f32 / 16.0;
            let u = 1.0 - t;
            let q = Pos2::ZERO
                + c[0].to_vec2() * (u * u * u)
                + c[1].to_vec2() * (3.0 * u * u * t)
                + c[2].to_vec2() * (3.0 * u * t * t)
                + c[3].to_vec2() * (t * t * t);
            nearest = nearest.min(distance_to_segment(p, previous, q));
            previous = q;
        }
    }
    nearest
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
