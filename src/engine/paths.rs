//! Paths by step: sessions as columns of steps. Step 1 is each session's
//! first event (forward), its first event at a touchpoint X (`from`), or
//! its first event at Y with steps counting backwards (`to`). Each step
//! shows its busiest touchpoints and groups the rest as "other"; every count
//! is exact, so the totals reconcile: a step's touchpoints (with "other")
//! hold all of its sessions, and each step loses to the next exactly the
//! sessions that leave (or, backwards, begin) there.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::event::Event;
use super::intern::Interner;
use super::journeys::Journeys;
use super::stats::DurationStats;
use super::walk::is_step;

/// The name of a step's grouped touchpoints.
pub const OTHER: &str = "other";

/// Where step 1 is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PathsAnchor {
    /// The session's first event.
    #[default]
    Start,
    /// The session's first event at this touchpoint; steps go forward.
    From(String),
    /// The session's first event at this touchpoint; steps go backward.
    To(String),
}

/// What the paths view asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathsSpec {
    /// Where step 1 is.
    pub anchor: PathsAnchor,
    /// Steps shown.
    pub depth: usize,
    /// Touchpoints shown per step; the rest are "other".
    pub top: usize,
}

impl Default for PathsSpec {
    fn default() -> Self {
        PathsSpec {
            anchor: PathsAnchor::Start,
            depth: 6,
            top: 8,
        }
    }
}

/// Sessions and exits of one touchpoint at one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AtStep {
    sessions: u64,
    exits: u64,
}

/// Which way a path is read, with the anchor's touchpoint resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    /// From the session's first event.
    Start,
    /// From the session's first event at the anchor, forward.
    From,
    /// From the session's first event at the anchor, backward.
    To,
}

impl AnchorKind {
    /// The kind of `anchor`.
    pub fn of(anchor: &PathsAnchor) -> AnchorKind {
        match anchor {
            PathsAnchor::Start => AnchorKind::Start,
            PathsAnchor::From(_) => AnchorKind::From,
            PathsAnchor::To(_) => AnchorKind::To,
        }
    }
}

/// A session's steps (touchpoint, time) in the order the paths view reads
/// them, step 1 first: from its start, or from its first event at `anchor`
/// forward or backward; None when an anchored session never reaches it.
pub fn path_view(
    events: &[Event],
    kind: AnchorKind,
    anchor: Option<u32>,
    collapse_repeats: bool,
) -> Option<Vec<(u32, i64)>> {
    let mut steps: Vec<(u32, i64)> = Vec::with_capacity(events.len());
    for e in events {
        match steps.last() {
            Some((last, _)) if !is_step(*last, e.touchpoint, collapse_repeats) => {}
            _ => steps.push((e.touchpoint, e.time_us)),
        }
    }
    let at = || anchor.and_then(|t| steps.iter().position(|(s, _)| *s == t));
    match kind {
        AnchorKind::Start => Some(steps),
        AnchorKind::From => at().map(|k| steps[k..].to_vec()),
        AnchorKind::To => at().map(|k| steps[..=k].iter().rev().copied().collect()),
    }
}

/// One link between consecutive steps.
#[derive(Debug, Clone, Default)]
struct Link {
    sessions: u64,
    time: DurationStats,
}

/// The exact counts behind a paths view, by touchpoint id; counts of
/// sessions of different customers merge by adding.
#[derive(Debug, Clone, Default)]
pub struct PathCounts {
    /// Per step (index 0 = step 1): each touchpoint's sessions and exits.
    steps: Vec<FxHashMap<u32, AtStep>>,
    /// Per step s (index s − 1): the links (touchpoint at s, at s + 1).
    links: Vec<FxHashMap<(u32, u32), Link>>,
}

impl PathCounts {
    /// Counts one session (its whole events in order) under `spec`, whose
    /// anchor is the touchpoint id `anchor` (None: no such touchpoint,
    /// only for `from`/`to`).
    pub fn add_session(
        &mut self,
        events: &[Event],
        spec: &PathsSpec,
        anchor: Option<u32>,
        collapse_repeats: bool,
    ) {
        let kind = AnchorKind::of(&spec.anchor);
        let Some(view) = path_view(events, kind, anchor, collapse_repeats) else {
            return;
        };
        let shown = view.len().min(spec.depth);
        if self.steps.len() < shown {
            self.steps.resize_with(shown, FxHashMap::default);
            self.links
                .resize_with(shown.saturating_sub(1), FxHashMap::default);
        }
        for (s, (touchpoint, _)) in view.iter().take(shown).enumerate() {
            let node = self.steps[s].entry(*touchpoint).or_default();
            node.sessions += 1;
            if s + 1 == view.len() {
                node.exits += 1;
            }
            if s + 1 < shown {
                let (next, next_us) = view[s + 1];
                let link = self.links[s].entry((*touchpoint, next)).or_default();
                link.sessions += 1;
                link.time.add_us((next_us - view[s].1).abs());
            }
        }
    }

    /// Adds counts of other customers' sessions.
    pub fn merge(&mut self, other: &PathCounts) {
        if self.steps.len() < other.steps.len() {
            self.steps
                .resize_with(other.steps.len(), FxHashMap::default);
        }
        if self.links.len() < other.links.len() {
            self.links
                .resize_with(other.links.len(), FxHashMap::default);
        }
        for (mine, theirs) in self.steps.iter_mut().zip(&other.steps) {
            for (t, n) in theirs {
                let m = mine.entry(*t).or_default();
                m.sessions += n.sessions;
                m.exits += n.exits;
            }
        }
        for (mine, theirs) in self.links.iter_mut().zip(&other.links) {
            for (k, l) in theirs {
                let m = mine.entry(*k).or_default();
                m.sessions += l.sessions;
                m.time.merge(&l.time);
            }
        }
    }

    /// The view: each step's `top` busiest touchpoints, the rest as
    /// [`OTHER`], and the links between them.
    pub fn report(&self, spec: &PathsSpec, names: &Interner) -> PathsReport {
        let mut steps = Vec::with_capacity(self.steps.len());
        // Per step: which touchpoints are shown by name.
        let mut shown: Vec<FxHashMap<u32, ()>> = Vec::with_capacity(self.steps.len());
        for (s, nodes) in self.steps.iter().enumerate() {
            let mut ranked: Vec<(u32, AtStep)> = nodes.iter().map(|(t, n)| (*t, *n)).collect();
            ranked.sort_by(|(ta, a), (tb, b)| {
                b.sessions
                    .cmp(&a.sessions)
                    .then_with(|| names.name(*ta).cmp(names.name(*tb)))
            });
            let (top, rest) = ranked.split_at(ranked.len().min(spec.top));
            shown.push(top.iter().map(|(t, _)| (*t, ())).collect());
            steps.push(PathStep {
                step: s + 1,
                sessions: ranked.iter().map(|(_, n)| n.sessions).sum(),
                nodes: top
                    .iter()
                    .map(|(t, n)| PathNode {
                        name: names.name(*t).to_owned(),
                        sessions: n.sessions,
                        exits: n.exits,
                    })
                    .collect(),
                other: PathOther {
                    touchpoints: rest.len() as u64,
                    sessions: rest.iter().map(|(_, n)| n.sessions).sum(),
                    exits: rest.iter().map(|(_, n)| n.exits).sum(),
                },
            });
        }
        let mut links = Vec::new();
        for (s, step_links) in self.links.iter().enumerate() {
            let name = |step: usize, t: u32| -> String {
                if shown[step].contains_key(&t) {
                    names.name(t).to_owned()
                } else {
                    OTHER.to_owned()
                }
            };
            let mut grouped: FxHashMap<(String, String), Link> = FxHashMap::default();
            for ((from, to), link) in step_links {
                let g = grouped
                    .entry((name(s, *from), name(s + 1, *to)))
                    .or_default();
                g.sessions += link.sessions;
                g.time.merge(&link.time);
            }
            let mut step: Vec<PathLink> = grouped
                .into_iter()
                .map(|((from, to), link)| PathLink {
                    step: s + 1,
                    from,
                    to,
                    sessions: link.sessions,
                    median_s: link.time.quantiles([0.5]).map(|[m]| m),
                })
                .collect();
            step.sort_by(|a, b| {
                b.sessions
                    .cmp(&a.sessions)
                    .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
            });
            links.extend(step);
        }
        let (anchor, direction) = match &spec.anchor {
            PathsAnchor::Start => ("START".to_owned(), "forward"),
            PathsAnchor::From(x) => (x.clone(), "forward"),
            PathsAnchor::To(y) => (y.clone(), "backward"),
        };
        PathsReport {
            anchor,
            direction,
            depth: spec.depth,
            top: spec.top,
            steps,
            links,
        }
    }
}

/// A touchpoint at a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathNode {
    /// Touchpoint.
    pub name: String,
    /// Sessions at it at this step.
    pub sessions: u64,
    /// Of those, the sessions whose last step (backward: first) this is.
    pub exits: u64,
}

/// A step's touchpoints beyond the busiest ones, together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathOther {
    /// How many touchpoints.
    pub touchpoints: u64,
    /// Their sessions.
    pub sessions: u64,
    /// Their exits.
    pub exits: u64,
}

/// One step (column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    /// 1 for the anchor.
    pub step: usize,
    /// Sessions reaching this step.
    pub sessions: u64,
    /// The busiest touchpoints, busiest first.
    pub nodes: Vec<PathNode>,
    /// The rest.
    pub other: PathOther,
}

/// Sessions going from one step to the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathLink {
    /// From step `step` to `step + 1`.
    pub step: usize,
    /// Touchpoint at `step` (or [`OTHER`]).
    pub from: String,
    /// Touchpoint at `step + 1` (or [`OTHER`]).
    pub to: String,
    /// Sessions.
    pub sessions: u64,
    /// Median time between the two events, in seconds.
    pub median_s: Option<f64>,
}

/// The paths view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathsReport {
    /// `START`, or the touchpoint of `from` / `to`.
    pub anchor: String,
    /// `forward` or `backward`.
    pub direction: &'static str,
    /// Steps asked for.
    pub depth: usize,
    /// Touchpoints per step.
    pub top: usize,
    /// The steps reached, step 1 first.
    pub steps: Vec<PathStep>,
    /// The links, by step, busiest first.
    pub links: Vec<PathLink>,
}

/// The paths of the sessions of `journeys` (its segment applies; the map's
/// anchors do not, the view has its own).
pub fn compute_paths(journeys: &Journeys, spec: &PathsSpec) -> PathsReport {
    let anchor = match &spec.anchor {
        PathsAnchor::Start => None,
        PathsAnchor::From(t) | PathsAnchor::To(t) => journeys.touchpoint_id(t),
    };
    let mut counts = PathCounts::default();
    let unknown = spec.anchor != PathsAnchor::Start && anchor.is_none();
    if !unknown {
        let collapse = journeys.config.collapse_repeats;
        journeys.for_each_selected_session(|_, session| {
            counts.add_session(session, spec, anchor, collapse)
        });
    }
    counts.report(spec, journeys.touchpoint_names())
}
