//! Exports of a summary: the journey map as SVG, edges as CSV, the summary
//! JSON, Graphviz DOT. The format follows the output file's extension.

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use crate::layout::{
    EdgeKind, LOOP_ROOM, LayoutStyle, MapFilter, MapLayout, edge_curves, layout, visible_part,
};
use crate::report::{Summary, human_duration, thousands, to_csv, to_dot};

/// Why an export failed.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The extension names no supported format.
    #[error("cannot tell the export format of {0}: use a name ending in .svg, .csv, .json or .dot")]
    UnknownFormat(String),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The output file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Writes `summary` to `out` in the format its extension names.
pub fn export(summary: &Summary, out: &Path) -> Result<(), ExportError> {
    let name = out.to_string_lossy().to_lowercase();
    let text = if name.ends_with(".svg") {
        map_svg(summary, &MapFilter::default())
    } else if name.ends_with(".csv") {
        to_csv(summary)
    } else if name.ends_with(".json") {
        summary.to_json() + "\n"
    } else if name.ends_with(".dot") || name.ends_with(".gv") {
        to_dot(summary)
    } else {
        return Err(ExportError::UnknownFormat(out.display().to_string()));
    };
    std::fs::write(out, text).map_err(|source| ExportError::Io {
        path: out.display().to_string(),
        source,
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Colours of the map (light theme).
struct Palette {
    background: &'static str,
    node: &'static str,
    terminal: &'static str,
    forward: &'static str,
    back: &'static str,
    text: &'static str,
    muted: &'static str,
}

const LIGHT: Palette = Palette {
    background: "#ffffff",
    node: "#2f5d8a",
    terminal: "#5b6770",
    forward: "#6fa8dc",
    back: "#e69138",
    text: "#1f2933",
    muted: "#52606d",
};

/// The journey map as a standalone SVG document.
pub fn map_svg(summary: &Summary, filter: &MapFilter) -> String {
    let visible = visible_part(&summary.nodes, &summary.edges, filter);
    let style = LayoutStyle::default();
    let map = layout(&visible.nodes, &visible.edges, &style);
    let note = visible.hidden_note();
    render_svg(&map, &style, &summary.source, note.as_deref())
}

fn render_svg(map: &MapLayout, style: &LayoutStyle, title: &str, note: Option<&str>) -> String {
    let p = &LIGHT;
    let margin_x = 150.0;
    let top = 56.0;
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
    if let Some(note) = note {
        let _ = writeln!(
            svg,
            r#"<text x="24" y="48" font-size="12" fill="{}">{}</text>"#,
            p.muted,
            escape(note)
        );
    }
    let ox = margin_x;
    let oy = top;

    // Bands first, widest at the back so thin ones stay visible.
    let _ = writeln!(svg, r#"<g fill="none" stroke-linecap="butt">"#);
    for e in &map.edges {
        let mut d = String::new();
        for (i, c) in edge_curves(map, e, style).iter().enumerate() {
            let [p0, p1, p2, p3] = c.map(|[x, y]| (ox + x, oy + y));
            if i == 0 {
                let _ = write!(d, "M{:.1},{:.1} ", p0.0, p0.1);
            }
            let _ = write!(
                d,
                "C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} ",
                p1.0, p1.1, p2.0, p2.1, p3.0, p3.1
            );
        }
        let (colour, opacity) = if e.kind == EdgeKind::Forward {
            (p.forward, 0.5)
        } else {
            (p.back, 0.25)
        };
        let mut tip = format!(
            "{} → {}: {} transitions, {} customers, {:.1} % of {}",
            e.stats.from,
            e.stats.to,
            thousands(e.stats.transitions),
            thousands(e.stats.customers),
            e.stats.share * 100.0,
            e.stats.from
        );
        if let Some(t) = e.stats.time_s {
            let _ = write!(tip, ", median {}", human_duration(t.median));
        }
        let _ = writeln!(
            svg,
            r#"<path d="{d}" stroke="{colour}" stroke-opacity="{opacity}" stroke-width="{:.1}"><title>{}</title></path>"#,
            e.width.max(1.0),
            escape(&tip)
        );
    }
    let _ = writeln!(svg, "</g>");

    // Labels of the widest forward bands, where there is room.
    for e in map
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Forward && e.width >= 12.0)
        .take(24)
    {
        let (a, b) = (&map.nodes[e.from], &map.nodes[e.to]);
        let x = ox + (a.x + style.node_width + b.x) / 2.0;
        let y = oy + (e.from_y + e.to_y) / 2.0 + 4.0;
        let mut label = thousands(e.stats.transitions);
        if let Some(t) = e.stats.time_s {
            let _ = write!(label, " · {}", human_duration(t.median));
        }
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="11" text-anchor="middle" fill="{}" stroke="{}" stroke-width="3" paint-order="stroke">{}</text>"#,
            p.text,
            p.background,
            escape(&label)
        );
    }

    for n in &map.nodes {
        let terminal = n.name == "START" || n.name == "END";
        let colour = if terminal { p.terminal } else { p.node };
        let (x, y) = (ox + n.x, oy + n.y);
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" rx="3" fill="{colour}"><title>{}: {} events, {} sessions, {} customers, {} exits</title></rect>"#,
            style.node_width,
            n.height,
            escape(&n.name),
            thousands(n.stats.events),
            thousands(n.stats.sessions),
            thousands(n.stats.customers),
            thousands(n.stats.exits)
        );
        // Labels to the left of the box for END, to the right otherwise.
        let (lx, anchor) = if n.name == "END" {
            (x - 6.0, "end")
        } else {
            (x + style.node_width + 6.0, "start")
        };
        let count = if n.name == "START" || n.name == "END" {
            n.stats.sessions
        } else {
            n.stats.events
        };
        let cy = y + n.height / 2.0;
        let _ = writeln!(
            svg,
            r#"<text x="{lx:.1}" y="{:.1}" font-size="13" font-weight="bold" text-anchor="{anchor}" fill="{}" stroke="{}" stroke-width="3" paint-order="stroke">{}</text>"#,
            cy - 2.0,
            p.text,
            p.background,
            escape(&n.name)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{lx:.1}" y="{:.1}" font-size="11" text-anchor="{anchor}" fill="{}" stroke="{}" stroke-width="3" paint-order="stroke">{}</text>"#,
            cy + 12.0,
            p.muted,
            p.background,
            thousands(count)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
