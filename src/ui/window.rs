//! The window: the eframe application that owns the app's state and the
//! views' own widget state, draws the screen the state shows, and applies
//! the commands the views recorded, once per frame.

use std::sync::Arc;

use anyhow::anyhow;

use crate::app::{App, Command, Screen};
use crate::settings::Settings;

use super::live_view::{LiveWidgets, live_ui};
use super::start_screen::StartScreen;
use super::workspace_view::{WorkspaceWidgets, workspace_ui};

/// The window icon.
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

const RECENT_KEY: &str = "journeyscope.recent";

/// The views' own state for the screen shown.
enum Widgets {
    None,
    Workspace(Box<WorkspaceWidgets>),
    Live(Box<LiveWidgets>),
}

/// The eframe application.
pub struct Window {
    /// The app's state.
    pub app: App,
    start: StartScreen,
    widgets: Widgets,
    /// The screen the widgets were made for.
    widgets_for: u64,
}

impl Window {
    /// A window with mapping `settings` from the command line; `initial`
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
        let repaint = ctx.clone();
        let mut app = App::new(
            settings,
            recent,
            Arc::new(move || repaint.request_repaint()),
        );
        if let Some(command) = initial {
            app.apply(command);
            // Opened for a source named on the command line: in front, so
            // that no other window is read for it.
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        }
        Window {
            app,
            start: StartScreen::default(),
            widgets: Widgets::None,
            widgets_for: u64::MAX,
        }
    }

    /// The loaded source's widgets (the map…), when that screen is shown.
    pub fn workspace_widgets(&self) -> Option<&WorkspaceWidgets> {
        match &self.widgets {
            Widgets::Workspace(w) => Some(w),
            _ => None,
        }
    }

    /// The live screen's widgets (the map…), when that screen is shown.
    pub fn live_widgets(&self) -> Option<&LiveWidgets> {
        match &self.widgets {
            Widgets::Live(w) => Some(w),
            _ => None,
        }
    }

    /// The window's title: Journeyscope and the source it shows.
    pub fn title(&self) -> String {
        match self.app.source_label() {
            Some(label) => format!("{} — Journeyscope", crate::format::printable(label)),
            None => "Journeyscope".to_owned(),
        }
    }

    /// The widget state for the screen now shown, made anew when it changed
    /// (and the title naming its source).
    fn follow_screen(&mut self, ctx: &egui::Context) {
        if self.widgets_for == self.app.opened {
            return;
        }
        self.widgets_for = self.app.opened;
        ctx.send_viewport_cmd(egui::ViewportCommand::Title(self.title()));
        self.widgets = match &self.app.screen {
            Screen::Map(workspace) => {
                Widgets::Workspace(Box::new(WorkspaceWidgets::new(workspace)))
            }
            Screen::Live(_) => Widgets::Live(Box::default()),
            Screen::Start | Screen::Loading(_) => Widgets::None,
        };
    }

    fn loading_ui(loading: &crate::app::loader::Loading, ui: &mut egui::Ui) -> Option<Command> {
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

impl eframe::App for Window {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.app.poll();
        self.follow_screen(ui.ctx());
        let commands: Vec<Command> = match (&self.app.screen, &mut self.widgets) {
            (Screen::Start, _) => {
                let (recent, error) = (&self.app.recent, self.app.start_error.as_deref());
                let pseudonymizes = self.app.pseudonymizes();
                egui::CentralPanel::default()
                    .show(ui, |ui| {
                        self.start.start_ui(ui, recent, error, pseudonymizes)
                    })
                    .inner
                    .into_iter()
                    .collect()
            }
            (Screen::Loading(loading), _) => egui::CentralPanel::default()
                .show(ui, |ui| Self::loading_ui(loading, ui))
                .inner
                .into_iter()
                .collect(),
            (Screen::Map(workspace), Widgets::Workspace(widgets)) => {
                workspace_ui(workspace, widgets, ui)
            }
            (Screen::Live(live), Widgets::Live(widgets)) => {
                live_ui(live, widgets, ui, frame.info().cpu_usage)
            }
            // The widgets follow the screen next frame.
            _ => {
                ui.ctx().request_repaint();
                Vec::new()
            }
        };
        for command in commands {
            self.app.apply(command);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, RECENT_KEY, &self.app.recent);
    }
}

/// Opens the desktop window and runs until it is closed. It draws with
/// OpenGL (about three times faster than wgpu where there is no GPU, as
/// under Xvfb), and falls back to wgpu when OpenGL cannot start;
/// `JOURNEYSCOPE_RENDERER=wgpu` asks for wgpu. Live engines closed on the
/// way finish saving their state before it returns.
pub fn run(settings: Settings, initial: Option<Command>) -> anyhow::Result<()> {
    if let Some(missing) = no_display() {
        return Err(anyhow!(missing));
    }
    let wanted = std::env::var("JOURNEYSCOPE_RENDERER").unwrap_or_default();
    let outcome = if wanted == "wgpu" {
        run_with(eframe::Renderer::Wgpu, settings, initial).map_err(|e| e.to_string())
    } else {
        match run_with(eframe::Renderer::Glow, settings.clone(), initial.clone()) {
            Ok(()) => Ok(()),
            Err(gl) => {
                log::warn!("OpenGL is not available ({gl}); drawing with wgpu");
                run_with(eframe::Renderer::Wgpu, settings, initial)
                    .map_err(|wgpu| format!("OpenGL: {gl}; Vulkan (wgpu): {wgpu}"))
            }
        }
    };
    crate::app::live::finish_closing();
    outcome.map_err(|e| {
        anyhow!(
            "cannot open the window: neither OpenGL nor Vulkan could draw it ({e}). Install \
             Mesa's drivers (Debian/Ubuntu: sudo apt install libgl1-mesa-dri libegl1 \
             mesa-vulkan-drivers), or print the summary without a window: journeyscope \
             summarize FILE (journeyscope demo --headless for the demo)"
        )
    })
}

/// What to do when there is no display to open a window on (Linux: no
/// X11 or Wayland in the environment), or None.
fn no_display() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") || set("WAYLAND_SOCKET") {
        return None;
    }
    Some(
        "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): run \
         it in a desktop session, or under Xvfb (sudo apt install xvfb; xvfb-run journeyscope \
         demo), or print the summary without a window: journeyscope summarize FILE \
         (journeyscope demo --headless for the demo)"
            .to_owned(),
    )
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
        // Dithering costs every pixel a noise sum; under software GL that
        // is a good part of a frame, and the palette shows no banding.
        dithering: false,
        ..Default::default()
    };
    eframe::run_native(
        "Journeyscope",
        options,
        Box::new(move |cc| {
            Ok(Box::new(Window::new(
                cc.storage,
                settings,
                initial,
                &cc.egui_ctx,
            )))
        }),
    )
}
