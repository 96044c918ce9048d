//! Layout of the journey map: a left-to-right flow diagram from START to
//! END, computed once per graph (never per frame) and drawn by the app or
//! exported as SVG.
//!
//! Touchpoints go into columns by their longest forward path from START
//! (back edges, found by a depth-first search that follows heavy edges
//! first, do not count); END takes the last column. Within a column nodes
//! are ordered by the weighted barycentre of their neighbours, sweeping
//! left and right a few times to reduce crossings. Edges are bands whose
//! width is proportional to their transitions.

mod filter;
mod labels;
pub mod palette;
pub mod scene;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::engine::{END_NAME, EdgeReport, NodeReport, START_NAME, is_terminal_name};
use crate::format::{human_duration, thousands};

pub use filter::{MAP_TOUCHPOINT_LIMIT, MapFilter, Visible, visible_part};
pub use labels::{LabelAlign, LabelRequest, place_label_choices, place_labels};

/// Sizes of the drawing, in the layout's own units (pixels at zoom 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayoutStyle {
    /// Horizontal distance between column left edges.
    pub column_spacing: f32,
    /// Width of a node box.
    pub node_width: f32,
    /// Height of the tallest column's content, excluding gaps.
    pub max_column_height: f32,
    /// Vertical gap between nodes of a column.
    pub node_gap: f32,
    /// Smallest node height, so that rare touchpoints stay readable.
    pub min_node_height: f32,
    /// Smallest band width.
    pub min_band_width: f32,
}

impl Default for LayoutStyle {
    fn default() -> Self {
        LayoutStyle {
            column_spacing: 180.0,
            node_width: 14.0,
            max_column_height: 600.0,
            node_gap: 34.0,
            min_node_height: 6.0,
            min_band_width: 1.0,
        }
    }
}

/// A placed touchpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacedNode {
    /// Touchpoint name.
    pub name: String,
    /// Column (0 = START).
    pub column: usize,
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Box height (proportional to volume).
    pub height: f32,
    /// The touchpoint's statistics.
    pub stats: NodeReport,
}

/// How an edge is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EdgeKind {
    /// From a column to a later one.
    Forward,
    /// Back to the same or an earlier column (drawn as an arc under the nodes).
    Back,
    /// From a touchpoint to itself (drawn as a badge on its box).
    SelfLoop,
    /// To END: the sessions ending at a touchpoint, drawn as a short
    /// drop-off stub beside its box.
    Exit,
}

/// A placed transition band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacedEdge {
    /// Index of the source in [`MapLayout::nodes`].
    pub from: usize,
    /// Index of the target in [`MapLayout::nodes`].
    pub to: usize,
    /// Band width.
    pub width: f32,
    /// Centre of the band where it leaves the source (y).
    pub from_y: f32,
    /// Centre of the band where it enters the target (y).
    pub to_y: f32,
    /// Forward, back or self.
    pub kind: EdgeKind,
    /// The transition's statistics.
    pub stats: EdgeReport,
}

/// A computed journey map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapLayout {
    /// Placed touchpoints.
    pub nodes: Vec<PlacedNode>,
    /// Placed transitions, widest first.
    pub edges: Vec<PlacedEdge>,
    /// Total width.
    pub width: f32,
    /// Total height.
    pub height: f32,
    /// Number of columns.
    pub columns: usize,
}

impl PlacedNode {
    /// START or END.
    pub fn is_terminal(&self) -> bool {
        is_terminal_name(&self.name)
    }

    /// The number shown under the name: sessions for START and END,
    /// events for touchpoints.
    pub fn shown_count(&self) -> u64 {
        if self.is_terminal() {
            self.stats.sessions
        } else {
            self.stats.events
        }
    }

    /// How much the name's label matters: above every band label, then by
    /// volume.
    pub fn label_priority(&self) -> u64 {
        u64::MAX / 2 + self.stats.events.max(self.stats.sessions)
    }
}

/// Forward bands at least this wide (in layout units at zoom 1) carry a
/// label.
pub const BAND_LABEL_MIN_WIDTH: f32 = 10.0;

impl PlacedEdge {
    /// The band's label: transitions, and the median time when known
    /// ("16,497 · 20 s").
    pub fn band_label(&self) -> String {
        let count = thousands(self.stats.transitions);
        match self.stats.time_s {
            Some(t) => format!("{count} · {}", human_duration(t.median)),
            None => count,
        }
    }
}

impl MapLayout {
    /// Index of the node called `name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// Lays out the given touchpoints and transitions.
pub fn layout(nodes: &[NodeReport], edges: &[EdgeReport], style: &LayoutStyle) -> MapLayout {
    layout_following(nodes, edges, style, None)
}

/// Like [`layout`], keeping the touchpoints that `previous` placed in their
/// columns and in their order within a column, so that a map updated in
/// place (live) does not jump; new touchpoints take their computed column
/// below the others.
pub fn layout_following(
    nodes: &[NodeReport],
    edges: &[EdgeReport],
    style: &LayoutStyle,
    previous: Option<&MapLayout>,
) -> MapLayout {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let (links, link_edge) = links_between(&index, edges);
    let start = index.get(START_NAME).copied();
    let end = index.get(END_NAME).copied();
    let back = back_links(nodes, &links, start, end);
    let mut columns = columns(nodes.len(), &links, &back, start, end);
    if let Some(previous) = previous {
        keep_columns(previous, nodes, &mut columns, end);
    }
    let column_count = columns.iter().copied().max().map_or(0, |m| m + 1);
    let mut order = order_within_columns(&columns, column_count, &links, &back);
    if let Some(previous) = previous {
        keep_order(previous, nodes, &mut order);
    }
    let (heights, scale) = node_heights(nodes.len(), &links, &order, style);
    let (ys, height) = stack_columns(&order, &heights, style);
    let placed = place_nodes(nodes, &columns, &ys, &heights, style);
    let places = NodePlaces {
        columns: &columns,
        ys: &ys,
        back: &back,
        end,
        scale,
    };
    let edges_out = place_edges(edges, &links, &link_edge, &places, style);
    let width = column_count as f32 * style.column_spacing + style.node_width;
    MapLayout {
        nodes: placed,
        edges: edges_out,
        width,
        height: height + style.node_gap * 2.0,
        columns: column_count,
    }
}

/// The edges whose ends are both among the nodes (`index` gives a node's
/// index by name), as (from, to, transitions) links between node indices;
/// and for each link, the index in `edges` of the edge it came from.
fn links_between(
    index: &HashMap<&str, usize>,
    edges: &[EdgeReport],
) -> (Vec<(usize, usize, u64)>, Vec<usize>) {
    // Each link remembers which edge it came from.
    edges
        .iter()
        .enumerate()
        .filter_map(|(k, e)| {
            let link = (
                *index.get(e.from.as_str())?,
                *index.get(e.to.as_str())?,
                e.transitions,
            );
            Some((link, k))
        })
        .unzip()
}

/// The links that do not lead forward: when the nodes know the steps at
/// which they appear, those that lead to the same or an earlier typical
/// step; else those that close a cycle (see [`back_edges`]).
fn back_links(
    nodes: &[NodeReport],
    links: &[(usize, usize, u64)],
    start: Option<usize>,
    end: Option<usize>,
) -> HashSet<(usize, usize)> {
    let has_steps = nodes.iter().any(|n| n.first_step_sum > 0);
    if has_steps {
        let step = typical_steps(nodes, start, end);
        let rank = |i: usize| (step[i], i);
        links
            .iter()
            .filter(|(a, b, _)| {
                rank(*b).partial_cmp(&rank(*a)) != Some(std::cmp::Ordering::Greater)
            })
            .map(|(a, b, _)| (*a, *b))
            .collect()
    } else {
        back_edges(nodes.len(), links, start)
    }
}

/// The height of each of the `node_count` nodes, and the scale (height per
/// transition) that gives them: the busiest column fills the style's
/// maximum column height.
fn node_heights(
    node_count: usize,
    links: &[(usize, usize, u64)],
    order: &[Vec<usize>],
    style: &LayoutStyle,
) -> (Vec<f32>, f32) {
    // Node heights: proportional to the larger of inflow and outflow.
    let mut inflow = vec![0u64; node_count];
    let mut outflow = vec![0u64; node_count];
    for &(a, b, n) in links {
        outflow[a] += n;
        inflow[b] += n;
    }
    let volume: Vec<u64> = (0..node_count)
        .map(|i| inflow[i].max(outflow[i]).max(1))
        .collect();
    let column_volume = |c: usize| -> u64 { order[c].iter().map(|&i| volume[i]).sum() };
    let busiest = (0..order.len())
        .map(column_volume)
        .max()
        .unwrap_or(1)
        .max(1);
    let scale = style.max_column_height / busiest as f32;
    let heights: Vec<f32> = volume
        .iter()
        .map(|v| (*v as f32 * scale).max(style.min_node_height))
        .collect();
    (heights, scale)
}

/// The top edge of each node, stacking each column of `order` with gaps and
/// centring it vertically; and how far down the columns reach, counting
/// the gap after each column's last node.
fn stack_columns(order: &[Vec<usize>], heights: &[f32], style: &LayoutStyle) -> (Vec<f32>, f32) {
    let mut ys = vec![0f32; heights.len()];
    let mut height = 0f32;
    let column_heights: Vec<f32> = order
        .iter()
        .map(|col| {
            col.iter().map(|&i| heights[i]).sum::<f32>()
                + style.node_gap * col.len().saturating_sub(1) as f32
        })
        .collect();
    let tallest = column_heights.iter().copied().fold(0f32, f32::max);
    for (c, col) in order.iter().enumerate() {
        // Centre each column vertically.
        let mut y = (tallest - column_heights[c]) / 2.0 + style.node_gap;
        for &i in col {
            ys[i] = y;
            y += heights[i] + style.node_gap;
        }
        height = height.max(y);
    }
    (ys, height)
}

/// The nodes placed in their columns at their top edges `ys`.
fn place_nodes(
    nodes: &[NodeReport],
    columns: &[usize],
    ys: &[f32],
    heights: &[f32],
    style: &LayoutStyle,
) -> Vec<PlacedNode> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| PlacedNode {
            name: n.name.clone(),
            column: columns[i],
            x: columns[i] as f32 * style.column_spacing + style.node_width,
            y: ys[i],
            height: heights[i],
            stats: n.clone(),
        })
        .collect()
}

/// What placing the bands needs to know of the placed nodes.
struct NodePlaces<'a> {
    /// Column of each node.
    columns: &'a [usize],
    /// Top edge of each node.
    ys: &'a [f32],
    /// The links that do not lead forward.
    back: &'a HashSet<(usize, usize)>,
    /// Index of END, when it is on the map.
    end: Option<usize>,
    /// Height per transition.
    scale: f32,
}

/// The bands of the links, stacked along each node's side in the order of
/// [`band_stacking_order`]; back edges and loops first, then the widest.
fn place_edges(
    edges: &[EdgeReport],
    links: &[(usize, usize, u64)],
    link_edge: &[usize],
    places: &NodePlaces<'_>,
    style: &LayoutStyle,
) -> Vec<PlacedEdge> {
    // Ports: stack bands along each node's side, ordered by the other end's y.
    let mut out_cursor: Vec<f32> = places.ys.to_vec();
    let mut in_cursor: Vec<f32> = places.ys.to_vec();
    let mut placed_edges: Vec<Option<PlacedEdge>> = vec![None; links.len()];
    for k in band_stacking_order(links, places.ys, places.end) {
        let (a, b, n) = links[k];
        let kind = link_kind(a, b, places);
        let width = band_width(kind, n as f32 * places.scale, style);
        let (from_y, to_y) = (out_cursor[a] + width / 2.0, in_cursor[b] + width / 2.0);
        // A repeat is a badge and takes no room on the box's sides.
        if kind != EdgeKind::SelfLoop {
            out_cursor[a] += width;
            in_cursor[b] += width;
        }
        placed_edges[k] = Some(PlacedEdge {
            from: a,
            to: b,
            width,
            from_y,
            to_y,
            kind,
            stats: edges[link_edge[k]].clone(),
        });
    }
    let mut edges_out: Vec<PlacedEdge> = placed_edges.into_iter().flatten().collect();
    // Back edges and loops first, so that forward flow is drawn over them.
    edges_out.sort_by(|a, b| {
        (a.kind == EdgeKind::Forward)
            .cmp(&(b.kind == EdgeKind::Forward))
            .then(b.width.total_cmp(&a.width))
    });
    edges_out
}

/// The indices of the links in the order their bands are stacked on the
/// nodes' sides: exits last, the others by the target's top edge, then by
/// the source's.
fn band_stacking_order(
    links: &[(usize, usize, u64)],
    ys: &[f32],
    end: Option<usize>,
) -> Vec<usize> {
    let mut by_position: Vec<usize> = (0..links.len()).collect();
    // Exits leave from the bottom of a box's right side.
    let key = |k: usize| {
        let (a, b, _) = links[k];
        let exit = Some(b) == end;
        (exit, if exit { 0.0 } else { ys[b] }, ys[a])
    };
    by_position.sort_by(|&a, &b| {
        let ((xa, ya, fa), (xb, yb, fb)) = (key(a), key(b));
        xa.cmp(&xb).then(ya.total_cmp(&yb)).then(fa.total_cmp(&fb))
    });
    by_position
}

/// How the link from node `a` to node `b` is drawn.
fn link_kind(a: usize, b: usize, places: &NodePlaces<'_>) -> EdgeKind {
    if a == b {
        EdgeKind::SelfLoop
    } else if Some(b) == places.end {
        EdgeKind::Exit
    } else if places.back.contains(&(a, b)) || places.columns[b] <= places.columns[a] {
        EdgeKind::Back
    } else {
        EdgeKind::Forward
    }
}

/// How wide a band of `kind` is drawn for a volume `wide` units wide.
fn band_width(kind: EdgeKind, wide: f32, style: &LayoutStyle) -> f32 {
    let width = wide.max(style.min_band_width);
    match kind {
        // Arcs back are thin and quiet, so that they never hide the
        // forward flow.
        EdgeKind::Back => (width * BACK_EDGE_WIDTH).clamp(style.min_band_width, MAX_ARC_WIDTH),
        // A stub says its count in words; a wide one would only cover the
        // flow beside it.
        EdgeKind::Exit => width.min(MAX_STUB_WIDTH),
        EdgeKind::Forward | EdgeKind::SelfLoop => width,
    }
}

/// A touchpoint keeps its place once this many sessions have passed
/// through it (earlier, too little is known of where it belongs)...
const SETTLED_SESSIONS: u64 = 50;
/// ...and only once the map as a whole has this many sessions.
const SETTLED_MAP_SESSIONS: u64 = 1000;

/// The previous places worth keeping: (name, column, y) of settled nodes.
fn settled(previous: &MapLayout) -> Vec<(&str, usize, f32)> {
    let map_sessions = previous
        .nodes
        .iter()
        .find(|n| n.name == START_NAME)
        .map_or(0, |n| n.stats.sessions);
    if map_sessions < SETTLED_MAP_SESSIONS {
        return Vec::new();
    }
    previous
        .nodes
        .iter()
        .filter(|n| n.stats.sessions >= SETTLED_SESSIONS || n.name == END_NAME)
        .map(|n| (n.name.as_str(), n.column, n.y))
        .collect()
}

/// Puts touchpoints where `previous` had them; END stays after everything.
fn keep_columns(
    previous: &MapLayout,
    nodes: &[NodeReport],
    columns: &mut [usize],
    end: Option<usize>,
) {
    let before: HashMap<&str, usize> = settled(previous)
        .into_iter()
        .map(|(name, column, _)| (name, column))
        .collect();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(&c) = before.get(n.name.as_str()) {
            columns[i] = c;
        }
    }
    if let Some(e) = end {
        let last = (0..columns.len())
            .filter(|&i| i != e)
            .map(|i| columns[i])
            .max()
            .unwrap_or(0);
        columns[e] = columns[e].max(last + 1);
    }
}

/// Orders each column as `previous` did; touchpoints new to it follow, in
/// their computed order (the sort is stable).
fn keep_order(previous: &MapLayout, nodes: &[NodeReport], order: &mut [Vec<usize>]) {
    let before: HashMap<&str, f32> = settled(previous)
        .into_iter()
        .map(|(name, _, y)| (name, y))
        .collect();
    for column in order.iter_mut() {
        column.sort_by(|&a, &b| {
            let key = |i: usize| {
                before
                    .get(nodes[i].name.as_str())
                    .copied()
                    .unwrap_or(f32::INFINITY)
            };
            key(a).total_cmp(&key(b))
        });
    }
}

/// The typical step of each node: the mean step at which it first appears
/// in the sessions that contain it (START 0, END after everything). An edge
/// is forward when it leads to a later typical step.
fn typical_steps(nodes: &[NodeReport], start: Option<usize>, end: Option<usize>) -> Vec<f64> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if Some(i) == start {
                0.0
            } else if Some(i) == end {
                f64::INFINITY
            } else {
                n.first_step_sum as f64 / n.sessions.max(1) as f64
            }
        })
        .collect()
}

/// Edges that close a cycle, found by a depth-first search from START that
/// follows heavier edges first (so the main flow stays forward).
fn back_edges(
    n: usize,
    links: &[(usize, usize, u64)],
    start: Option<usize>,
) -> HashSet<(usize, usize)> {
    let mut adjacency: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    for &(a, b, w) in links {
        adjacency[a].push((b, w));
    }
    for list in &mut adjacency {
        list.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; n];
    let mut back = HashSet::new();
    let mut roots: Vec<usize> = start.into_iter().collect();
    roots.extend(0..n);
    for root in roots {
        if state[root] != State::New {
            continue;
        }
        // Iterative DFS: (node, next child index).
        let mut stack = vec![(root, 0usize)];
        state[root] = State::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(child, _)) = adjacency[node].get(*next) {
                *next += 1;
                match state[child] {
                    State::New => {
                        state[child] = State::Open;
                        stack.push((child, 0));
                    }
                    State::Open => {
                        back.insert((node, child));
                    }
                    State::Done => {}
                }
            } else {
                state[node] = State::Done;
                stack.pop();
            }
        }
    }
    back
}

/// Column of each node: longest path from START over forward edges; END last.
fn columns(
    n: usize,
    links: &[(usize, usize, u64)],
    back: &HashSet<(usize, usize)>,
    start: Option<usize>,
    end: Option<usize>,
) -> Vec<usize> {
    let forward: Vec<(usize, usize)> = links
        .iter()
        .filter(|(a, b, _)| a != b && !back.contains(&(*a, *b)) && Some(*b) != end)
        .map(|(a, b, _)| (*a, *b))
        .collect();
    let mut indegree = vec![0usize; n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &forward {
        indegree[b] += 1;
        children[a].push(b);
    }
    let mut column = vec![0usize; n];
    let mut queue: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    // START first so that it stays in column 0.
    queue.sort_by_key(|&i| Some(i) != start);
    let mut head = 0;
    while head < queue.len() {
        let node = queue[head];
        head += 1;
        for &child in &children[node] {
            column[child] = column[child].max(column[node] + 1);
            indegree[child] -= 1;
            if indegree[child] == 0 {
                queue.push(child);
            }
        }
    }
    if let Some(s) = start {
        column[s] = 0;
        for (i, c) in column.iter_mut().enumerate() {
            if i != s && *c == 0 && Some(i) != end {
                *c = 1;
            }
        }
    }
    if let Some(e) = end {
        column[e] = (0..n)
            .filter(|&i| i != e)
            .map(|i| column[i] + 1)
            .max()
            .unwrap_or(1);
    }
    column
}

/// Orders each column by the weighted barycentre of neighbours in the
/// adjacent columns, sweeping a few times in both directions.
fn order_within_columns(
    columns: &[usize],
    column_count: usize,
    links: &[(usize, usize, u64)],
    back: &HashSet<(usize, usize)>,
) -> Vec<Vec<usize>> {
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); column_count];
    for (i, &c) in columns.iter().enumerate() {
        order[c].push(i);
    }
    let forward: Vec<&(usize, usize, u64)> = links
        .iter()
        .filter(|(a, b, _)| a != b && !back.contains(&(*a, *b)))
        .collect();
    // Start from volume order: busy touchpoints on top.
    let mut weight = vec![0u64; columns.len()];
    for &&(a, b, w) in &forward {
        weight[a] += w;
        weight[b] += w;
    }
    for col in &mut order {
        col.sort_by(|&x, &y| weight[y].cmp(&weight[x]).then(x.cmp(&y)));
    }
    let mut position = vec![0f32; columns.len()];
    let refresh = |order: &Vec<Vec<usize>>, position: &mut Vec<f32>| {
        for col in order {
            for (p, &i) in col.iter().enumerate() {
                position[i] = p as f32;
            }
        }
    };
    refresh(&order, &mut position);
    for sweep in 0..6 {
        let left_to_right = sweep % 2 == 0;
        let range: Vec<usize> = if left_to_right {
            (1..column_count).collect()
        } else {
            (0..column_count.saturating_sub(1)).rev().collect()
        };
        for c in range {
            let mut keyed: Vec<(f32, usize)> = order[c]
                .iter()
                .map(|&i| {
                    let (mut sum, mut total) = (0f64, 0f64);
                    for &&(a, b, w) in &forward {
                        let other = if left_to_right && b == i {
                            Some(a)
                        } else if !left_to_right && a == i {
                            Some(b)
                        } else {
                            None
                        };
                        if let Some(o) = other {
                            sum += position[o] as f64 * w as f64;
                            total += w as f64;
                        }
                    }
                    (
                        if total > 0.0 {
                            (sum / total) as f32
                        } else {
                            position[i]
                        },
                        i,
                    )
                })
                .collect();
            keyed.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            order[c] = keyed.into_iter().map(|(_, i)| i).collect();
            for (p, &i) in order[c].iter().enumerate() {
                position[i] = p as f32;
            }
        }
    }
    order
}

/// Back edges are drawn at this fraction of their volume's width...
pub const BACK_EDGE_WIDTH: f32 = 0.35;

/// ...and never wider than this, so that they stay in the background.
pub const MAX_ARC_WIDTH: f32 = 4.0;

/// The widest a drop-off stub is drawn.
pub const MAX_STUB_WIDTH: f32 = 12.0;

/// How far a drop-off stub reaches right of its box.
pub const EXIT_STUB_LENGTH: f32 = 30.0;

/// Extra room below the nodes for the arcs of back edges and loops.
pub const LOOP_ROOM: f32 = 90.0;

/// The band of an edge as consecutive cubic Bézier curves (start, two
/// control points, end) in layout units: one curve for a forward edge; a
/// short one bending down for an exit; for a back edge or loop, three that
/// leave the source to the right, run under the nodes and come up into the
/// target from the left.
pub fn edge_curves(map: &MapLayout, e: &PlacedEdge, style: &LayoutStyle) -> Vec<[[f32; 2]; 4]> {
    let (a, b) = (&map.nodes[e.from], &map.nodes[e.to]);
    let (x1, x2) = (a.x + style.node_width, b.x);
    let (y1, y2) = (e.from_y, e.to_y);
    match e.kind {
        EdgeKind::Forward => {
            let mid = (x1 + x2) / 2.0;
            vec![[[x1, y1], [mid, y1], [mid, y2], [x2, y2]]]
        }
        EdgeKind::Exit => {
            let l = EXIT_STUB_LENGTH;
            vec![[
                [x1, y1],
                [x1 + l * 0.5, y1],
                [x1 + l * 0.8, y1 + l * 0.1],
                [x1 + l, y1 + l * 0.35],
            ]]
        }
        EdgeKind::Back | EdgeKind::SelfLoop => {
            let depth = map.height + 10.0 + (e.width * 0.5).min(LOOP_ROOM - 30.0);
            vec![
                [[x1, y1], [x1 + 40.0, y1], [x1 + 40.0, depth], [x1, depth]],
                [[x1, depth], [x1, depth], [x2, depth], [x2, depth]],
                [[x2, depth], [x2 - 40.0, depth], [x2 - 40.0, y2], [x2, y2]],
            ]
        }
    }
}

#[cfg(test)]
mod tests;
