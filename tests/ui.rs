//! The real app driven through egui_kittest (rendered with wgpu; lavapipe
//! on machines without a GPU): start screen → demo → journey map.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use journeyscope::app::{JourneyscopeApp, Screen};
use journeyscope::cli::MappingArgs;
use journeyscope::commands::{Settings, settings};

fn default_settings() -> Settings {
    match settings(&MappingArgs::defaults(), None, None) {
        Ok(s) => s,
        Err(_) => panic!("default settings"),
    }
}

fn harness() -> Harness<'static, JourneyscopeApp> {
    Harness::builder()
        .with_size([1400.0, 860.0])
        .wgpu()
        .build_eframe(|cc| JourneyscopeApp::new(None, default_settings(), None, &cc.egui_ctx))
}

/// Steps the app until the map is laid out (loading and layout run on
/// worker threads).
fn wait_for_map(h: &mut Harness<'static, JourneyscopeApp>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        h.run_steps(1);
        if let Screen::Map(screen) = &h.state().screen
            && screen.map.layout().is_some()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the map did not appear within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

#[test]
fn start_screen_opens_the_demo_map() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Journeyscope");
    h.get_by_label("Open the demo").click();
    wait_for_map(&mut h);
    let Screen::Map(screen) = &h.state().screen else {
        unreachable!()
    };
    let summary = screen.loaded.summary.clone();
    for touchpoint in [
        "search",
        "product_view",
        "add_to_cart",
        "checkout",
        "purchase",
    ] {
        assert!(summary.nodes.iter().any(|n| n.name == touchpoint));
        h.get_by_label(touchpoint);
    }
    h.get_by_label("Back to sources");
    h.snapshot("demo_map");
}

#[test]
fn a_missing_file_shows_the_error_on_the_start_screen() {
    let mut h = harness();
    h.run_steps(2);
    // The first text field is the path; the Kafka form's come after it.
    let path_field = || egui::accesskit::Role::TextInput;
    h.get_all_by_role(path_field())
        .next()
        .expect("a path field")
        .click();
    h.run_steps(2);
    h.get_all_by_role(path_field())
        .next()
        .expect("a path field")
        .type_text("/nonexistent/events.csv");
    h.run_steps(1);
    h.get_by_label("Open").click();
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.query_by_label_contains("cannot read").is_none() {
        assert!(Instant::now() < deadline, "no error shown");
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(matches!(h.state().screen, Screen::Start));
}
