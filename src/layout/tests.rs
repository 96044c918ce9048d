use super::*;
use crate::engine::JourneyGraph;

fn graph(edges: &[(&str, &str, u64)]) -> (Vec<NodeReport>, Vec<EdgeReport>) {
    let mut g = JourneyGraph::new();
    for &(a, b, n) in edges {
        g.edge_mut(a, b).transitions = n;
        g.node_mut(b).events += n;
    }
    (g.node_reports(), g.edge_reports())
}

fn edge_kind(map: &MapLayout, from: &str, to: &str) -> EdgeKind {
    map.edges
        .iter()
        .find(|e| map.nodes[e.from].name == from && map.nodes[e.to].name == to)
        .unwrap()
        .kind
}

/// A small shop's graph: forward steps, a step back, a loop, exits.
pub(super) fn shop() -> (Vec<NodeReport>, Vec<EdgeReport>) {
    graph(&[
        ("START", "home", 100),
        ("home", "search", 60),
        ("search", "product", 50),
        ("product", "search", 20),
        ("product", "product", 10),
        ("product", "cart", 15),
        ("cart", "buy", 5),
        ("home", "END", 40),
        ("search", "END", 30),
        ("product", "END", 15),
        ("cart", "END", 10),
        ("buy", "END", 5),
    ])
}

#[test]
fn columns_follow_the_longest_forward_path() {
    let (nodes, edges) = shop();
    let map = layout(&nodes, &edges, &LayoutStyle::default());
    let column = |name: &str| map.nodes[map.node_index(name).unwrap()].column;
    assert_eq!(column("START"), 0);
    assert_eq!(column("home"), 1);
    assert_eq!(column("search"), 2);
    assert_eq!(column("product"), 3);
    assert_eq!(column("cart"), 4);
    assert_eq!(column("buy"), 5);
    assert_eq!(column("END"), 6);
    assert_eq!(map.columns, 7);
}

#[test]
fn typical_steps_decide_what_flows_forward() {
    // Heavier flow product → search than search → product, but customers
    // reach search first: search → product must still run forward.
    let (mut nodes, edges) = graph(&[
        ("START", "home", 100),
        ("home", "search", 60),
        ("search", "product", 20),
        ("product", "search", 50),
        ("home", "product", 40),
        ("product", "END", 60),
        ("search", "END", 30),
        ("home", "END", 10),
    ]);
    for n in &mut nodes {
        n.sessions = 10;
        n.first_step_sum = match n.name.as_str() {
            "home" => 10,
            "search" => 20,
            "product" => 24,
            "END" => 40,
            _ => 0,
        };
    }
    let map = layout(&nodes, &edges, &LayoutStyle::default());
    let column = |name: &str| map.nodes[map.node_index(name).unwrap()].column;
    assert_eq!(
        ["START", "home", "search", "product", "END"].map(column),
        [0, 1, 2, 3, 4]
    );
    let kind = |a: &str, b: &str| edge_kind(&map, a, b);
    assert_eq!(kind("search", "product"), EdgeKind::Forward);
    assert_eq!(kind("product", "search"), EdgeKind::Back);
    assert_eq!(
        map.edges.last().unwrap().kind,
        EdgeKind::Forward,
        "forward bands drawn last"
    );
}

#[test]
fn loops_and_back_edges_are_marked() {
    let (nodes, edges) = shop();
    let map = layout(&nodes, &edges, &LayoutStyle::default());
    let kind = |a: &str, b: &str| edge_kind(&map, a, b);
    assert_eq!(kind("product", "search"), EdgeKind::Back);
    assert_eq!(kind("product", "product"), EdgeKind::SelfLoop);
    assert_eq!(kind("search", "product"), EdgeKind::Forward);
    assert_eq!(map.edges.len(), edges.len());
}

#[test]
fn band_widths_are_proportional_and_nodes_do_not_overlap() {
    let (nodes, edges) = shop();
    let style = LayoutStyle::default();
    let map = layout(&nodes, &edges, &style);
    let wide = map
        .edges
        .iter()
        .find(|e| e.stats.transitions == 100)
        .unwrap();
    let narrow = map
        .edges
        .iter()
        .find(|e| e.stats.transitions == 50)
        .unwrap();
    assert!((wide.width / narrow.width - 2.0).abs() < 1e-3);
    let arc = map.edges.iter().find(|e| e.kind == EdgeKind::Back).unwrap();
    let forward_width = wide.width / 100.0 * arc.stats.transitions as f32;
    assert!(
        (arc.width - (forward_width * BACK_EDGE_WIDTH).min(MAX_ARC_WIDTH)).abs() < 1e-3,
        "arcs are thinner"
    );
    for a in &map.nodes {
        for b in &map.nodes {
            if a.name != b.name && a.column == b.column {
                let apart = a.y + a.height + style.node_gap <= b.y + 1e-3
                    || b.y + b.height + style.node_gap <= a.y + 1e-3;
                assert!(apart, "{} and {} overlap", a.name, b.name);
            }
        }
    }
}

#[test]
fn barycentre_ordering_removes_an_avoidable_crossing() {
    // a1 feeds b2 and a2 feeds b1 heavily: the second column must flip.
    let (nodes, edges) = graph(&[
        ("START", "a1", 10),
        ("START", "a2", 9),
        ("a1", "x1", 10),
        ("a2", "x2", 9),
        ("x1", "END", 10),
        ("x2", "END", 9),
    ]);
    let map = layout(&nodes, &edges, &LayoutStyle::default());
    let y = |name: &str| map.nodes[map.node_index(name).unwrap()].y;
    assert!((y("a1") < y("a2")) == (y("x1") < y("x2")));
}

#[test]
fn filter_hides_rare_parts_and_counts_them() {
    let (nodes, edges) = shop();
    let all = visible_part(&nodes, &edges, &MapFilter::EVERYTHING);
    assert_eq!(all.hidden_note(), None);
    let some = visible_part(
        &nodes,
        &edges,
        &MapFilter {
            touchpoint_share: 0.8,
            path_share: 1.0,
        },
    );
    assert_eq!(some.hidden_touchpoints, 2, "cart and buy");
    assert!(some.nodes.iter().all(|n| n.name != "buy"));
    assert!(some.edges.iter().all(|e| e.to != "cart"));
    let note = some.hidden_note().unwrap();
    assert!(
        note.starts_with("2 touchpoints, 8 % of events hidden"),
        "{note}"
    );
}

/// The main flow keeps every exit and repeat and each touchpoint's busiest
/// way in and out, then the busiest moves up to the share asked for.
#[test]
fn the_main_flow_keeps_a_way_in_and_out_of_every_touchpoint() {
    let (nodes, mut edges) = shop();
    let (_, extra) = graph(&[("home", "product", 8), ("search", "cart", 3)]);
    edges.extend(extra);
    let moves = |v: &Visible| -> Vec<(String, String)> {
        v.edges
            .iter()
            .filter(|e| e.to != "END" && e.from != e.to)
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect()
    };
    let least = visible_part(
        &nodes,
        &edges,
        &MapFilter {
            touchpoint_share: 1.0,
            path_share: 0.0,
        },
    );
    let kept = moves(&least);
    assert!(!kept.contains(&("home".into(), "product".into())));
    assert!(!kept.contains(&("search".into(), "cart".into())));
    assert_eq!(kept.len(), 6, "{kept:?}");
    for n in nodes
        .iter()
        .filter(|n| n.name != "END" && n.name != "START")
    {
        assert!(
            kept.iter().any(|(_, to)| *to == n.name),
            "a way into {}",
            n.name
        );
    }
    let exits_and_repeats = edges
        .iter()
        .filter(|e| e.to == "END" || e.from == e.to)
        .count();
    assert_eq!(least.edges.len(), 6 + exits_and_repeats);
    assert_eq!(least.hidden_transitions, 2);
    let moved: u64 = edges
        .iter()
        .filter(|e| e.to != "END" && e.from != e.to)
        .map(|e| e.transitions)
        .sum();
    let hidden = 8 + 3;
    let all: u64 = edges.iter().map(|e| e.transitions).sum();
    assert!((least.hidden_transition_share - hidden as f64 / all as f64).abs() < 1e-12);
    // 98 % of the moves needs the busier of the two (8 of 261).
    let most = visible_part(
        &nodes,
        &edges,
        &MapFilter {
            touchpoint_share: 1.0,
            path_share: 1.0 - 4.0 / moved as f64,
        },
    );
    assert_eq!(most.hidden_transitions, 1);
    assert!(moves(&most).contains(&("home".into(), "product".into())));
    let everything = visible_part(&nodes, &edges, &MapFilter::EVERYTHING);
    assert_eq!(everything.edges.len(), edges.len());
}

/// An update with other volumes and one new touchpoint keeps every known
/// touchpoint in its column and its order.
#[test]
fn a_followed_layout_keeps_columns_and_order() {
    let mut graph = JourneyGraph::new();
    let paths: &[(&[&str], u64)] = &[
        (&["START", "home", "search", "product", "cart", "END"], 50),
        (&["START", "search", "product", "END"], 30),
        (&["START", "landing", "product", "search", "END"], 20),
        (&["START", "home", "cart", "END"], 10),
    ];
    let add = |graph: &mut JourneyGraph, paths: &[(&[&str], u64)]| {
        for (path, n) in paths {
            for w in path.windows(2) {
                graph.edge_mut(w[0], w[1]).transitions += n;
                graph.node_mut(w[1]).events += n;
            }
            graph.node_mut("START").events += n;
        }
    };
    add(&mut graph, paths);
    // Enough sessions everywhere for the places to count as settled.
    for name in [
        "START", "home", "search", "product", "cart", "landing", "END",
    ] {
        graph.node_mut(name).sessions = 2000;
    }
    let style = LayoutStyle::default();
    let first = layout(&graph.node_reports(), &graph.edge_reports(), &style);

    // Much more traffic through the landing page, and a new touchpoint.
    let mut later = JourneyGraph::new();
    add(&mut later, paths);
    add(
        &mut later,
        &[
            (&["START", "landing", "search", "cart", "END"], 400),
            (&["START", "support", "END"], 5),
        ],
    );
    let followed = layout_following(
        &later.node_reports(),
        &later.edge_reports(),
        &style,
        Some(&first),
    );
    let place = |map: &MapLayout, name: &str| {
        let n = &map.nodes[map.node_index(name).unwrap()];
        (n.column, n.y)
    };
    for a in &first.nodes {
        let (column, _) = place(&followed, &a.name);
        if a.name != "END" {
            assert_eq!(column, a.column, "{} moved", a.name);
        }
        for b in &first.nodes {
            if a.column == b.column && a.y < b.y && a.name != "END" {
                assert!(place(&followed, &a.name).1 < place(&followed, &b.name).1);
            }
        }
    }
    let end = place(&followed, "END").0;
    assert!(
        followed
            .nodes
            .iter()
            .all(|n| n.name == "END" || n.column < end)
    );
    assert!(followed.node_index("support").is_some());
}

#[test]
fn past_the_limit_the_rarest_touchpoints_are_one_box_and_nothing_is_lost() {
    // START → tN → END for N touchpoints, tN taken N + 1 times.
    let n = filter::MAP_TOUCHPOINT_LIMIT + 500;
    let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let mut moves: Vec<(&str, &str, u64)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        moves.push(("START", name, i as u64 + 1));
        moves.push((name, "END", i as u64 + 1));
    }
    let (nodes, edges) = graph(&moves);
    let all = visible_part(&nodes, &edges, &MapFilter::EVERYTHING);
    let touchpoints = all.nodes.iter().filter(|n| !is_terminal_name(&n.name));
    assert_eq!(touchpoints.count(), filter::MAP_TOUCHPOINT_LIMIT);
    let grouped = n - (filter::MAP_TOUCHPOINT_LIMIT - 1);
    assert_eq!(all.grouped_touchpoints, grouped);
    let other = format!(
        "other ({} touchpoints)",
        crate::format::thousands(grouped as u64)
    );
    let box_ = all
        .nodes
        .iter()
        .find(|b| b.name == other)
        .expect("the other box");
    // The rarest: t0 … t(grouped − 1), each taken i + 1 times.
    let expected: u64 = (1..=grouped as u64).sum();
    assert_eq!(box_.events, expected);
    let into = all
        .edges
        .iter()
        .find(|e| e.to == other)
        .expect("START → other");
    assert_eq!(into.transitions, expected);
    let total = |edges: &[EdgeReport]| edges.iter().map(|e| e.transitions).sum::<u64>();
    assert_eq!(
        total(&all.edges),
        total(&edges),
        "every transition is drawn"
    );
    assert!(all.hidden_note().unwrap().contains("drawn as one box"));
}
