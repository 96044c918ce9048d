//! Comparisons in the real app through egui_kittest: a column ticked to
//! keep becomes comparable, a preset colours the map and lists the
//! differences, and Explain opens under a difference or a compared funnel
//! step, each checked against the engine or the headless summary.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::demo_app::*;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use journeyscope::cli::MappingArgs;
use journeyscope::commands::{settings, summarize_path};
use journeyscope::settings::sample_data_file;
use journeyscope::ui::explain::{explanation_of, shown};

/// A column ticked under Keep for comparing is read again with the file:
/// its values become Compare presets, and a comparison on one of them
/// gives what `summarize --keep-property … --compare …` gives.
#[test]
fn ticking_a_column_to_keep_makes_it_comparable() {
    let mut h = open_demo();
    // Few-valued columns are kept when the file opens; `reason` (filled on
    // few events) is not.
    let kept = workspace(&h).loaded.journeys.kept_properties().to_vec();
    assert!(kept.contains(&"category".to_owned()), "{kept:?}");
    assert!(!kept.contains(&"reason".to_owned()), "{kept:?}");
    h.get_by_label("Keep for comparing").click_accesskit();
    h.run_steps(2);
    h.get_by_role_and_label(Role::CheckBox, "reason")
        .click_accesskit();
    step_until(&mut h, "the re-load keeping reason", |h| {
        let ws = workspace(h);
        !ws.is_busy()
            && ws
                .loaded
                .journeys
                .kept_properties()
                .contains(&"reason".to_owned())
    });
    step_until(&mut h, "the map", map_shown);
    h.get_by_label("Compare").click();
    h.run_steps(2);
    let preset = h
        .get_all_by_label_contains("reason = ")
        .next()
        .and_then(|n| n.accesskit_node().label())
        .expect("a preset of reason's values");
    h.get_by_label(&preset).click_accesskit();
    step_until(&mut h, "the comparison", |h| {
        let ws = workspace(h);
        assert_eq!(ws.reload_error, None);
        ws.loaded.summary.compare.is_some() && !ws.is_busy()
    });
    let compare = workspace(&h).loaded.summary.compare.clone().unwrap();
    let value = preset
        .trim_start_matches("reason = ")
        .trim_end_matches(" vs the rest");
    assert_eq!(compare.a.segment, format!("reason={value}"));
    // The same comparison, headless.
    let args = MappingArgs {
        keep_property: vec!["reason".into()],
        compare: vec![format!("reason={value}")],
        ..MappingArgs::defaults()
    };
    let Ok(by_reason) = settings(&args, None, None) else {
        panic!("settings")
    };
    let demo = sample_data_file().expect("demo file");
    let expected = summarize_path(&demo, "demo", by_reason)
        .unwrap_or_else(|_| panic!("summarize"))
        .compare
        .unwrap();
    assert_eq!(
        (compare.a.sessions, compare.b.sessions),
        (expected.a.sessions, expected.b.sessions)
    );
    assert!(compare.a.sessions > 0 && compare.b.sessions > 0);
}

/// The demo compared by its "Converted (…) vs not" preset.
fn demo_compared_by_conversion() -> App {
    let mut h = open_demo();
    h.get_by_label("Compare").click();
    h.run_steps(2);
    h.get_by_label_contains("Converted (").click_accesskit();
    step_until(&mut h, "the comparison", |h| {
        let ws = workspace(h);
        ws.loaded.summary.compare.is_some() && !ws.is_busy()
    });
    h
}

#[test]
fn picking_a_compare_preset_colours_the_map_and_lists_differences() {
    let mut h = demo_compared_by_conversion();
    step_until(&mut h, "the compared map", map_shown);
    let compare = workspace(&h).loaded.summary.compare.clone().unwrap();
    assert!(compare.a.segment.starts_with("did:"));
    // The legend says what is compared.
    h.get_by_label_contains("Each step's share:");
    h.get_by_label("Biggest differences");
    let (from, to, _) = compare
        .biggest()
        .into_iter()
        .find(|(from, to, _)| *from != "START" && to.is_some_and(|t| t != "END"))
        .map(|(a, b, d)| (a.to_owned(), b.map(str::to_owned), *d))
        .expect("a significant band");
    let to = to.unwrap();
    h.get_by_label(&format!("{from} » {to}: moves on")).click();
    h.run_steps(3);
    assert_eq!(map(&h).selected_names(), Some((from, Some(to))));
    h.snapshot("compare_map");
}

#[test]
fn explain_opens_under_a_difference_with_its_top_line() {
    let mut h = demo_compared_by_conversion();
    let compare = workspace(&h).loaded.summary.compare.clone().unwrap();
    // The first row listed is the most significant, explained with the
    // comparison.
    let (from, to, _) = compare.biggest()[0];
    let explanation = explanation_of(&compare, from, to)
        .expect("a significant row carries its explanation")
        .clone();
    let top_line = shown(&explanation.explain_summary);
    let parts: f64 = explanation
        .explain
        .iter()
        .filter(|v| v.property == explanation.explain[0].property)
        .filter_map(|v| v.contribution)
        .sum();
    assert!((parts - 1.0).abs() < 1e-9, "{parts}");
    assert!(h.query_by_label(&top_line).is_none());
    h.get_all_by_label("Explain").next().unwrap().click();
    h.run_steps(3);
    h.get_by_label(&top_line);
    let top = &explanation.explain[0];
    h.get_by_label(&format!("{} = {}", top.property, top.value));
    h.get_all_by_label("Explain").next().unwrap().click();
    h.run_steps(3);
    assert!(h.query_by_label(&top_line).is_none());
}

/// The demo's Funnel tab compared by its "Converted (…) vs not" preset.
fn demo_funnel_compared_by_conversion() -> App {
    let mut h = open_demo();
    h.get_by_label("Funnel").click();
    h.run_steps(2);
    h.get_by_label("Compare").click();
    h.run_steps(2);
    h.get_by_label_contains("Converted (").click_accesskit();
    step_until(&mut h, "the compared funnel", |h| {
        let ws = workspace(h);
        let f = &ws.funnel;
        !ws.is_busy() && !f.is_stale() && f.report().is_some_and(|r| r.compared.is_some())
    });
    h
}

#[test]
fn the_funnel_compares_two_groups_side_by_side() {
    let mut h = demo_funnel_compared_by_conversion();
    let ws = workspace(&h);
    let answer = ws.funnel.report().unwrap().clone();
    let compared = answer.compared.clone().unwrap().expect("a compared funnel");
    assert!(compared.a.segment.starts_with("did:"));
    assert_eq!(compared.rows.len() + 1, ws.funnel.steps.len());
    // Independently: A's first step counts the customers who reached it in
    // sessions of A, by a walk over every customer's sessions here.
    let journeys = ws.loaded.journeys.clone();
    let first = journeys.touchpoint_id(&ws.funnel.steps[0]).unwrap();
    let conversion = journeys
        .touchpoint_id(compared.a.segment.trim_start_matches("did:"))
        .unwrap();
    let reached: u64 = journeys
        .customer_events()
        .filter(|(c, _)| {
            journeys.sessions_of(*c).iter().any(|s| {
                s.iter().any(|e| e.touchpoint == conversion)
                    && s.iter().any(|e| e.touchpoint == first)
            })
        })
        .count() as u64;
    assert_eq!(compared.funnel_a.steps[0].customers, reached);
    // Each row's conversion is its customers over the previous step's.
    for (i, row) in compared.rows.iter().enumerate() {
        assert_eq!(row.a.customers, compared.funnel_a.steps[i + 1].customers);
        assert_eq!(row.a.previous, compared.funnel_a.steps[i].customers);
        assert_eq!(row.b.customers, compared.funnel_b.steps[i + 1].customers);
    }
    h.get_by_label("A: from previous");
    h.get_by_label("B: from previous");
    h.snapshot("compared_funnel");
}

/// The compared funnel explains its significant steps as the map's list
/// explains its rows: the button opens the step's top line, and the values
/// of each property account for the whole change.
#[test]
fn explain_opens_under_a_compared_funnel_step() {
    let mut h = demo_funnel_compared_by_conversion();
    let answer = workspace(&h).funnel.report().unwrap().clone();
    let compared = answer.compared.clone().unwrap().expect("a compared funnel");
    // Exactly the significant steps are explained, with the comparison.
    for row in &compared.rows {
        assert_eq!(
            row.explanation.is_some(),
            row.difference.significant,
            "{}",
            row.touchpoint
        );
    }
    let explained: Vec<_> = compared
        .rows
        .iter()
        .filter_map(|r| r.explanation.as_ref())
        .collect();
    let explanation = *explained.first().expect("a significant step");
    for property in explanation.explain.iter().map(|v| &v.property) {
        let parts: f64 = explanation
            .explain
            .iter()
            .filter(|v| v.property == *property)
            .filter_map(|v| v.contribution)
            .sum();
        assert!((parts - 1.0).abs() < 1e-9, "{property}: {parts}");
    }
    let top_line = shown(&explanation.explain_summary);
    assert!(top_line.starts_with("reaching "), "{top_line}");
    assert!(h.query_by_label(&top_line).is_none());
    assert_eq!(h.get_all_by_label("Explain").count(), explained.len());
    h.get_all_by_label("Explain").next().unwrap().click();
    h.run_steps(3);
    h.get_by_label(&top_line);
    let top = &explanation.explain[0];
    h.get_by_label(&format!("{} = {}", top.property, top.value));
    h.get_all_by_label("Explain").next().unwrap().click();
    h.run_steps(3);
    assert!(h.query_by_label(&top_line).is_none());
}

/// A typed comparison that cannot be made (a column the file does not
/// keep) says why, and the picker goes back to what the map shows instead
/// of naming a comparison nothing was computed for.
#[test]
fn a_typed_comparison_that_fails_gives_way_to_the_one_shown() {
    let mut h = open_demo();
    step_until(&mut h, "the map", map_shown);
    let typed = |n: &egui_kittest::Node<'_>| {
        n.accesskit_node().placeholder() == Some("or type: channel=app vs channel=web")
    };
    h.get_all_by_role(Role::TextInput)
        .find(typed)
        .expect("the typed comparison's field")
        .click();
    h.run_steps(2);
    h.get_all_by_role(Role::TextInput)
        .find(typed)
        .expect("the typed comparison's field")
        .type_text("nosuch=1 vs nosuch=2");
    h.run_steps(1);
    h.get_by_label("Apply").click();
    step_until(&mut h, "the refusal", |h| {
        let ws = workspace(h);
        !ws.is_busy() && ws.reload_error.is_some()
    });
    h.run_steps(3);
    let ws = workspace(&h);
    let why = ws.reload_error.clone().unwrap();
    assert!(why.contains("nosuch"), "{why}");
    assert_eq!(ws.view.compare, None, "the picker names what is shown");
    assert!(ws.loaded.summary.compare.is_none());
    assert!(
        h.get_all_by_label_contains("is not kept for comparing")
            .next()
            .is_some(),
        "the reason is on screen: {why}"
    );
}
