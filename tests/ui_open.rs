//! A window opened on a file from the command line shows that file from
//! its first frame: "Opening FILE" while it loads (never another source's
//! numbers, such as the demo's), then the file's own overview without any
//! input, with the title naming it. A finished load wakes the window at
//! once.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use journeyscope::app::{App as AppState, Command, Screen};
use journeyscope::cli::MappingArgs;
use journeyscope::commands::settings;
use journeyscope::format::thousands;
use journeyscope::generate::{GenerateOptions, write_sample};
use journeyscope::ui::window::Window;

fn shop(dir: &std::path::Path, events: usize) -> std::path::PathBuf {
    let path = dir.join("held-out shop.jsonl");
    write_sample(
        &path,
        &GenerateOptions {
            events,
            seed: 5,
            messy: false,
        },
    )
    .unwrap();
    path
}

fn defaults() -> journeyscope::settings::Settings {
    match settings(&MappingArgs::defaults(), None, None) {
        Ok(s) => s,
        Err(_) => panic!("settings"),
    }
}

#[test]
fn a_file_opened_from_the_command_line_is_shown_from_the_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = shop(dir.path(), 20_000);
    let expected = journeyscope::commands::summarize_path(&path, "shop", defaults())
        .unwrap_or_else(|_| panic!("summary"));
    let open = Command::OpenPath(path.clone());
    let mut h = Harness::builder()
        .with_size([1400.0, 860.0])
        .with_theme(egui::Theme::Light)
        .wgpu()
        .build_eframe(|cc| Window::new(None, defaults(), Some(open), &cc.egui_ctx));
    h.run_steps(1);
    let name = path.display().to_string();
    let first_frame_names_the_file = h
        .query_by_label_contains(&format!("Opening {name}"))
        .is_some()
        || matches!(h.state().app.screen, Screen::Map(_));
    assert!(first_frame_names_the_file, "the first frame names the file");
    assert!(h.query_by_label_contains("Demo").is_none());
    assert!(
        h.state().title().starts_with(&name),
        "{}",
        h.state().title()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(h.state().app.screen, Screen::Map(_)) {
        assert!(Instant::now() < deadline, "the file did not load in 60 s");
        assert!(h.query_by_label_contains("Demo").is_none());
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run_steps(2);
    // The file's own numbers, with no click or key pressed.
    h.get_by_label(&thousands(expected.events));
    h.get_by_label(&thousands(expected.sessions));
    assert!(h.query_by_label_contains("Demo").is_none());
}

#[test]
fn a_finished_load_wakes_the_window_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = shop(dir.path(), 5_000);
    let woken = Arc::new(AtomicU64::new(0));
    let count = woken.clone();
    let mut app = AppState::new(
        defaults(),
        Vec::new(),
        Arc::new(move || {
            count.fetch_add(1, Ordering::SeqCst);
        }),
    );
    app.apply(Command::OpenPath(path));
    let deadline = Instant::now() + Duration::from_secs(60);
    while woken.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no wake within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The wake came with the result: one poll shows it.
    app.poll();
    assert!(
        matches!(app.screen, Screen::Map(_)),
        "the load had finished when it woke the window"
    );
}
