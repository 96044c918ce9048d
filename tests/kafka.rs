//! Live mode against a real broker process (tansu, Kafka-compatible) over
//! TCP: each test starts its own broker on a free port, fills a 4-partition
//! topic with `journeyscope produce` and compares `live --headless` with
//! `summarize` of the same events.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_journeyscope");

/// The tansu binary: `$JOURNEYSCOPE_TANSU`, or where `.ci/run` installs it.
fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("JOURNEYSCOPE_TANSU") {
        return path.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let path = Path::new(&home).join(".cache/journeyscope/tools/bin/tansu");
    assert!(
        path.exists(),
        "no Kafka broker for the tests at {}: run `bash .ci/run` (it installs tansu) or set JOURNEYSCOPE_TANSU",
        path.display()
    );
    path
}

/// A broker process, stopped when dropped.
struct Broker {
    child: Option<Child>,
    port: u16,
    storage: String,
    dir: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker with memory storage.
    fn start() -> Broker {
        Broker::start_with(|_| "memory://tansu/".to_owned())
    }

    /// Starts a broker whose storage survives restarts (SQLite in the
    /// broker's working directory, the test's own).
    fn durable() -> Broker {
        Broker::start_with(|_| "sqlite://broker.db".to_owned())
    }

    fn start_with(storage: impl FnOnce(&Path) -> String) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut broker = Broker {
            child: None,
            port,
            storage: storage(dir.path()),
            dir,
        };
        broker.run();
        broker
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("broker.log")).expect("log");
        let child = Command::new(tansu())
            .current_dir(self.dir.path())
            .args(["broker", "--listener-url", &self.url()])
            .args(["--advertised-listener-url", &self.url()])
            .args(["--storage-engine", &self.storage])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the broker did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn create_topic(&self, topic: &str) {
        let out = Command::new(tansu())
            .args(["topic", "create", "--broker", &self.url()])
            .args(["--partitions", "4", topic])
            .output()
            .expect("tansu topic create");
        assert!(out.status.success(), "topic create: {}", stderr(&out));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run journeyscope");
    assert!(
        out.status.success(),
        "journeyscope {}: {}",
        args.join(" "),
        stderr(&out)
    );
    out
}

fn produce(broker: &Broker, topic: &str, file: &Path) {
    run(&[
        "produce",
        "--brokers",
        &broker.brokers(),
        "--topic",
        topic,
        "--input",
        &file.display().to_string(),
    ]);
}

fn live_args(broker: &Broker, topic: &str) -> Vec<String> {
    [
        "live",
        "--brokers",
        &broker.brokers(),
        "--topic",
        topic,
        "--from",
        "earliest",
        "--headless",
        "--until-idle",
        "3s",
        "--format",
        "json",
        "-X",
        "reconnect.backoff.max.ms=500",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn live(broker: &Broker, topic: &str) -> Value {
    let args = live_args(broker, topic);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    json(&run(&args))
}

fn summarize(file: &Path) -> Value {
    json(&run(&[
        "summarize",
        &file.display().to_string(),
        "--format",
        "json",
    ]))
}

/// Asserts two summaries are equal, naming the fields that differ rather
/// than printing both whole.
fn assert_same(got: &Value, want: &Value, what: &str) {
    if got == want {
        return;
    }
    let (Some(g), Some(w)) = (got.as_object(), want.as_object()) else {
        panic!("{what}: not objects");
    };
    let differing: Vec<String> = w
        .keys()
        .chain(g.keys())
        .filter(|k| g.get(*k) != w.get(*k))
        .map(|k| {
            let short = |v: Option<&Value>| {
                let text = v.map_or("(none)".to_owned(), Value::to_string);
                text.chars().take(300).collect::<String>()
            };
            format!("{k}: got {} want {}", short(g.get(k)), short(w.get(k)))
        })
        .collect();
    panic!("{what} differs:\n{}", differing.join("\n"));
}

/// The parts of a summary that describe the events: everything but where
/// they came from (source name, rejected records' positions, Kafka offsets).
fn comparable(mut v: Value) -> Value {
    let o = v.as_object_mut().expect("an object");
    o.remove("source");
    o.remove("kafka");
    o.remove("live");
    if let Some(r) = o.get_mut("rejected").and_then(Value::as_object_mut) {
        r.remove("sample");
    }
    v
}

fn generated(dir: &Path, name: &str, events: usize, clean: bool) -> PathBuf {
    let path = dir.join(name);
    let mut args = vec![
        "generate".to_owned(),
        "--events".into(),
        events.to_string(),
        "--out".into(),
        path.display().to_string(),
    ];
    if clean {
        args.push("--clean".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args);
    path
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).expect("create");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
}

#[test]
fn a_stream_gives_exactly_the_summary_of_the_same_file() {
    let broker = Broker::start();
    broker.create_topic("shop");
    let dir = tempfile::tempdir().unwrap();
    // Messy: duplicates, late events and malformed records included.
    let file = generated(dir.path(), "events.jsonl", 20_000, false);
    produce(&broker, "shop", &file);
    let streamed = live(&broker, "shop");
    let kafka = &streamed["kafka"];
    let records = lines(&file).iter().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(kafka["consumed"], records as u64);
    let partitions = kafka["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 4);
    for p in partitions {
        assert_eq!(p["lag"], 0, "{p}");
    }
    let summary = summarize(&file);
    assert!(summary["rejected"]["total"].as_u64().unwrap() > 0);
    assert!(summary["duplicates"].as_u64().unwrap() > 0);
    assert_same(&comparable(streamed), &comparable(summary), "stream");
}

#[test]
fn garbage_messages_are_rejected_and_change_nothing_else() {
    let broker = Broker::start();
    broker.create_topic("messy");
    let dir = tempfile::tempdir().unwrap();
    let clean = generated(dir.path(), "clean.jsonl", 5_000, true);
    let good = lines(&clean);
    let garbage = [
        "{not json",
        "42",
        r#"["a","b"]"#,
        r#"{"event":"home","timestamp":"2026-11-01T00:00:00Z"}"#,
        r#"{"customer_id":"C1","timestamp":"2026-11-01T00:00:00Z"}"#,
        r#"{"customer_id":"C1","event":"home","timestamp":"someday"}"#,
        r#"{"customer_id":"C1","event":{"nested":true},"timestamp":"2026-11-01T00:00:00Z"}"#,
    ];
    let mut mixed = Vec::new();
    let mut injected = 0u64;
    for (i, line) in good.iter().enumerate() {
        mixed.push(line.clone());
        if i % 10 == 9 {
            mixed.push(garbage[injected as usize % garbage.len()].to_owned());
            injected += 1;
        }
    }
    let messy = dir.path().join("messy.jsonl");
    write_lines(&messy, &mixed);
    produce(&broker, "messy", &messy);
    let streamed = live(&broker, "messy");
    assert_eq!(streamed["rejected"]["total"], injected);
    let sample = streamed["rejected"]["sample"].as_array().expect("sample");
    assert!(
        sample[0]["position"]
            .as_str()
            .is_some_and(|p| p.starts_with("partition ") && p.contains(" offset ")),
        "{}",
        sample[0]
    );
    let mut without = comparable(streamed);
    let mut reference = comparable(summarize(&clean));
    for v in [&mut without, &mut reference] {
        v.as_object_mut().unwrap().remove("rejected");
    }
    assert_same(&without, &reference, "stream without garbage");
}

#[test]
fn late_and_shuffled_events_give_the_in_order_graph() {
    let broker = Broker::start();
    broker.create_topic("late");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "ordered.jsonl", 8_000, true);
    let ordered = lines(&file);
    // Swap neighbouring events of the same customer whose times differ by
    // less than ten seconds, so they arrive out of order but within the
    // lateness.
    let parsed: Vec<Value> = ordered
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp_micros()
    };
    let mut shuffled = ordered.clone();
    let mut last_of: std::collections::HashMap<String, usize> = Default::default();
    let mut swaps = 0;
    for i in 0..parsed.len() {
        let customer = parsed[i]["customer_id"].as_str().unwrap().to_owned();
        if let Some(&j) = last_of.get(&customer) {
            let gap = time(&parsed[i]) - time(&parsed[j]);
            if gap > 0 && gap < 10_000_000 && shuffled[j] == ordered[j] {
                shuffled.swap(i, j);
                swaps += 1;
                last_of.remove(&customer);
                continue;
            }
        }
        last_of.insert(customer, i);
    }
    assert!(swaps > 50, "only {swaps} late events");
    let late = dir.path().join("late.jsonl");
    write_lines(&late, &shuffled);
    produce(&broker, "late", &late);
    let streamed = live(&broker, "late");
    // Each swap brings one event after a newer one of the same customer,
    // within the 10 s lateness.
    assert_eq!(streamed["live"]["reordered"], swaps);
    assert_eq!(streamed["live"]["late"], 0);
    assert_same(
        &comparable(streamed),
        &comparable(summarize(&file)),
        "stream",
    );
}

#[test]
fn a_broker_restart_mid_stream_loses_and_doubles_nothing() {
    let mut broker = Broker::durable();
    broker.create_topic("restart");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 10_000, false);
    let all = lines(&file);
    let (first, second) = all.split_at(all.len() / 2);
    let first_file = dir.path().join("first.jsonl");
    let second_file = dir.path().join("second.jsonl");
    write_lines(&first_file, first);
    write_lines(&second_file, second);
    produce(&broker, "restart", &first_file);

    let mut args = live_args(&broker, "restart");
    let idle = args.iter().position(|a| a == "3s").unwrap();
    args[idle] = "12s".into();
    let viewer = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("live");
    std::thread::sleep(Duration::from_secs(3));
    broker.stop();
    std::thread::sleep(Duration::from_secs(2));
    broker.run();
    produce(&broker, "restart", &second_file);
    let out = viewer.wait_with_output().expect("live output");
    assert!(out.status.success(), "live: {}", stderr(&out));
    let streamed = json(&out);
    assert_eq!(streamed["kafka"]["consumed"], all.len() as u64);
    assert_same(
        &comparable(streamed),
        &comparable(summarize(&file)),
        "stream",
    );
}

/// The live screen, driven through egui_kittest: the Kafka form on the
/// start screen connects, and the counts on screen reach those of the file.
#[test]
fn the_live_screen_shows_the_stream_as_it_arrives() {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    use journeyscope::app::{JourneyscopeApp, Screen};

    let broker = Broker::start();
    broker.create_topic("war-room");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 6_000, false);
    produce(&broker, "war-room", &file);
    let expected = summarize(&file);

    let args = journeyscope::cli::MappingArgs::defaults();
    let Ok(settings) = journeyscope::commands::settings(&args, None, None) else {
        panic!("settings")
    };
    let mut h = egui_kittest::Harness::builder()
        .with_size([1400.0, 860.0])
        .with_theme(egui::Theme::Light)
        .wgpu()
        .build_eframe(|cc| JourneyscopeApp::new(None, settings, None, &cc.egui_ctx));
    h.run_steps(2);
    for (label, text) in [
        ("Bootstrap servers", broker.brokers()),
        ("Topic", "war-room".into()),
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
    let deadline = Instant::now() + Duration::from_secs(60);
    let consumed = lines(&file).iter().filter(|l| !l.trim().is_empty()).count() as u64;
    loop {
        h.run_steps(1);
        let Screen::Live(view) = &h.state().screen else {
            panic!("not on the live screen")
        };
        if view
            .latest
            .as_ref()
            .is_some_and(|s| s.progress.consumed == consumed && view.map.is_some())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stream did not arrive in 60 s"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    // Snapshots come once a second: wait for the one after the last message.
    std::thread::sleep(Duration::from_millis(1500));
    h.run_steps(3);
    let Screen::Live(view) = &h.state().screen else {
        unreachable!()
    };
    let summary = view.latest.as_ref().expect("snapshot").summary.clone();
    assert_eq!(summary.events, expected["events"].as_u64().unwrap());
    assert_eq!(summary.sessions, expected["sessions"].as_u64().unwrap());
    assert_eq!(
        summary.rejected.total,
        expected["rejected"]["total"].as_u64().unwrap()
    );
    h.get_by_label(&journeyscope::report::thousands(consumed));
    h.get_by_label("Lag per partition");

    // The customers of the stream, and one customer's timeline.
    // The tab comes before the overview's "Customers" row.
    h.get_all_by_label("Customers")
        .next()
        .expect("customers tab")
        .click();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        h.run_steps(1);
        let Screen::Live(view) = &h.state().screen else {
            unreachable!()
        };
        if let Some(list) = view.customers.list()
            && !view.customers.is_stale()
        {
            break list.rows.clone();
        }
        assert!(Instant::now() < deadline, "no customer list");
        std::thread::sleep(Duration::from_millis(30));
    };
    assert_eq!(rows.len() as u64, expected["customers"].as_u64().unwrap());
    let name = {
        let Screen::Live(view) = &h.state().screen else {
            unreachable!()
        };
        view.latest
            .as_ref()
            .unwrap()
            .journeys
            .customer_name(rows[0].customer)
            .to_owned()
    };
    h.get_by_label(&name).click();
    h.run_steps(3);
    h.get_by_label(&format!("Customer {name}"));
    h.get_by_label("Session 1");
}

/// The events of a generated file that the engine accepts, with their
/// times (µs): parsed here with serde_json and chrono, apart from the engine.
fn accepted_events(lines: &[String]) -> Vec<(String, i64)> {
    lines
        .iter()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let customer = v["customer_id"].as_str().filter(|c| !c.is_empty())?;
            v["event"].as_str().filter(|e| !e.is_empty())?;
            let _ = customer;
            let time = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?).ok()?;
            Some((l.clone(), time.timestamp_micros()))
        })
        .collect()
}

#[test]
fn a_time_window_equals_the_summary_of_just_those_events() {
    let broker = Broker::start();
    broker.create_topic("window");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 30_000, false);
    produce(&broker, "window", &file);
    let events = accepted_events(&lines(&file));
    let newest = events.iter().map(|(_, t)| *t).max().expect("events");
    for (window, seconds) in [("5m", 300i64), ("6h", 6 * 3600)] {
        let mut args = live_args(&broker, "window");
        args.extend(["--window".to_owned(), window.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let streamed = json(&run(&args));
        assert_eq!(streamed["live"]["window_s"], seconds as f64);
        let inside: Vec<String> = events
            .iter()
            .filter(|(_, t)| *t >= newest - seconds * 1_000_000)
            .map(|(l, _)| l.clone())
            .collect();
        assert!(!inside.is_empty());
        let just_those = dir.path().join(format!("window-{window}.jsonl"));
        write_lines(&just_those, &inside);
        let mut reference = comparable(summarize(&just_those));
        let mut got = comparable(streamed);
        for v in [&mut got, &mut reference] {
            v.as_object_mut().unwrap().remove("rejected");
        }
        assert_eq!(
            got["events"],
            inside.len() as u64 - reference["duplicates"].as_u64().unwrap()
        );
        assert_same(&got, &reference, window);
    }
}

#[test]
fn a_saved_state_resumes_without_losing_or_doubling_an_event() {
    let broker = Broker::start();
    broker.create_topic("resume");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 12_000, false);
    let all = lines(&file);
    let (first, second) = all.split_at(all.len() * 2 / 3);
    let first_file = dir.path().join("first.jsonl");
    let second_file = dir.path().join("second.jsonl");
    write_lines(&first_file, first);
    write_lines(&second_file, second);
    let state = dir.path().join("live.state");
    let with_state = |broker: &Broker| {
        let mut args = live_args(broker, "resume");
        args.extend(["--state".to_owned(), state.display().to_string()]);
        args
    };

    produce(&broker, "resume", &first_file);
    let args = with_state(&broker);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = json(&run(&args));
    assert!(state.exists(), "the state was saved");
    assert_eq!(
        before["kafka"]["consumed"],
        first.len() as u64,
        "{} events; {}",
        before["events"],
        before["kafka"]
    );

    // Stopped; more events arrive; resumed from the saved state.
    produce(&broker, "resume", &second_file);
    let after = json(&run(&args));
    assert_eq!(
        after["kafka"]["consumed"],
        second.len() as u64,
        "only the new messages are read again"
    );
    assert_same(&comparable(after), &comparable(summarize(&file)), "resumed");

    // Resumed again with nothing new: the same journeys, no detection needed.
    let quiet = json(&run(&args));
    assert_eq!(quiet["kafka"]["consumed"], 0);
    assert_same(
        &comparable(quiet),
        &comparable(summarize(&file)),
        "resumed, quiet",
    );
}

#[test]
fn a_consumer_group_commits_only_what_the_saved_state_covers() {
    let broker = Broker::start();
    broker.create_topic("group");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 6_000, false);
    let all = lines(&file);
    let (first, second) = all.split_at(all.len() / 2);
    let first_file = dir.path().join("first.jsonl");
    let second_file = dir.path().join("second.jsonl");
    write_lines(&first_file, first);
    write_lines(&second_file, second);
    let state = dir.path().join("group.state");
    let in_group = |extra: &[&str]| {
        let mut args = live_args(&broker, "group");
        args.extend(["--group", "war-room"].map(str::to_owned));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run_with = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        json(&run(&args))
    };
    let state_flag = ["--state", state.to_str().unwrap()];

    produce(&broker, "group", &first_file);
    let before = run_with(in_group(&state_flag));
    assert_eq!(
        before["kafka"]["consumed"],
        first.len() as u64,
        "{} events; {}",
        before["events"],
        before["kafka"]
    );

    produce(&broker, "group", &second_file);
    let after = run_with(in_group(&state_flag));
    assert_eq!(after["kafka"]["consumed"], second.len() as u64);
    assert_same(&comparable(after), &comparable(summarize(&file)), "group");

    // The group's committed offsets are where the saved state ends: a
    // member without the state reads nothing more.
    let columns = [
        "--customer",
        "customer_id",
        "--event",
        "event",
        "--time",
        "timestamp",
    ];
    let rest = run_with(in_group(&columns));
    assert_eq!(rest["kafka"]["consumed"], 0);
    assert_eq!(rest["events"], 0);
}

/// The app keeps its live state in a file: closed and opened again, it goes
/// on where it was, reading only newer messages.
#[test]
fn the_live_screen_resumes_from_its_saved_state() {
    use journeyscope::app::live::LiveRequest;
    use journeyscope::app::{Command, JourneyscopeApp, Screen};
    use journeyscope::source::kafka::{KafkaSpec, StartAt};

    let broker = Broker::start();
    broker.create_topic("app-state");
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), "events.jsonl", 8_000, false);
    let all = lines(&file);
    let (first, second) = all.split_at(all.len() / 2);
    let first_file = dir.path().join("first.jsonl");
    let second_file = dir.path().join("second.jsonl");
    write_lines(&first_file, first);
    write_lines(&second_file, second);
    let state = dir.path().join("app.state");
    let request = LiveRequest {
        spec: KafkaSpec {
            brokers: broker.brokers(),
            topic: "app-state".into(),
            from: StartAt::Earliest,
            properties: Vec::new(),
            group: None,
            detect_wait: Duration::from_secs(20),
            resume: Vec::new(),
            mapping: None,
        },
        state: Some(state.clone()),
    };
    let open = |request: LiveRequest| {
        let args = journeyscope::cli::MappingArgs::defaults();
        let Ok(settings) = journeyscope::commands::settings(&args, None, None) else {
            panic!("settings")
        };
        egui_kittest::Harness::builder()
            .with_size([1400.0, 860.0])
            .wgpu()
            .build_eframe(move |cc| {
                JourneyscopeApp::new(
                    None,
                    settings,
                    Some(Command::OpenKafka(Box::new(request))),
                    &cc.egui_ctx,
                )
            })
    };
    // Waits until the screen shows `records` records taken in (events,
    // duplicates and rejected), after reading `consumed` messages.
    let wait_for =
        |h: &mut egui_kittest::Harness<'_, JourneyscopeApp>, consumed: u64, records: u64| {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                h.run_steps(1);
                let Screen::Live(view) = &h.state().screen else {
                    panic!("not on the live screen")
                };
                if let Some(s) = &view.latest
                    && s.progress.consumed == consumed
                    && s.summary.events + s.summary.duplicates + s.summary.rejected.total == records
                {
                    return s.summary.clone();
                }
                assert!(
                    Instant::now() < deadline,
                    "{consumed} messages did not arrive"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        };

    produce(&broker, "app-state", &first_file);
    let records = |lines: &[String]| lines.iter().filter(|l| !l.trim().is_empty()).count() as u64;
    let mut h = open(request.clone());
    wait_for(&mut h, first.len() as u64, records(first));
    drop(h); // closing the window saves the state
    assert!(state.exists());

    produce(&broker, "app-state", &second_file);
    let mut h = open(request);
    let summary = wait_for(&mut h, second.len() as u64, records(&all));
    let expected = summarize(&file);
    assert_eq!(summary.events, expected["events"].as_u64().unwrap());
    assert_eq!(summary.sessions, expected["sessions"].as_u64().unwrap());
    assert_eq!(summary.duplicates, expected["duplicates"].as_u64().unwrap());
    assert_eq!(
        summary.rejected.total,
        expected["rejected"]["total"].as_u64().unwrap()
    );
}
