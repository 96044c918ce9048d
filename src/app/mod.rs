//! The desktop app's state, as data: the screen shown and what is open on
//! it, the commands the views record, and the one place that applies them.
//! Heavy work (loading, walking sessions, lists, details, the live engine)
//! runs on background tasks; the UI thread only polls and draws. The
//! window and the views that draw this state are in [`crate::ui`].

pub mod alert_rules;
pub mod customers;
pub mod funnel;
pub mod insight;
pub mod live;
pub mod loader;
pub mod memo;
pub mod workspace;

use std::path::PathBuf;
use std::sync::Arc;

use crate::background::Waker;
use crate::settings::{SAMPLE_NAME, Settings, sample_data_file};
use live::{LiveCommand, LiveScreen};
use loader::{Loading, SourceRequest};
use workspace::{Workspace, WorkspaceCommand};

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
    /// Pseudonymize customer ids in what is opened next (with the key in
    /// the file, or in the environment when None), or stop.
    SetPseudonymize {
        /// On or off.
        on: bool,
        /// The key file.
        key_file: Option<PathBuf>,
    },
    /// Stop the load in progress.
    CancelLoad,
    /// Back to the start screen.
    CloseSource,
    /// Something for the loaded source's screen.
    Workspace(WorkspaceCommand),
    /// Something for the live screen.
    Live(LiveCommand),
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
    Live(Box<LiveScreen>),
}

/// How many recent sources are remembered.
const RECENT_LIMIT: usize = 8;

/// The whole state of the app.
pub struct App {
    /// The screen shown.
    pub screen: Screen,
    /// Recent sources, newest first.
    pub recent: Vec<String>,
    /// Why the last source could not be opened.
    pub start_error: Option<String>,
    settings: Settings,
    /// Bumped whenever a new screen opens.
    pub opened: u64,
    /// The window and comparison of the last live screen, for the next.
    live_choices: Option<live::LiveChoices>,
    wake: Waker,
}

impl App {
    /// The app at its start screen with mapping `settings` from the command
    /// line and the `recent` sources remembered; `wake` asks for a repaint.
    pub fn new(settings: Settings, recent: Vec<String>, wake: Waker) -> Self {
        App {
            screen: Screen::Start,
            recent,
            start_error: None,
            settings,
            opened: 0,
            live_choices: None,
            wake,
        }
    }

    fn open(&mut self, request: SourceRequest) {
        let wake = self.wake.clone();
        self.start_error = None;
        self.set_screen(Screen::Loading(Loading::start(request, move || wake())));
    }

    /// True when customer ids are pseudonymized as sources are read.
    pub fn pseudonymizes(&self) -> bool {
        self.settings.source.pseudonymize.is_some()
    }

    fn set_screen(&mut self, screen: Screen) {
        if let Screen::Live(live) = &self.screen {
            self.live_choices = Some(live.choices());
        }
        self.screen = screen;
        self.opened += 1;
    }

    /// Applies one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::OpenPath(path) => {
                let label = path.display().to_string();
                let request = SourceRequest {
                    path,
                    label,
                    settings: self.settings.clone(),
                    keep_alive: None,
                };
                self.open(request);
            }
            Command::OpenCopy { copy, label } => {
                let request = SourceRequest {
                    path: copy.to_path_buf(),
                    label,
                    settings: self.settings.clone(),
                    keep_alive: Some(copy),
                };
                self.open(request);
            }
            Command::OpenDemo => match sample_data_file() {
                Ok(temp) => {
                    let request = SourceRequest {
                        path: temp.to_path_buf(),
                        label: format!("Demo shop ({SAMPLE_NAME})"),
                        settings: self.settings.clone(),
                        keep_alive: Some(Arc::new(temp)),
                    };
                    self.open(request);
                }
                Err(e) => {
                    self.start_error = Some(format!(
                        "cannot write the sample data to a temporary file: {e}"
                    ))
                }
            },
            Command::SetPseudonymize { on, key_file } => {
                let pseudonyms = match on {
                    false => None,
                    true => match crate::settings::pseudonymizer_of(key_file.as_deref()) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            self.start_error = Some(e.to_string());
                            return;
                        }
                    },
                };
                self.start_error = None;
                self.settings.source.pseudonymize = pseudonyms;
                self.settings.engine.withhold_unmasked_records =
                    self.settings.source.masks_records();
            }
            Command::OpenKafka(request) => {
                self.start_error = None;
                let screen = LiveScreen::start(*request, self.settings.clone(), self.wake.clone());
                self.set_screen(Screen::Live(Box::new(screen)));
                if let (Screen::Live(live), Some(choices)) = (&mut self.screen, self.live_choices) {
                    live.choose(choices);
                }
            }
            Command::CancelLoad => {
                if let Screen::Loading(loading) = &self.screen {
                    loading.cancel();
                }
            }
            Command::CloseSource => self.set_screen(Screen::Start),
            Command::Workspace(command) => {
                if let Screen::Map(workspace) = &mut self.screen {
                    workspace.apply(command);
                }
            }
            Command::Live(command) => {
                if let Screen::Live(live) = &mut self.screen {
                    live.apply(command);
                }
            }
        }
    }

    /// What the screen shows, as the window's title names it: the source
    /// being opened or shown (None on the start screen).
    pub fn source_label(&self) -> Option<&str> {
        match &self.screen {
            Screen::Start => None,
            Screen::Loading(loading) => Some(&loading.label),
            Screen::Map(workspace) => Some(&workspace.loaded.request.label),
            Screen::Live(live) => Some(live.label()),
        }
    }

    /// Receives finished background work.
    pub fn poll(&mut self) {
        match &mut self.screen {
            Screen::Loading(loading) => match loading.poll() {
                None => {}
                Some(Ok(loaded)) => {
                    // Only sources that opened are remembered; temporary
                    // files (the demo, a copy of standard input) are not.
                    if loaded.request.keep_alive.is_none() {
                        let label = loaded.request.path.display().to_string();
                        self.recent.retain(|p| *p != label);
                        self.recent.insert(0, label);
                        self.recent.truncate(RECENT_LIMIT);
                    }
                    let workspace = Workspace::new(loaded, self.wake.clone());
                    self.set_screen(Screen::Map(Box::new(workspace)));
                }
                Some(Err(error)) => {
                    self.start_error = Some(error);
                    self.set_screen(Screen::Start);
                }
            },
            Screen::Map(workspace) => workspace.poll(),
            Screen::Live(live) => live.poll(),
            Screen::Start => {}
        }
    }
}
