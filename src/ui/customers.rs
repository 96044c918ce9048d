//! The customer list: searchable, sortable, filtered by what is selected on
//! the map, with virtual scrolling so a million rows stay smooth. The list
//! is computed by the app (see [`crate::app::customers`]); this view draws
//! the visible rows and says what the user changed.

use egui_extras::{Column, TableBuilder, TableRow};

use crate::app::customers::{CustomerList, Customers, ListFilter, ListQuery, SortKey};
use crate::engine::{CustomerRow, Journeys};
use crate::format::{human_duration, thousands};

/// What the user changed in the list.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomersChange {
    /// Search, sort, filter or conversion.
    Query(ListQuery),
    /// The customer whose timeline to show (None: none).
    Select(Option<u32>),
}

/// Draws the search box, filter note and table of `customers`; returns
/// what the user changed (a clicked row selects that customer).
pub fn customers_ui(
    customers: &Customers,
    journeys: &Journeys,
    ui: &mut egui::Ui,
) -> Vec<CustomersChange> {
    let mut changes = Vec::new();
    let mut query = customers.query.clone();
    search_bar_ui(customers, journeys, &mut query, ui);
    filter_note_ui(customers, &mut query, ui);
    if query != customers.query {
        changes.push(CustomersChange::Query(query.clone()));
    }
    if let Some(why) = customers.failure() {
        ui.colored_label(ui.visuals().error_fg_color, why);
    }
    let Some(list) = customers.list().cloned() else {
        ui.spinner();
        return changes;
    };
    if list.rows.is_empty() {
        ui.label("No customers match.");
        return changes;
    }
    let clicked = table_ui(customers, journeys, &list, &mut query, ui);
    // Sorting by a header: applied after the controls above.
    let asked = changes.iter().rev().find_map(|c| match c {
        CustomersChange::Query(q) => Some(q),
        CustomersChange::Select(_) => None,
    });
    if query != *asked.unwrap_or(&customers.query) {
        changes.push(CustomersChange::Query(query));
    }
    if clicked.is_some() {
        changes.push(CustomersChange::Select(clicked));
    }
    changes
}

/// The search box and what counts as converted, edited into `view`.
fn search_bar_ui(
    customers: &Customers,
    journeys: &Journeys,
    view: &mut ListQuery,
    ui: &mut egui::Ui,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Search customers");
        ui.add(egui::TextEdit::singleline(&mut view.search).desired_width(220.0))
            .labelled_by(label.id);
        ui.separator();
        let label = ui.label("Converted means reaching");
        let shown = view
            .conversion
            .clone()
            .or_else(|| customers.list().and_then(|l| l.conversion.clone()))
            .unwrap_or_else(|| "(none)".into());
        let combo = egui::ComboBox::from_id_salt("conversion")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                let mut names: Vec<&str> = (2..journeys.touchpoint_count() as u32)
                    .map(|t| journeys.touchpoint_name(t))
                    .collect();
                names.sort_unstable();
                for name in names {
                    ui.selectable_value(&mut view.conversion, Some(name.to_owned()), name);
                }
            });
        combo.response.labelled_by(label.id);
    });
}

/// What the list is filtered by and how many customers that is, with the
/// way back to all of them (clearing `view`'s filter).
fn filter_note_ui(customers: &Customers, view: &mut ListQuery, ui: &mut egui::Ui) {
    if let Some(filter) = view.filter.clone() {
        ui.horizontal(|ui| {
            let what = filter.describe();
            let count = customers
                .list()
                .filter(|_| !customers.is_stale())
                .map_or("…".to_owned(), |l| thousands(l.rows.len() as u64));
            ui.strong(format!("{what}: {count} customers"));
            if ui.button("Show all customers").clicked() {
                view.filter = None;
            }
        });
    }
}

/// The table of `list`, a row per customer under headers that sort it
/// (into `view`); the customer whose row was clicked.
fn table_ui(
    customers: &Customers,
    journeys: &Journeys,
    list: &CustomerList,
    view: &mut ListQuery,
    ui: &mut egui::Ui,
) -> Option<u32> {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    let here_since = matches!(view.filter, Some(ListFilter::HereNow(_)))
        .then(|| journeys.time_range_us.map(|(_, newest)| newest))
        .flatten();
    // Rows are clicked as a whole; labels must not take the click for
    // text selection.
    ui.style_mut().interaction.selectable_labels = false;
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .column(Column::initial(240.0).at_least(120.0).clip(true))
        .column(Column::initial(80.0))
        .column(Column::initial(80.0))
        .column(Column::initial(250.0).clip(true))
        .column(Column::remainder())
        .header(row_height + 4.0, |header| sort_header_ui(header, view))
        .body(|body| {
            body.rows(row_height, list.rows.len(), |mut row| {
                let r = list.rows[row.index()];
                row.set_selected(customers.selected == Some(r.customer));
                customer_row_ui(&mut row, r, journeys, here_since);
                if row.response().clicked() {
                    clicked = Some(r.customer);
                }
            });
        });
    clicked
}

/// The table's headers, each a button sorting by its column (again:
/// the other way round) into `view`.
fn sort_header_ui(mut header: TableRow<'_, '_>, view: &mut ListQuery) {
    for (key, title) in [
        (SortKey::Customer, "Customer"),
        (SortKey::Sessions, "Sessions"),
        (SortKey::Events, "Events"),
        (SortKey::LastTouchpoint, "Last touchpoint"),
        (SortKey::Converted, "Converted"),
    ] {
        header.col(|ui| {
            let button = ui.button(title);
            if view.sort == key {
                sort_marker(ui, button.rect, view.ascending);
            }
            if button.clicked() {
                if view.sort == key {
                    view.ascending = !view.ascending;
                } else {
                    view.sort = key;
                    view.ascending = matches!(key, SortKey::Customer | SortKey::LastTouchpoint);
                }
            }
        });
    }
}

/// The cells of customer `r`'s row: name, sessions, events, last
/// touchpoint (how long they have been there since `here_since`, for Who
/// is here now) and whether they converted.
fn customer_row_ui(
    row: &mut TableRow<'_, '_>,
    r: CustomerRow,
    journeys: &Journeys,
    here_since: Option<i64>,
) {
    row.col(|ui| {
        ui.label(journeys.customer_name(r.customer));
    });
    row.col(|ui| {
        ui.label(thousands(r.sessions as u64));
    });
    row.col(|ui| {
        ui.label(thousands(r.events as u64));
    });
    row.col(|ui| {
        let at = journeys.touchpoint_name(r.last_touchpoint);
        match here_since {
            // Who is here now: how long since that step, in
            // event time.
            Some(now) => ui.label(format!(
                "{at} · for {}",
                human_duration(now.saturating_sub(r.last_us) as f64 / 1e6)
            )),
            None => ui.label(at),
        };
    });
    row.col(|ui| {
        ui.label(if r.converted { "yes" } else { "no" });
    });
}

/// A small triangle right of a sorted column's header: up for ascending.
fn sort_marker(ui: &egui::Ui, button: egui::Rect, ascending: bool) {
    let c = egui::pos2(button.right() + 9.0, button.center().y);
    let (tip, base) = if ascending { (-4.0, 3.0) } else { (4.0, -3.0) };
    let points = vec![
        egui::pos2(c.x - 4.0, c.y + base),
        egui::pos2(c.x + 4.0, c.y + base),
        egui::pos2(c.x, c.y + tip),
    ];
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        ui.visuals().strong_text_color(),
        egui::Stroke::NONE,
    ));
}
