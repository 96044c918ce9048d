//! Exports of a summary: the journey map as SVG, edges as CSV, the summary
//! JSON, Graphviz DOT. The format follows the output file's extension.

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use crate::engine::RejectedLog;
use crate::layout::palette::{self, hex};
use crate::layout::scene::{
    Changes, Ink, Role, Scene, View, describe_edge, describe_node, exit_label, name_size, scene,
};
use crate::layout::{LOOP_ROOM, LayoutStyle, MapFilter, MapLayout, layout, visible_part};
use crate::report::{Summary, to_csv, to_dot};

/// Why an export failed.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The extension names no supported format.
    #[error(
        "cannot tell the export format of {0}: use a name ending in .svg, .png, .csv, .json or .dot"
    )]
    UnknownFormat(String),
    /// The map could not be drawn as an image.
    #[error("cannot draw the map as PNG: {0}")]
    Render(String),
    /// The output would replace the events it was made from.
    #[error(
        "{0} is the source being read; choose another output file (the source is never overwritten)"
    )]
    IsTheSource(String),
    /// Writing failed.
    #[error("cannot write {path}")]
    Io {
        /// The output file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Writes `summary` to `out` in the format its extension names, refusing
/// to write over any of `sources` (the files it was read from).
pub fn export(summary: &Summary, out: &Path, sources: &[&Path]) -> Result<(), ExportError> {
    export_filtered(summary, &MapFilter::EVERYTHING, out, sources)
}

/// Like [`export`], with the map's sliders at `filter`.
pub fn export_filtered(
    summary: &Summary,
    filter: &MapFilter,
    out: &Path,
    sources: &[&Path],
) -> Result<(), ExportError> {
    refuse_sources(out, sources)?;
    let name = out.to_string_lossy().to_lowercase();
    let bytes = if name.ends_with(".svg") {
        map_svg(summary, filter).into_bytes()
    } else if name.ends_with(".png") {
        map_png(summary, filter)?
    } else if name.ends_with(".csv") {
        to_csv(summary).into_bytes()
    } else if name.ends_with(".json") {
        (summary.to_json() + "\n").into_bytes()
    } else if name.ends_with(".dot") || name.ends_with(".gv") {
        to_dot(summary).into_bytes()
    } else {
        return Err(ExportError::UnknownFormat(out.display().to_string()));
    };
    write(out, &bytes)
}

/// True when `a` and `b` are the same file (also through symbolic or hard
/// links); false when either does not exist.
#[cfg(unix)]
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// True when `a` and `b` are the same file (through links too); false when
/// either does not exist.
#[cfg(not(unix))]
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Refuses an output that is one of `sources`.
fn refuse_sources(out: &Path, sources: &[&Path]) -> Result<(), ExportError> {
    match sources.iter().any(|s| same_file(out, s)) {
        true => Err(ExportError::IsTheSource(
            crate::format::printable(&out.display().to_string()).into_owned(),
        )),
        false => Ok(()),
    }
}

/// Writes `bytes` to `out` through a temporary file beside it, renamed over
/// `out` once all is written and synced: a failed export leaves any earlier
/// file as it was, and never a half-written one. A new file gets the mode
/// the umask gives, an existing one keeps its own, and a symbolic link at
/// `out` is written through: the file it points to is replaced (never a
/// source: [`refuse_sources`] follows links) and the link stays.
fn write(out: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    crate::files::write_whole(out, crate::files::Kind::Export, bytes).map_err(|source| {
        ExportError::Io {
            path: crate::format::printable(&out.display().to_string()).into_owned(),
            source,
        }
    })
}

/// Estimated width of a character per unit of font size (sans-serif).
const TEXT_WIDTH_PER_SIZE: f32 = 0.56;

/// Narrowest PNG export, in pixels.
pub const PNG_MIN_WIDTH: u32 = 1600;

/// The journey map as a PNG at least [`PNG_MIN_WIDTH`] pixels wide, drawn
/// from the same SVG with the app's own font (nothing from the system).
pub fn map_png(summary: &Summary, filter: &MapFilter) -> Result<Vec<u8>, ExportError> {
    let svg = map_svg(summary, filter);
    let mut options = resvg::usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
    let family = fonts
        .faces()
        .next()
        .and_then(|f| f.families.first())
        .map(|(name, _)| name.clone());
    if let Some(family) = family {
        fonts.set_sans_serif_family(family);
    }
    let tree = resvg::usvg::Tree::from_str(&svg, &options)
        .map_err(|e| ExportError::Render(e.to_string()))?;
    let size = tree.size();
    let scale = (PNG_MIN_WIDTH as f32 / size.width())
        .max(1.5)
        .min(8000.0 / size.width());
    let width = (size.width() * scale).ceil() as u32;
    let height = (size.height() * scale).ceil() as u32;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(width.max(PNG_MIN_WIDTH), height.max(1))
        .ok_or_else(|| ExportError::Render(format!("{width}×{height} is too large")))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| ExportError::Render(e.to_string()))
}

/// Writes the rejected records: as JSON (counts by reason and the kept
/// sample) when `out` ends in `.json`, otherwise the sample as CSV; never
/// over one of `sources`.
pub fn write_rejected(log: &RejectedLog, out: &Path, sources: &[&Path]) -> Result<(), ExportError> {
    refuse_sources(out, sources)?;
    let json = out.to_string_lossy().to_lowercase().ends_with(".json");
    let text = if json {
        serde_json::to_string_pretty(log).unwrap_or_default() + "\n"
    } else {
        let rows: Vec<[String; 4]> = log
            .sample
            .iter()
            .map(|r| {
                [
                    r.position.clone(),
                    r.reason.to_string(),
                    r.detail.clone(),
                    r.record.clone(),
                ]
            })
            .collect();
        crate::report::csv_text(&["position", "reason", "detail", "record"], &rows)
    };
    write(out, text.as_bytes())
}

/// Text for SVG: what XML cannot carry made visible first, then escaped.
fn escape(text: &str) -> String {
    crate::format::printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Labels of drop-off stubs.
const EXIT_TEXT: &str = "#aa2d28";

/// Colours of the map (light theme).
struct Palette {
    background: &'static str,
    node: String,
    terminal: String,
    forward: String,
    back: String,
    text: &'static str,
    muted: &'static str,
}

fn light() -> Palette {
    Palette {
        background: "#ffffff",
        node: hex(palette::NODE),
        terminal: hex(palette::TERMINAL),
        forward: hex(palette::FORWARD),
        back: hex(palette::BACK),
        text: "#1f2933",
        muted: "#52606d",
    }
}

/// The journey map as a standalone SVG document.
pub fn map_svg(summary: &Summary, filter: &MapFilter) -> String {
    let visible = visible_part(&summary.nodes, &summary.edges, filter);
    // Columns wide enough for the longest name, so that a file has every
    // touchpoint labelled.
    let longest = visible
        .nodes
        .iter()
        .map(|n| {
            let exits = exit_label(n.exits, n.sessions).chars().count();
            n.name.chars().count().max(exits)
        })
        .max()
        .unwrap_or(0);
    let mut style = LayoutStyle::default();
    style.column_spacing = style
        .column_spacing
        .max(longest as f32 * name_size(1.0) * TEXT_WIDTH_PER_SIZE + 40.0);
    let map = layout(&visible.nodes, &visible.edges, &style);
    let mut note = visible.hidden_note().unwrap_or_default();
    let changes = summary.compare.as_ref().map(|c| {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!(
            "coloured by the change of each step's share, {} vs {}: blue lower, orange higher, grey not significant",
            c.a.segment, c.b.segment
        ));
        Changes::of(c)
    });
    render_svg(&map, &style, &summary.source, &note, changes.as_ref())
}

/// What the map's shapes mean, under its title.
const SVG_KEY: &str = "Band width: sessions moving on · red stub: sessions ending there (share of visits) · badge: repeats of a step in a row · thin arcs below: back to an earlier step";

fn render_svg(
    map: &MapLayout,
    style: &LayoutStyle,
    title: &str,
    note: &str,
    changes: Option<&Changes>,
) -> String {
    let p = &light();
    let margin_x = 150.0;
    let top = 76.0;
    let width = map.width + 2.0 * margin_x;
    let height = map.height + top + LOOP_ROOM;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="{}"/>"#,
        p.background
    );
    let _ = writeln!(
        svg,
        r#"<text x="24" y="30" font-size="18" font-weight="bold" fill="{}">Journey map — {}</text>"#,
        p.text,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r#"<text x="24" y="48" font-size="12" fill="{}">{}</text>"#,
        p.muted,
        escape(SVG_KEY)
    );
    if !note.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="24" y="64" font-size="12" fill="{}">{}</text>"#,
            p.muted,
            escape(note)
        );
    }
    let view = View {
        origin: [margin_x, top],
        zoom: 1.0,
        time_view: false,
    };
    let mut picture = scene(map, style, &view, &estimate_text);
    if let Some(changes) = changes {
        changes.colour(&mut picture, map);
    }
    write_bands(&mut svg, map, &picture, p);
    write_boxes(&mut svg, map, &picture, p);
    write_labels(&mut svg, &picture, p);
    svg.push_str("</svg>\n");
    svg
}

/// A text's [width, height] at `size`, estimated (the SVG reader's font
/// decides the real width).
fn estimate_text(text: &str, size: f32) -> [f32; 2] {
    [
        text.chars().count() as f32 * size * TEXT_WIDTH_PER_SIZE,
        size * 1.2,
    ]
}

// Writing to a String cannot fail: the `let _ =` below drop an Ok(()).
fn write_bands(svg: &mut String, map: &MapLayout, picture: &Scene, p: &Palette) {
    let _ = writeln!(svg, r#"<g fill="none" stroke-linecap="butt">"#);
    for band in &picture.bands {
        let mut d = String::new();
        for (i, [p0, p1, p2, p3]) in band.curves.iter().enumerate() {
            if i == 0 {
                let _ = write!(d, "M{:.1},{:.1} ", p0[0], p0[1]);
            }
            let _ = write!(
                d,
                "C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} ",
                p1[0], p1[1], p2[0], p2[1], p3[0], p3[1]
            );
        }
        let (colour, opacity) = match band.role {
            Role::Forward => (p.forward.clone(), 0.5),
            Role::Exit => (hex(palette::EXIT), 0.6),
            Role::Change(t) => {
                let (colour, opacity) = palette::change(t);
                (hex(colour), opacity)
            }
            Role::Unchanged => (p.muted.to_owned(), 0.15),
            _ => (p.back.clone(), 0.3),
        };
        let tip = describe_edge(map, band.edge);
        let _ = writeln!(
            svg,
            r#"<path d="{d}" stroke="{colour}" stroke-opacity="{opacity}" stroke-width="{:.1}"><title>{}</title></path>"#,
            band.width,
            escape(&tip)
        );
    }
    let _ = writeln!(svg, "</g>");
}

fn write_boxes(svg: &mut String, map: &MapLayout, picture: &Scene, p: &Palette) {
    for b in &picture.boxes {
        let colour = match b.role {
            Role::Terminal => &p.terminal,
            _ => &p.node,
        };
        let [left, top, right, bottom] = b.rect;
        let _ = writeln!(
            svg,
            r#"<rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" rx="3" fill="{colour}"><title>{}</title></rect>"#,
            right - left,
            bottom - top,
            escape(&describe_node(map, b.node)),
        );
    }
    for badge in &picture.badges {
        let [left, top, right, bottom] = badge.rect;
        let _ = writeln!(
            svg,
            r#"<rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" rx="6" fill="{}" fill-opacity="0.25"><title>{}</title></rect>"#,
            right - left,
            bottom - top,
            p.back,
            escape(&describe_edge(map, badge.edge)),
        );
        let text = &badge.text;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="{:.1}" fill="{}">{}</text>"#,
            text.at[0],
            text.at[1] + text.size,
            text.size,
            p.text,
            escape(&text.text)
        );
    }
}

fn write_labels(svg: &mut String, picture: &Scene, p: &Palette) {
    for label in &picture.labels {
        if let Some([left, top, right, bottom]) = label.backdrop {
            let _ = writeln!(
                svg,
                r#"<rect x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" rx="3" fill="{}" fill-opacity="0.85"/>"#,
                right - left,
                bottom - top,
                p.background
            );
        }
        for line in &label.lines {
            let (weight, colour) = match line.ink {
                Ink::Strong => (r#" font-weight="bold""#, p.text),
                Ink::Count | Ink::Normal => ("", p.text),
                Ink::Exit => ("", EXIT_TEXT),
            };
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="{:.1}"{weight} fill="{colour}" stroke="{}" stroke-width="3" paint-order="stroke">{}</text>"#,
                line.at[0],
                line.at[1] + line.size,
                line.size,
                p.background,
                escape(&line.text)
            );
        }
    }
}
