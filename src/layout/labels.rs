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

fn overlap(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Which of `requests` to draw so that no two drawn boxes overlap and none
/// overlaps an obstacle ([left, top, right, bottom]).
pub fn place_labels(requests: &[LabelRequest], obstacles: &[[f32; 4]]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by(|&a, &b| requests[b].priority.cmp(&requests[a].priority));
    let mut taken: Vec<[f32; 4]> = obstacles.to_vec();
    let mut shown = vec![false; requests.len()];
    for i in order {
        let rect = requests[i].rect();
        if !taken.iter().any(|t| overlap(t, &rect)) {
            taken.push(rect);
            shown[i] = true;
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

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
