//! The customer list: searchable, sortable, filtered by what is selected on
//! the map, with virtual scrolling so a million rows stay smooth. The list
//! is computed on a worker thread; the UI only draws the visible rows.

use std::sync::Arc;

use egui_extras::{Column, TableBuilder};

use crate::app::job::Job;
use crate::engine::{CustomerRow, Journeys, Selection, customer_rows, guess_conversion};
use crate::format::thousands;

/// A column the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Customer id, alphabetically.
    Customer,
    /// Number of sessions.
    #[default]
    Sessions,
    /// Number of events.
    Events,
    /// Last touchpoint, alphabetically.
    LastTouchpoint,
    /// Converted first.
    Converted,
}

/// Everything the list depends on.
#[derive(Debug, Clone, PartialEq, Default)]
struct ListQuery {
    search: String,
    sort: SortKey,
    ascending: bool,
    filter: Option<(String, Option<String>)>,
    conversion: Option<String>,
    generation: u64,
}

/// A computed list.
pub struct CustomerList {
    query: ListQuery,
    /// The rows, filtered and sorted.
    pub rows: Vec<CustomerRow>,
    /// The touchpoint that counts as converting.
    pub conversion: Option<String>,
}

/// State of the customers view.
#[derive(Default)]
pub struct CustomersView {
    /// Text the customer id must contain (case-insensitive).
    pub search: String,
    /// Sort column.
    pub sort: SortKey,
    /// Sort direction (largest first unless set).
    pub ascending: bool,
    /// Only customers whose sessions pass this touchpoint (name, None) or
    /// transition (from, Some(to)).
    pub filter: Option<(String, Option<String>)>,
    /// The touchpoint that counts as converting; guessed when None.
    pub conversion: Option<String>,
    /// The customer whose timeline is shown.
    pub selected: Option<u32>,
    /// The selected customer's timeline.
    pub timeline: super::timeline::TimelineView,
    generation: u64,
    list: Option<Arc<CustomerList>>,
    pending: Option<(ListQuery, Job<CustomerList>)>,
}

impl CustomersView {
    /// The loaded journeys changed: the list must be computed again.
    pub fn invalidate(&mut self) {
        self.generation += 1;
    }

    /// The list on screen, once computed.
    pub fn list(&self) -> Option<&CustomerList> {
        self.list.as_deref()
    }

    /// True while the list on screen is not the one the controls ask for.
    pub fn is_stale(&self) -> bool {
        self.list.as_ref().is_none_or(|l| l.query != self.query())
    }

    fn query(&self) -> ListQuery {
        ListQuery {
            search: self.search.trim().to_lowercase(),
            sort: self.sort,
            ascending: self.ascending,
            filter: self.filter.clone(),
            conversion: self.conversion.clone(),
            generation: self.generation,
        }
    }

    /// Receives a finished list and starts the next one if the controls changed.
    pub fn poll(&mut self, journeys: &Arc<Journeys>, ctx: &egui::Context) {
        if let Some((_, job)) = &self.pending
            && let Some(list) = job.poll()
        {
            self.pending = None;
            self.list = Some(Arc::new(list));
        }
        let wanted = self.query();
        let in_flight = self.pending.as_ref().map(|(q, _)| q);
        let shown = self.list.as_ref().map(|l| &l.query);
        if in_flight.is_none() && shown != Some(&wanted) {
            let journeys = journeys.clone();
            let query = wanted.clone();
            let job = Job::spawn("customers", ctx, move || compute_list(&journeys, query));
            self.pending = Some((wanted, job));
        }
    }
}

fn compute_list(journeys: &Journeys, query: ListQuery) -> CustomerList {
    let selection = query.filter.as_ref().and_then(|(a, b)| {
        let a = journeys.touchpoint_id(a)?;
        match b {
            None => Some(Selection::Touchpoint(a)),
            Some(b) => Some(Selection::Transition(a, journeys.touchpoint_id(b)?)),
        }
    });
    let conversion = match &query.conversion {
        Some(name) => journeys.touchpoint_id(name),
        None => guess_conversion(journeys),
    };
    let mut rows = if query.filter.is_some() && selection.is_none() {
        Vec::new()
    } else {
        customer_rows(journeys, selection, conversion)
    };
    if !query.search.is_empty() {
        rows.retain(|r| {
            journeys
                .customer_name(r.customer)
                .to_lowercase()
                .contains(&query.search)
        });
    }
    match query.sort {
        SortKey::Customer => rows.sort_by(|a, b| {
            journeys
                .customer_name(a.customer)
                .cmp(journeys.customer_name(b.customer))
        }),
        SortKey::Sessions => rows.sort_by_key(|r| (r.sessions, r.events)),
        SortKey::Events => rows.sort_by_key(|r| (r.events, r.sessions)),
        SortKey::LastTouchpoint => rows.sort_by(|a, b| {
            journeys
                .touchpoint_name(a.last_touchpoint)
                .cmp(journeys.touchpoint_name(b.last_touchpoint))
        }),
        SortKey::Converted => rows.sort_by_key(|r| r.converted),
    }
    if !query.ascending {
        rows.reverse();
    }
    CustomerList {
        conversion: conversion.map(|t| journeys.touchpoint_name(t).to_owned()),
        query,
        rows,
    }
}

/// Draws the search box, filter note and table; a clicked row becomes the
/// selected customer.
pub fn customers_ui(view: &mut CustomersView, journeys: &Journeys, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let label = ui.label("Search customers");
        ui.add(egui::TextEdit::singleline(&mut view.search).desired_width(220.0))
            .labelled_by(label.id);
        ui.separator();
        let label = ui.label("Converted means reaching");
        let shown = view
            .conversion
            .clone()
            .or_else(|| view.list().and_then(|l| l.conversion.clone()))
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
    if let Some((a, b)) = view.filter.clone() {
        ui.horizontal(|ui| {
            let what = match &b {
                None => format!("Sessions through {a}"),
                Some(b) => format!("Sessions going {a} » {b}"),
            };
            let count = view
                .list()
                .filter(|_| !view.is_stale())
                .map_or("…".to_owned(), |l| thousands(l.rows.len() as u64));
            ui.strong(format!("{what}: {count} customers"));
            if ui.button("Show all customers").clicked() {
                view.filter = None;
            }
        });
    }
    let Some(list) = view.list.clone() else {
        ui.spinner();
        return;
    };
    // The controls changed after this frame's poll: start the list next
    // frame (a running job wakes the screen itself when it is done).
    if view.is_stale() && view.pending.is_none() {
        ui.ctx().request_repaint();
    }
    if list.rows.is_empty() {
        ui.label("No customers match.");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    // Rows are clicked as a whole; labels must not take the click for
    // text selection.
    ui.style_mut().interaction.selectable_labels = false;
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .column(Column::initial(240.0).at_least(120.0).clip(true))
        .column(Column::initial(80.0))
        .column(Column::initial(80.0))
        .column(Column::initial(170.0).clip(true))
        .column(Column::remainder())
        .header(row_height + 4.0, |mut header| {
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
                            view.ascending =
                                matches!(key, SortKey::Customer | SortKey::LastTouchpoint);
                        }
                    }
                });
            }
        })
        .body(|body| {
            body.rows(row_height, list.rows.len(), |mut row| {
                let r = list.rows[row.index()];
                row.set_selected(view.selected == Some(r.customer));
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
                    ui.label(journeys.touchpoint_name(r.last_touchpoint));
                });
                row.col(|ui| {
                    ui.label(if r.converted { "yes" } else { "no" });
                });
                if row.response().clicked() {
                    clicked = Some(r.customer);
                }
            });
        });
    if clicked.is_some() {
        view.selected = clicked;
    }
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
