//! The live screen driven through egui_kittest against a real broker:
//! connecting from the start screen, customers and timelines, and resuming
//! from a saved state.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::broker::*;
use egui_kittest::Harness;
use journeyscope::app::customers::Customers;
use journeyscope::app::live::LiveSnapshot;
use journeyscope::app::{Command, Screen};
use journeyscope::ui::journey_map::JourneyMap;
use journeyscope::ui::window::Window as JourneyscopeApp;

/// What the tests read of the live screen: the app's state and the map.
struct LiveView<'a> {
    latest: &'a Option<LiveSnapshot>,
    customers: &'a Customers,
    map: Option<&'a JourneyMap>,
}

/// The real app with default settings, light theme, opening `initial`.
fn app(initial: Option<Command>) -> Harness<'static, JourneyscopeApp> {
    let args = journeyscope::cli::MappingArgs::defaults();
    let Ok(settings) = journeyscope::commands::settings(&args, None, None) else {
        panic!("settings")
    };
    Harness::builder()
        .with_size([1400.0, 860.0])
        .with_theme(egui::Theme::Light)
        .wgpu()
        .build_eframe(move |cc| JourneyscopeApp::new(None, settings, initial, &cc.egui_ctx))
}

/// The live screen on `topic` from its earliest offset, showing `window`
/// compared with the previous window.
fn live_compared(broker: &Broker, topic: &str, window: &str) -> Harness<'static, JourneyscopeApp> {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    use journeyscope::app::live::LiveRequest;

    let request = LiveRequest {
        spec: earliest(broker, topic),
        state: None,
        lateness_us: 5 * 60 * 1_000_000,
        alerts: Vec::new(),
        alerts_file: None,
        alert_outputs: Default::default(),
        triggers: Vec::new(),
        trigger_outputs: Default::default(),
        merged: None,
    };
    let mut h = app(Some(Command::OpenKafka(Box::new(request))));
    wait_live(&mut h, 60, "no map", |view| view.map.map(|_| ()));
    h.get_by_role_and_label(Role::ComboBox, "Show").click();
    h.run_steps(2);
    h.get_by_label(window).click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::ComboBox, "Compare with")
        .click();
    h.run_steps(2);
    h.get_by_label("the previous window").click();
    h
}

/// Reading `topic` from the earliest offset, columns detected.
fn earliest(broker: &Broker, topic: &str) -> journeyscope::source::kafka::KafkaSpec {
    use journeyscope::source::kafka::{KafkaSpec, StartAt};
    KafkaSpec {
        detect_wait: Duration::from_secs(20),
        ..KafkaSpec::new(broker.brokers(), topic, StartAt::Earliest, Vec::new())
    }
}

/// The live screen the app shows.
fn live_view<'h>(h: &'h Harness<'_, JourneyscopeApp>) -> LiveView<'h> {
    let Screen::Live(live) = &h.state().app.screen else {
        panic!("not on the live screen")
    };
    LiveView {
        latest: &live.latest,
        customers: &live.customers,
        map: h.state().live_widgets().and_then(|w| w.map.as_ref()),
    }
}

/// Runs frames until `ready` finds what it waits for on the live screen,
/// failing with `what` after `seconds`.
fn wait_live<T>(
    h: &mut Harness<'_, JourneyscopeApp>,
    seconds: u64,
    what: &str,
    mut ready: impl FnMut(&LiveView<'_>) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        h.run_steps(1);
        if let Some(found) = ready(&live_view(h)) {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// The live screen, driven through egui_kittest: the Kafka form on the
/// start screen connects, and the counts on screen reach those of the file.
#[test]
fn the_live_screen_shows_the_stream_as_it_arrives() {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;

    let (broker, dir) = with_topic("war-room");
    let file = generated(dir.path(), "events.jsonl", 6_000, false);
    produce(&broker, "war-room", &file);
    let expected = summarize_json(&file);

    let mut h = app(None);
    h.run_steps(2);
    // The generated events include some up to 5 minutes late.
    for (label, text) in [
        ("Bootstrap servers", broker.brokers()),
        ("Topic", "war-room".into()),
        ("Allowed lateness", "5m".into()),
    ] {
        h.get_by_role_and_label(Role::TextInput, label).click();
        h.run_steps(1);
        h.get_by_role_and_label(Role::TextInput, label)
            .type_text(&text);
        h.run_steps(1);
    }
    h.get_by_role_and_label(Role::ComboBox, "Start at").click();
    h.run_steps(2);
    h.get_by_label("earliest").click();
    h.run_steps(2);
    h.get_by_label("Connect").click();
    let consumed = lines(&file).iter().filter(|l| !l.trim().is_empty()).count() as u64;
    wait_live(&mut h, 60, "the stream did not arrive in 60 s", |view| {
        view.latest
            .as_ref()
            .is_some_and(|s| s.status.progress.consumed == consumed && view.map.is_some())
            .then_some(())
    });
    // Snapshots come once a second: wait for the one after the last message.
    std::thread::sleep(Duration::from_millis(1500));
    h.run_steps(3);
    let summary = live_view(&h)
        .latest
        .as_ref()
        .expect("snapshot")
        .summary
        .clone();
    assert_eq!(summary.events, expected["events"].as_u64().unwrap());
    assert_eq!(summary.sessions, expected["sessions"].as_u64().unwrap());
    assert_eq!(
        summary.rejected.total,
        expected["rejected"]["total"].as_u64().unwrap()
    );
    h.get_by_label(&journeyscope::format::thousands(consumed));
    h.get_by_label("Lag per partition");
    // The rejected records, as the file view lists them, behind their tab.
    let rejected_tab = format!(
        "Rejected ({})",
        journeyscope::format::thousands(summary.rejected.total)
    );
    h.get_by_label(&rejected_tab).click();
    h.run_steps(3);
    h.get_by_label(&format!(
        "Rejected records: {}",
        journeyscope::format::thousands(summary.rejected.total)
    ));
    h.get_by_label("Journey map").click();
    h.run_steps(2);

    // The customers of the stream, and one customer's timeline.
    // The tab comes before the overview's "Customers" row.
    h.get_all_by_label("Customers")
        .next()
        .expect("customers tab")
        .click();
    let rows = wait_live(&mut h, 30, "no customer list", |view| {
        view.customers
            .list()
            .filter(|_| !view.customers.is_stale())
            .map(|list| list.rows.clone())
    });
    // Since start, the list holds the customers of the last hour of events.
    let events = accepted_events(&lines(&file));
    let newest = events.iter().map(|(_, t)| *t).max().expect("events");
    let last_hour: std::collections::HashSet<String> = events
        .iter()
        .filter(|(_, t)| *t >= newest - 3_600_000_000)
        .map(|(line, _)| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["customer_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(last_hour.len() > 1);
    assert_eq!(rows.len(), last_hour.len());
    let name = live_view(&h)
        .latest
        .as_ref()
        .unwrap()
        .journeys
        .customer_name(rows[0].customer)
        .to_owned();
    h.get_by_label(&name).click();
    h.run_steps(3);
    h.get_by_label(&format!("Customer {name}"));
    h.get_by_label("Session 1");
}

/// The app keeps its live state in a file: closed and opened again, it goes
/// on where it was, reading only newer messages.
#[test]
fn the_live_screen_resumes_from_its_saved_state() {
    use journeyscope::app::live::LiveRequest;

    let (broker, dir) = with_topic("app-state");
    let parts = two_parts(dir.path(), 8_000, 0.5);
    let (file, (first_file, first), (second_file, second)) =
        (parts.file, parts.first, parts.second);
    let state = dir.path().join("app.state");
    let request = LiveRequest {
        spec: earliest(&broker, "app-state"),
        state: Some(state.clone()),
        // The generated events include some up to 5 minutes late.
        lateness_us: 5 * 60 * 1_000_000,
        alerts: Vec::new(),
        alerts_file: None,
        alert_outputs: Default::default(),
        triggers: Vec::new(),
        trigger_outputs: Default::default(),
        merged: None,
    };
    let open = |request: LiveRequest| app(Some(Command::OpenKafka(Box::new(request))));
    // Waits until the screen shows `records` records taken in (events,
    // duplicates and rejected), after reading `consumed` messages.
    let wait_for = |h: &mut Harness<'_, JourneyscopeApp>, consumed: u64, records: u64| {
        let what = format!("{consumed} messages did not arrive");
        wait_live(h, 60, &what, |view| {
            view.latest
                .as_ref()
                .filter(|s| {
                    s.status.progress.consumed == consumed
                        && s.summary.events + s.summary.duplicates + s.summary.rejected.total
                            == records
                })
                .map(|s| s.summary.clone())
        })
    };

    produce(&broker, "app-state", &first_file);
    let mut h = open(request.clone());
    wait_for(&mut h, first, first);
    // Closing the window returns at once; the state is saved in the
    // background, and the program waits for that before it ends.
    let closing = Instant::now();
    drop(h);
    assert!(
        closing.elapsed() < Duration::from_millis(500),
        "{:?}",
        closing.elapsed()
    );
    assert!(journeyscope::app::live::finish_closing());
    assert!(state.exists());

    produce(&broker, "app-state", &second_file);
    let mut h = open(request);
    let summary = wait_for(&mut h, second, first + second);
    let expected = summarize_json(&file);
    assert_eq!(summary.events, expected["events"].as_u64().unwrap());
    assert_eq!(summary.sessions, expected["sessions"].as_u64().unwrap());
    assert_eq!(summary.duplicates, expected["duplicates"].as_u64().unwrap());
    assert_eq!(
        summary.rejected.total,
        expected["rejected"]["total"].as_u64().unwrap()
    );
}

/// Now against before on the live screen: the last 15 minutes against the
/// 15 before, picked with "Compare with"; both groups hold sessions, the
/// earlier one ends where the window starts, and What changed is shown.
#[test]
fn the_live_screen_compares_the_window_with_the_one_before() {
    use egui_kittest::kittest::Queryable;

    let (broker, dir) = with_topic("before");
    let file = generated(dir.path(), "events.jsonl", 30_000, true);
    produce(&broker, "before", &file);
    let mut h = live_compared(&broker, "before", "last 15 minutes");
    let compare = wait_live(&mut h, 60, "no comparison", |view| {
        view.latest
            .as_ref()
            .and_then(|s| s.summary.compare.clone())
            .filter(|c| c.b.sessions > 0)
    });
    assert!(compare.a.sessions > 0);
    let start = compare
        .a
        .segment
        .trim_start_matches("time:")
        .trim_end_matches("..");
    assert!(
        compare.b.segment.ends_with(&format!("..{start}")),
        "{} then {}",
        compare.b.segment,
        compare.a.segment
    );
    h.run_steps(3);
    h.get_by_label("What changed");

    // Who is here now: click the touchpoint with the most open sessions,
    // then list them; the list holds as many customers as the engine
    // counts open sessions there (one open session per customer).
    let (busiest, open) = live_view(&h).latest.as_ref().unwrap().active[0].clone();
    // The map may move as snapshots arrive: click until it is selected.
    let mut selected = false;
    for _ in 0..20 {
        let rect = live_view(&h)
            .map
            .and_then(|m| m.node_screen_rect(&busiest))
            .expect("the busiest touchpoint on the map");
        common::pointer::click_at(&mut h, rect.center());
        if h.query_by_label_contains(&format!("{busiest}: ")).is_some() {
            selected = true;
            break;
        }
    }
    assert!(selected, "clicking {busiest} did not select it");
    h.get_by_label("Who is here now").click();
    let rows = wait_live(&mut h, 30, "no list of who is here", |view| {
        view.customers
            .list()
            .filter(|_| !view.customers.is_stale() && view.customers.query.filter.is_some())
            .map(|list| list.rows.clone())
    });
    assert_eq!(rows.len() as u64, open, "{busiest}");
    assert!(
        rows.windows(2).all(|w| w[0].last_us >= w[1].last_us),
        "newest first"
    );
}

/// What changed explains a live comparison as `live --headless --explain`
/// does: on a stream whose web channel breaks in its last hour, the last
/// 60 minutes against the previous window carry an explanation on every
/// significant row (computed by the snapshot thread), and the Explain
/// button of the cart-to-checkout row opens its top line, web first.
#[test]
fn what_changed_explains_a_live_comparison() {
    use egui_kittest::kittest::Queryable;
    use journeyscope::ui::explain::shown;

    let (broker, dir) = with_topic("explained");
    let file = dir.path().join("shop.jsonl");
    common::shop::write_jsonl(&common::shop::shop(6 * 60 * 1_000_000), &file);
    produce(&broker, "explained", &file);
    let records = lines(&file).len() as u64;
    let mut h = live_compared(&broker, "explained", "last 60 minutes");
    let compare = wait_live(&mut h, 60, "no comparison of the whole stream", |view| {
        let latest = view.latest.as_ref()?;
        let compare = latest.summary.compare.clone()?;
        (latest.status.progress.consumed == records && compare.b.sessions > 0).then_some(compare)
    });
    let rows = compare.biggest();
    for (from, to, _) in &rows {
        assert!(
            journeyscope::ui::explain::explanation_of(&compare, from, *to).is_some(),
            "{from} {to:?} is significant but not explained"
        );
    }
    let at = rows
        .iter()
        .position(|(from, to, _)| *from == "add_to_cart" && *to == Some("begin_checkout"))
        .expect("the cart-to-checkout row changed");
    let explanation =
        journeyscope::ui::explain::explanation_of(&compare, "add_to_cart", Some("begin_checkout"))
            .unwrap();
    assert_eq!(explanation.explain[0].value, "web");
    let top_line = shown(&explanation.explain_summary);
    h.run_steps(3);
    assert!(h.query_by_label(&top_line).is_none());
    h.get_all_by_label("Explain").nth(at).unwrap().click();
    h.run_steps(3);
    h.get_by_label(&top_line);
    h.get_by_label("channel = web");
}

/// Alert rules on the live screen: a stream whose app checkout conversion
/// collapses fires the rule; while it fires, a banner names it and its
/// history lists it, and the rule's webhook (served here) gets each alert
/// the window shows.
#[test]
fn a_firing_rule_shows_a_banner() {
    use journeyscope::app::live::LiveRequest;
    use journeyscope::engine::alerts::{AlertKind, AlertRule, AlertState, Baseline, RuleOutputs};

    let (broker, dir) = with_topic("alerting");
    let file = collapsing_checkout(dir.path());
    produce(&broker, "alerting", &file);
    let (url, bodies) = webhook();
    let rule = AlertRule {
        name: "checkout conversion".into(),
        kind: AlertKind::TransitionShare {
            from: "begin_checkout".into(),
            to: "purchase".into(),
        },
        segment: None,
        window_us: 15 * 60 * 1_000_000,
        baseline: Baseline::Fixed {
            below: Some(0.5),
            above: None,
        },
        min_sessions: 30,
        for_us: 0,
        // The window delivers to the rule's webhook as `live --headless` does.
        outputs: RuleOutputs {
            webhook: Some(url),
            ..RuleOutputs::default()
        },
    };
    let request = LiveRequest {
        spec: earliest(&broker, "alerting"),
        state: None,
        lateness_us: 10 * 1_000_000,
        alerts: vec![rule],
        alerts_file: None,
        alert_outputs: Default::default(),
        triggers: Vec::new(),
        trigger_outputs: Default::default(),
        merged: None,
    };
    let mut h = app(Some(Command::OpenKafka(Box::new(request))));
    let alerts = until_a_rule_fires(&mut h);
    let fired = alerts
        .iter()
        .find(|a| a.state == AlertState::Firing)
        .unwrap();
    assert_eq!(fired.rule, "checkout conversion");
    assert!(fired.value < 0.5, "{fired:?}");
    let posted: Vec<serde_json::Value> = (0..alerts.len())
        .map(|_| {
            let body = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
            serde_json::from_str(&body).unwrap()
        })
        .collect();
    let shown: Vec<serde_json::Value> = alerts
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    assert_eq!(
        posted, shown,
        "the webhook gets the alerts the window shows"
    );
    h.run_steps(3);
    the_checkout_alert_shows(&h);
}

/// Sessions every 10 s for three hours; from 01:30 the purchase share
/// after begin_checkout falls from 7 in 10 to 1 in 10 and stays there.
fn collapsing_checkout(dir: &std::path::Path) -> std::path::PathBuf {
    let start = 1_795_737_600i64;
    let mut lines = Vec::new();
    for n in 0..1080i64 {
        let t = start + n * 10;
        let buys = n % 10 < if t >= start + 5400 { 1 } else { 7 };
        let steps: &[&str] = if buys {
            &["home", "begin_checkout", "purchase"]
        } else {
            &["home", "begin_checkout"]
        };
        for (k, event) in steps.iter().enumerate() {
            let at = chrono::DateTime::from_timestamp(t + k as i64 * 20, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            lines.push(format!(
                r#"{{"customer_id":"c{n}","event":"{event}","timestamp":"{at}"}}"#
            ));
        }
    }
    let file = dir.join("events.jsonl");
    write_lines(&file, &lines);
    file
}

/// A rule added in the Alerts tab is saved to the rules file and watched:
/// the breaking stream produced afterwards fires it, the banner names it
/// and its band turns red.
#[test]
fn a_rule_added_in_the_alerts_tab_fires() {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    use journeyscope::app::live::LiveRequest;
    use journeyscope::engine::alerts::{AlertKind, Baseline};

    let (broker, dir) = with_topic("ruled");
    let rules_file = dir.path().join("rules").join("alerts.toml");
    let request = LiveRequest {
        spec: earliest(&broker, "ruled"),
        state: None,
        lateness_us: 10 * 1_000_000,
        alerts: Vec::new(),
        alerts_file: Some(rules_file.clone()),
        alert_outputs: Default::default(),
        triggers: Vec::new(),
        trigger_outputs: Default::default(),
        merged: None,
    };
    let mut h = app(Some(Command::OpenKafka(Box::new(request))));
    h.run_steps(2);
    h.get_by_label("Alerts").click();
    h.run_steps(2);
    h.get_by_label("Add a rule").click();
    h.run_steps(2);
    // Typed over what the field holds (a new rule's defaults).
    let type_in = common::pointer::retype::<JourneyscopeApp>;
    type_in(&mut h, "Name", "checkout conversion");
    type_in(&mut h, "From", "begin_checkout");
    type_in(&mut h, "To", "purchase");
    h.get_by_role_and_label(Role::ComboBox, "Compared with")
        .click();
    h.run_steps(2);
    h.get_by_label("fixed bounds").click();
    h.run_steps(2);
    type_in(&mut h, "Below", "0.5");
    type_in(&mut h, "Min sessions", "30");
    h.get_by_label("Save rule").click();
    h.run_steps(3);

    // Saved as a rule file reads it back.
    let text = std::fs::read_to_string(&rules_file).expect("the rules were saved");
    let saved = journeyscope::settings::alert_rules(&text, Default::default()).unwrap();
    assert_eq!(saved.len(), 1, "{text}");
    assert_eq!(
        saved[0].kind,
        AlertKind::TransitionShare {
            from: "begin_checkout".into(),
            to: "purchase".into()
        }
    );
    assert_eq!(
        saved[0].baseline,
        Baseline::Fixed {
            below: Some(0.5),
            above: None
        }
    );
    assert_eq!(
        (saved[0].min_sessions, saved[0].window_us),
        (30, 15 * 60 * 1_000_000)
    );
    h.get_by_label_contains("Saved to");

    // Now the stream breaks.
    produce(&broker, "ruled", &collapsing_checkout(dir.path()));
    let alerts = until_a_rule_fires(&mut h);
    assert!(alerts.iter().all(|a| a.rule == "checkout conversion"));
    h.run_steps(3);
    h.get_by_label("Alerts: 1 firing").click();
    h.run_steps(2);
    // The rule's state in the list, the alert in the tab's history and in
    // the side panel's.
    assert_eq!(h.get_all_by_label("firing").count(), 3);
    h.get_by_label("Journey map").click();
    h.run_steps(3);
    the_checkout_alert_shows(&h);
}

/// The banner names the checkout rule firing and the map draws its band red.
fn the_checkout_alert_shows(h: &Harness<'_, JourneyscopeApp>) {
    use egui_kittest::kittest::Queryable;
    h.get_by_label_contains("Firing: checkout conversion");
    assert_eq!(
        live_view(h).map.unwrap().alerted,
        vec![journeyscope::ui::journey_map::Alerted {
            from: "begin_checkout".into(),
            to: Some("purchase".into()),
            rule: "checkout conversion".into()
        }]
    );
}

/// Waits (60 s at most) for a snapshot in which an alert rule is firing,
/// and gives its alerts.
fn until_a_rule_fires(
    h: &mut Harness<'_, JourneyscopeApp>,
) -> std::sync::Arc<Vec<journeyscope::engine::alerts::Alert>> {
    use journeyscope::engine::alerts::AlertState;
    wait_live(h, 60, "the rule did not fire", |view| {
        view.latest
            .as_ref()
            .filter(|s| {
                s.status
                    .alerts
                    .iter()
                    .any(|a| a.state == AlertState::Firing)
            })
            .map(|s| s.status.alerts.clone())
    })
}

/// The merged view of a worker's snapshots on the live screen: the same
/// counts as the file, and the Workers panel with every partition.
#[test]
fn the_live_screen_shows_the_workers_merged() {
    use egui_kittest::kittest::Queryable;
    use journeyscope::app::live::{LiveRequest, MergedRequest};
    use journeyscope::source::kafka::{KafkaSpec, StartAt};

    let broker = Broker::start();
    broker.create_topic_with("merged-in", 8);
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 6_000, false);
    produce(&broker, "merged-in", &file);
    let expected = summarize_json(&file);
    let mut worker = std::process::Command::new(BIN)
        .args([
            "worker",
            "--brokers",
            &broker.brokers(),
            "--topic",
            "merged-in",
        ])
        .args(["--group", "screen", "--state-topic", "merged-state"])
        .args(["--every", "1s", "--lateness", "5m"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let request = LiveRequest {
        spec: KafkaSpec::new(
            broker.brokers(),
            "merged-state",
            StartAt::Earliest,
            Vec::new(),
        ),
        state: None,
        lateness_us: 5 * 60 * 1_000_000,
        alerts: Vec::new(),
        alerts_file: None,
        alert_outputs: Default::default(),
        triggers: Vec::new(),
        trigger_outputs: Default::default(),
        merged: Some(MergedRequest {
            state_topic: "merged-state".into(),
            job: None,
        }),
    };
    let mut h = app(Some(Command::OpenKafka(Box::new(request))));
    let summary = wait_live(&mut h, 90, "the workers' journeys did not arrive", |view| {
        view.latest
            .as_ref()
            .filter(|s| {
                s.status.workers.as_ref().is_some_and(|w| w.reported == 8)
                    && s.summary.events == expected["events"].as_u64().unwrap()
            })
            .map(|s| s.summary.clone())
    });
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(summary.sessions, expected["sessions"].as_u64().unwrap());
    assert_eq!(summary.duplicates, expected["duplicates"].as_u64().unwrap());
    assert_eq!(
        summary.rejected.total,
        expected["rejected"]["total"].as_u64().unwrap()
    );
    h.run_steps(3);
    h.get_by_label("Workers");
    h.get_by_label_contains("8 of 8 partitions reported");
}
