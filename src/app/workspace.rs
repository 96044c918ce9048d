//! A loaded source on screen, as data: what is shown, the settings that
//! shape it, and the background work (walking sessions again, reading the
//! source again, the customer list, the funnel, one customer's details,
//! exports) those settings start. Views read it and send
//! [`WorkspaceCommand`]s; the UI thread only polls.

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::segment::Condition;
use crate::engine::variants::{compute_all_variants, goal_of, variant_segment};
use crate::engine::{
    Anchors, ExpectedJourney, Journeys, PathsSpec, Segment, TouchpointRules, VariantsSpec,
};
use crate::export::{export_filtered, write_rejected};
use crate::layout::MapFilter;
use crate::report::{Questions, Summary};
use crate::source::MappingOverrides;
pub use crate::source::lookup::CustomerRecord;
use crate::source::lookup::customer_records;

use super::customers::{Customers, ListFilter, ListQuery};
use super::funnel::Funnel;
use super::insight::Comparison;
use super::loader::{Loaded, Loading, SourceRequest};
use super::memo::Memo;
use crate::background::{Progress, Task, Waker};
use crate::engine::triggers::TriggerRule;

/// The views of a loaded source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The journey map.
    Map,
    /// The funnel.
    Funnel,
    /// Paths by step.
    Paths,
    /// The whole journeys taken, ranked.
    Variants,
    /// What the per-customer triggers would have sent.
    Triggers,
    /// Customers and their timelines.
    Customers,
    /// Rejected records.
    Rejected,
}

/// Settings applied by walking the loaded events again (no re-reading).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSettings {
    /// Idle minutes that end a session; None = one session per customer.
    pub timeout_min: Option<f64>,
    /// Merge consecutive repeats of a touchpoint.
    pub collapse_repeats: bool,
    /// "Paths from" anchor (touchpoint name).
    pub from: Option<String>,
    /// "Paths to" anchor (touchpoint name).
    pub to: Option<String>,
    /// What the map, funnel and paths compare (None: nothing).
    pub compare: Option<Comparison>,
    /// The paths view's anchor, depth and touchpoints per step (None: not
    /// computed yet).
    pub paths: Option<PathsSpec>,
    /// The variants every view is restricted to (each its touchpoints,
    /// START and END left out); empty: all sessions.
    pub variants: Vec<Vec<String>>,
    /// Variants listed by the Variants tab (None: not asked for yet).
    pub variants_listed: Option<usize>,
    /// The expected journey, as typed (`a > b > c?`, or a journey's name
    /// from the rules file).
    pub journey: Option<String>,
    /// The per-customer trigger rules backtested.
    pub triggers: Vec<TriggerRule>,
}

impl ViewSettings {
    /// The segment the picked variants make (None: all sessions).
    pub fn variants_segment(&self) -> Option<Segment> {
        (!self.variants.is_empty()).then(|| {
            let text = variant_segment(&self.variants);
            Segment {
                conditions: vec![Condition::Variant(self.variants.clone())],
                text,
            }
        })
    }
}

impl ViewSettings {
    /// The session timeout in µs.
    fn timeout_us(&self) -> Option<i64> {
        self.timeout_min.map(|m| (m * 60e6).round() as i64)
    }

    fn of(journeys: &Journeys, triggers: &[TriggerRule]) -> Self {
        ViewSettings {
            timeout_min: journeys
                .config
                .session_timeout_us
                .map(|us| us as f64 / 60e6),
            collapse_repeats: journeys.config.collapse_repeats,
            from: journeys
                .anchors
                .from
                .map(|t| journeys.touchpoint_name(t).to_owned()),
            to: journeys
                .anchors
                .to
                .map(|t| journeys.touchpoint_name(t).to_owned()),
            compare: None,
            // The loader computes the default paths with the map.
            paths: Some(PathsSpec::default()),
            variants: Vec::new(),
            variants_listed: None,
            journey: None,
            triggers: triggers.to_vec(),
        }
    }
}

/// The columns and rules as typed in the settings panel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormValues {
    /// The chosen columns.
    pub overrides: MappingOverrides,
    /// Rename rules, one `REGEX=NAME` per line.
    pub renames: String,
    /// Split rules, one `EVENT:PROPERTY` per line.
    pub splits: String,
    /// Excluded events, one per line.
    pub excludes: String,
    /// Columns whose values are shown as `hidden`.
    pub hidden: Vec<String>,
    /// Columns kept for comparing (the channel is kept besides).
    pub kept: Vec<String>,
}

impl FormValues {
    /// The rules written, or what is wrong with them.
    pub fn rules(&self) -> Result<TouchpointRules, String> {
        let lines = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        TouchpointRules::parse(
            &lines(&self.renames),
            &lines(&self.splits),
            &lines(&self.excludes),
        )
        .map_err(|e| crate::format::error_chain(&e))
    }
}

/// What an export writes.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportWhat {
    /// The map, edges, summary or graph, by the file's extension, with the
    /// map's sliders.
    Summary(MapFilter),
    /// The rejected records.
    Rejected,
}

/// What a view asks of the workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkspaceCommand {
    /// Show a view.
    ShowTab(Tab),
    /// Walk the loaded events again with these settings.
    SetView(ViewSettings),
    /// Read the source again with these columns and rules.
    Reload(FormValues),
    /// The customer list's search, sort, filter and conversion.
    SetCustomers(ListQuery),
    /// Show this customer's timeline (None: none).
    SelectCustomer(Option<u32>),
    /// The funnel's steps and window.
    SetFunnel {
        /// Touchpoint names, in order.
        steps: Vec<String>,
        /// Conversion window in seconds; None = no limit.
        within_s: Option<i64>,
    },
    /// What is selected on the map: a touchpoint (name, None) or a
    /// transition (from, Some(to)); the customer list follows it.
    SelectOnMap(Option<(String, Option<String>)>),
    /// The customers of these sessions, on their tab.
    ShowCustomersOf(ListFilter),
    /// A step at the end of the funnel, on its tab.
    AddToFunnel(String),
    /// Paths from this touchpoint only.
    PathsFrom(String),
    /// Paths up to this touchpoint only.
    PathsTo(String),
    /// Write a file in the background.
    Export(ExportWhat, PathBuf),
}

type Recomputed = Result<(Arc<Summary>, Arc<Journeys>), String>;

/// One customer's records with all their fields, read from the source
/// (each a [`CustomerRecord`]: the views name it through the app).
pub type Details = Vec<CustomerRecord>;

/// A loaded source and everything shown about it.
pub struct Workspace {
    /// What is on screen now.
    pub loaded: Loaded,
    /// Bumped whenever `loaded` changes (walked again or read again).
    pub generation: u64,
    /// Bumped when the source was read again (the columns may differ).
    pub reloads: u64,
    /// The view shown.
    pub tab: Tab,
    /// Session and anchor settings as the user set them.
    pub view: ViewSettings,
    applied: ViewSettings,
    /// The view behind what is on screen: a comparison that cannot be
    /// made gives way to its comparison again, so the picker never names a
    /// comparison the map does not show.
    shown_view: ViewSettings,
    recompute: Option<Task<Recomputed>>,
    reloading: Option<Loading>,
    /// Why the last re-load (or walk) failed.
    pub reload_error: Option<String>,
    /// The customer list and the customer picked.
    pub customers: Customers,
    /// The funnel.
    pub funnel: Funnel,
    details: Memo<String, Result<Details, String>>,
    /// What is selected on the map.
    pub map_selection: Option<(String, Option<String>)>,
    /// The outcome of the last export, for the status line.
    pub notice: Option<String>,
    saving: Option<Task<String>>,
    wake: Waker,
    /// The expected journeys known by name: the one the command line
    /// gave, and those of the rules file.
    pub journeys_named: Vec<ExpectedJourney>,
}

impl Workspace {
    /// A workspace showing `loaded`; `wake` is called when background work
    /// has news.
    pub fn new(loaded: Loaded, wake: Waker) -> Self {
        let asked = loaded.request.settings.questions.journey.clone();
        let mut journeys_named: Vec<ExpectedJourney> = asked.iter().cloned().collect();
        journeys_named.extend(crate::settings::default_rules_journeys(
            loaded.request.settings.source.time_parser(),
        ));
        let loaded_view = ViewSettings::of(
            &loaded.journeys,
            &loaded.request.settings.questions.triggers,
        );
        // A journey asked for on the command line is walked once open.
        let view = ViewSettings {
            journey: asked.map(|j| j.name),
            ..loaded_view.clone()
        };
        Workspace {
            funnel: Funnel::new(&loaded),
            tab: Tab::Map,
            generation: 0,
            reloads: 0,
            applied: loaded_view.clone(),
            shown_view: loaded_view,
            view,
            recompute: None,
            reloading: None,
            reload_error: None,
            customers: Customers::default(),
            details: Memo::restarting(),
            map_selection: None,
            notice: None,
            saving: None,
            loaded,
            wake,
            journeys_named,
        }
    }

    /// True while settings are being applied in the background.
    pub fn is_busy(&self) -> bool {
        self.recompute.is_some() || self.reloading.is_some()
    }

    /// The re-load in progress, if any.
    pub fn reloading(&self) -> Option<&Loading> {
        self.reloading.as_ref()
    }

    /// The selected customer's records with all their fields: None while
    /// they are read, Err when they cannot be.
    pub fn details(&self) -> Option<Result<&Details, &str>> {
        let customer = self.customers.selected?;
        let name = self.loaded.journeys.customer_name(customer).to_owned();
        match (self.details.value_for(&name), self.details.failure()) {
            (Some(read), _) => Some(match read.as_ref() {
                Ok(records) => Ok(records),
                Err(why) => Err(why.as_str()),
            }),
            (None, Some(why)) if !self.details.is_running() => Some(Err(why)),
            _ => None,
        }
    }

    /// Applies what a view asked for.
    pub fn apply(&mut self, command: WorkspaceCommand) {
        match command {
            WorkspaceCommand::ShowTab(tab) => self.tab = tab,
            WorkspaceCommand::SetView(view) => self.view = view,
            WorkspaceCommand::Reload(form) => self.reload(&form),
            WorkspaceCommand::SetCustomers(query) => {
                if query.filter != self.customers.query.filter {
                    self.customers.selected = None;
                }
                self.customers.query = query;
            }
            WorkspaceCommand::SelectCustomer(customer) => self.customers.selected = customer,
            WorkspaceCommand::SetFunnel { steps, within_s } => {
                self.funnel.steps = steps;
                self.funnel.within_s = within_s;
            }
            WorkspaceCommand::SelectOnMap(selection) => {
                if selection != self.map_selection {
                    // The customer list follows what is clicked on the map.
                    self.customers.query.filter =
                        selection.clone().map(|(a, b)| ListFilter::Map(a, b));
                    self.customers.selected = None;
                    self.map_selection = selection;
                }
            }
            WorkspaceCommand::ShowCustomersOf(filter) => {
                self.customers.query.filter = Some(filter);
                self.customers.selected = None;
                self.tab = Tab::Customers;
            }
            WorkspaceCommand::AddToFunnel(step) => {
                self.funnel.steps.push(step);
                self.tab = Tab::Funnel;
            }
            WorkspaceCommand::PathsFrom(name) => self.view.from = Some(name),
            WorkspaceCommand::PathsTo(name) => self.view.to = Some(name),
            WorkspaceCommand::Export(what, path) => self.export(what, path),
        }
    }

    /// Writes an export on a worker (a PNG takes a moment); its outcome
    /// becomes the notice.
    fn export(&mut self, what: ExportWhat, path: PathBuf) {
        let summary = self.loaded.summary.clone();
        let source = self.loaded.request.path.clone();
        self.notice = Some("Saving…".into());
        self.saving = Some(Task::spawn("export", self.wake.clone(), move |_| {
            let written = match &what {
                ExportWhat::Summary(filter) => export_filtered(&summary, filter, &path, &[&source]),
                ExportWhat::Rejected => write_rejected(&summary.rejected, &path, &[&source]),
            };
            match (written, what) {
                (Ok(()), ExportWhat::Rejected) => {
                    format!("Rejected records saved to {}", path.display())
                }
                (Ok(()), _) => format!("Saved {}", path.display()),
                (Err(e), _) => crate::format::error_chain(&e),
            }
        }));
    }

    /// Receives finished background work and starts what the settings and
    /// views need.
    pub fn poll(&mut self) {
        if let Some(task) = &mut self.saving {
            match task.poll() {
                Progress::Pending => {}
                Progress::Done(notice) | Progress::Failed(notice) => {
                    self.notice = Some(notice);
                    self.saving = None;
                }
            }
        }
        if let Some(task) = &mut self.recompute {
            match task.poll() {
                Progress::Pending => {}
                Progress::Done(Ok((summary, journeys))) => {
                    self.recompute = None;
                    self.reload_error = None;
                    self.shown_view = self.applied.clone();
                    self.show(summary, journeys);
                }
                Progress::Done(Err(why)) | Progress::Failed(why) => {
                    self.recompute = None;
                    self.reload_error = Some(why);
                    // Only a comparison fails a walk: the one shown comes
                    // back, and the view on screen is what was applied (a
                    // change made meanwhile is walked next, with it).
                    if self.view.compare == self.applied.compare {
                        self.view.compare = self.shown_view.compare.clone();
                    }
                    if self.view.journey == self.applied.journey {
                        self.view.journey = self.shown_view.journey.clone();
                    }
                    self.applied = self.shown_view.clone();
                }
            }
        }
        if let Some(loading) = &mut self.reloading
            && let Some(result) = loading.poll()
        {
            self.reloading = None;
            match result {
                Ok(loaded) => {
                    self.reload_error = None;
                    self.applied = ViewSettings::of(
                        &loaded.journeys,
                        &loaded.request.settings.questions.triggers,
                    );
                    self.shown_view = self.applied.clone();
                    // What is compared, and the paths asked for, stay: they
                    // are computed again if they differ from the load's.
                    self.view = ViewSettings {
                        compare: self.view.compare.clone(),
                        paths: self.view.paths.clone(),
                        variants: self.view.variants.clone(),
                        variants_listed: self.view.variants_listed,
                        journey: self.view.journey.clone(),
                        ..self.applied.clone()
                    };
                    self.funnel.retain_known(&loaded.journeys);
                    self.loaded = loaded;
                    self.generation += 1;
                    self.reloads += 1;
                    self.customers.invalidate();
                }
                Err(error) => self.reload_error = Some(error),
            }
        }
        if self.recompute.is_none() && self.reloading.is_none() && self.view != self.applied {
            self.start_recompute();
        }
        let journeys = self.loaded.journeys.clone();
        self.customers.poll(&journeys, &self.wake);
        let parser = self.loaded.request.settings.source.time_parser();
        self.funnel.compare = self.view.compare.as_ref().and_then(|c| c.spec(parser).ok());
        self.funnel.poll(&journeys, &self.wake);
        self.poll_details();
    }

    /// Reads the selected customer's records again, on one worker: picking
    /// another customer drops (cancels) the read in progress.
    fn poll_details(&mut self) {
        let Some(customer) = self.customers.selected else {
            return;
        };
        let name = self.loaded.journeys.customer_name(customer).to_owned();
        let request = self.loaded.request.clone();
        let mapping = self.loaded.summary.mapping.clone();
        let wake = self.wake.clone();
        self.details.want(&name, |name| {
            let name = name.clone();
            Task::spawn("details", wake, move |cancel| {
                let _keep = &request.keep_alive;
                let stop = || cancel.is_cancelled();
                customer_records(
                    &request.path,
                    &request.settings.source,
                    &mapping,
                    &name,
                    &stop,
                )
                .map_err(|e| crate::format::error_chain(&e))
            })
        });
    }

    fn start_recompute(&mut self) {
        let view = self.view.clone();
        self.applied = view.clone();
        let journeys = self.loaded.journeys.clone();
        let summary = self.loaded.summary.clone();
        let funnel = Some(self.funnel.spec()).filter(|f| f.steps.len() > 1);
        let parser = self.loaded.request.settings.source.time_parser();
        let named = self.journeys_named.clone();
        self.recompute = Some(Task::spawn("sessions", self.wake.clone(), move |_| {
            let anchors = Anchors {
                from: view.from.as_deref().and_then(|n| journeys.touchpoint_id(n)),
                to: view.to.as_deref().and_then(|n| journeys.touchpoint_id(n)),
            };
            let journey = view
                .journey
                .as_deref()
                .filter(|j| !j.trim().is_empty())
                .map(|j| crate::settings::expected_journey(j, &named))
                .transpose()
                .map_err(|e| e.to_string())?;
            let segment = view.variants_segment();
            let walked = journeys
                .rewalk_segment(view.timeout_us(), view.collapse_repeats, anchors, segment)
                .map_err(|e| super::insight::in_window_words(&e))?;
            let compare = view
                .compare
                .as_ref()
                .map(|c| c.spec(parser))
                .transpose()
                .map_err(|e| e.to_string())?;
            let questions = Questions {
                funnel: funnel.clone(),
                // The walk is already within the ticked variants, and so
                // are the comparison's groups (`compare::sides`).
                segment: None,
                compare,
                paths: view.paths.clone(),
                // The What changed list explains each row on request.
                explain: true,
                variants: None,
                journey,
                triggers: view.triggers.clone(),
                all_actions: false,
            };
            let mut summary =
                Summary::answer(&summary.source, &summary.mapping, &walked, &questions)
                    .map_err(|e| super::insight::in_window_words(&e))?;
            // The Variants tab lists every variant, the picked ones too.
            summary.variants = view.variants_listed.map(|top| {
                let spec = VariantsSpec { top, goal: None };
                let goal = goal_of(&walked, None, funnel.as_ref());
                compute_all_variants(&walked, &spec, goal.as_ref())
            });
            Ok((Arc::new(summary), Arc::new(walked)))
        }));
    }

    fn show(&mut self, summary: Arc<Summary>, journeys: Arc<Journeys>) {
        self.loaded.summary = summary;
        self.loaded.journeys = journeys;
        self.generation += 1;
        self.customers.invalidate();
        self.funnel.invalidate();
    }

    /// Reads the source again with the columns and rules of `form`.
    fn reload(&mut self, form: &FormValues) {
        let mut settings = self.loaded.request.settings.clone();
        let rules = match form.rules() {
            Ok(rules) => rules,
            Err(e) => {
                self.reload_error = Some(e);
                return;
            }
        };
        settings.source.overrides = form.overrides.clone();
        settings.engine.kept_properties = crate::settings::kept_properties(&form.kept);
        settings.source.wanted_properties =
            crate::settings::wanted_properties(&rules, &settings.engine.kept_properties);
        settings.source.keep_only_chosen = true;
        settings.source.hidden_properties = form.hidden.clone();
        settings.engine.withhold_unmasked_records = settings.source.masks_records();
        settings.engine.rules = rules;
        settings.engine.session_timeout_us = self.view.timeout_us();
        settings.engine.collapse_repeats = self.view.collapse_repeats;
        let request = SourceRequest {
            settings,
            ..self.loaded.request.clone()
        };
        let wake = self.wake.clone();
        self.reload_error = None;
        self.reloading = Some(Loading::start(request, move || wake()));
    }
}
