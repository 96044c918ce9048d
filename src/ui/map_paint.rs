//! What the journey map paints and answers: the scene's bands (wide ones
//! filled as ribbons), boxes, badges and labels with what is lit, the
//! legend, which item the pointer is over, and the tooltip text.

use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, Vec2};

use crate::engine::compare::CompareReport;
use crate::format::thousands;
use crate::layout::MapLayout;
use crate::layout::palette;
use crate::layout::scene::{Band, Ink, Role, Scene, describe_edge, describe_node};
use crate::report::words::side_in_words;

use super::geometry::{pos, rect};
use super::theme::{self, rgb};

/// What the pointer is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapItem {
    /// A touchpoint (index into the layout's nodes).
    Node(usize),
    /// A transition (index into the layout's edges).
    Edge(usize),
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
pub(super) struct Lit {
    pub hovered: Option<MapItem>,
    pub selected: Option<MapItem>,
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

/// The most pieces a band's curve is drawn in.
const MOST_PIECES: usize = 32;

/// How far (in points) a curve's straight pieces may stray from it.
const TOLERANCE: f32 = 0.5;

/// The point at `t` (0..=1) along a cubic Bézier curve.
fn bezier_at([p0, p1, p2, p3]: [Pos2; 4], t: f32) -> Pos2 {
    let u = 1.0 - t;
    (p0.to_vec2() * (u * u * u)
        + p1.to_vec2() * (3.0 * u * u * t)
        + p2.to_vec2() * (3.0 * u * t * t)
        + p3.to_vec2() * (t * t * t))
        .to_pos2()
}

/// How many straight pieces draw the curve within [`TOLERANCE`]: the
/// usual bound from its control polygon's second differences, so a
/// nearly straight band takes one or two and a sharp bend more.
fn pieces(curve: [Pos2; 4], tolerance: f32) -> usize {
    let [p0, p1, p2, p3] = curve.map(|p| p.to_vec2());
    let bend = (p0 - p1 * 2.0 + p2)
        .length()
        .max((p1 - p2 * 2.0 + p3).length());
    ((0.75 * bend / tolerance).sqrt().ceil() as usize).clamp(1, MOST_PIECES)
}

/// How finely thin bands are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Detail {
    /// Within [`TOLERANCE`], with feathered edges.
    Fine,
    /// A map of thousands of bands: hairlines within a point and a half,
    /// without feathering (a frame of 10,000 bands stays within 16 ms).
    Crowded,
}

/// More curves than this and thin bands are drawn [`Detail::Crowded`].
const CROWDED_CURVES: usize = 6_000;

/// A wide band running left to right, filled between its top and bottom
/// edges (the centre line moved up and down by half its width, as a
/// Sankey band is drawn), with a feathered edge, into `mesh`; false (and
/// nothing added) for a thin band or a curve that turns back (an arc),
/// which a stroke draws. A stroke as
/// wide as a busy band folds over itself where the curve bends sharply.
fn ribbon(curve: [Pos2; 4], stroke: Stroke, mesh: &mut egui::Mesh) -> bool {
    let [p0, p1, p2, p3] = curve;
    let runs_right = p0.x <= p1.x && p1.x <= p2.x && p2.x <= p3.x && p3.x - p0.x > 1.0;
    if stroke.width < 2.0 || !runs_right {
        return false;
    }
    let half = stroke.width / 2.0;
    let feather = 0.6;
    let first = mesh.vertices.len() as u32;
    let samples = pieces(curve, TOLERANCE);
    for i in 0..=samples {
        let c = bezier_at(curve, i as f32 / samples as f32);
        for (dy, colour) in [
            (-half - feather, Color32::TRANSPARENT),
            (-half + feather, stroke.color),
            (half - feather, stroke.color),
            (half + feather, Color32::TRANSPARENT),
        ] {
            mesh.colored_vertex(Pos2::new(c.x, c.y + dy), colour);
        }
        if i > 0 {
            join_strips(mesh, first + (i as u32 - 1) * 4, 4);
        }
    }
    true
}

/// Two triangles between each pair of neighbours of the `across`
/// vertices at `a` and the `across` after them.
fn join_strips(mesh: &mut egui::Mesh, a: u32, across: u32) {
    let b = a + across;
    for k in 0..across - 1 {
        mesh.add_triangle(a + k, a + k + 1, b + k);
        mesh.add_triangle(a + k + 1, b + k + 1, b + k);
    }
}

/// A thin band or an arc: its centre line in straight pieces, stroked
/// with a feathered edge (a line under two points wide as a core line
/// between two feathers); a stroke thinner than a point is drawn a point
/// wide, that much fainter.
fn thin_stroke(curve: [Pos2; 4], stroke: Stroke, detail: Detail, mesh: &mut egui::Mesh) {
    let crowded = detail == Detail::Crowded && stroke.width < 2.0;
    let samples = pieces(curve, if crowded { 1.5 } else { TOLERANCE });
    let at = |t: f32| bezier_at(curve, t);
    let feather = 0.5;
    let (half, colour) = match stroke.width >= 1.0 {
        true => (stroke.width / 2.0 - feather, stroke.color),
        false => (0.5 - feather, stroke.color.gamma_multiply(stroke.width)),
    };
    // A hairline: transparent, the colour on the centre line, transparent.
    let offsets: &[(f32, Color32)] = if crowded {
        &[(-0.5, colour), (0.5, colour)]
    } else if stroke.width < 2.0 {
        &[
            (-half - feather, Color32::TRANSPARENT),
            (0.0, colour),
            (half + feather, Color32::TRANSPARENT),
        ]
    } else {
        &[
            (-half - feather, Color32::TRANSPARENT),
            (-half, colour),
            (half, colour),
            (half + feather, Color32::TRANSPARENT),
        ]
    };
    let across = offsets.len() as u32;
    let first = mesh.vertices.len() as u32;
    let points: Vec<Pos2> = (0..=samples)
        .map(|i| at(i as f32 / samples as f32))
        .collect();
    for (i, &c) in points.iter().enumerate() {
        let before = points[i.saturating_sub(1)];
        let after = points[(i + 1).min(samples)];
        let along = (after - before).normalized();
        let normal = Vec2::new(-along.y, along.x);
        for &(offset, colour) in offsets {
            mesh.colored_vertex(c + normal * offset, colour);
        }
        if i > 0 {
            join_strips(mesh, first + (i as u32 - 1) * across, across);
        }
    }
}

/// The band's stroke: lit ones brighter and at least 2.5 wide.
fn band_stroke(band: &Band, visuals: &egui::Visuals, lit: bool) -> Stroke {
    let mut colour = colour(band.role, visuals);
    let mut width = band.width;
    if lit {
        colour = if band.role == Role::Back {
            rgb(palette::BACK).gamma_multiply(0.9)
        } else {
            colour.gamma_multiply(1.8)
        };
        width = width.max(2.5);
    }
    Stroke::new(width, colour)
}

/// Adds the band's pieces to `mesh`: wide ones as ribbons, the rest as
/// feathered strokes.
fn band_into(band: &Band, stroke: Stroke, detail: Detail, mesh: &mut egui::Mesh) {
    for curve in &band.curves {
        let points = curve.map(pos);
        if !ribbon(points, stroke, mesh) {
            thin_stroke(points, stroke, detail, mesh);
        }
    }
}

/// Every band of the scene as one mesh, unlit: made once for a scene and
/// drawn every frame (a lit band is drawn again over it).
pub(super) fn bands_mesh(picture: &Scene, visuals: &egui::Visuals) -> egui::Mesh {
    let curves: usize = picture.bands.iter().map(|b| b.curves.len()).sum();
    let detail = match curves > CROWDED_CURVES {
        true => Detail::Crowded,
        false => Detail::Fine,
    };
    let mut mesh = egui::Mesh::default();
    for band in &picture.bands {
        band_into(band, band_stroke(band, visuals, false), detail, &mut mesh);
    }
    mesh
}

/// Where each band of the scene may be hit: the box around its curves'
/// control points (a Bézier curve stays inside them), grown by the reach
/// of a hover.
pub(super) fn band_reach(picture: &Scene) -> Vec<Rect> {
    picture
        .bands
        .iter()
        .map(|band| {
            let mut reach = Rect::NOTHING;
            for curve in &band.curves {
                for p in curve {
                    reach.extend_with(pos(*p));
                }
            }
            reach.expand(band.width / 2.0 + 3.0)
        })
        .collect()
}

/// Paints the scene: bands (arcs back quiet unless lit), boxes (the
/// selection outlined), badges, then labels.
pub(super) fn paint(
    painter: &egui::Painter,
    (picture, bands): (&Scene, &std::sync::Arc<egui::Mesh>),
    map: &MapLayout,
    visuals: &egui::Visuals,
    lit: Lit,
) {
    painter.add(egui::Shape::Mesh(bands.clone()));
    let mut forward = egui::Mesh::default();
    for band in &picture.bands {
        if lit.lights_edge(map, band.edge) {
            band_into(
                band,
                band_stroke(band, visuals, true),
                Detail::Fine,
                &mut forward,
            );
        }
    }
    painter.add(forward);
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
pub(super) fn legend(painter: &egui::Painter, canvas: Rect, visuals: &egui::Visuals) {
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

/// What is under `p`: a box before a badge before the nearest band
/// (`reach`: where each band may be hit, see [`band_reach`]).
pub(super) fn hit(picture: &Scene, reach: &[Rect], p: Pos2) -> Option<MapItem> {
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
        .zip(reach)
        .filter(|(_, reach)| reach.contains(p))
        .filter_map(|(band, _)| {
            let d = curve_distance(&band.curves, p);
            (d <= band.width / 2.0 + 3.0).then_some((d, band.width, band.edge))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, edge)| MapItem::Edge(edge))
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
pub(super) fn compared_shares(
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

/// The distance from `p` to the nearest point of the curves.
fn curve_distance(curves: &[[[f32; 2]; 4]], p: Pos2) -> f32 {
    let mut nearest = f32::INFINITY;
    for c in curves {
        let c = c.map(pos);
        let mut previous = c[0];
        for step in 1..=16 {
            let q = bezier_at(c, step as f32 / 16.0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::scene::{View, scene};
    use crate::layout::{LayoutStyle, MapFilter, layout, visible_part};
    use crate::report::synthetic::synthetic_summary;

    fn measure(text: &str, size: f32) -> [f32; 2] {
        [text.chars().count() as f32 * size * 0.56, size * 1.2]
    }

    /// Hovering anywhere over a map of 10,000 bands finds what a check of
    /// every band finds: the box or badge under the pointer, else the band
    /// whose centre line is nearest (the thinner on a tie).
    #[test]
    fn hover_finds_the_nearest_band_of_ten_thousand() {
        let summary = synthetic_summary(1_000, 10_000);
        let visible = visible_part(&summary.nodes, &summary.edges, &MapFilter::EVERYTHING);
        let style = LayoutStyle::default();
        let map = layout(&visible.nodes, &visible.edges, &style);
        for zoom in [0.05, 0.3] {
            let view = View {
                origin: [0.0, 0.0],
                zoom,
                time_view: false,
            };
            let picture = scene(&map, &style, &view, &measure);
            let reach = band_reach(&picture);
            let everywhere = vec![Rect::EVERYTHING; picture.bands.len()];
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32
            };
            let mut bands_hit = 0;
            for _ in 0..500 {
                let p = Pos2::new(next() * 1400.0, next() * 860.0);
                let found = hit(&picture, &reach, p);
                assert_eq!(found, hit(&picture, &everywhere, p), "at {p:?}");
                let on_item = picture
                    .boxes
                    .iter()
                    .any(|b| rect(b.rect).expand(3.0).contains(p))
                    || picture
                        .badges
                        .iter()
                        .any(|b| rect(b.rect).expand(2.0).contains(p));
                if on_item {
                    continue;
                }
                let nearest = picture
                    .bands
                    .iter()
                    .map(|b| (curve_distance(&b.curves, p), b.width, b.edge))
                    .filter(|(d, w, _)| *d <= w / 2.0 + 3.0)
                    .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
                assert_eq!(found, nearest.map(|(_, _, e)| MapItem::Edge(e)), "at {p:?}");
                bands_hit += usize::from(found.is_some());
            }
            assert!(
                bands_hit > 20,
                "zoom {zoom}: {bands_hit} points over a band"
            );
        }
    }
}
