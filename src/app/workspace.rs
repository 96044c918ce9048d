//! A loaded source on screen: its views, the settings that shape it, and
//! the background work (re-walking sessions, re-loading) those settings
//! start. The UI thread only polls.

use std::sync::Arc;

use crate::engine::{Anchors, Journeys};
use crate::export::ExportError;
use crate::report::Summary;
use crate::ui::customers::CustomersView;
use crate::ui::funnel::FunnelView;
use crate::ui::journey_map::JourneyMap;
use crate::ui::settings_panel::SettingsForm;

use super::job::Job;
use super::loader::{Loaded, Loading, SourceRequest};

/// The views of a loaded source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The journey map.
    Map,
    /// The funnel.
    Funnel,
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
}

impl ViewSettings {
    /// The session timeout in µs.
    fn timeout_us(&self) -> Option<i64> {
        self.timeout_min.map(|m| (m * 60e6).round() as i64)
    }

    fn of(journeys: &Journeys) -> Self {
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
        }
    }
}

type Recomputed = (Arc<Summary>, Arc<Journeys>);

/// A loaded source and everything shown about it.
pub struct Workspace {
    /// What is on screen now.
    pub loaded: Loaded,
    /// The journey map.
    pub map: JourneyMap,
    /// The view shown.
    pub tab: Tab,
    /// Session and anchor settings as the user set them.
    pub view: ViewSettings,
    applied: ViewSettings,
    recompute: Option<Job<Recomputed>>,
    reloading: Option<Loading>,
    /// Why the last re-load failed.
    pub reload_error: Option<String>,
    /// The customer list and timeline.
    pub customers: CustomersView,
    /// The funnel.
    pub funnel: FunnelView,
    /// Columns and touchpoint rules being edited.
    pub form: SettingsForm,
    /// The outcome of the last export, for the status line.
    pub notice: Option<String>,
    /// What was selected on the map when last seen.
    pub map_selection: Option<(String, Option<String>)>,
    /// An export being written.
    saving: Option<Job<String>>,
}

impl Workspace {
    /// A workspace showing `loaded`.
    pub fn new(loaded: Loaded) -> Self {
        let map = JourneyMap::new(loaded.summary.clone());
        let view = ViewSettings::of(&loaded.journeys);
        let form = SettingsForm::new(&loaded.summary.mapping, &loaded.request.settings);
        let funnel = FunnelView::new(&loaded);
        Workspace {
            map,
            tab: Tab::Map,
            applied: view.clone(),
            view,
            recompute: None,
            reloading: None,
            reload_error: None,
            customers: CustomersView::default(),
            funnel,
            form,
            notice: None,
            map_selection: None,
            saving: None,
            loaded,
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

    /// Writes an export on a worker thread (a PNG takes a moment); its
    /// outcome becomes the notice.
    pub fn save_in_background(
        &mut self,
        ctx: &egui::Context,
        write: impl FnOnce() -> Result<String, ExportError> + Send + 'static,
    ) {
        self.notice = Some("Saving…".into());
        self.saving = Some(Job::spawn("export", ctx, move || {
            write().unwrap_or_else(|e| crate::format::error_chain(&e))
        }));
    }

    /// Receives finished background work and starts what the settings need.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(job) = &self.saving
            && let Some(notice) = job.poll()
        {
            self.notice = Some(notice);
            self.saving = None;
        }
        if let Some(job) = &self.recompute
            && let Some((summary, journeys)) = job.poll()
        {
            self.recompute = None;
            self.show(summary, journeys);
        }
        if let Some(loading) = &self.reloading
            && let Some(result) = loading.poll()
        {
            self.reloading = None;
            match result {
                Ok(loaded) => {
                    self.reload_error = None;
                    self.view = ViewSettings::of(&loaded.journeys);
                    self.applied = self.view.clone();
                    self.form =
                        SettingsForm::new(&loaded.summary.mapping, &loaded.request.settings);
                    self.funnel.retain_known(&loaded.journeys);
                    self.map.set_summary(loaded.summary.clone());
                    self.loaded = loaded;
                    self.customers.invalidate();
                }
                Err(error) => self.reload_error = Some(error),
            }
        }
        if self.recompute.is_none() && self.reloading.is_none() && self.view != self.applied {
            self.start_recompute(ctx);
        }
    }

    fn start_recompute(&mut self, ctx: &egui::Context) {
        let view = self.view.clone();
        self.applied = view.clone();
        let journeys = self.loaded.journeys.clone();
        let summary = self.loaded.summary.clone();
        let funnel = self.loaded.request.settings.funnel.clone();
        self.recompute = Some(Job::spawn("sessions", ctx, move || {
            let anchors = Anchors {
                from: view.from.as_deref().and_then(|n| journeys.touchpoint_id(n)),
                to: view.to.as_deref().and_then(|n| journeys.touchpoint_id(n)),
            };
            let walked = journeys.rewalk(view.timeout_us(), view.collapse_repeats, anchors);
            let summary = Summary::new(&summary.source, &summary.mapping, &walked, funnel.as_ref());
            (Arc::new(summary), Arc::new(walked))
        }));
    }

    fn show(&mut self, summary: Arc<Summary>, journeys: Arc<Journeys>) {
        self.map.set_summary(summary.clone());
        self.loaded.summary = summary;
        self.loaded.journeys = journeys;
        self.customers.invalidate();
        self.funnel.invalidate();
    }

    /// Reads the source again with the columns and rules of the form.
    pub fn reload(&mut self, ctx: &egui::Context) {
        let mut settings = self.loaded.request.settings.clone();
        let rules = match self.form.rules() {
            Ok(rules) => rules,
            Err(e) => {
                self.reload_error = Some(e);
                return;
            }
        };
        settings.source.overrides = self.form.overrides();
        settings.source.wanted_properties = rules.wanted_properties();
        settings.engine.rules = rules;
        settings.engine.session_timeout_us = self.view.timeout_us();
        settings.engine.collapse_repeats = self.view.collapse_repeats;
        let request = SourceRequest {
            settings,
            ..self.loaded.request.clone()
        };
        let ctx = ctx.clone();
        self.reload_error = None;
        self.reloading = Some(Loading::start(request, move || ctx.request_repaint()));
    }
}
