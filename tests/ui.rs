//! The real app driven through egui_kittest (rendered with wgpu; lavapipe
//! on machines without a GPU): start screen → demo → map, customers,
//! timeline, settings and rejected records, each checked against the
//! engine or an independent count.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::demo_app::*;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use journeyscope::app::Screen;
use journeyscope::app::customers::ListFilter;
use journeyscope::app::workspace::Tab;
use journeyscope::cli::MappingArgs;
use journeyscope::commands::{settings, summarize_path};
use journeyscope::engine::RejectReason;
use journeyscope::format::{plural, thousands};
use journeyscope::layout::EdgeKind;
use journeyscope::settings::sample_data_file;

#[test]
fn start_screen_opens_the_demo_map() {
    let mut h = open_demo();
    let summary = workspace(&h).loaded.summary.clone();
    for touchpoint in [
        "search",
        "product_view",
        "add_to_cart",
        "checkout",
        "purchase",
    ] {
        assert!(summary.nodes.iter().any(|n| n.name == touchpoint));
        // On the map and, for those that lose sessions, in the leave panel.
        assert!(h.query_all_by_label(touchpoint).next().is_some());
    }
    h.get_by_label("Back to sources");
    h.snapshot("demo_map");
}

#[test]
fn clicking_a_node_filters_the_customers_to_those_through_it() {
    let mut h = open_demo();
    let journeys = workspace(&h).loaded.journeys.clone();
    for name in ["checkout", "support_ticket"] {
        click_node(&mut h, name);
        assert_eq!(
            workspace(&h).customers.query.filter,
            Some(ListFilter::Map(name.to_owned(), None)),
            "clicking {name} selects it"
        );
        step_until(&mut h, "the filtered list", customers_ready);
        // Independent count: customers with a session that visits it.
        let id = journeys.touchpoint_id(name).expect("touchpoint");
        let expected: HashSet<u32> = journeys
            .sessions()
            .filter(|(_, sessions)| {
                sessions
                    .iter()
                    .any(|s| s.iter().any(|e| e.touchpoint == id))
            })
            .map(|(c, _)| c)
            .collect();
        let list = workspace(&h).customers.list().expect("list");
        let shown: HashSet<u32> = list.rows.iter().map(|r| r.customer).collect();
        assert_eq!(shown, expected, "customers through {name}");
        let node = workspace(&h)
            .loaded
            .summary
            .nodes
            .iter()
            .find(|n| n.name == name)
            .expect("node")
            .customers;
        assert_eq!(shown.len() as u64, node);
        h.get_by_label_contains(&format!("{name}: {} customers", thousands(node)));
    }
    h.get_by_label("Show these customers").click();
    h.run_steps(3);
    assert_eq!(workspace(&h).tab, Tab::Customers);
    h.get_by_label_contains(&format!(
        "Sessions through support_ticket: {} customers",
        thousands(workspace(&h).customers.list().expect("list").rows.len() as u64)
    ));
}

/// Counts the demo's valid records of `customer` by reading the file
/// directly (zstd + serde_json), duplicates included.
fn raw_records_of(path: &Path, column: &str, customer: &str) -> usize {
    let file = std::fs::File::open(path).expect("demo file");
    let reader = BufReader::new(zstd::Decoder::new(file).expect("zstd"));
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .filter(|v| v.get(column).and_then(|c| c.as_str()) == Some(customer))
        .filter(|v| v.get("event").is_some_and(|e| e.is_string()))
        .count()
}

#[test]
fn opening_a_customer_shows_the_timeline() {
    let mut h = open_demo();
    // The tab comes before the overview's "Customers" row.
    h.get_all_by_label("Customers")
        .next()
        .expect("customers tab")
        .click();
    step_until(&mut h, "the customer list", customers_ready);
    let (customer, name) = {
        let ws = workspace(&h);
        let first = ws.customers.list().expect("list").rows[0];
        (
            first.customer,
            ws.loaded.journeys.customer_name(first.customer).to_owned(),
        )
    };
    h.get_by_label(&name).click();
    h.run_steps(2);
    eprintln!(
        "selected after click: {:?}",
        workspace(&h).customers.selected
    );
    step_until(&mut h, "the timeline's details", |h| {
        workspace(h).details().is_some_and(|d| d.is_ok())
    });
    assert_eq!(workspace(&h).customers.selected, Some(customer));
    let ws = workspace(&h);
    let sessions = ws.loaded.journeys.sessions_of(customer);
    h.get_by_label(&format!("Customer {name}"));
    for i in 1..=sessions.len().min(3) {
        h.get_by_label(&format!("Session {i}"));
    }
    // Every event on the timeline has its record's details, and the
    // details are the customer's records in the file.
    let records = ws.details().expect("records").expect("records read");
    for e in sessions.iter().flat_map(|s| s.iter()) {
        assert!(records.iter().any(|r| r.time_us == e.time_us));
    }
    let column = ws.loaded.summary.mapping.customer.clone();
    let path = ws.loaded.request.path.clone();
    assert_eq!(records.len(), raw_records_of(&path, &column, &name));
    assert!(records.iter().all(|r| !r.properties.is_empty()));
    let first = sessions[0][0].time_us;
    h.snapshot("customer_timeline");

    // Times in the shop's zone: the first session's start, as chrono-tz
    // gives it in New York.
    let new_york = chrono::DateTime::from_timestamp_micros(first)
        .unwrap()
        .with_timezone(&chrono_tz::America::New_York)
        .format("%a %e %b %Y %H:%M")
        .to_string();
    h.get_by_label("times in").click();
    h.run_steps(2);
    h.get_by_label("America/New_York").click();
    h.run_steps(3);
    h.get_by_label_contains(&new_york);
}

#[test]
fn changing_the_session_timeout_recomputes_sessions() {
    let mut h = open_demo();
    let before = workspace(&h).loaded.summary.sessions;
    h.get_by_role_and_label(Role::Slider, "session timeout")
        .set_value_accesskit(5.0);
    step_until(&mut h, "sessions with a 5 min timeout", |h| {
        let ws = workspace(h);
        !ws.is_busy() && ws.loaded.journeys.config.session_timeout_us == Some(5 * 60_000_000)
    });
    // The engine reading the same file with --session-timeout 5m.
    let demo = sample_data_file().expect("demo file");
    let expected =
        summarize_path(&demo, "demo", settings_with("5m")).unwrap_or_else(|_| panic!("summarize"));
    let summary = workspace(&h).loaded.summary.clone();
    assert!(expected.sessions > before);
    assert_eq!(summary.sessions, expected.sessions);
    assert_eq!(summary.edges.len(), expected.edges.len());
    for (a, b) in summary.edges.iter().zip(&expected.edges) {
        assert_eq!(
            (&a.from, &a.to, a.transitions),
            (&b.from, &b.to, b.transitions)
        );
    }
    let shown = thousands(expected.sessions);
    assert!(
        h.query_all_by_label(&shown).next().is_some(),
        "{shown} shown"
    );
}

#[test]
fn a_file_with_bad_lines_shows_the_rejected_panel() {
    // A fixed path, so that the snapshot (which shows it) is the same on
    // every run.
    let dir = std::env::temp_dir().join("journeyscope-ui-test");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("messy.jsonl");
    let mut file = std::fs::File::create(&path).expect("file");
    let injected = [
        (RejectReason::Unparseable, 7u64, "{not json"),
        (
            RejectReason::MissingCustomer,
            5,
            r#"{"event":"home","timestamp":"2026-01-01T10:00:00Z"}"#,
        ),
        (
            RejectReason::BadTimestamp,
            3,
            r#"{"customer_id":"x","event":"home","timestamp":"yesterday"}"#,
        ),
    ];
    for i in 0..300 {
        writeln!(
            file,
            r#"{{"customer_id":"c{}","event":"{}","timestamp":"2026-01-01T10:{:02}:00Z"}}"#,
            i % 40,
            ["home", "search", "cart"][i % 3],
            i % 60
        )
        .expect("write");
        for (_, count, line) in &injected {
            if (i as u64) < *count {
                writeln!(file, "{line}").expect("write");
            }
        }
    }
    drop(file);
    let mut h = harness();
    h.run_steps(2);
    fn path_field(h: &App) -> egui_kittest::Node<'_> {
        h.get_all_by_role(Role::TextInput)
            .next()
            .expect("path field")
    }
    path_field(&h).click();
    h.run_steps(2);
    path_field(&h).type_text(&path.display().to_string());
    h.run_steps(1);
    h.get_by_label("Open").click();
    step_until(&mut h, "the messy file", map_shown);
    h.get_by_label("Rejected (15)").click();
    h.run_steps(3);
    h.get_by_label("Rejected records: 15");
    let rejected = workspace(&h).loaded.summary.rejected.clone();
    for (reason, count, _) in injected {
        assert_eq!(rejected.count(reason), count, "{reason}");
        let label = journeyscope::ui::rejected::describe(reason);
        assert!(h.query_all_by_label(label).next().is_some(), "{label}");
    }
    assert_eq!(rejected.sample.len(), 15);
    assert!(h.query_all_by_label("line 2").next().is_some());
    h.snapshot("rejected");
}

#[test]
fn a_missing_file_shows_the_error_on_the_start_screen() {
    let mut h = harness();
    h.run_steps(2);
    // The first text field is the path; the Kafka form's come after it.
    h.get_all_by_role(Role::TextInput)
        .next()
        .expect("a path field")
        .click();
    h.run_steps(2);
    h.get_all_by_role(Role::TextInput)
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
    assert!(matches!(h.state().app.screen, Screen::Start));
}

#[test]
fn the_funnel_counts_customers_per_step() {
    let mut h = open_demo();
    h.get_by_label("Funnel").click();
    step_until(&mut h, "the funnel", |h| {
        workspace(h).funnel.report().is_some()
    });
    let ws = workspace(&h);
    let report = ws.funnel.report().expect("report").report.clone();
    assert!(
        report.steps.len() >= 3,
        "a default funnel along the main path"
    );
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| s.touchpoint.clone())
            .collect::<Vec<_>>(),
        ws.funnel.steps
    );
    // Independent count for the first step: customers with any such event;
    // later steps can only lose customers.
    let journeys = ws.loaded.journeys.clone();
    let first = journeys
        .touchpoint_id(&report.steps[0].touchpoint)
        .expect("step");
    let reaching = journeys
        .customer_events()
        .filter(|(_, events)| events.iter().any(|e| e.touchpoint == first))
        .count() as u64;
    assert_eq!(report.steps[0].customers, reaching);
    for pair in report.steps.windows(2) {
        assert!(pair[1].customers <= pair[0].customers);
        assert_eq!(pair[1].drop_off, pair[0].customers - pair[1].customers);
    }
    h.get_by_label("Median time from previous");
    h.snapshot("funnel");
}

#[test]
fn picking_another_event_column_reloads_with_it() {
    let mut h = open_demo();
    // The settings sit below the overview in a scrolled panel: act through
    // accessibility, which reaches widgets out of view.
    h.get_by_label("Columns").click_accesskit();
    h.run_steps(2);
    h.get_by_role_and_label(Role::ComboBox, "Event")
        .click_accesskit();
    h.run_steps(2);
    h.get_by_label("channel").click_accesskit();
    h.run_steps(2);
    h.get_by_label("Apply columns and rules").click_accesskit();
    step_until(&mut h, "the re-load by channel", |h| {
        let ws = workspace(h);
        !ws.is_busy() && ws.loaded.summary.mapping.event == "channel" && map(h).layout().is_some()
    });
    // The engine reading the same file with --event channel.
    let demo = sample_data_file().expect("demo file");
    let args = MappingArgs {
        event: Some("channel".into()),
        ..MappingArgs::defaults()
    };
    let Ok(by_channel) = settings(&args, None, None) else {
        panic!("settings")
    };
    let expected =
        summarize_path(&demo, "demo", by_channel).unwrap_or_else(|_| panic!("summarize"));
    let summary = workspace(&h).loaded.summary.clone();
    assert_eq!(summary.events, expected.events);
    assert_eq!(summary.sessions, expected.sessions);
    let names = |s: &journeyscope::report::Summary| {
        s.nodes
            .iter()
            .map(|n| (n.name.clone(), n.events))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&summary), names(&expected));
    assert!(summary.nodes.iter().any(|n| n.name == "ads"));
}

#[test]
fn the_kafka_form_explains_a_lateness_it_cannot_read() {
    let mut h = harness();
    h.run_steps(2);
    for (label, text) in [
        ("Bootstrap servers", "localhost:9092"),
        ("Topic", "shop"),
        ("Allowed lateness", "a while"),
    ] {
        h.get_by_role_and_label(Role::TextInput, label).click();
        h.run_steps(1);
        h.get_by_role_and_label(Role::TextInput, label)
            .type_text(text);
        h.run_steps(1);
    }
    h.get_by_label("Connect").click();
    h.run_steps(2);
    h.get_by_label_contains("allowed lateness `a while`");
    assert!(matches!(h.state().app.screen, Screen::Start));
}

#[test]
fn the_paths_tab_shows_steps_with_other() {
    let mut h = open_demo();
    h.get_by_label("Paths").click();
    step_until(&mut h, "the paths", |h| {
        workspace(h).loaded.summary.paths.is_some()
    });
    let paths = workspace(&h).loaded.summary.paths.clone().unwrap();
    assert_eq!(paths.steps.len(), 6);
    let first = &paths.steps[0];
    assert_eq!(first.sessions, workspace(&h).loaded.summary.sessions);
    assert!(
        first.other.touchpoints > 0,
        "the demo has more than 8 first touchpoints"
    );
    h.get_by_label("Step 1");
    h.get_by_label(&format!(
        "other ({}): {}",
        plural(first.other.touchpoints as usize, "touchpoint"),
        thousands(first.other.sessions)
    ));
    h.snapshot("paths");
}

#[test]
fn where_customers_leave_lists_the_busiest_exit_first() {
    let mut h = open_demo();
    let summary = workspace(&h).loaded.summary.clone();
    let busiest = summary
        .nodes
        .iter()
        .filter(|n| n.name != "START" && n.name != "END")
        .max_by_key(|n| n.exits)
        .unwrap()
        .clone();
    h.get_by_label("Where customers leave");
    // The first row of the panel is the busiest exit: its count follows
    // the touchpoint's name.
    let exits = thousands(busiest.exits);
    h.get_by_label(&exits);
    let names: Vec<String> = h
        .query_all_by_role(Role::Link)
        .filter_map(|n| n.accesskit_node().label())
        .collect();
    assert_eq!(names.first(), Some(&busiest.name), "{names:?}");
    h.query_all_by_label(&busiest.name)
        .find(|n| n.accesskit_node().role() == Role::Link)
        .unwrap()
        .click();
    h.run_steps(3);
    assert_eq!(map(&h).selected_names(), Some((busiest.name.clone(), None)));
    h.snapshot("where_customers_leave");
}

#[test]
fn the_map_opens_on_its_main_flow_with_exits_beside_boxes_and_repeats_as_badges() {
    let mut h = open_demo();
    let summary = workspace(&h).loaded.summary.clone();
    let layout = map(&h).layout().unwrap().clone();
    let visible = map(&h).visible().unwrap().clone();
    // Every touchpoint stays; some transitions are hidden, and counted on
    // screen.
    assert_eq!(layout.nodes.len(), summary.nodes.len());
    let shown: HashSet<(String, String)> = layout
        .edges
        .iter()
        .map(|e| (e.stats.from.clone(), e.stats.to.clone()))
        .collect();
    let hidden: Vec<_> = summary
        .edges
        .iter()
        .filter(|e| !shown.contains(&(e.from.clone(), e.to.clone())))
        .collect();
    assert!(!hidden.is_empty(), "the main flow hides the rarest moves");
    assert_eq!(hidden.len(), visible.hidden_transitions);
    let total: u64 = summary.edges.iter().map(|e| e.transitions).sum();
    let hidden_total: u64 = hidden.iter().map(|e| e.transitions).sum();
    assert!((visible.hidden_transition_share - hidden_total as f64 / total as f64).abs() < 1e-9);
    h.get_all_by_label(&visible.hidden_note().unwrap())
        .next()
        .expect("the hidden share on screen");
    // Every exit is a stub, every repeat a badge, every touchpoint has a
    // way in.
    for e in &summary.edges {
        let placed = layout
            .edges
            .iter()
            .find(|p| p.stats.from == e.from && p.stats.to == e.to);
        if e.to == "END" {
            assert_eq!(placed.map(|p| p.kind), Some(EdgeKind::Exit), "{e:?}");
        } else if e.from == e.to {
            assert_eq!(placed.map(|p| p.kind), Some(EdgeKind::SelfLoop), "{e:?}");
        }
    }
    for n in summary
        .nodes
        .iter()
        .filter(|n| n.name != "START" && n.name != "END")
    {
        assert!(
            layout
                .edges
                .iter()
                .any(|e| e.stats.to == n.name && e.stats.from != n.name),
            "a way into {}",
            n.name
        );
    }
    // Clicking a repeat badge selects the repeats.
    let repeating = summary
        .edges
        .iter()
        .filter(|e| e.from == e.to)
        .max_by_key(|e| e.transitions)
        .unwrap()
        .from
        .clone();
    let badge = map(&h).badge_screen_rect(&repeating).expect("a badge");
    common::pointer::click_at(&mut h, badge.center());
    assert_eq!(
        map(&h).selected_names(),
        Some((repeating.clone(), Some(repeating)))
    );
    h.snapshot("map_at_a_glance");
    // The slider still reaches every transition.
    h.query_all_by_label("of paths")
        .find(|n| n.accesskit_node().role() == Role::Slider)
        .expect("the paths slider")
        .set_value_accesskit(100.0);
    step_until(&mut h, "the whole map", |h| {
        map_shown(h) && map(h).visible().is_some_and(|v| v.hidden_transitions == 0)
    });
    assert_eq!(map(&h).layout().unwrap().edges.len(), summary.edges.len());
}

#[test]
fn the_privacy_switch_pseudonymizes_what_opens_next() {
    let dir = tempfile::tempdir().unwrap_or_else(|_| panic!("temp dir"));
    let key = dir.path().join("pseudonym.key");
    std::fs::write(&key, "a screen key, long enough\n").unwrap_or_else(|_| panic!("key"));
    let mut h = harness();
    h.run_steps(2);
    // Without a key it says how to make one, and stays off.
    h.get_by_label("Pseudonymize customer ids").click();
    h.run_steps(2);
    if std::env::var_os("JOURNEYSCOPE_PSEUDONYMIZE_KEY").is_none() {
        h.get_by_label_contains("needs a secret key");
        assert!(!h.state().app.pseudonymizes());
    }
    h.get_by_role_and_label(Role::TextInput, "Key file").click();
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, "Key file")
        .type_text(&key.display().to_string());
    h.run_steps(1);
    if !h.state().app.pseudonymizes() {
        h.get_by_label("Pseudonymize customer ids").click();
        h.run_steps(2);
    }
    assert!(h.state().app.pseudonymizes());
    h.get_by_label("Open the demo").click();
    step_until(&mut h, "the demo map", map_shown);
    let journeys = workspace(&h).loaded.journeys.clone();
    let pseudonymizer =
        journeyscope::source::pseudonym::Pseudonymizer::new(b"a screen key, long enough");
    let names: Vec<&str> = (0..journeys.customer_count() as u32)
        .map(|id| journeys.customer_name(id))
        .collect();
    assert!(names.len() > 100);
    assert!(
        names.iter().all(|n| n.len() == 17 && n.starts_with('p')),
        "{:?}",
        &names[..3]
    );
    // The demo's first customer, C0000001, under its pseudonym.
    assert!(
        journeys
            .customer_id(&pseudonymizer.pseudonym("C0000001"))
            .is_some()
    );

    // What the window saves (its settings and egui's memory) holds no raw id.
    let mut saved = SavedSettings::default();
    eframe::App::save(h.state_mut(), &mut saved);
    let memory = h.ctx.memory(|m| m.clone());
    eframe::set_value(&mut saved, "egui", &memory);
    let text: String = saved.0.values().cloned().collect();
    assert!(text.len() > 10, "{text}");
    assert!(
        !text.contains("C0000"),
        "a raw id in the saved settings: {text}"
    );
}

/// An eframe storage in memory, to read what the window saves.
#[derive(Default)]
struct SavedSettings(std::collections::BTreeMap<String, String>);

impl eframe::Storage for SavedSettings {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[test]
fn a_ticked_column_is_hidden_once_applied() {
    let mut h = open_demo();
    h.get_by_label("Columns").click_accesskit();
    h.run_steps(2);
    h.get_by_label("Hide the values of").click_accesskit();
    h.run_steps(2);
    h.get_by_role_and_label(Role::CheckBox, "channel")
        .click_accesskit();
    h.run_steps(2);
    h.get_by_label("Apply columns and rules").click_accesskit();
    step_until(&mut h, "the re-load with channel hidden", |h| {
        let ws = workspace(h);
        !ws.is_busy() && ws.loaded.request.settings.source.hidden_properties == ["channel"]
    });
    // Segments by channel now see one value: hidden.
    let journeys = workspace(&h).loaded.journeys.clone();
    let index = journeys
        .kept_properties()
        .iter()
        .position(|p| p == "channel")
        .unwrap_or_else(|| panic!("channel is kept"));
    let values: Vec<&str> = journeys.property_values(index).collect();
    assert_eq!(values, ["hidden"], "{values:?}");
}
