//! Paths by step against a brute force over session sequences: per step,
//! per touchpoint and per link, forward, from a touchpoint and to one, with
//! and without merged repeats; and the reconciliation identities.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Ev, close, median};
use journeyscope::engine::paths::AnchorKind;
use journeyscope::engine::{
    Journeys, PathsAnchor, PathsReport, PathsSpec, Selection, compute_paths, customer_rows,
};
use proptest::prelude::*;

const TIMEOUT_US: i64 = 600 * 1_000_000;
const NAMES: [&str; 6] = ["home", "search", "product", "cart", "buy", "help"];

fn events_strategy() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0u8..8, 0u8..6, 0i64..7_200), 0..160).prop_map(|raw| {
        raw.into_iter()
            .map(|(c, e, t)| Ev {
                customer: format!("c{c}"),
                event: NAMES[e as usize].to_owned(),
                time_us: t * 1_000_000,
            })
            .collect()
    })
}

fn journeys_of(events: &[Ev], collapse: bool) -> Journeys {
    common::journeys_of(events, TIMEOUT_US, collapse)
}

fn paths_of(events: &[Ev], collapse: bool, spec: &PathsSpec) -> PathsReport {
    compute_paths(&journeys_of(events, collapse), spec)
}

/// Each session's steps (touchpoint, time in s), brute force: by customer,
/// stable by time, cut at gaps over the timeout, repeats merged (keeping
/// the first time) when asked.
fn sessions(events: &[Ev], collapse: bool) -> Vec<Vec<(String, f64)>> {
    customer_sessions(events, collapse)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// Like [`sessions`], each with its customer.
fn customer_sessions(events: &[Ev], collapse: bool) -> Vec<(String, Vec<(String, f64)>)> {
    let mut by_customer: BTreeMap<&str, Vec<&Ev>> = BTreeMap::new();
    for e in events {
        by_customer.entry(&e.customer).or_default().push(e);
    }
    let mut out = Vec::new();
    for (customer, mut list) in by_customer {
        list.sort_by_key(|e| e.time_us);
        let mut current: Vec<(String, f64)> = Vec::new();
        for (i, e) in list.iter().enumerate() {
            if i > 0 && e.time_us - list[i - 1].time_us > TIMEOUT_US {
                out.push((customer.to_owned(), std::mem::take(&mut current)));
            }
            if collapse && current.last().is_some_and(|(t, _)| *t == e.event) {
                continue;
            }
            current.push((e.event.clone(), e.time_us as f64 / 1e6));
        }
        if !current.is_empty() {
            out.push((customer.to_owned(), current));
        }
    }
    out
}

/// The brute-force view of every session: step 1 first.
fn views(sessions: &[Vec<(String, f64)>], anchor: &PathsAnchor) -> Vec<Vec<(String, f64)>> {
    sessions
        .iter()
        .filter_map(|s| match anchor {
            PathsAnchor::Start => Some(s.clone()),
            PathsAnchor::From(x) => {
                let k = s.iter().position(|(t, _)| t == x)?;
                Some(s[k..].to_vec())
            }
            PathsAnchor::To(y) => {
                let k = s.iter().position(|(t, _)| t == y)?;
                Some(s[..=k].iter().rev().cloned().collect())
            }
        })
        .collect()
}

fn check(events: &[Ev], collapse: bool, spec: &PathsSpec) -> Result<(), TestCaseError> {
    let got = paths_of(events, collapse, spec);
    let views = views(&sessions(events, collapse), &spec.anchor);
    let deepest = views
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .min(spec.depth);
    prop_assert_eq!(got.steps.len(), deepest);
    // Per step: sessions and exits of every touchpoint.
    let mut shown: Vec<Vec<String>> = Vec::new();
    for (s, step) in got.steps.iter().enumerate() {
        let mut at: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for v in views.iter().filter(|v| v.len() > s) {
            let e = at.entry(v[s].0.clone()).or_default();
            e.0 += 1;
            if v.len() == s + 1 {
                e.1 += 1;
            }
        }
        let mut ranked: Vec<(String, (u64, u64))> = at.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        let (top, rest) = ranked.split_at(ranked.len().min(spec.top));
        prop_assert_eq!(step.step, s + 1);
        prop_assert_eq!(
            step.sessions,
            views.iter().filter(|v| v.len() > s).count() as u64
        );
        let named: Vec<(String, u64, u64)> = step
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.sessions, n.exits))
            .collect();
        let want: Vec<(String, u64, u64)> =
            top.iter().map(|(n, (a, b))| (n.clone(), *a, *b)).collect();
        prop_assert_eq!(named, want);
        prop_assert_eq!(step.other.touchpoints, rest.len() as u64);
        prop_assert_eq!(step.other.sessions, rest.iter().map(|r| r.1.0).sum::<u64>());
        prop_assert_eq!(step.other.exits, rest.iter().map(|r| r.1.1).sum::<u64>());
        // The identities: the step's touchpoints hold all its sessions, and
        // the next step has all but those that left.
        let held: u64 = step.nodes.iter().map(|n| n.sessions).sum::<u64>() + step.other.sessions;
        prop_assert_eq!(held, step.sessions);
        if let Some(next) = got.steps.get(s + 1) {
            let exits: u64 = step.nodes.iter().map(|n| n.exits).sum::<u64>() + step.other.exits;
            prop_assert_eq!(next.sessions, step.sessions - exits);
        }
        shown.push(top.iter().map(|(n, _)| n.clone()).collect());
    }
    // Links, with grouped ends as "other", and their median times.
    let mut links: BTreeMap<(usize, String, String), Vec<f64>> = BTreeMap::new();
    for v in &views {
        for s in 0..v.len().min(spec.depth).saturating_sub(1) {
            let name = |step: usize, t: &String| {
                if shown[step].contains(t) {
                    t.clone()
                } else {
                    "other".to_owned()
                }
            };
            links
                .entry((s + 1, name(s, &v[s].0), name(s + 1, &v[s + 1].0)))
                .or_default()
                .push((v[s + 1].1 - v[s].1).abs());
        }
    }
    prop_assert_eq!(got.links.len(), links.len());
    for link in &got.links {
        let key = (link.step, link.from.clone(), link.to.clone());
        let want = links.get(&key);
        prop_assert!(want.is_some(), "unexpected link {:?}", key);
        let mut times = want.unwrap().clone();
        prop_assert_eq!(link.sessions, times.len() as u64);
        let m = median(&mut times);
        prop_assert!(
            close(link.median_s.unwrap(), m),
            "{:?}: {:?} vs {}",
            key,
            link.median_s,
            m
        );
    }
    Ok(())
}

fn anchor_strategy() -> impl Strategy<Value = PathsAnchor> {
    prop_oneof![
        Just(PathsAnchor::Start),
        (0usize..6).prop_map(|i| PathsAnchor::From(NAMES[i].to_owned())),
        (0usize..6).prop_map(|i| PathsAnchor::To(NAMES[i].to_owned())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn paths_equal_a_brute_force_over_sessions(
        events in events_strategy(),
        collapse in any::<bool>(),
        anchor in anchor_strategy(),
        depth in 1usize..7,
        top in 1usize..5,
    ) {
        check(&events, collapse, &PathsSpec { anchor, depth, top })?;
    }
}

#[test]
fn an_anchor_the_data_does_not_have_gives_no_steps() {
    let events = vec![Ev {
        customer: "c".into(),
        event: "home".into(),
        time_us: 0,
    }];
    let spec = PathsSpec {
        anchor: PathsAnchor::From("nowhere".into()),
        ..PathsSpec::default()
    };
    assert!(paths_of(&events, false, &spec).steps.is_empty());
    let spec = PathsSpec::default();
    assert_eq!(paths_of(&events, false, &spec).steps[0].nodes[0].exits, 1);
}

/// The customers a click on a step's box (or link) lists: every customer
/// with a session at that touchpoint at that step (then at the next one),
/// against the brute-force views.
fn check_step_customers(
    events: &[Ev],
    collapse: bool,
    anchor: &PathsAnchor,
) -> Result<(), TestCaseError> {
    let journeys = journeys_of(events, collapse);
    let id = |name: &str| journeys.touchpoint_id(name);
    let anchor_id = match anchor {
        PathsAnchor::Start => None,
        PathsAnchor::From(x) | PathsAnchor::To(x) => match id(x) {
            Some(t) => Some(t),
            None => return Ok(()),
        },
    };
    let mut want: BTreeMap<(usize, String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for (customer, session) in customer_sessions(events, collapse) {
        for view in views(std::slice::from_ref(&session), anchor) {
            for s in 0..view.len() {
                let t = view[s].0.clone();
                let next = view.get(s + 1).map(|v| v.0.clone());
                for n in [None, next] {
                    want.entry((s + 1, t.clone(), n))
                        .or_default()
                        .insert(customer.clone());
                }
            }
        }
    }
    for ((step, touchpoint, next), customers) in &want {
        let selection = Selection::PathStep {
            kind: AnchorKind::of(anchor),
            anchor: anchor_id,
            step: *step,
            touchpoint: id(touchpoint).unwrap(),
            next: next.as_deref().map(|n| id(n).unwrap()),
        };
        let got: BTreeSet<String> = customer_rows(&journeys, Some(selection), None)
            .iter()
            .map(|r| journeys.customer_name(r.customer).to_owned())
            .collect();
        prop_assert_eq!(
            &got,
            customers,
            "step {} at {} then {:?}",
            step,
            touchpoint,
            next
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn a_step_lists_the_customers_of_its_sessions(
        events in events_strategy(),
        collapse in any::<bool>(),
        anchor in anchor_strategy(),
    ) {
        check_step_customers(&events, collapse, &anchor)?;
    }
}
