//! Label placement without overlaps: labels are placed greedily, most
//! important first, and a label whose box would touch one already placed
//! (or an obstacle such as a node box) is left out; the item's statistics
//! stay available on hover and the label appears when zoomed in.

/// Where a label's box sits relative to its anchor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelAlign {
    /// The box starts at the anchor and extends right.
    Left,
    /// The box ends at the anchor.
    Right,
    /// The box is centred on the anchor.
    Center,
}

/// A label that would like to be drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelRequest {
    /// Anchor point (x, y); the box is vertically centred on y.
    pub anchor: [f32; 2],
    /// Box size (width, height).
    pub size: [f32; 2],
    /// How the box sits on the anchor.
    pub align: LabelAlign,
    /// Larger goes first.
    pub priority: u64,
}

impl LabelRequest {
    /// The label's box as [left, top, right, bottom].
    pub fn rect(&self) -> [f32; 4] {
        let [x, y] = self.anchor;
        let [w, h] = self.size;
        let left = match self.align {
            LabelAlign::Left => x,
            LabelAlign::Right => x - w,
            LabelAlign::Center => x - w / 2.0,
        };
        [left, y - h / 2.0, left + w, y + h / 2.0]
    }
}

/// Whether two boxes ([left, top, right, bottom]) overlap.
pub(super) fn overlap(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Which of `requests` to draw so that no two drawn boxes overlap and none
/// overlaps an obstacle ([left, top, right, bottom]).
pub fn place_labels(requests: &[LabelRequest], obstacles: &[[f32; 4]]) -> Vec<bool> {
    let choices: Vec<Vec<LabelRequest>> = requests.iter().map(|r| vec![*r]).collect();
    place_label_choices(&choices, obstacles)
        .into_iter()
        .map(|c| c.is_some())
        .collect()
}

/// Like [`place_labels`] for labels with several possible places (in order
/// of preference, e.g. right of a box, then left, above, below): each gets
/// the first place that is free, or none. Labels go in the order of their
/// first place's priority.
pub fn place_label_choices(
    choices: &[Vec<LabelRequest>],
    obstacles: &[[f32; 4]],
) -> Vec<Option<usize>> {
    let priority = |i: usize| choices[i].first().map_or(0, |r| r.priority);
    let mut order: Vec<usize> = (0..choices.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(priority(i)));
    let mut taken: Vec<[f32; 4]> = obstacles.to_vec();
    let mut chosen = vec![None; choices.len()];
    for i in order {
        for (k, request) in choices[i].iter().enumerate() {
            let rect = request.rect();
            if !taken.iter().any(|t| overlap(t, &rect)) {
                taken.push(rect);
                chosen[i] = Some(k);
                break;
            }
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_takes_its_next_place_when_the_first_is_taken() {
        let at = |x: f32, priority: u64| LabelRequest {
            anchor: [x, 0.0],
            size: [50.0, 10.0],
            align: LabelAlign::Left,
            priority,
        };
        // Both prefer x = 0; the second falls back to x = 100.
        let choices = vec![vec![at(0.0, 9)], vec![at(0.0, 5), at(100.0, 5)]];
        assert_eq!(place_label_choices(&choices, &[]), vec![Some(0), Some(1)]);
        // With its fallback blocked too, it is left out.
        let blocked = [[90.0, -20.0, 200.0, 20.0]];
        assert_eq!(place_label_choices(&choices, &blocked), vec![Some(0), None]);
    }

    #[test]
    fn shown_labels_never_overlap_and_important_ones_win() {
        let mut requests = Vec::new();
        for i in 0..200u64 {
            requests.push(LabelRequest {
                anchor: [(i * 37 % 400) as f32, (i * 53 % 300) as f32],
                size: [60.0, 20.0],
                align: [LabelAlign::Left, LabelAlign::Right, LabelAlign::Center][i as usize % 3],
                priority: i,
            });
        }
        let obstacle = [100.0, 100.0, 140.0, 140.0];
        let shown = place_labels(&requests, &[obstacle]);
        assert!(shown[199], "the most important label is always drawn");
        let boxes: Vec<[f32; 4]> = (0..requests.len())
            .filter(|&i| shown[i])
            .map(|i| requests[i].rect())
            .collect();
        assert!(boxes.len() > 10);
        for (i, a) in boxes.iter().enumerate() {
            assert!(!overlap(a, &obstacle));
            for b in &boxes[i + 1..] {
                assert!(!overlap(a, b), "{a:?} overlaps {b:?}");
            }
        }
    }
}
