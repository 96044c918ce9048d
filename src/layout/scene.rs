//! One picture of the map for every renderer: bands, boxes and labels
//! placed without overlaps, in the renderer's own coordinates, with colours
//! named by role. The app paints it with egui and the export writes it as
//! SVG, so both place every label the same way.

use crate::engine::{END_NAME, EdgeReport, NodeReport, START_NAME};
use crate::format::{human_duration, thousands};

use super::{
    BAND_LABEL_MIN_WIDTH, EdgeKind, LabelAlign, LabelRequest, LayoutStyle, MapLayout, edge_curves,
    place_label_choices,
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
    /// A band back to the same or an earlier column, or a loop.
    Back,
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
    Weak,
    /// A band's label.
    Normal,
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
    /// Labels that found a free place; the others are left out.
    pub labels: Vec<Label>,
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

/// Font size of touchpoint names at `zoom` (13 at zoom 1).
pub fn name_size(zoom: f32) -> f32 {
    (13.0 * zoom.sqrt()).clamp(10.0, 16.0)
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
        .map(|(k, e)| Band {
            edge: k,
            curves: edge_curves(map, e, style)
                .iter()
                .map(|c| c.map(|[x, y]| at(x, y)))
                .collect(),
            width: (e.width * view.zoom).max(1.0),
            role: match (view.time_view, e.stats.time_s, e.kind) {
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
    let labels = place(map, style, view, &boxes, measure, &at);
    Scene {
        bands,
        boxes,
        labels,
    }
}

/// What hovering a touchpoint says, in the app and in the SVG's tooltips.
pub fn describe_node(n: &NodeReport) -> String {
    let ended = if n.name == END_NAME {
        format!(
            "{} sessions ended (by touchpoint: Where customers leave)",
            thousands(n.sessions)
        )
    } else {
        format!("{} sessions ended here", thousands(n.exits))
    };
    format!(
        "{}\n{} events · {} sessions · {} customers\n{ended}",
        n.name,
        thousands(n.events),
        thousands(n.sessions),
        thousands(n.customers),
    )
}

/// What hovering a transition says, in the app and in the SVG's tooltips.
pub fn describe_edge(e: &EdgeReport) -> String {
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

/// A label's text before it has a place.
enum Wanted {
    Node { name: Line, count: Line },
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
    measure: &dyn Fn(&str, f32) -> [f32; 2],
    at: &dyn Fn(f32, f32) -> [f32; 2],
) -> Vec<Label> {
    let name_font = name_size(view.zoom);
    let count_font = name_font * 0.85;
    let line = |text: String, size: f32, ink: Ink| Line {
        text,
        at: [0.0, 0.0],
        size,
        ink,
    };
    let mut requests = Vec::new();
    let mut wanted = Vec::new();
    for (n, b) in map.nodes.iter().zip(boxes) {
        let name = line(n.name.clone(), name_font, Ink::Strong);
        let count = line(thousands(n.shown_count()), count_font, Ink::Weak);
        let ([nw, nh], [cw, ch]) = (
            measure(&name.text, name.size),
            measure(&count.text, count.size),
        );
        let size = [nw.max(cw) + 4.0, nh + ch];
        let [left, top, right, bottom] = b.rect;
        let middle = (top + bottom) / 2.0;
        let centre = (left + right) / 2.0;
        let choice = |anchor: [f32; 2], align| LabelRequest {
            anchor,
            size,
            align,
            priority: n.label_priority(),
        };
        let right_of = choice([right + 5.0, middle], LabelAlign::Left);
        let left_of = choice([left - 5.0, middle], LabelAlign::Right);
        let above = choice([centre, top - size[1] / 2.0 - 2.0], LabelAlign::Center);
        let below = choice([centre, bottom + size[1] / 2.0 + 2.0], LabelAlign::Center);
        requests.push(match n.name.as_str() {
            END_NAME => vec![left_of, above, below],
            START_NAME => vec![right_of, above, below],
            _ => vec![right_of, left_of, above, below],
        });
        wanted.push(Wanted::Node { name, count });
    }
    for e in map
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Forward && e.width * view.zoom >= BAND_LABEL_MIN_WIDTH)
    {
        let (a, b) = (&map.nodes[e.from], &map.nodes[e.to]);
        let mid = at(
            (a.x + style.node_width + b.x) / 2.0,
            (e.from_y + e.to_y) / 2.0,
        );
        let text = line(e.band_label(), BAND_LABEL_SIZE, Ink::Normal);
        let [w, h] = measure(&text.text, text.size);
        requests.push(vec![LabelRequest {
            anchor: mid,
            size: [w + 6.0, h + 2.0],
            align: LabelAlign::Center,
            priority: e.stats.transitions,
        }]);
        wanted.push(Wanted::Band(text));
    }
    let obstacles: Vec<[f32; 4]> = boxes.iter().map(|b| b.rect).collect();
    let chosen = place_label_choices(&requests, &obstacles);
    let mut labels = Vec::new();
    for ((choices, text), chosen) in requests.iter().zip(wanted).zip(chosen) {
        let Some(k) = chosen else {
            continue;
        };
        let request = &choices[k];
        let [left, top, right, bottom] = request.rect();
        labels.push(match text {
            Wanted::Node {
                mut name,
                mut count,
            } => {
                // Each line left-, right- or centre-aligned in the box.
                let x = |width: f32| match request.align {
                    LabelAlign::Left => left + 2.0,
                    LabelAlign::Right => right - 2.0 - width,
                    LabelAlign::Center => (left + right - width) / 2.0,
                };
                let [nw, nh] = measure(&name.text, name.size);
                let [cw, _] = measure(&count.text, count.size);
                name.at = [x(nw), top];
                count.at = [x(cw), top + nh];
                Label {
                    lines: vec![name, count],
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
        });
    }
    labels
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
        assert_eq!(scene.bands.len(), map.edges.len());
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
