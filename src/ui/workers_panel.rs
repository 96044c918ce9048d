//! The Workers panel of a merged view: how many partitions of the input
//! topic the workers have reported, and per partition where its snapshot
//! covers, its lag, its age and who published it; partitions behind, split
//! customers and state-topic messages that were not merged are pointed
//! out.

use crate::format::{human_duration, plural, thousands};
use crate::live::merged::WorkersReport;

/// Draws the panel.
pub fn workers_ui(report: &WorkersReport, ui: &mut egui::Ui) {
    ui.strong("Workers");
    match report.reported {
        0 => ui.label(
            "Waiting for the workers' first snapshots (a worker publishes once it holds \
             partitions and has read from them; joining the group can take seconds)",
        ),
        reported => ui.label(format!(
            "Job {}: {} of {} reported",
            crate::format::printable(&report.job),
            thousands(reported as u64),
            plural(report.partitions, "partition"),
        )),
    };
    if report.behind > 0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{} behind: no snapshot for over {} rounds while messages wait",
                plural(report.behind, "partition"),
                crate::live::merged::BEHIND_AFTER_ROUNDS
            ),
        );
    }
    if report.customers_split > 0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{} in more than one partition: the topic should be keyed by customer \
                 (each such customer counts once per partition)",
                plural(report.customers_split as usize, "customer")
            ),
        )
        .on_hover_text("Produce the events keyed by customer id so that one customer's events stay in one partition.");
    }
    let unmerged = report.unmerged.total() + report.unrestored.len() as u64;
    if unmerged > 0 {
        let sample: Vec<&str> = report
            .unmerged
            .sample
            .iter()
            .chain(&report.unrestored)
            .map(String::as_str)
            .collect();
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{} on the state topic not merged",
                plural(unmerged as usize, "message")
            ),
        )
        .on_hover_text(sample.join("\n"));
    }
    if report.by_partition.is_empty() {
        return;
    }
    egui::Grid::new("workers")
        .num_columns(5)
        .striped(true)
        .show(ui, |ui| {
            for title in ["Partition", "Offset", "Lag", "Age", "Worker"] {
                ui.label(title);
            }
            ui.end_row();
            for p in &report.by_partition {
                ui.label(p.partition.to_string());
                ui.label(thousands(p.offset.max(0) as u64));
                ui.label(p.lag.map_or("?".to_owned(), |l| thousands(l.max(0) as u64)));
                let age = human_duration(p.age_s);
                match p.behind {
                    true => ui.colored_label(ui.visuals().warn_fg_color, format!("{age} (behind)")),
                    false => ui.label(age),
                };
                ui.label(crate::format::printable(&p.worker));
                ui.end_row();
            }
        });
}
