//! One picture of the map for every renderer: bands, boxes and labels
//! placed without overlaps, in the renderer's own coordinates, with colours
//! named by role. The app paints it with egui and the export writes it as
//! SVG, so both place every label the same way.

use std::collections::HashMap;

use crate::engine::compare::CompareReport;
use crate::engine::{END_NAME, NodeReport, START_NAME};
use crate::format::{human_duration, plural, thousands};

use super::{
    BAND_LABEL_MIN_WIDTH, EdgeKind, LabelAlign, LabelRequest, LayoutStyle, MapLayout, PlacedEdge,
    PlacedNode, edge_curves, place_label_choices,
};

/// What a shape is, for the renderer to colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// A touchpoint box.
    Node,
    /// The START or END box.
    Terminal,
    /// A band to a later column.
    Forward,
    /// A thin arc back to the same or an earlier column.
    Back,
    /// A drop-off stub: the sessions that end at a touchpoint.
    Exit,
    /// A band in the time view: 0 for the fastest median, 1 the slowest.
    Time(f32),
    /// A band without a time (from START, to END) in the time view.
    Untimed,
    /// A compared band whose share changed significantly: −1 (lower in A,
    /// by the most on the map) to +1 (higher).
    Change(f32),
    /// A compared band whose change is not significant.
    Unchanged,
}

/// How strongly a text is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ink {
    /// A touchpoint's name.
    Strong,
    /// A count under a name.
    Count,
    /// A band's label.
    Normal,
    /// A drop-off stub's label.
    Exit,
}

/// A transition band: cubic Bézier pieces ([start, control, control, end]).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Index in [`MapLayout::edges`].
    pub edge: usize,
    /// The pieces of its centre line.
    pub curves: Vec<[[f32; 2]; 4]>,
    /// Stroke width.
    pub width: f32,
    /// Its colour's role.
    pub role: Role,
}

/// The count badge of a touchpoint's repeats (its self-loop).
#[derive(Debug, Clone, PartialEq)]
pub struct Badge {
    /// Index in [`MapLayout::edges`] of the self-loop.
    pub edge: usize,
    /// [left, top, right, bottom].
    pub rect: [f32; 4],
    /// Its text ("4,120 repeats").
    pub text: Line,
}

/// A touchpoint box.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// Index in [`MapLayout::nodes`].
    pub node: usize,
    /// [left, top, right, bottom].
    pub rect: [f32; 4],
    /// Its colour's role.
    pub role: Role,
}

/// One line of text, placed by its top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The text as it is (renderers make it safe for their format).
    pub text: String,
    /// Top-left corner.
    pub at: [f32; 2],
    /// Font size.
    pub size: f32,
    /// How it is drawn.
    pub ink: Ink,
}

/// A placed label: its lines, and for band labels the box drawn behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Its lines, top to bottom.
    pub lines: Vec<Line>,
    /// [left, top, right, bottom] of a background box, when it has one.
    pub backdrop: Option<[f32; 4]>,
}

/// The whole picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scene {
    /// Bands, widest first (drawn first, so thin ones stay visible).
    pub bands: Vec<Band>,
    /// Touchpoint boxes.
    pub boxes: Vec<NodeBox>,
    /// Repeat badges, one per touchpoint that repeats.
    pub badges: Vec<Badge>,
    /// Labels that found a free place; the others are left out.
    pub labels: Vec<Label>,
}

impl Scene {
    /// The same picture moved by `[dx, dy]`: what a scene drawn at another
    /// origin, at the same zoom, is (placing labels does not depend on
    /// where the layout's corner lands).
    pub fn translate(&mut self, [dx, dy]: [f32; 2]) {
        let shift = |r: &mut [f32; 4]| {
            r[0] += dx;
            r[1] += dy;
            r[2] += dx;
            r[3] += dy;
        };
        let point = |p: &mut [f32; 2]| {
            p[0] += dx;
            p[1] += dy;
        };
        for band in &mut self.bands {
            band.curves.iter_mut().flatten().for_each(point);
        }
        for b in &mut self.boxes {
            shift(&mut b.rect);
        }
        for badge in &mut self.badges {
            shift(&mut badge.rect);
            point(&mut badge.text.at);
        }
        for label in &mut self.labels {
            label.lines.iter_mut().for_each(|l| point(&mut l.at));
            if let Some(backdrop) = &mut label.backdrop {
                shift(backdrop);
            }
        }
    }
}

/// The compared transitions and exits, by (from, to): the change of the share in
/// points and whether it is significant; made once per summary, not per
/// frame.
pub struct Changes {
    /// from → to → (change in points, significant).
    rows: HashMap<String, HashMap<String, (f64, bool)>>,
    /// touchpoint → (change of its exit share in points, significant).
    exits: HashMap<String, (f64, bool)>,
    /// The largest significant change (at least 1 point): the ends of the
    /// colour scale.
    pub scale: f64,
}

impl Changes {
    /// The changes of `compare`.
    pub fn of(compare: &CompareReport) -> Changes {
        let mut rows: HashMap<String, HashMap<String, (f64, bool)>> = HashMap::new();
        for e in &compare.edges {
            let d = &e.difference;
            rows.entry(e.from.clone())
                .or_default()
                .insert(e.to.clone(), (d.diff_pp, d.significant));
        }
        let exits = compare
            .nodes
            .iter()
            .map(|n| {
                let d = &n.difference;
                (n.name.clone(), (d.diff_pp, d.significant))
            })
            .collect();
        let differences = compare.edges.iter().map(|e| &e.difference);
        let scale = differences
            .chain(compare.nodes.iter().map(|n| &n.difference))
            .filter(|d| d.significant)
            .map(|d| d.diff_pp.abs())
            .fold(1.0, f64::max);
        Changes { rows, exits, scale }
    }

    /// Colours every band by the change of its share (a drop-off stub by
    /// the change of its touchpoint's exit share); what is not significant
    /// goes grey.
    pub fn colour(&self, picture: &mut Scene, map: &MapLayout) {
        for band in &mut picture.bands {
            let placed = &map.edges[band.edge];
            let e = &placed.stats;
            let row = if placed.kind == EdgeKind::Exit {
                self.exits.get(&e.from)
            } else {
                self.rows.get(&e.from).and_then(|to| to.get(&e.to))
            };
            band.role = match row {
                Some((diff, true)) => Role::Change((diff / self.scale) as f32),
                _ => Role::Unchanged,
            };
        }
    }
}

/// Where and how the map is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Where the layout's (0, 0) lands.
    pub origin: [f32; 2],
    /// Renderer units per layout unit.
    pub zoom: f32,
    /// Bands coloured by their median time instead of their direction.
    pub time_view: bool,
}

/// Font size of touchpoint names at `zoom` (14 at zoom 1, never under 12).
pub fn name_size(zoom: f32) -> f32 {
    (14.0 * zoom.sqrt()).clamp(12.0, 17.0)
}

/// The text of a repeat badge.
pub fn repeat_badge(repeats: u64) -> String {
    crate::format::plural(repeats as usize, "repeat")
}

/// Font size of band labels.
pub const BAND_LABEL_SIZE: f32 = 11.0;

/// The picture of `map` drawn with `style` at `view`; `measure` gives a
/// text's [width, height] at a font size, as the renderer lays it out.
pub fn scene(
    map: &MapLayout,
    style: &LayoutStyle,
    view: &View,
    measure: &dyn Fn(&str, f32) -> [f32; 2],
) -> Scene {
    let at = |x: f32, y: f32| {
        [
            view.origin[0] + x * view.zoom,
            view.origin[1] + y * view.zoom,
        ]
    };
    let (lo, hi) = log_range(map);
    let bands = map
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind != EdgeKind::SelfLoop)
        .map(|(k, e)| Band {
            edge: k,
            curves: edge_curves(map, e, style)
                .iter()
                .map(|c| c.map(|[x, y]| at(x, y)))
                .collect(),
            width: (e.width * view.zoom).max(1.0),
            role: match (view.time_view, e.stats.time_s, e.kind) {
                (_, _, EdgeKind::Exit) => Role::Exit,
                (true, Some(t), _) => Role::Time(position(t.median, lo, hi)),
                (true, None, _) => Role::Untimed,
                (false, _, EdgeKind::Forward) => Role::Forward,
                (false, _, _) => Role::Back,
            },
        })
        .collect();
    let boxes: Vec<NodeBox> = map
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let [left, top] = at(n.x, n.y);
            NodeBox {
                node: i,
                rect: [
                    left,
                    top,
                    left + style.node_width * view.zoom,
                    top + n.height * view.zoom,
                ],
                role: if n.is_terminal() {
                    Role::Terminal
                } else {
                    Role::Node
                },
            }
        })
        .collect();
    let badges = badges(map, &boxes, measure);
    let labels = place(map, style, view, &boxes, &badges, measure, &at);
    Scene {
        bands,
        boxes,
        badges,
        labels,
    }
}

/// A badge centred above each box whose touchpoint repeats; where two
/// would overlap (a map zoomed far out), the one of fewer repeats is left
/// out (its count stays in the touchpoint's tooltip and the tables).
fn badges(
    map: &MapLayout,
    boxes: &[NodeBox],
    measure: &dyn Fn(&str, f32) -> [f32; 2],
) -> Vec<Badge> {
    let mut loops: Vec<(usize, &crate::layout::PlacedEdge)> = map
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EdgeKind::SelfLoop)
        .collect();
    loops.sort_by(|a, b| {
        b.1.stats
            .transitions
            .cmp(&a.1.stats.transitions)
            .then(a.0.cmp(&b.0))
    });
    let mut kept: Vec<Badge> = Vec::new();
    for (k, e) in loops {
        let [left, top, right, _] = boxes[e.from].rect;
        let text = repeat_badge(e.stats.transitions);
        let [w, h] = measure(&text, BAND_LABEL_SIZE);
        let (w, h) = (w + 8.0, h + 2.0);
        let x = (left + right - w) / 2.0;
        let y = top - h - 3.0;
        let rect = [x, y, x + w, y + h];
        if kept.iter().all(|b| !super::labels::overlap(&rect, &b.rect)) {
            kept.push(Badge {
                edge: k,
                rect,
                text: Line {
                    text,
                    at: [x + 4.0, y + 1.0],
                    size: BAND_LABEL_SIZE,
                    ink: Ink::Normal,
                },
            });
        }
    }
    kept.sort_by_key(|b| b.edge);
    kept
}

/// What hovering touchpoint `i` of `map` says, in the app and in the
/// SVG's tooltips.
pub fn describe_node(map: &MapLayout, i: usize) -> String {
    let n = &map.nodes[i].stats;
    if n.name == END_NAME {
        let mut by: Vec<&NodeReport> = map
            .nodes
            .iter()
            .map(|p| &p.stats)
            .filter(|p| p.exits > 0)
            .collect();
        by.sort_by(|a, b| b.exits.cmp(&a.exits).then(a.name.cmp(&b.name)));
        let mut text = format!("{} sessions ended", thousands(n.sessions));
        for p in by.iter().take(5) {
            text.push_str(&format!(
                "\n{} after {} ({})",
                thousands(p.exits),
                p.name,
                percent_of(p.exits, n.sessions)
            ));
        }
        return text;
    }
    format!(
        "{}\n{} events · {} sessions · {} customers\n{} sessions ended here ({} of its sessions)",
        n.name,
        thousands(n.events),
        thousands(n.sessions),
        thousands(n.customers),
        thousands(n.exits),
        percent_of(n.exits, n.sessions)
    )
}

/// What hovering transition `k` of `map` says, in the app and in the SVG's
/// tooltips.
pub fn describe_edge(map: &MapLayout, k: usize) -> String {
    let placed = &map.edges[k];
    let (e, from) = (&placed.stats, &map.nodes[placed.from].stats);
    if e.to == END_NAME {
        return format!(
            "{} sessions ended after {}\n{} of the sessions that visited it · {:.1} % of the steps from it",
            thousands(e.transitions),
            e.from,
            percent_of(e.transitions, from.sessions),
            e.share * 100.0
        );
    }
    if e.from == e.to {
        return format!(
            "{} repeated {} in a row\n{} · {:.1} % of the steps from it",
            e.from,
            plural(e.transitions as usize, "time"),
            plural(e.customers as usize, "customer"),
            e.share * 100.0
        );
    }
    let mut text = format!(
        "{} » {}\n{} transitions · {} customers\n{:.1} % of the steps moving on from {}",
        e.from,
        e.to,
        thousands(e.transitions),
        thousands(e.customers),
        e.share * 100.0,
        e.from
    );
    if let Some(t) = e.time_s {
        text.push_str(&format!(
            "\nTime per step: median {}, mean {}, p90 {}, p99 {} (min {}, max {})",
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

/// `part` as a percentage of `whole` ("69.5 %").
fn percent_of(part: u64, whole: u64) -> String {
    if whole == 0 {
        "0 %".to_owned()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

/// The label of a drop-off stub: sessions ending and their share of the
/// sessions that visited ("16,875 leave · 70 %").
pub fn exit_label(exits: u64, visiting: u64) -> String {
    let share = if visiting == 0 {
        0.0
    } else {
        exits as f64 * 100.0 / visiting as f64
    };
    format!("{} leave · {share:.0} %", thousands(exits))
}

/// A label's text before it has a place.
enum Wanted {
    Node {
        name: Line,
        count: Line,
        exits: Option<Line>,
    },
    Band(Line),
}

/// Touchpoint names (right of the box, else left, above or below) and the
/// counts of the widest forward bands, placed without overlaps, busiest
/// first.
fn place(
    map: &MapLayout,
    style: &LayoutStyle,
    view: &View,
    boxes: &[NodeBox],
    badges: &[Badge],
    measure: &dyn Fn(&str, f32) -> [f32; 2],
    at: &dyn Fn(f32, f32) -> [f32; 2],
) -> Vec<Label> {
    let name_font = name_size(view.zoom);
    let mut requests = Vec::new();
    let mut wanted = Vec::new();
    for (n, b) in map.nodes.iter().zip(boxes) {
        let (choices, text) = node_request(n, b.rect, name_font, measure);
        requests.push(choices);
        wanted.push(text);
    }
    for e in map
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Forward && e.width * view.zoom >= BAND_LABEL_MIN_WIDTH)
    {
        let (choices, text) = band_request(map, e, style, measure, at);
        requests.push(choices);
        wanted.push(text);
    }
    let mut obstacles: Vec<[f32; 4]> = boxes.iter().map(|b| b.rect).collect();
    obstacles.extend(badges.iter().map(|b| b.rect));
    let chosen = place_label_choices(&requests, &obstacles);
    let mut labels = Vec::new();
    for ((choices, text), chosen) in requests.iter().zip(wanted).zip(chosen) {
        let Some(k) = chosen else {
            continue;
        };
        labels.push(placed_label(&choices[k], text, measure));
    }
    labels
}

/// A line of text not yet placed (at the origin).
fn unplaced_line(text: String, size: f32, ink: Ink) -> Line {
    Line {
        text,
        at: [0.0, 0.0],
        size,
        ink,
    }
}

/// The label of touchpoint `n`, whose box is `rect`: the places it may
/// take, best first, and its lines (names in `name_font`).
fn node_request(
    n: &PlacedNode,
    rect: [f32; 4],
    name_font: f32,
    measure: &dyn Fn(&str, f32) -> [f32; 2],
) -> (Vec<LabelRequest>, Wanted) {
    let count_font = name_font * 0.9;
    let name = unplaced_line(n.name.clone(), name_font, Ink::Strong);
    let count = unplaced_line(thousands(n.shown_count()), count_font, Ink::Count);
    // The sessions ending here, in the colour of the drop-off stub.
    let exits = (!n.is_terminal() && n.stats.exits > 0).then(|| {
        unplaced_line(
            exit_label(n.stats.exits, n.stats.sessions),
            count_font,
            Ink::Exit,
        )
    });
    let ([nw, nh], [cw, ch]) = (
        measure(&name.text, name.size),
        measure(&count.text, count.size),
    );
    let [xw, xh] = exits
        .as_ref()
        .map_or([0.0, 0.0], |l| measure(&l.text, l.size));
    // Name and count beside, above or below the box; else the name
    // alone beside it (the count stays in the tooltip).
    let both = [nw.max(cw).max(xw) + 4.0, nh + ch + xh];
    let alone = [nw + 4.0, nh];
    let choices = node_choices(n, rect, both, alone);
    (choices, Wanted::Node { name, count, exits })
}

/// The places, best first, for the label of touchpoint `n` whose box is
/// `rect`: `both` is the size of its name and counts together, `alone` of
/// its name alone.
fn node_choices(
    n: &PlacedNode,
    rect: [f32; 4],
    both: [f32; 2],
    alone: [f32; 2],
) -> Vec<LabelRequest> {
    let [left, top, right, bottom] = rect;
    let middle = (top + bottom) / 2.0;
    let centre = (left + right) / 2.0;
    let choice = |size: [f32; 2], anchor: [f32; 2], align| LabelRequest {
        anchor,
        size,
        align,
        priority: n.label_priority(),
    };
    let right_of =
        |size: [f32; 2], dy: f32| choice(size, [right + 5.0, middle + dy], LabelAlign::Left);
    let left_of = |size: [f32; 2]| choice(size, [left - 5.0, middle], LabelAlign::Right);
    let above = choice(
        both,
        [centre, top - both[1] / 2.0 - 2.0],
        LabelAlign::Center,
    );
    let below = choice(
        both,
        [centre, bottom + both[1] / 2.0 + 2.0],
        LabelAlign::Center,
    );
    // Right, wholly above or below the box's middle third.
    let high = -(bottom - top) / 6.0 - both[1] / 2.0;
    let low = (bottom - top) / 6.0 + both[1] / 2.0;
    match n.name.as_str() {
        END_NAME => vec![left_of(both), above, below, left_of(alone)],
        START_NAME => vec![right_of(both, 0.0), above, below, right_of(alone, 0.0)],
        _ => vec![
            right_of(both, 0.0),
            left_of(both),
            above,
            below,
            right_of(both, high),
            right_of(both, low),
            right_of(alone, 0.0),
            left_of(alone),
        ],
    }
}

/// The label of forward band `e`: its one place, centred on the band's
/// middle, and its line.
fn band_request(
    map: &MapLayout,
    e: &PlacedEdge,
    style: &LayoutStyle,
    measure: &dyn Fn(&str, f32) -> [f32; 2],
    at: &dyn Fn(f32, f32) -> [f32; 2],
) -> (Vec<LabelRequest>, Wanted) {
    let (a, b) = (&map.nodes[e.from], &map.nodes[e.to]);
    let mid = at(
        (a.x + style.node_width + b.x) / 2.0,
        (e.from_y + e.to_y) / 2.0,
    );
    let text = unplaced_line(e.band_label(), BAND_LABEL_SIZE, Ink::Normal);
    let [w, h] = measure(&text.text, text.size);
    let choices = vec![LabelRequest {
        anchor: mid,
        size: [w + 6.0, h + 2.0],
        align: LabelAlign::Center,
        priority: e.stats.transitions,
    }];
    (choices, Wanted::Band(text))
}

/// The label `text` with its lines placed in the place `request` chose.
fn placed_label(
    request: &LabelRequest,
    text: Wanted,
    measure: &dyn Fn(&str, f32) -> [f32; 2],
) -> Label {
    let [left, top, right, bottom] = request.rect();
    match text {
        Wanted::Node {
            mut name,
            mut count,
            exits,
        } => {
            // Each line left-, right- or centre-aligned in the box.
            let x = |width: f32| match request.align {
                LabelAlign::Left => left + 2.0,
                LabelAlign::Right => right - 2.0 - width,
                LabelAlign::Center => (left + right - width) / 2.0,
            };
            let [nw, nh] = measure(&name.text, name.size);
            let [cw, ch] = measure(&count.text, count.size);
            name.at = [x(nw), top];
            count.at = [x(cw), top + nh];
            // A place too low for every line holds the name alone.
            let lines = if bottom - top >= nh * 1.5 {
                let mut lines = vec![name, count];
                lines.extend(exits.map(|mut l| {
                    let [xw, _] = measure(&l.text, l.size);
                    l.at = [x(xw), top + nh + ch];
                    l
                }));
                lines
            } else {
                vec![name]
            };
            Label {
                lines,
                backdrop: None,
            }
        }
        Wanted::Band(mut text) => {
            text.at = [left + 3.0, top + 1.0];
            Label {
                lines: vec![text],
                backdrop: Some([left, top, right, bottom]),
            }
        }
    }
}

/// The range of the logarithms of the bands' median times.
fn log_range(map: &MapLayout) -> (f64, f64) {
    let logs = map
        .edges
        .iter()
        .filter_map(|e| e.stats.time_s.map(|t| t.median))
        .filter(|m| *m > 0.0)
        .map(f64::ln);
    let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
}

/// Where `median_s` lies between the logarithms `lo` and `hi` (0 to 1).
fn position(median_s: f64, lo: f64, hi: f64) -> f32 {
    if hi > lo && median_s > 0.0 {
        ((median_s.ln() - lo) / (hi - lo)).clamp(0.0, 1.0) as f32
    } else {
        0.0
    }
}

/// The time view's scale: the fastest and slowest median on the map, in
/// seconds (None when no band has a time).
pub fn time_scale(map: &MapLayout) -> Option<(f64, f64)> {
    let (lo, hi) = log_range(map);
    map.edges
        .iter()
        .any(|e| e.stats.time_s.is_some_and(|t| t.median > 0.0))
        .then(|| (lo.exp(), hi.exp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::layout;
    use crate::layout::tests::shop;

    fn measure(text: &str, size: f32) -> [f32; 2] {
        [text.chars().count() as f32 * size * 0.56, size * 1.2]
    }

    #[test]
    fn every_box_and_band_is_in_the_scene_and_no_labels_overlap() {
        let (nodes, edges) = shop();
        let style = LayoutStyle::default();
        let map = layout(&nodes, &edges, &style);
        let view = View {
            origin: [100.0, 50.0],
            zoom: 1.0,
            time_view: false,
        };
        let scene = scene(&map, &style, &view, &measure);
        assert_eq!(scene.boxes.len(), map.nodes.len());
        let repeats = map
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::SelfLoop)
            .count();
        assert!(repeats > 0, "the shop repeats product");
        assert_eq!(scene.bands.len() + repeats, map.edges.len());
        assert_eq!(scene.badges.len(), repeats);
        assert!(!scene.labels.is_empty());
        let rects: Vec<[f32; 4]> = scene
            .labels
            .iter()
            .map(|l| {
                let first = &l.lines[0];
                let [w, h] = measure(&first.text, first.size);
                [first.at[0], first.at[1], first.at[0] + w, first.at[1] + h]
            })
            .collect();
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let overlap = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
                assert!(!overlap, "{a:?} overlaps {b:?}");
            }
        }
        let first_box = &scene.boxes[0];
        assert_eq!(
            [first_box.rect[0], first_box.rect[1]],
            [100.0 + map.nodes[0].x, 50.0 + map.nodes[0].y]
        );
    }
}
