//! The Variants tab and the Expected journey panel in the real app
//! (egui_kittest): ticking a variant restricts the map to its sessions,
//! and a deviation's link lists the customers whose sessions leave the
//! journey that way; each checked against a recount over the sessions.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::demo_app::*;

use std::collections::HashSet;

use egui::accesskit::Role;
use egui_kittest::kittest::{Queryable, by};
use journeyscope::app::customers::{ListFilter, deviation_words};
use journeyscope::engine::Journeys;

/// Each whole session's touchpoint names (repeats merged as the journeys
/// merge them), by customer.
fn variants_of(journeys: &Journeys) -> Vec<(u32, Vec<String>)> {
    let collapse = journeys.config.collapse_repeats;
    let mut out = Vec::new();
    for (customer, sessions) in journeys.sessions() {
        for session in sessions {
            let mut names: Vec<String> = Vec::new();
            for e in session {
                let name = journeys.touchpoint_name(e.touchpoint);
                if !(collapse && names.last().is_some_and(|last| last == name)) {
                    names.push(name.to_owned());
                }
            }
            out.push((customer, names));
        }
    }
    out
}

#[test]
fn ticking_a_variant_shows_only_its_sessions_on_the_map() {
    let mut h = open_demo();
    let all = workspace(&h).loaded.journeys.clone();
    let total = workspace(&h).loaded.summary.sessions;
    h.get_by_label("Variants").click();
    step_until(&mut h, "the variants", |h| {
        workspace(h).loaded.summary.variants.is_some() && !workspace(h).is_busy()
    });
    let report = workspace(&h).loaded.summary.variants.clone().unwrap();
    assert_eq!(report.sessions, total);
    // The second busiest.
    let picked = report.top[1].clone();
    let recount: Vec<u32> = variants_of(&all)
        .into_iter()
        .filter(|(_, v)| *v == picked.steps)
        .map(|(c, _)| c)
        .collect();
    assert_eq!(recount.len() as u64, picked.sessions);
    h.get(by().role(Role::CheckBox).label("2")).click();
    step_until(&mut h, "the map of one variant", |h| {
        workspace(h).loaded.summary.sessions == picked.sessions && map_shown(h)
    });
    let summary = workspace(&h).loaded.summary.clone();
    let start = summary.nodes.iter().find(|n| n.name == "START").unwrap();
    assert_eq!(
        start.sessions, picked.sessions,
        "the map starts its sessions"
    );
    let customers: HashSet<u32> = recount.iter().copied().collect();
    assert_eq!(summary.customers, customers.len() as u64);
    h.get_by_label(&format!(
        "Every view shows only the sessions of 1 ticked journey ({} sessions).",
        journeyscope::format::thousands(picked.sessions)
    ));
    h.snapshot("variants");
    h.get_by_label("Show all sessions again").click();
    step_until(&mut h, "all sessions again", |h| {
        workspace(h).loaded.summary.sessions == total && !workspace(h).is_busy()
    });
}

#[test]
fn a_deviation_lists_the_customers_who_leave_the_journey_that_way() {
    let mut h = open_demo();
    let journeys = workspace(&h).loaded.journeys.clone();
    let steps = "product_view > add_to_cart > view_cart? > checkout > payment > purchase";
    h.get(by().role(Role::TextInput).label("Steps")).focus();
    h.run_steps(1);
    h.get(by().role(Role::TextInput).label("Steps"))
        .type_text(steps);
    h.run_steps(1);
    h.get_by_label("Follow").click();
    step_until(&mut h, "the journey walked", |h| {
        workspace(h).loaded.summary.conformance.is_some() && !workspace(h).is_busy()
    });
    let report = workspace(&h).loaded.summary.conformance.clone().unwrap();
    assert_eq!(report.expected, steps);
    assert!(report.entered > 0 && report.conforming > 0, "{report:?}");
    let busiest = report.deviations[0].clone();
    h.snapshot("conformance");
    let words = deviation_words(busiest.kind, &busiest.touchpoint);
    h.get(
        by().role(Role::Link)
            .label_contains(&format!("after {}: {words},", busiest.after)),
    )
    .click();
    step_until(&mut h, "the customers of a deviation", customers_ready);
    let Some(ListFilter::Deviation { after, kind, .. }) =
        workspace(&h).customers.query.filter.clone()
    else {
        panic!("the list is not filtered by a deviation");
    };
    assert_eq!(
        (after.as_str(), kind),
        (busiest.after.as_str(), busiest.kind)
    );
    let list = workspace(&h).customers.list().unwrap();
    // A customer with at least one session leaving that way: at most the
    // sessions counted, and at least one.
    assert!(!list.rows.is_empty());
    let sessions: u64 = list.rows.iter().map(|r| r.sessions as u64).sum();
    assert_eq!(
        sessions, busiest.sessions,
        "sessions listed are those counted"
    );
    assert!(journeys.customers >= list.rows.len() as u64);
}
