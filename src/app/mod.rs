//! The desktop app: screens, the commands the UI records, and the one place
//! that applies them. Heavy work (loading, layout) runs on worker threads;
//! the UI thread only polls and draws.

pub mod job;
pub mod live;
pub mod loader;
pub mod workspace;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;

use crate::settings::{SAMPLE_NAME, Settings, sample_data_file};
use crate::ui::live_view::{LiveView, live_ui};
use crate::ui::start_screen::StartScreen;
use crate::ui::workspace_view::workspace_ui;
use loader::{Loading, SourceRequest};
use workspace::Workspace;

/// What the user asked for.
#[derive(Debug, Clone)]
pub enum Command {
    /// Open a file or DuckDB database with the current settings.
    OpenPath(PathBuf),
    /// Open a private copy of an input that cannot be read twice (standard
    /// input, a pipe), kept while it is open.
    OpenCopy {
        /// The copy.
        copy: Arc<tempfile::TempPath>,
        /// What the user named ("-", a FIFO's path).
        label: String,
    },
    /// Open the bundled sample data.
    OpenDemo,
    /// Watch a Kafka topic live.
    OpenKafka(Box<live::LiveRequest>),
    /// Stop the load in progress.
    CancelLoad,
    /// Back to the start screen.
    CloseSource,
}

/// Which screen is shown.
pub enum Screen {
    /// Choose a source.
    Start,
    /// A source is loading.
    Loading(Loading),
    /// A source is loaded.
    Map(Box<Workspace>),
    /// A Kafka topic is watched live.
    Live(Box<LiveView>),
}

/// The window icon.
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

const RECENT_KEY: &str = "journeyscope.recent";
const RECENT_LIMIT: usize = 8;

/// The eframe application.
pub struct JourneyscopeApp {
    /// The screen shown.
    pub screen: Screen,
    start: StartScreen,
    recent: Vec<String>,
    settings: Settings,
}

impl JourneyscopeApp {
    /// A new app with mapping `settings` from the command line; `initial`
    /// is applied right away (for `demo` and `open PATH`).
    pub fn new(
        storage: Option<&dyn eframe::Storage>,
        settings: Settings,
        initial: Option<Command>,
        ctx: &egui::Context,
    ) -> Self {
        let recent = storage
            .and_then(|s| eframe::get_value(s, RECENT_KEY))
            .unwrap_or_default();
        // Light unless the user picked otherwise (remembered by egui).
        if storage.is_none_or(|s| s.get_string("egui").is_none()) {
            ctx.options_mut(|o| o.theme_preference = egui::ThemePreference::Light);
        }
        let mut app = JourneyscopeApp {
            screen: Screen::Start,
            start: StartScreen::default(),
            recent,
            settings,
        };
        if let Some(command) = initial {
            app.apply(command, ctx);
        }
        app
    }

    fn open(&mut self, request: SourceRequest, ctx: &egui::Context) {
        let ctx = ctx.clone();
        self.screen = Screen::Loading(Loading::start(request, move || ctx.request_repaint()));
    }

    /// Applies one command.
    pub fn apply(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::OpenPath(path) => {
                let label = path.display().to_string();
                self.start.error = None;
                let request = SourceRequest {
                    path,
                    label,
                    settings: self.settings.clone(),
                    keep_alive: None,
                };
                self.open(request, ctx);
            }
            Command::OpenCopy { copy, label } => {
                self.start.error = None;
                let request = SourceRequest {
                    path: copy.to_path_buf(),
                    label,
                    settings: self.settings.clone(),
                    keep_alive: Some(copy),
                };
                self.open(request, ctx);
            }
            Command::OpenDemo => match sample_data_file() {
                Ok(temp) => {
                    let request = SourceRequest {
                        path: temp.to_path_buf(),
                        label: format!("Demo shop ({SAMPLE_NAME})"),
                        settings: self.settings.clone(),
                        keep_alive: Some(Arc::new(temp)),
                    };
                    self.open(request, ctx);
                }
                Err(e) => self.start.error = Some(format!("{e:#}")),
            },
            Command::OpenKafka(spec) => {
                self.start.error = None;
                let ctx = ctx.clone();
                let feed = live::LiveFeed::start(*spec, self.settings.clone(), move || {
                    ctx.request_repaint()
                });
                self.screen = Screen::Live(Box::new(LiveView::new(feed)));
            }
            Command::CancelLoad => {
                if let Screen::Loading(loading) = &self.screen {
                    loading.cancel();
                }
            }
            Command::CloseSource => self.screen = Screen::Start,
        }
    }

    fn loading_ui(loading: &Loading, ui: &mut egui::Ui) -> Option<Command> {
        let mut command = None;
        ui.vertical_centered(|ui| {
            ui.add_space(120.0);
            ui.heading(format!("Opening {}", loading.label));
            ui.add_space(12.0);
            ui.add(
                egui::ProgressBar::new(0.0)
                    .animate(true)
                    .desired_width(420.0)
                    .text(format!(
                        "{} events read · {} rejected · {:.1} s",
                        crate::format::thousands(loading.events()),
                        crate::format::thousands(loading.rejected()),
                        loading.elapsed_s()
                    )),
            );
            ui.add_space(12.0);
            if ui.button("Cancel").clicked() {
                command = Some(Command::CancelLoad);
            }
        });
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
        command
    }
}

impl eframe::App for JourneyscopeApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let Screen::Loading(loading) = &self.screen
            && let Some(result) = loading.poll()
        {
            match result {
                Ok(loaded) => {
                    // Only sources that opened are remembered; the demo's
                    // temporary file is not.
                    if loaded.request.keep_alive.is_none() {
                        let label = loaded.request.path.display().to_string();
                        self.recent.retain(|p| *p != label);
                        self.recent.insert(0, label);
                        self.recent.truncate(RECENT_LIMIT);
                    }
                    self.screen = Screen::Map(Box::new(Workspace::new(loaded)));
                }
                Err(error) => {
                    self.start.error = Some(error);
                    self.screen = Screen::Start;
                }
            }
        }
        let command = match &mut self.screen {
            Screen::Start => {
                egui::CentralPanel::default()
                    .show(ui, |ui| self.start.start_ui(ui, &self.recent))
                    .inner
            }
            Screen::Loading(loading) => {
                egui::CentralPanel::default()
                    .show(ui, |ui| Self::loading_ui(loading, ui))
                    .inner
            }
            Screen::Map(workspace) => workspace_ui(workspace, ui),
            Screen::Live(view) => live_ui(view, ui, frame.info().cpu_usage),
        };
        if let Some(command) = command {
            self.apply(command, &ui.ctx().clone());
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, RECENT_KEY, &self.recent);
    }
}

/// Opens the desktop window and runs until it is closed. It draws with
/// OpenGL (about three times faster than wgpu where there is no GPU, as
/// under Xvfb), and falls back to wgpu when OpenGL cannot start;
/// `JOURNEYSCOPE_RENDERER=wgpu` asks for wgpu.
pub fn run(settings: Settings, initial: Option<Command>) -> anyhow::Result<()> {
    let wanted = std::env::var("JOURNEYSCOPE_RENDERER").unwrap_or_default();
    if wanted != "wgpu" {
        match run_with(eframe::Renderer::Glow, settings.clone(), initial.clone()) {
            Ok(()) => return Ok(()),
            Err(e) => eprintln!("OpenGL is not available ({e}); drawing with wgpu"),
        }
    }
    run_with(eframe::Renderer::Wgpu, settings, initial)
        .map_err(|e| anyhow!("cannot open the window: {e}"))
}

fn run_with(
    renderer: eframe::Renderer,
    settings: Settings,
    initial: Option<Command>,
) -> Result<(), eframe::Error> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Journeyscope")
            .with_inner_size([1400.0, 860.0])
            .with_drag_and_drop(true)
            .with_icon(eframe::icon_data::from_png_bytes(ICON_PNG).unwrap_or_default()),
        renderer,
        ..Default::default()
    };
    eframe::run_native(
        "Journeyscope",
        options,
        Box::new(move |cc| {
            Ok(Box::new(JourneyscopeApp::new(
                cc.storage,
                settings,
                initial,
                &cc.egui_ctx,
            )))
        }),
    )
}
