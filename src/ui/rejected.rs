//! Rejected records: counts by reason, the kept sample with positions, and
//! an export to a file.

use egui_extras::{Column, TableBuilder};

use crate::engine::{RejectReason, RejectedLog};
use crate::format::thousands;

/// Draws the rejected records; returns true when the user asked to export.
pub fn rejected_ui(log: &RejectedLog, ui: &mut egui::Ui) -> bool {
    rejected_records_ui(log, true, ui)
}

/// Draws the rejected records of a live stream (nothing to export: the
/// counts go on changing).
pub fn live_rejected_ui(log: &RejectedLog, ui: &mut egui::Ui) {
    rejected_records_ui(log, false, ui);
}

fn rejected_records_ui(log: &RejectedLog, exportable: bool, ui: &mut egui::Ui) -> bool {
    let mut export = false;
    ui.horizontal(|ui| {
        ui.heading(format!("Rejected records: {}", thousands(log.total)));
        if exportable
            && log.total > 0
            && ui
                .button("Export…")
                .on_hover_text("Save the counts and the sample as CSV or JSON")
                .clicked()
        {
            export = true;
        }
    });
    if let Some(adjusted) = log.times_adjusted.describe() {
        ui.label(format!("Kept, with their time adjusted: {adjusted}."));
    }
    if log.total == 0 {
        ui.label("Every record could be read.");
        return export;
    }
    egui::Grid::new("rejected by reason")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for reason in RejectReason::ALL {
                let n = log.count(reason);
                if n > 0 {
                    ui.label(describe(reason));
                    ui.label(thousands(n));
                    ui.end_row();
                }
            }
        });
    ui.add_space(8.0);
    ui.label(format!(
        "The first {} rejected records, where they are in the source:",
        log.sample.len()
    ));
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::initial(110.0))
        .column(Column::initial(170.0))
        .column(Column::initial(260.0).clip(true))
        .column(Column::remainder().clip(true))
        .header(22.0, |mut header| {
            for title in ["Where", "Reason", "Detail", "Record"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(22.0, log.sample.len(), |mut row| {
                let r = &log.sample[row.index()];
                row.col(|ui| {
                    ui.label(&r.position);
                });
                row.col(|ui| {
                    ui.label(describe(r.reason));
                });
                row.col(|ui| {
                    ui.label(&r.detail);
                });
                row.col(|ui| {
                    ui.monospace(r.record.replace('\n', " "));
                });
            });
        });
    export
}

/// A reason in words a marketer reads without a manual.
pub fn describe(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::Unparseable => "Not readable",
        RejectReason::MissingCustomer => "No customer",
        RejectReason::MissingEvent => "No event",
        RejectReason::MissingTime => "No timestamp",
        RejectReason::BadTimestamp => "Unreadable timestamp",
        RejectReason::WrongType => "Nested value",
        RejectReason::Oversized => "Record too large",
        RejectReason::InvalidUtf8 => "Not UTF-8 text",
        RejectReason::Tombstone => "Deletion marker (no value)",
        RejectReason::EmptyValue => "Empty message",
        RejectReason::Undecodable => "Not decodable",
        RejectReason::UnknownSchemaId => "Unknown schema id",
        RejectReason::SchemaMismatch => "Does not match its schema",
        RejectReason::TooDeep => "Nested too deep",
        RejectReason::RegistryUnavailable => "Schema registry unavailable",
    }
}
