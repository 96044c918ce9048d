//! A journey map of 1,000 touchpoints and 10,000 transitions stays
//! readable: at every zoom from the one that fits it to 1, no label line
//! overlaps another, a badge or a box, and no two badges overlap; what the
//! sliders hide is counted as a recount of the hidden transitions says.

use journeyscope::layout::scene::{View, scene};
use journeyscope::layout::{LayoutStyle, MapFilter, layout, visible_part};
use journeyscope::report::synthetic::synthetic_summary;

/// Text as wide as a proportional font draws it, near enough.
fn measure(text: &str, size: f32) -> [f32; 2] {
    [text.chars().count() as f32 * size * 0.56, size * 1.2]
}

fn overlaps(a: [f32; 4], b: [f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

#[test]
fn labels_and_badges_of_a_thousand_touchpoints_never_overlap() {
    let summary = synthetic_summary(1_000, 10_000);
    let style = LayoutStyle::default();
    for filter in [MapFilter::MAIN_FLOW, MapFilter::EVERYTHING] {
        let visible = visible_part(&summary.nodes, &summary.edges, &filter);
        let map = layout(&visible.nodes, &visible.edges, &style);
        // The zoom that fits the map into a 1400-point-wide canvas, and closer.
        let fit = 1400.0 / map.width.max(1.0);
        for zoom in [fit, fit * 3.0, 0.3, 1.0] {
            let view = View {
                origin: [20.0, 20.0],
                zoom,
                time_view: false,
            };
            let picture = scene(&map, &style, &view, &measure);
            let lines: Vec<[f32; 4]> = picture
                .labels
                .iter()
                .flat_map(|l| &l.lines)
                .map(|line| {
                    let [w, h] = measure(&line.text, line.size);
                    [line.at[0], line.at[1], line.at[0] + w, line.at[1] + h]
                })
                .collect();
            let badges: Vec<[f32; 4]> = picture.badges.iter().map(|b| b.rect).collect();
            for (i, a) in lines.iter().enumerate() {
                for b in &lines[i + 1..] {
                    assert!(
                        !overlaps(*a, *b),
                        "zoom {zoom}: label {a:?} overlaps label {b:?}"
                    );
                }
                for b in &badges {
                    assert!(
                        !overlaps(*a, *b),
                        "zoom {zoom}: label {a:?} overlaps badge {b:?}"
                    );
                }
                for node in &picture.boxes {
                    assert!(
                        !overlaps(*a, node.rect),
                        "zoom {zoom}: label {a:?} overlaps box {:?}",
                        node.rect
                    );
                }
            }
            for (i, a) in badges.iter().enumerate() {
                for b in &badges[i + 1..] {
                    assert!(
                        !overlaps(*a, *b),
                        "zoom {zoom}: badge {a:?} overlaps badge {b:?}"
                    );
                }
            }
            // Close up, most touchpoints have their name.
            if zoom >= 1.0 {
                assert!(
                    picture.labels.len() * 2 > map.nodes.len(),
                    "zoom {zoom}: {} labels for {} touchpoints",
                    picture.labels.len(),
                    map.nodes.len()
                );
            }
        }
    }
}

#[test]
fn the_hidden_share_is_what_the_hidden_transitions_carry() {
    let summary = synthetic_summary(1_000, 10_000);
    let visible = visible_part(&summary.nodes, &summary.edges, &MapFilter::MAIN_FLOW);
    let shown: std::collections::HashSet<(&str, &str)> = visible
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    let hidden: Vec<_> = summary
        .edges
        .iter()
        .filter(|e| !shown.contains(&(e.from.as_str(), e.to.as_str())))
        .collect();
    let total: u64 = summary.edges.iter().map(|e| e.transitions).sum();
    let hidden_steps: u64 = hidden.iter().map(|e| e.transitions).sum();
    assert!(!hidden.is_empty(), "the main flow hides the rarest moves");
    assert_eq!(visible.hidden_transitions, hidden.len());
    assert!(
        (visible.hidden_transition_share - hidden_steps as f64 / total as f64).abs() < 1e-9,
        "share {} against a recount of {hidden_steps} of {total}",
        visible.hidden_transition_share
    );
    let note = visible.hidden_note().expect("the map says what it hides");
    let count = journeyscope::format::thousands(hidden.len() as u64);
    assert!(note.contains(&count), "{note} names {count} transitions");
}

#[test]
fn a_dragged_picture_is_the_picture_drawn_where_it_lands() {
    let summary = synthetic_summary(1_000, 10_000);
    let style = LayoutStyle::default();
    let visible = visible_part(&summary.nodes, &summary.edges, &MapFilter::EVERYTHING);
    let map = layout(&visible.nodes, &visible.edges, &style);
    for zoom in [1400.0 / map.width.max(1.0), 0.3, 1.0] {
        let at = |origin: [f32; 2]| {
            let view = View {
                origin,
                zoom,
                time_view: false,
            };
            scene(&map, &style, &view, &measure)
        };
        let mut moved = at([20.0, 20.0]);
        moved.translate([137.5, -42.25]);
        let drawn = at([157.5, -22.25]);
        assert_eq!(moved.labels.len(), drawn.labels.len(), "zoom {zoom}");
        assert_eq!(moved.badges.len(), drawn.badges.len(), "zoom {zoom}");
        let near = |a: f32, b: f32| (a - b).abs() < 0.01;
        for (a, b) in moved.labels.iter().zip(&drawn.labels) {
            for (x, y) in a.lines.iter().zip(&b.lines) {
                assert_eq!(x.text, y.text);
                assert!(
                    near(x.at[0], y.at[0]) && near(x.at[1], y.at[1]),
                    "{:?} against {:?}",
                    x.at,
                    y.at
                );
            }
        }
        for (a, b) in moved.bands.iter().zip(&drawn.bands) {
            let (p, q) = (a.curves[0][0], b.curves[0][0]);
            assert!(a.edge == b.edge && near(p[0], q[0]) && near(p[1], q[1]));
        }
        for (a, b) in moved.boxes.iter().zip(&drawn.boxes) {
            assert!(a.rect.iter().zip(&b.rect).all(|(x, y)| near(*x, *y)));
        }
    }
}
