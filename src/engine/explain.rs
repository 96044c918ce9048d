//! Explaining a change: a compared row (a transition's share of its
//! source's outflow, a touchpoint's exit share, a funnel step's
//! conversion) broken down by the values of each kept property.
//!
//! A session belongs to the value its first event has (the value a segment
//! reads); a customer of a funnel to the value of the first event of their
//! first session in the group. With `n` the row's denominator and `x` its
//! numerator on one side, a value `v` has the weight `w = n_v / n` and the
//! share `s = x_v / n_v`, and accounts for
//! `(w_a·s_a − w_b·s_b) / (S_a − S_b)` of the change, `S = x / n`: the
//! values of one property (events without it as "(none)") sum to 1.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::event::Event;
use super::funnel::{FunnelSpec, best_attempt, ratio, step_ids};
use super::journeys::Journeys;
use super::proportions::two_proportion_p;
use super::segment::Condition;
use super::walk::{Markers, Tally};

/// The value of sessions whose first event lacks the property.
pub const NONE_VALUE: &str = "(none)";
/// The values past the busiest [`MAX_VALUES`], told together.
pub const OTHER_VALUES: &str = "(other values)";
/// Values of one property told apart; with more, the busiest are kept.
pub const MAX_VALUES: usize = 12;
/// A value whose own share differs between the groups with a p-value of
/// at least this (two-proportion z-test) is told as "unchanged".
pub const STEADY_P: f64 = 0.01;

/// One value of a property on one side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValueSide {
    /// The value's own share of the step (`s`): transitions / outflow.
    pub share: f64,
    /// The value's part of the row's numerator: transitions taken, exits,
    /// or customers reaching the funnel step.
    pub transitions: u64,
    /// The value's part of the row's denominator: transitions leaving the
    /// source, sessions visiting the touchpoint, or customers reaching the
    /// previous funnel step.
    pub outflow: u64,
    /// The value's share of the row's denominator (`w`): its volume.
    pub weight: f64,
}

/// One value of a kept property, and how much of a row's change it makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueRow {
    /// The property (`channel` or a kept property).
    pub property: String,
    /// The value, [`NONE_VALUE`] or [`OTHER_VALUES`].
    pub value: String,
    /// In group A (now).
    pub a: ValueSide,
    /// In group B (before).
    pub b: ValueSide,
    /// Its part of the row's change, `(w_a·s_a − w_b·s_b) / (S_a − S_b)`;
    /// null when the row did not change.
    pub contribution: Option<f64>,
}

/// A row's change broken down by the values of every kept property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Every value of every kept property, the largest contribution (in
    /// absolute value) first.
    pub explain: Vec<ValueRow>,
    /// The top line in words.
    pub explain_summary: String,
}

/// What one value (or the values told together) counted on one side.
#[derive(Debug, Default)]
struct Counts {
    /// Transitions by (from, to) touchpoint id.
    transitions: FxHashMap<(u32, u32), u64>,
    /// Transitions leaving each touchpoint id.
    outflow: FxHashMap<u32, u64>,
    /// (sessions, exits) by touchpoint id.
    nodes: Vec<(u64, u64)>,
    /// Customers reaching each funnel step.
    reached: Vec<u64>,
}

/// One kept property's values, counted on both sides.
#[derive(Debug)]
struct Property {
    name: String,
    /// Each slot's value name.
    values: Vec<String>,
    /// Per side, per slot.
    counts: [Vec<Counts>; 2],
}

/// The counts behind every explanation of one comparison: each side's
/// sessions walked once per kept property, each value counted apart.
#[derive(Debug)]
pub struct Explainer<'a> {
    sides: [&'a Journeys; 2],
    properties: Vec<Property>,
}

/// The properties `conditions` test, into `out`.
fn properties_in(conditions: &[Condition], out: &mut Vec<String>) {
    for condition in conditions {
        match condition {
            Condition::Property { property, .. } => out.push(property.clone()),
            Condition::Not(inner) => properties_in(inner, out),
            Condition::Did { .. } | Condition::Time { .. } | Condition::Variant(_) => {}
        }
    }
}

impl<'a> Explainer<'a> {
    /// Counts group A's journeys `a` and group B's `b` (each walked with
    /// its group's segment) by every property either keeps but the ones
    /// their segments test, and the funnel's steps when `funnel` is given.
    pub fn new(a: &'a Journeys, b: &'a Journeys, funnel: Option<&FunnelSpec>) -> Self {
        let sides = [a, b];
        let mut names: Vec<String> = a.kept_properties().to_vec();
        for name in b.kept_properties() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        // A property the groups are told apart by (`device=mobile` against
        // the rest) has each value wholly in one group: it explains nothing.
        let mut defining = Vec::new();
        for side in sides {
            if let Some(segment) = &side.segment {
                properties_in(&segment.conditions, &mut defining);
            }
        }
        names.retain(|name| !defining.contains(name));
        let properties = names
            .into_iter()
            .map(|name| {
                let index = sides.map(|j| j.kept_properties().iter().position(|k| *k == name));
                let (values, slots) = slots(sides, index);
                let counts =
                    [0, 1].map(|s| count(sides[s], index[s], &slots[s], values.len(), funnel));
                Property {
                    name,
                    values,
                    counts,
                }
            })
            .collect();
        Explainer { sides, properties }
    }

    /// The transition `from → to`: its share of the outflow from `from`.
    pub fn transition(&self, from: &str, to: &str) -> Explanation {
        let ids = self
            .sides
            .map(|j| (j.touchpoint_id(from), j.touchpoint_id(to)));
        self.explain(&format!("{from} → {to}"), |side, c| match ids[side] {
            (Some(f), Some(t)) => (
                c.transitions.get(&(f, t)).copied().unwrap_or(0),
                c.outflow.get(&f).copied().unwrap_or(0),
            ),
            (Some(f), None) => (0, c.outflow.get(&f).copied().unwrap_or(0)),
            _ => (0, 0),
        })
    }

    /// Touchpoint `name`'s exits: the share of its sessions that end there.
    pub fn exit(&self, name: &str) -> Explanation {
        let ids = self.sides.map(|j| j.touchpoint_id(name));
        self.explain(&format!("leaving at {name}"), |side, c| {
            let (sessions, exits) = ids[side]
                .and_then(|t| c.nodes.get(t as usize).copied())
                .unwrap_or((0, 0));
            (exits, sessions)
        })
    }

    /// Funnel step `step` (1: the second), at `touchpoint`: the conversion
    /// from the previous step. Without the funnel counted, every count is 0.
    pub fn step(&self, step: usize, touchpoint: &str) -> Explanation {
        let label = format!("reaching {touchpoint} from the previous step");
        self.explain(&label, |_, c| {
            let at = |i: usize| c.reached.get(i).copied().unwrap_or(0);
            (at(step), at(step.saturating_sub(1)))
        })
    }

    /// The row whose numerator and denominator `counts(side, counts)`
    /// gives for one value's counts.
    fn explain(&self, label: &str, counts: impl Fn(usize, &Counts) -> (u64, u64)) -> Explanation {
        let mut rows = Vec::new();
        let mut shares = None;
        for p in &self.properties {
            let per_slot: [Vec<(u64, u64)>; 2] =
                [0, 1].map(|s| p.counts[s].iter().map(|c| counts(s, c)).collect());
            let total = per_slot.clone().map(|slots| {
                slots
                    .iter()
                    .fold((0, 0), |(x, n), (xv, nv)| (x + xv, n + nv))
            });
            let share = total.map(|(x, n)| ratio(x, n));
            shares.get_or_insert(share);
            let change = share[0] - share[1];
            for (slot, value) in p.values.iter().enumerate() {
                let side = |s: usize| {
                    let (x, n) = per_slot[s][slot];
                    ValueSide {
                        share: ratio(x, n),
                        transitions: x,
                        outflow: n,
                        weight: ratio(n, total[s].1),
                    }
                };
                let (a, b) = (side(0), side(1));
                if a.outflow == 0 && b.outflow == 0 {
                    continue;
                }
                let part = ratio(a.transitions, total[0].1) - ratio(b.transitions, total[1].1);
                rows.push(ValueRow {
                    property: p.name.clone(),
                    value: value.clone(),
                    a,
                    b,
                    contribution: (change != 0.0).then(|| part / change),
                });
            }
        }
        rows.sort_by(|x, y| {
            let size = |r: &ValueRow| r.contribution.map_or(-1.0, f64::abs);
            size(y).total_cmp(&size(x))
        });
        let explain_summary = match shares {
            Some(shares) => summary(label, shares, &rows),
            None => format!(
                "{label}: no property is kept to explain it by; map a channel column or add \
                 --keep-property NAME"
            ),
        };
        Explanation {
            explain: rows,
            explain_summary,
        }
    }
}

/// Each property value's slot: [`NONE_VALUE`] first, then the values in
/// the order met (A's, then B's); with more than [`MAX_VALUES`] values,
/// the busiest by sessions, the rest in one slot of [`OTHER_VALUES`].
/// Returns the slots' names and, per side, the slot of each value id + 1.
fn slots(sides: [&Journeys; 2], index: [Option<usize>; 2]) -> (Vec<String>, [Vec<usize>; 2]) {
    let named = |s: usize| -> Vec<String> {
        let mut names = vec![NONE_VALUE.to_owned()];
        if let Some(p) = index[s] {
            names.extend(sides[s].property_values(p).map(str::to_owned));
        }
        names
    };
    let names = [named(0), named(1)];
    let mut values: Vec<String> = Vec::new();
    let mut sessions: FxHashMap<&str, u64> = FxHashMap::default();
    for name in names.iter().flatten() {
        if !sessions.contains_key(name.as_str()) {
            sessions.insert(name, 0);
            values.push(name.clone());
        }
    }
    if values.len() > MAX_VALUES {
        for s in 0..2 {
            if let Some(p) = index[s] {
                sides[s].for_each_mapped_session_by(p, |_, v, _| {
                    *sessions.entry(names[s][v as usize].as_str()).or_default() += 1;
                });
            }
        }
        values.sort_by(|x, y| {
            sessions[y.as_str()]
                .cmp(&sessions[x.as_str()])
                .then(x.cmp(y))
        });
        values.truncate(MAX_VALUES);
        values.push(OTHER_VALUES.to_owned());
    }
    let other = values.len() - 1;
    let slot_of = |s: usize| -> Vec<usize> {
        names[s]
            .iter()
            .map(|n| values.iter().position(|v| v == n).unwrap_or(other))
            .collect()
    };
    let slots = [slot_of(0), slot_of(1)];
    (values, slots)
}

/// One side's counts per slot: its sessions walked as the comparison
/// walks them, each into its value's tally; and its funnel, customer by
/// customer.
fn count(
    journeys: &Journeys,
    property: Option<usize>,
    slot_of: &[usize],
    slots: usize,
    funnel: Option<&FunnelSpec>,
) -> Vec<Counts> {
    let mut tallies = vec![Tally::new(0); slots];
    let mut markers = Markers::new(journeys.touchpoint_count());
    let collapse = journeys.config.collapse_repeats;
    let mut session = |c: u32, v: u32, part: &[Event]| {
        markers.next_session(c);
        let steps = part.iter().map(|e| (e.touchpoint, e.time_us));
        tallies[slot_of[v as usize]].session(&mut markers, steps, collapse);
    };
    match property {
        Some(p) => journeys.for_each_mapped_session_by(p, &mut session),
        None => journeys.for_each_mapped_session(|c, part| session(c, 0, part)),
    }
    let mut reached = vec![Vec::new(); slots];
    if let Some(spec) = funnel {
        let ids = step_ids(journeys, spec);
        reached = vec![vec![0u64; ids.len()]; slots];
        let mut times = Vec::with_capacity(ids.len());
        let mut customer = |v: u32, events: &[Event]| {
            best_attempt(events, &ids, spec.within_us, &mut times);
            for count in &mut reached[slot_of[v as usize]][..times.len()] {
                *count += 1;
            }
        };
        match property {
            Some(p) => journeys.for_each_selected_customer_by(p, |_, v, e| customer(v, e)),
            None => journeys.for_each_selected_customer(|_, e| customer(0, e)),
        }
    }
    tallies
        .into_iter()
        .zip(reached)
        .map(|(tally, reached)| {
            let mut counts = Counts {
                nodes: tally.nodes.iter().map(|n| (n.sessions, n.exits)).collect(),
                reached,
                ..Counts::default()
            };
            for e in &tally.edges.edges {
                counts.transitions.insert((e.from, e.to), e.transitions);
                *counts.outflow.entry(e.from).or_default() += e.transitions;
            }
            counts
        })
        .collect()
}

/// A share as people read it: "57 %", "4.5 %".
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p.abs() >= 10.0 || p == 0.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// True when the value's own share is not told apart between the groups.
fn steady(row: &ValueRow) -> bool {
    let (a, b) = (&row.a, &row.b);
    two_proportion_p(a.transitions, a.outflow, b.transitions, b.outflow) >= STEADY_P
}

/// How a value is named in words: `web` for a channel, `plan=pro` else.
fn named(row: &ValueRow) -> String {
    match row.value.as_str() {
        NONE_VALUE => format!("no {}", row.property),
        OTHER_VALUES => format!("other {} values", row.property),
        value if row.property == "channel" => value.to_owned(),
        value => format!("{}={value}", row.property),
    }
}

/// The top line: "add_to_cart → begin_checkout fell 14 pp; web accounts
/// for 92 % of it (57 % → 10 %); app and email unchanged".
fn summary(label: &str, [now, before]: [f64; 2], rows: &[ValueRow]) -> String {
    let Some((top, part)) = rows.first().and_then(|r| Some((r, r.contribution?))) else {
        return format!("{label} did not change ({})", percent(now));
    };
    let pp = (now - before) * 100.0;
    let verb = if pp < 0.0 { "fell" } else { "rose" };
    let size = if pp.abs() >= 10.0 {
        format!("{:.0}", pp.abs())
    } else {
        format!("{:.1}", pp.abs())
    };
    let mut text = format!(
        "{label} {verb} {size} pp ({} → {}); {} accounts for {} of it",
        percent(before),
        percent(now),
        named(top),
        percent(part)
    );
    if steady(top) {
        text += &format!(
            " by volume alone (its part of the traffic {} → {}, its own share steady at {})",
            percent(top.b.weight),
            percent(top.a.weight),
            percent(top.a.share)
        );
    } else {
        text += &format!(" ({} → {})", percent(top.b.share), percent(top.a.share));
    }
    let steady: Vec<String> = rows[1..]
        .iter()
        .filter(|r| r.property == top.property && steady(r))
        .filter(|r| r.a.outflow > 0 && r.b.outflow > 0)
        .map(named)
        .collect();
    if let Some((last, first)) = steady.split_last() {
        let list = match first {
            [] => last.clone(),
            _ => format!("{} and {last}", first.join(", ")),
        };
        text += &format!("; {list} unchanged");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: &str, a: (u64, u64), b: (u64, u64), contribution: f64) -> ValueRow {
        let side = |(x, n): (u64, u64)| ValueSide {
            share: ratio(x, n),
            transitions: x,
            outflow: n,
            weight: 0.5,
        };
        ValueRow {
            property: "channel".into(),
            value: value.into(),
            a: side(a),
            b: side(b),
            contribution: Some(contribution),
        }
    }

    #[test]
    fn the_top_line_names_the_biggest_part_and_the_steady_values() {
        let rows = [
            row("web", (10, 100), (57, 100), 0.92),
            row("app", (40, 100), (40, 100), 0.05),
            row("email", (30, 100), (31, 100), 0.03),
            row("sms", (10, 100), (30, 100), 0.0),
        ];
        let text = summary("a → b", [0.2, 0.34], &rows);
        assert_eq!(
            text,
            "a → b fell 14 pp (34 % → 20 %); web accounts for 92 % of it (57 % → 10 %); \
             app and email unchanged"
        );
    }

    #[test]
    fn a_value_that_only_grew_is_told_by_volume() {
        let mut web = row("web", (50, 100), (50, 100), 0.8);
        (web.a.weight, web.b.weight) = (0.6, 0.3);
        let text = summary("a → b", [0.5, 0.4], &[web]);
        assert!(
            text.contains(
                "web accounts for 80 % of it by volume alone (its part of the \
                 traffic 30 % → 60 %, its own share steady at 50 %)"
            ),
            "{text}"
        );
    }
}
