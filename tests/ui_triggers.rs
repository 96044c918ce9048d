//! The Triggers tab in the real app (egui_kittest): a stall rule added
//! through its form is backtested on the demo, its count equal to a
//! recount over the sessions here, and an action's customer opens on the
//! Customers tab.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::demo_app::*;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use journeyscope::app::workspace::Tab;
use journeyscope::engine::Journeys;

const TEN_MINUTES_US: i64 = 10 * 60 * 1_000_000;
const TIMEOUT_US: i64 = 30 * 60 * 1_000_000;

/// Sessions whose customer sits at view_cart with nothing after for ten
/// minutes, before any purchase in the session: counted from each
/// customer's events, the watermark the newest event.
fn stalls_at_the_cart(journeys: &Journeys) -> (u64, u64) {
    let watermark = journeys.time_range_us.unwrap().1;
    let (mut sessions, mut customers) = (0, 0);
    for (_, events) in journeys.customer_events() {
        let mut reached = false;
        let mut start = 0;
        for i in 0..events.len() {
            if i > 0 && events[i].time_us - events[i - 1].time_us > TIMEOUT_US {
                start = i;
            }
            let name = |k: usize| journeys.touchpoint_name(events[k].touchpoint);
            let next = events.get(i + 1).map(|e| e.time_us);
            let t = events[i].time_us;
            let quiet = next.map_or(watermark > t + TEN_MINUTES_US, |n| n > t + TEN_MINUTES_US);
            let bought = (start..=i).any(|k| name(k) == "purchase");
            // Once per session: the session's first such stall.
            let fired_before = (start..i).any(|k| {
                let tk = events[k].time_us;
                name(k) == "view_cart"
                    && events[k + 1].time_us > tk + TEN_MINUTES_US
                    && !(start..=k).any(|j| name(j) == "purchase")
            });
            if name(i) == "view_cart" && quiet && !bought && !fired_before {
                sessions += 1;
                reached = true;
            }
        }
        customers += u64::from(reached);
    }
    (sessions, customers)
}

#[test]
fn a_stall_added_in_the_tab_fires_as_a_recount_says_and_opens_its_customer() {
    let mut h = open_demo();
    let (want, reached) = stalls_at_the_cart(&workspace(&h).loaded.journeys);
    assert!(want > 100, "{want}");
    h.get_by_label("Triggers").click();
    h.run_steps(3);
    h.get_by_label("Add a trigger").click();
    h.run_steps(2);
    for (label, text) in [
        ("At touchpoint", "view_cart"),
        ("Nothing follows within", "10m"),
        ("Unless the session did", "purchase"),
    ] {
        h.get_by_role_and_label(Role::TextInput, label).click();
        h.run_steps(1);
        h.get_by_role_and_label(Role::TextInput, label)
            .type_text(text);
        h.run_steps(1);
    }
    h.get_by_label("Save").click();
    step_until(&mut h, "the backtest", |h| {
        let ws = workspace(h);
        !ws.is_busy()
            && ws
                .loaded
                .summary
                .triggers
                .as_ref()
                .is_some_and(|t| t.len() == 1)
    });
    let counts = workspace(&h).loaded.summary.triggers.clone().unwrap();
    assert_eq!((counts[0].actions, counts[0].customers), (want, reached));
    h.get_by_label(&format!(
        "Would have sent {} actions over {} days, to {} customers: {:.0} a day",
        journeyscope::format::thousands(want),
        counts[0].per_day.len(),
        journeyscope::format::thousands(reached),
        counts[0].per_day_average
    ));
    // The latest action's customer, on the Customers tab.
    let latest = workspace(&h)
        .loaded
        .summary
        .trigger_actions
        .last()
        .unwrap()
        .clone();
    h.get_all_by_label(&latest.customer).next().unwrap().click();
    step_until(&mut h, "the customer", |h| {
        workspace(h).tab == Tab::Customers
    });
    let ws = workspace(&h);
    let id = ws.loaded.journeys.customer_id(&latest.customer);
    assert_eq!(ws.customers.selected, id);
}
