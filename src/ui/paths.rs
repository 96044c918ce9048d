//! The Paths tab: sessions as columns of steps. Each step stacks its
//! busiest touchpoints and an "other (N touchpoints)" box, heights by
//! sessions; each box's drop-off is drawn below it as its own red part;
//! bands join the boxes of consecutive steps.

use egui::epaint::CubicBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};

use crate::app::customers::ListFilter;
use crate::app::workspace::{ViewSettings, WorkspaceCommand};
use crate::engine::paths::{OTHER, PathLink};
use crate::engine::{PathsAnchor, PathsReport, START_NAME, Segment};
use crate::format::{human_duration, plural, thousands};
use crate::report::Summary;

use super::theme;

const COLUMN_WIDTH: f32 = 150.0;
const BOX_WIDTH: f32 = 16.0;
const GAP: f32 = 10.0;

/// Draws the paths of `summary` with the controls of `view`; returns the
/// commands the user asked for.
pub fn paths_ui(
    view: &ViewSettings,
    summary: &Summary,
    ui: &mut egui::Ui,
) -> Vec<WorkspaceCommand> {
    let mut commands = Vec::new();
    let mut spec = view.paths.clone().unwrap_or_default();
    let names = summary.touchpoint_names();
    ui.horizontal_wrapped(|ui| {
        ui.add(egui::Slider::new(&mut spec.depth, 1..=12).text("steps"));
        ui.add(egui::Slider::new(&mut spec.top, 1..=15).text("touchpoints per step"));
        ui.separator();
        let (mut kind, mut at) = match &spec.anchor {
            PathsAnchor::Start => (0, String::new()),
            PathsAnchor::From(x) => (1, x.clone()),
            PathsAnchor::To(y) => (2, y.clone()),
        };
        ui.selectable_value(&mut kind, 0, "From the session's start");
        ui.selectable_value(&mut kind, 1, "After");
        ui.selectable_value(&mut kind, 2, "Before");
        if kind != 0 {
            if at.is_empty() {
                at = names.first().map(|n| n.to_string()).unwrap_or_default();
            }
            egui::ComboBox::from_id_salt("paths anchor")
                .selected_text(at.clone())
                .show_ui(ui, |ui| {
                    for n in &names {
                        ui.selectable_value(&mut at, (*n).to_owned(), *n);
                    }
                });
        }
        spec.anchor = match kind {
            1 => PathsAnchor::From(at),
            2 => PathsAnchor::To(at),
            _ => PathsAnchor::Start,
        };
    });
    if Some(&spec) != view.paths.as_ref() {
        commands.push(WorkspaceCommand::SetView(ViewSettings {
            paths: Some(spec),
            ..view.clone()
        }));
    }
    ui.separator();
    let Some(everyone) = &summary.paths else {
        ui.spinner();
        return commands;
    };
    let (report, group) = group_ui(summary, everyone, ui);
    if report.steps.is_empty() {
        ui.label("No session reaches this anchor.");
        return commands;
    }
    explain(report, ui);
    egui::ScrollArea::both().show(ui, |ui| {
        if let Some(clicked) = columns_ui(report, group, ui) {
            commands.push(clicked);
        }
        steps_table_ui(report, ui);
    });
    commands
}

/// Whose paths are drawn, when two groups are compared: everyone, A or B
/// (remembered by egui); returns the report and the group's segment.
fn group_ui<'a>(
    summary: &'a Summary,
    everyone: &'a PathsReport,
    ui: &mut egui::Ui,
) -> (&'a PathsReport, Option<&'a Segment>) {
    let Some(compare) = summary.compare.as_ref() else {
        return (everyone, None);
    };
    let Some(paths) = compare.paths.as_ref() else {
        return (everyone, None);
    };
    let id = egui::Id::unique("paths group");
    let mut group: u8 = ui.data_mut(|d| d.get_temp(id).unwrap_or(1));
    ui.horizontal(|ui| {
        ui.label("Paths of");
        ui.selectable_value(&mut group, 0, "every session");
        ui.selectable_value(&mut group, 1, format!("A: {}", compare.a.segment));
        ui.selectable_value(&mut group, 2, format!("B: {}", compare.b.segment));
    });
    ui.data_mut(|d| d.insert_temp(id, group));
    match group {
        1 => (&paths.a, Some(&compare.groups.0)),
        2 => (&paths.b, Some(&compare.groups.1)),
        _ => (everyone, None),
    }
}

/// The steps in words: sessions, the busiest touchpoint, "other", exits.
fn steps_table_ui(report: &PathsReport, ui: &mut egui::Ui) {
    egui::Grid::new("path steps").striped(true).show(ui, |ui| {
        for head in ["Step", "Sessions", "Busiest", "Other", "Left at this step"] {
            ui.strong(head);
        }
        ui.end_row();
        for step in &report.steps {
            let exits: u64 = step.nodes.iter().map(|n| n.exits).sum::<u64>() + step.other.exits;
            ui.label(format!("Step {}", step.step));
            ui.label(thousands(step.sessions));
            ui.label(step.nodes.first().map_or(String::new(), |n| {
                format!("{} ({})", n.name, thousands(n.sessions))
            }));
            ui.label(format!(
                "{OTHER} ({}): {}",
                plural(step.other.touchpoints as usize, "touchpoint"),
                thousands(step.other.sessions)
            ));
            ui.label(format!(
                "{} ({:.0} %)",
                thousands(exits),
                100.0 * exits as f64 / step.sessions.max(1) as f64
            ));
            ui.end_row();
        }
    });
}

fn explain(report: &PathsReport, ui: &mut egui::Ui) {
    let first = &report.steps[0];
    let backward = report.direction == "backward";
    let text = if backward {
        format!(
            "{} sessions reach {}; step 1 is their first {}, and each step to the right is the \
             one before it. Red: sessions that began at that step.",
            thousands(first.sessions),
            report.anchor,
            report.anchor
        )
    } else {
        format!(
            "{} sessions; step 1 is {}. Red: sessions that ended at that step.",
            thousands(first.sessions),
            if report.anchor == "START" {
                "each session's first event".to_owned()
            } else {
                format!("their first {}", report.anchor)
            }
        )
    };
    ui.label(egui::RichText::new(text).color(ui.visuals().weak_text_color()));
}

/// One drawn box: a touchpoint (or "other") at a step.
struct Placed {
    step: usize,
    name: String,
    rect: Rect,
    sessions: u64,
    exits: u64,
    other: u64,
}

/// Draws the steps as columns of boxes joined by bands, with the tip of
/// what the pointer is over; the command when a box or band was clicked.
fn columns_ui(
    report: &PathsReport,
    group: Option<&Segment>,
    ui: &mut egui::Ui,
) -> Option<WorkspaceCommand> {
    let height = 460.0f32;
    let most = report.steps[0].sessions.max(1) as f32;
    let gaps = report
        .steps
        .iter()
        .map(|s| s.nodes.len() + 1)
        .max()
        .unwrap_or(1) as f32
        * GAP;
    let scale = (height - gaps).max(100.0) / most;
    let size = Vec2::new(
        report.steps.len() as f32 * COLUMN_WIDTH + 40.0,
        height + 60.0,
    );
    let (response, painter) = ui.allocate_painter(size, Sense::click());
    let origin = response.rect.min + Vec2::new(10.0, 30.0);
    let visuals = ui.visuals().clone();
    let placed = place_boxes(report, origin, scale, &painter, &visuals);
    let canvas = Canvas {
        report,
        group,
        placed: &placed,
        scale,
        painter: &painter,
        visuals: &visuals,
        response: &response,
        pointer: response.hover_pos(),
    };
    let mut pointed = Pointed::default();
    // Bands first, boxes over them.
    bands_ui(&canvas, &mut pointed);
    boxes_ui(&canvas, &mut pointed);
    if let Some(tip) = pointed.tip {
        response.on_hover_text_at_pointer(tip);
    }
    pointed.clicked
}

/// What drawing the bands and boxes reads: the report and the group it is
/// of, the boxes placed, sessions' scale, where to paint, and the pointer.
struct Canvas<'a> {
    report: &'a PathsReport,
    group: Option<&'a Segment>,
    placed: &'a [Placed],
    scale: f32,
    painter: &'a egui::Painter,
    visuals: &'a egui::Visuals,
    response: &'a egui::Response,
    pointer: Option<Pos2>,
}

/// What the pointer is over: the tip to show, and the command when that
/// was clicked.
#[derive(Default)]
struct Pointed {
    tip: Option<String>,
    clicked: Option<WorkspaceCommand>,
}

/// Draws a band for each link between boxes of consecutive steps, as wide
/// as its sessions, brighter under the pointer.
fn bands_ui(canvas: &Canvas<'_>, pointed: &mut Pointed) {
    let Canvas {
        report,
        placed,
        scale,
        painter,
        visuals,
        pointer,
        ..
    } = *canvas;
    // Each box by (step, touchpoint), "other" under its link name.
    let at: std::collections::HashMap<(usize, &str), usize> = placed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = if p.other > 0 { OTHER } else { p.name.as_str() };
            ((p.step, name), i)
        })
        .collect();
    let mut out_used: Vec<f32> = vec![0.0; placed.len()];
    let mut in_used: Vec<f32> = vec![0.0; placed.len()];
    for link in &report.links {
        let (Some(&ia), Some(&ib)) = (
            at.get(&(link.step, link.from.as_str())),
            at.get(&(link.step + 1, link.to.as_str())),
        ) else {
            continue;
        };
        let (a, b) = (&placed[ia], &placed[ib]);
        let w = (link.sessions as f32 * scale).max(1.0);
        let y0 = a.rect.top() + out_used[ia] + w / 2.0;
        let y1 = b.rect.top() + in_used[ib] + w / 2.0;
        out_used[ia] += w;
        in_used[ib] += w;
        let (x0, x1) = (a.rect.right(), b.rect.left());
        let mid = (x0 + x1) / 2.0;
        let points = [
            Pos2::new(x0, y0),
            Pos2::new(mid, y0),
            Pos2::new(mid, y1),
            Pos2::new(x1, y1),
        ];
        let near = pointer.is_some_and(|p| {
            p.x > x0 && p.x < x1 && {
                let t = (p.x - x0) / (x1 - x0);
                let y = y0 + (y1 - y0) * (3.0 * t * t - 2.0 * t * t * t);
                (p.y - y).abs() <= w / 2.0 + 1.0
            }
        });
        let mut colour = theme::forward_band(visuals);
        if near {
            colour = colour.gamma_multiply(1.8);
            band_pointed(canvas, link, pointed);
        }
        painter.add(CubicBezierShape::from_points_stroke(
            points,
            false,
            Color32::TRANSPARENT,
            Stroke::new(w, colour),
        ));
    }
}

/// The band of `link` is under the pointer: its tip, and its customers
/// when clicked (not for "other").
fn band_pointed(canvas: &Canvas<'_>, link: &PathLink, pointed: &mut Pointed) {
    if canvas.response.clicked() && link.from != OTHER && link.to != OTHER {
        pointed.clicked = Some(customers_at(
            canvas.report,
            canvas.group,
            link.step,
            &link.from,
            Some(&link.to),
        ));
    }
    pointed.tip = Some(format!(
        "{} » {}: {} sessions{}{}",
        link.from,
        link.to,
        thousands(link.sessions),
        link.median_s
            .map(|m| format!(", median {}", human_duration(m)))
            .unwrap_or_default(),
        if link.from != OTHER && link.to != OTHER {
            "\nClick to list their customers"
        } else {
            ""
        }
    ));
}

/// Draws the boxes over the bands, each with its drop-off in red and its
/// label where it fits; the tip of the box under the pointer, and its
/// customers when clicked (not for "other").
fn boxes_ui(canvas: &Canvas<'_>, pointed: &mut Pointed) {
    let Canvas {
        report,
        group,
        placed,
        painter,
        visuals,
        response,
        pointer,
        ..
    } = *canvas;
    // Labels only where they fit: each below the previous one of its step.
    let mut free_from: Vec<f32> = vec![f32::MIN; report.steps.len() + 1];
    for p in placed {
        painter.rect_filled(p.rect, 2.0, theme::node(visuals));
        if p.exits > 0 {
            let h = p.rect.height() * p.exits as f32 / p.sessions.max(1) as f32;
            let stub = Rect::from_min_max(
                Pos2::new(p.rect.right(), p.rect.bottom() - h),
                Pos2::new(p.rect.right() + 6.0, p.rect.bottom()),
            );
            painter.rect_filled(stub, 0.0, theme::exit(visuals));
        }
        if p.rect.top() >= free_from[p.step] {
            let label = painter.text(
                Pos2::new(p.rect.right() + 9.0, p.rect.top()),
                Align2::LEFT_TOP,
                format!("{}\n{}", p.name, thousands(p.sessions)),
                FontId::proportional(11.0),
                visuals.text_color(),
            );
            free_from[p.step] = label.bottom() + 2.0;
        }
        if pointer.is_some_and(|q| p.rect.expand(3.0).contains(q)) {
            pointed.tip = Some(format!(
                "Step {}: {} — {} sessions, {} left here ({:.0} %){}",
                p.step,
                p.name,
                thousands(p.sessions),
                thousands(p.exits),
                100.0 * p.exits as f64 / p.sessions.max(1) as f64,
                if p.other == 0 {
                    "\nClick to list their customers"
                } else {
                    ""
                }
            ));
            if response.clicked() && p.other == 0 {
                pointed.clicked = Some(customers_at(report, group, p.step, &p.name, None));
            }
        }
    }
}

/// Shows the customers of the sessions at `touchpoint` at `step` (then at
/// `next`).
fn customers_at(
    report: &PathsReport,
    group: Option<&Segment>,
    step: usize,
    touchpoint: &str,
    next: Option<&str>,
) -> WorkspaceCommand {
    let anchor = match report.direction {
        _ if report.anchor == START_NAME => PathsAnchor::Start,
        "backward" => PathsAnchor::To(report.anchor.clone()),
        _ => PathsAnchor::From(report.anchor.clone()),
    };
    WorkspaceCommand::ShowCustomersOf(ListFilter::Path {
        anchor,
        step,
        touchpoint: touchpoint.to_owned(),
        next: next.map(str::to_owned),
        group: group.cloned(),
    })
}

/// Places each step's boxes (busiest first, "other" last) and writes the
/// step headings.
fn place_boxes(
    report: &PathsReport,
    origin: Pos2,
    scale: f32,
    painter: &egui::Painter,
    visuals: &egui::Visuals,
) -> Vec<Placed> {
    let mut placed: Vec<Placed> = Vec::new();
    for (s, step) in report.steps.iter().enumerate() {
        let x = origin.x + s as f32 * COLUMN_WIDTH;
        painter.text(
            Pos2::new(x, origin.y - 24.0),
            Align2::LEFT_TOP,
            format!("Step {} · {}", step.step, thousands(step.sessions)),
            FontId::proportional(12.0),
            visuals.strong_text_color(),
        );
        let mut y = origin.y;
        let others = (step.other.sessions > 0).then(|| {
            (
                format!(
                    "{OTHER} ({})",
                    plural(step.other.touchpoints as usize, "touchpoint")
                ),
                step.other.sessions,
                step.other.exits,
                step.other.touchpoints,
            )
        });
        let boxes = step
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.sessions, n.exits, 0))
            .chain(others);
        for (name, sessions, exits, other) in boxes {
            let h = (sessions as f32 * scale).max(2.0);
            let rect = Rect::from_min_size(Pos2::new(x, y), Vec2::new(BOX_WIDTH, h));
            placed.push(Placed {
                step: step.step,
                name,
                rect,
                sessions,
                exits,
                other,
            });
            y += h + GAP;
        }
    }
    placed
}
