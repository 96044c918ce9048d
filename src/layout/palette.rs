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

/// `#rrggbb`.
pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}
