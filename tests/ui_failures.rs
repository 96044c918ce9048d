//! A background worker that fails is said on screen, not a spinner that
//! turns for ever: the real app, driven through egui_kittest, with the
//! customer list's worker made to panic (in a test binary of its own, as
//! the switch is the process's environment).

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use journeyscope::app::Screen;
use journeyscope::background::FAIL_TASK;
use journeyscope::cli::MappingArgs;
use journeyscope::commands::settings;
use journeyscope::ui::window::Window;

#[test]
fn a_worker_that_panics_shows_its_failure_in_the_view() {
    // SAFETY: set before any other thread of this test binary reads the
    // environment (this binary holds this one test).
    unsafe { std::env::set_var(FAIL_TASK, "customers") };
    let Ok(settings) = settings(&MappingArgs::defaults(), None, None) else {
        panic!("settings");
    };
    let mut h = Harness::builder()
        .with_size([1400.0, 860.0])
        .wgpu()
        .build_eframe(|cc| Window::new(None, settings, None, &cc.egui_ctx));
    h.run_steps(2);
    h.get_by_label("Open the demo").click();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(h.state().app.screen, Screen::Map(_)) {
        assert!(Instant::now() < deadline, "the demo did not open");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    h.get_all_by_label("Customers").next().expect("tab").click();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        h.run_steps(1);
        let failed = h
            .query_all_by_label_contains("the customers work failed")
            .next()
            .is_some();
        if failed {
            break;
        }
        assert!(Instant::now() < deadline, "no failure on screen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let Screen::Map(ws) = &h.state().app.screen else {
        panic!("the source closed");
    };
    let why = ws.customers.failure().expect("a failure");
    assert!(why.contains("asked this task to fail"), "{why}");
}
