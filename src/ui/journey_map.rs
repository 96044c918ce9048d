//! The journey map: a left-to-right flow diagram drawn with egui's painter
//! from a layout computed on a worker thread.

use crate::engine::conformance_report::StepOnPath;
use std::sync::Arc;

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Vec2};

use crate::app::memo::Memo;
use crate::background::Task;
use crate::format::human_duration;
use crate::layout::scene::{Changes, Scene, View, scene, time_scale};
use crate::layout::{
    LOOP_ROOM, LayoutStyle, MapFilter, MapLayout, Visible, layout_following, visible_part,
};
use crate::report::Summary;
use crate::report::words::side_in_words;

use super::geometry::rect;
pub use super::map_alerts::Alerted;
use super::map_alerts::{paint_alerted, paint_expected, paint_watched};
use super::map_paint::{Lit, band_reach, bands_mesh, compared_shares, hit, legend, paint};
pub use super::map_paint::{MapItem, describe};
use super::theme;

/// What a picture of the map is drawn from besides its layout: the
/// summary's generation, the style, the view and the theme.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SceneKey {
    generation: u64,
    style: LayoutStyle,
    view: View,
    dark: bool,
    pixels_per_point: f32,
}

impl SceneKey {
    /// Whether `other` differs from this one only in where the layout's
    /// corner lands.
    fn moved_to(&self, other: &SceneKey) -> bool {
        let mut moved = *other;
        moved.view.origin = self.view.origin;
        moved == *self
    }
}

impl DrawnScene {
    /// Moves the picture, its mesh and its reach to `key`'s origin.
    fn move_to(&mut self, key: SceneKey) {
        let [x, y] = self.key.view.origin;
        let [to_x, to_y] = key.view.origin;
        let delta = [to_x - x, to_y - y];
        self.picture.translate(delta);
        let shift = Vec2::new(delta[0], delta[1]);
        Arc::make_mut(&mut self.bands).translate(shift);
        for reach in &mut self.reach {
            *reach = reach.translate(shift);
        }
        self.key = key;
    }
}

/// A picture of the map, kept while nothing it is drawn from changes:
/// a frame where only the pointer moved draws it as it is, one where the
/// map was dragged moves it.
struct DrawnScene {
    /// The layout it draws (held, so that its address is not reused).
    layout: Arc<Computed>,
    key: SceneKey,
    /// The scene.
    pub picture: Scene,
    /// Its bands, unlit, as one mesh.
    bands: Arc<egui::Mesh>,
    /// Where each band may be hit.
    reach: Vec<Rect>,
}

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
    drawn: Option<DrawnScene>,
    /// The layout the selection indexes (the one shown before a new one).
    previous: Option<Arc<Computed>>,
    /// What firing alerts point at, drawn red with the rule's name.
    pub alerted: Vec<Alerted>,
    /// The expected journey's steps to outline, when the summary has none
    /// (the live screen walks the journey apart).
    pub expected: Vec<StepOnPath>,
    /// Touchpoints trigger rules watch: (rule, touchpoint, customers who
    /// would fire if nothing more happens).
    pub watched: Vec<(String, String, u64)>,
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
            expected: Vec::new(),
            watched: Vec::new(),
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
        let key = SceneKey {
            generation: self.summary_generation,
            style: self.style,
            view,
            dark: ui.visuals().dark_mode,
            pixels_per_point: ui.ctx().pixels_per_point(),
        };
        let drawn = match self.drawn.take() {
            Some(drawn) if drawn.key == key && Arc::ptr_eq(&drawn.layout, &computed) => drawn,
            // Dragged: the same picture, moved.
            Some(mut drawn)
                if drawn.key.moved_to(&key) && Arc::ptr_eq(&drawn.layout, &computed) =>
            {
                drawn.move_to(key);
                drawn
            }
            _ => {
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
                DrawnScene {
                    layout: computed.clone(),
                    key,
                    bands: Arc::new(bands_mesh(&picture, ui.visuals())),
                    reach: band_reach(&picture),
                    picture,
                }
            }
        };
        let picture = &drawn.picture;
        let pointer = ui
            .input(|i| i.pointer.hover_pos())
            .filter(|p| canvas.contains(*p));
        let hovered = pointer.and_then(|p| hit(picture, &drawn.reach, p));
        let lit = Lit {
            hovered,
            selected: self.selected,
        };
        paint(&painter, (picture, &drawn.bands), map, ui.visuals(), lit);
        paint_alerted(&painter, picture, map, &self.alerted);
        let expected = match &self.summary.conformance {
            Some(conformance) => &conformance.steps,
            None => &self.expected,
        };
        paint_expected(&painter, picture, map, expected);
        paint_watched(&painter, picture, map, &self.watched);
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
        self.drawn = Some(drawn);
    }

    /// Where the repeat badge of touchpoint `name` was drawn in the last
    /// frame.
    pub fn badge_screen_rect(&self, name: &str) -> Option<Rect> {
        let layout = self.layout()?;
        let node = layout.node_index(name)?;
        self.drawn
            .as_ref()?
            .picture
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

/// The column spacing (whole tens, 120 to 260) that gives the map about
/// the canvas's proportions, so that a fitted map fills it.
fn fitting_spacing(canvas: Vec2, layout: &MapLayout) -> f32 {
    let style = LayoutStyle::default();
    let columns = layout.columns.max(1) as f32;
    let tall = layout.height + LOOP_ROOM + 2.0 * MARGIN.y;
    let wide = canvas.x / canvas.y.max(1.0) * tall - 2.0 * MARGIN.x - style.node_width;
    ((wide / columns / 10.0).round() * 10.0).clamp(120.0, 260.0)
}
