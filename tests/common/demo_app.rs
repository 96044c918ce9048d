//! The real app driven through egui_kittest: the harness, the demo opened,
//! waiting for background work, and clicking a touchpoint on the map.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use journeyscope::app::Screen;
use journeyscope::app::workspace::Workspace;
use journeyscope::cli::MappingArgs;
use journeyscope::commands::settings;
use journeyscope::settings::Settings;
use journeyscope::ui::journey_map::JourneyMap;
use journeyscope::ui::window::Window as JourneyscopeApp;

/// The real app under egui_kittest.
pub type App = Harness<'static, JourneyscopeApp>;

/// The default mapping settings with session timeout `timeout`.
pub fn settings_with(timeout: &str) -> Settings {
    let args = MappingArgs {
        session_timeout: timeout.into(),
        ..MappingArgs::defaults()
    };
    match settings(&args, None, None) {
        Ok(s) => s,
        Err(_) => panic!("settings"),
    }
}

/// The app on its start screen, in a 1400×860 light window.
pub fn harness() -> App {
    Harness::builder()
        .with_size([1400.0, 860.0])
        .with_theme(egui::Theme::Light)
        .wgpu()
        .build_eframe(|cc| JourneyscopeApp::new(None, settings_with("30m"), None, &cc.egui_ctx))
}

/// The open source's workspace.
pub fn workspace(h: &App) -> &Workspace {
    match &h.state().app.screen {
        Screen::Map(ws) => ws,
        _ => panic!("no source is open"),
    }
}

/// The journey map of the open source.
pub fn map(h: &App) -> &JourneyMap {
    &h.state()
        .workspace_widgets()
        .expect("the map's widgets")
        .map
}

/// Steps the app until `done` holds (work runs on worker threads).
pub fn step_until(h: &mut App, what: &str, mut done: impl FnMut(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.run_steps(1);
        if done(h) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(15));
    }
    h.run_steps(3);
}

/// True once the map is laid out and nothing is busy.
pub fn map_shown(h: &App) -> bool {
    let widgets = h.state().workspace_widgets();
    matches!(&h.state().app.screen, Screen::Map(ws)
        if widgets.is_some_and(|w| w.map.layout().is_some() && !w.map.is_laying_out())
            && !ws.is_busy())
}

/// The app with the demo open and its map shown.
pub fn open_demo() -> App {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Journeyscope");
    h.get_by_label("Open the demo").click();
    step_until(&mut h, "the demo map", map_shown);
    h
}

/// True once the customer list is computed for the current inputs.
pub fn customers_ready(h: &App) -> bool {
    let ws = workspace(h);
    ws.customers.list().is_some() && !ws.customers.is_stale()
}

/// Clicks the map at the centre of touchpoint `name`'s box.
pub fn click_node(h: &mut App, name: &str) {
    // Where the box is drawn settles once the panels beside the map (filled
    // by background work) have their size: the same place two frames running.
    let mut rect = None;
    for _ in 0..50 {
        h.run_steps(1);
        let now = map(h).node_screen_rect(name);
        if now.is_some() && now == rect {
            break;
        }
        rect = now;
    }
    let rect = rect.unwrap_or_else(|| panic!("{name} is not on the map"));
    super::pointer::click_at(h, rect.center());
}
