//! The map's colours (light theme) as RGB, shared by the app's theme, its
//! charts and the exported SVG and PNG.

/// Touchpoint boxes.
pub const NODE: [u8; 3] = [47, 93, 138];
/// START and END boxes.
pub const TERMINAL: [u8; 3] = [91, 103, 112];
/// Forward bands (and funnel bars).
pub const FORWARD: [u8; 3] = [111, 168, 220];
/// Back edges and loops.
pub const BACK: [u8; 3] = [230, 145, 56];
/// The fast end of the time scale; also "live".
pub const FAST: [u8; 3] = [46, 160, 67];
/// The slow end of the time scale; also "stale".
pub const SLOW: [u8; 3] = [214, 69, 65];
/// Between the two: "behind".
pub const AMBER: [u8; 3] = [214, 150, 30];

/// Drop-off stubs: the sessions ending at a touchpoint.
pub const EXIT: [u8; 3] = [214, 69, 65];

/// A compared band's colour and opacity: blue where A's share is lower
/// (−1), orange where it is higher (+1), faint grey near 0.
pub fn change(t: f32) -> ([u8; 3], f32) {
    let t = t.clamp(-1.0, 1.0);
    let (end, strength) = if t < 0.0 {
        ([33u8, 102, 172], -t)
    } else {
        ([230u8, 97, 1], t)
    };
    let base = [200u8, 200, 200];
    let mix = |i: usize| (base[i] as f32 + (end[i] as f32 - base[i] as f32) * strength) as u8;
    ([mix(0), mix(1), mix(2)], 0.4 + 0.5 * strength)
}

/// `#rrggbb`.
pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}
