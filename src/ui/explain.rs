//! Explain, in the list of what changed: a row's change broken down by the
//! values of the kept properties (computed with the comparison, off the UI
//! thread). A button on each row opens its explanation under the list: the
//! top line in words and the values ranked by their part of the change.
//! The list of differences keys its rows by (from, to); the compared
//! funnel by step.

use crate::engine::compare::CompareReport;
use crate::engine::explain::{Explanation, ValueRow};

/// Values listed in an explanation; the rest are counted.
pub const VALUES_SHOWN: usize = 10;

/// A row of the list: (from, Some(to)) for a transition, (name, None) for
/// a touchpoint's exits.
type RowKey = (String, Option<String>);

/// The explanation of the row (from, Some(to)) or exits at (from, None),
/// when the comparison carries one.
pub fn explanation_of<'a>(
    compare: &'a CompareReport,
    from: &str,
    to: Option<&str>,
) -> Option<&'a Explanation> {
    match to {
        Some(to) => compare
            .edges
            .iter()
            .find(|e| e.from == from && e.to == to)?
            .explanation
            .as_ref(),
        None => compare
            .nodes
            .iter()
            .find(|n| n.name == from)?
            .explanation
            .as_ref(),
    }
}

/// The key of the row whose explanation is open in list `list`.
pub fn open_row<K: Clone + Send + Sync + 'static>(ui: &egui::Ui, list: egui::Id) -> Option<K> {
    ui.data(|d| d.get_temp::<K>(list))
}

/// The Explain button of one row of list `list`, the row `key` (nothing
/// when the row has no explanation): opens its explanation, or closes it
/// when open.
pub fn row_button_ui<K: Clone + PartialEq + Send + Sync + 'static>(
    explained: bool,
    list: egui::Id,
    key: K,
    ui: &mut egui::Ui,
) {
    if !explained {
        ui.label("");
        return;
    }
    let open = open_row::<K>(ui, list).as_ref() == Some(&key);
    let button = ui
        .selectable_label(open, "Explain")
        .on_hover_text("Which channel or property value made this change");
    if button.clicked() {
        ui.data_mut(|d| {
            if open {
                d.remove::<K>(list);
            } else {
                d.insert_temp(list, key);
            }
        });
    }
}

/// The explanation of the open row of list `list`, if one is open:
/// `find` gives a row's explanation by its key; `groups` says which group
/// is B and which A.
pub fn open_row_ui<'a, K: Clone + Send + Sync + 'static>(
    list: egui::Id,
    groups: &str,
    find: impl FnOnce(&K) -> Option<&'a Explanation>,
    ui: &mut egui::Ui,
) {
    let Some(explanation) = open_row::<K>(ui, list).as_ref().and_then(find) else {
        return;
    };
    ui.group(|ui| explanation_ui(explanation, groups, list, ui));
}

/// The Explain button of a row of a comparison's list of differences:
/// (from, Some(to)) for a transition, (name, None) for exits.
pub fn explain_button_ui(
    compare: &CompareReport,
    list: egui::Id,
    (from, to): (&str, Option<&str>),
    ui: &mut egui::Ui,
) {
    let explained = explanation_of(compare, from, to).is_some();
    let key: RowKey = (from.to_owned(), to.map(str::to_owned));
    row_button_ui(explained, list, key, ui);
}

/// The open row's explanation of a comparison's list `list`, if one is
/// open.
pub fn open_explanation_ui(compare: &CompareReport, list: egui::Id, ui: &mut egui::Ui) {
    let groups = format!("B: {}; A: {}", compare.b.segment, compare.a.segment);
    let find = |(from, to): &RowKey| explanation_of(compare, from, to.as_deref());
    open_row_ui(list, &groups, find, ui);
}

/// The top line and the ranked values of one explanation; `groups` says
/// which group is B and which A.
pub fn explanation_ui(explanation: &Explanation, groups: &str, id: egui::Id, ui: &mut egui::Ui) {
    ui.label(egui::RichText::new(shown(&explanation.explain_summary)).strong());
    egui::Grid::new(id.with("explain"))
        .striped(true)
        .show(ui, |ui| {
            ui.strong("Value");
            ui.strong("Share B » A").on_hover_text(format!(
                "The value's own share of the step in each group ({groups})"
            ));
            ui.strong("Volume B » A").on_hover_text(format!(
                "The value's part of all who could take the step ({groups})"
            ));
            ui.strong("Of the change")
                .on_hover_text("How much of the row's change in pp the value accounts for");
            ui.end_row();
            for row in explanation.explain.iter().take(VALUES_SHOWN) {
                value_row_ui(row, ui);
            }
        });
    let more = explanation.explain.len().saturating_sub(VALUES_SHOWN);
    if more > 0 {
        ui.label(
            egui::RichText::new(format!("and {more} more values, each a smaller part")).weak(),
        );
    }
}

/// Text of the engine as the window writes it: the window's font has no
/// arrow, and its list of differences writes a transition with ».
pub fn shown(text: &str) -> String {
    text.replace('→', "»")
}

fn value_row_ui(row: &ValueRow, ui: &mut egui::Ui) {
    let percent = |share: f64| format!("{:.1} %", share * 100.0);
    ui.label(format!("{} = {}", row.property, row.value));
    ui.label(format!(
        "{} » {}",
        percent(row.b.share),
        percent(row.a.share)
    ));
    ui.label(format!(
        "{} » {}",
        percent(row.b.weight),
        percent(row.a.weight)
    ));
    ui.label(row.contribution.map_or("–".to_owned(), percent));
    ui.end_row();
}
