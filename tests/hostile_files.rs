//! Hostile files and folders around what Journeyscope reads and writes: a
//! state file that is a device or enormous, an export ended by a signal
//! midway, an output that is a link or has its own mode, a DuckDB query
//! that would take all the memory. Each test runs the real binary.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use journeyscope::generate::{GenerateOptions, write_sample};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_journeyscope");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn clean_sample(dir: &Path, name: &str, events: usize) -> PathBuf {
    let path = dir.join(name);
    let options = GenerateOptions {
        events,
        seed: 3,
        messy: false,
    };
    write_sample(&path, &options).unwrap();
    path
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A live view on a broker that is not there: the state file is read (or
/// refused) before any broker is asked.
fn live_with_state(state: &Path) -> (Output, Duration) {
    let started = Instant::now();
    let out = run(&[
        "live",
        "--headless",
        "--brokers",
        "127.0.0.1:9",
        "--topic",
        "orders",
        "--until-idle",
        "1s",
        "--state",
        state.to_str().unwrap(),
    ]);
    (out, started.elapsed())
}

#[test]
fn a_state_that_is_a_device_or_enormous_is_refused_at_once() {
    for device in ["/dev/full", "/dev/zero"] {
        let (out, took) = live_with_state(Path::new(device));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(took < Duration::from_secs(5), "{device}: {took:?}");
        let message = stderr(&out);
        assert!(
            message.contains(&format!("cannot resume from {device}: it is a device")),
            "{message}"
        );
        assert!(
            message.contains("give --state the path of a file"),
            "{message}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = live_with_state(dir.path());
    assert!(stderr(&out).contains("it is a folder"), "{}", stderr(&out));

    // 20 GB of nothing, and the same behind a state's first bytes.
    let zeros = dir.path().join("zeros.state");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(20_000_000_000)
        .unwrap();
    let (out, took) = live_with_state(&zeros);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        stderr(&out).contains("not a saved Journeyscope state"),
        "{}",
        stderr(&out)
    );
    let headed = dir.path().join("headed.state");
    let mut file = std::fs::File::create(&headed).unwrap();
    file.write_all(b"JSCOPEst").unwrap();
    file.write_all(&journeyscope::source::live_state::VERSION.to_le_bytes())
        .unwrap();
    file.set_len(20_000_000_000).unwrap();
    drop(file);
    let (out, took) = live_with_state(&headed);
    assert_eq!(out.status.code(), Some(1));
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        stderr(&out).contains("more than the 4,294,967,296 a saved state can be"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::metadata(&headed).unwrap().len(),
        20_000_000_000,
        "the file was changed"
    );
}

/// Events whose edges CSV is tens of megabytes: long touchpoint names and
/// most pairs of them taken.
fn wide_events(dir: &Path) -> PathBuf {
    let path = dir.join("wide.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "customer_id,event,timestamp").unwrap();
    let padding = "x".repeat(300);
    let mut state = 7u64;
    for customer in 0..1_000 {
        for step in 0..120 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let touchpoint = (state >> 33) % 400;
            let time = 1_800_000_000 + step * 60;
            writeln!(f, "c{customer},t{touchpoint:03}{padding},{time}").unwrap();
        }
    }
    f.into_inner().unwrap().sync_all().unwrap();
    path
}

/// Runs `args` and sends `signal` as soon as a file starting with
/// `prefix` appears in `dir`; None when the run ended first (or had not
/// written within a minute: it is then killed).
fn signalled_mid_write(
    args: &[&str],
    dir: &Path,
    prefix: &str,
    signal: i32,
) -> Option<std::process::ExitStatus> {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: signal is async-signal-safe and touches only the child, which
    // then answers the signal even if this test was started ignoring it.
    unsafe {
        command.pre_exec(move || {
            libc::signal(signal, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        if names(dir).iter().any(|n| n.starts_with(prefix)) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            return Some(child.wait().unwrap());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn an_export_stopped_by_a_signal_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let events = wide_events(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let edges = out_dir.join("edges.csv");
    let args = [
        "export",
        events.to_str().unwrap(),
        "--out",
        edges.to_str().unwrap(),
    ];
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // The write takes a moment; a run that ends before it is seen is
        // tried again.
        let status = (0..5)
            .find_map(|_| {
                let _ = std::fs::remove_file(&edges);
                signalled_mid_write(&args, &out_dir, ".journeyscope-export-", signal)
            })
            .expect("the export's temporary file was never seen");
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        let left = names(&out_dir);
        assert!(
            !left.iter().any(|n| n.starts_with(".journeyscope")),
            "left behind: {left:?}"
        );
    }
    // The export itself is tens of megabytes (what makes the window).
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::metadata(&edges).unwrap().len() > 20 << 20);
}

#[test]
fn a_live_view_stopped_by_a_signal_while_saving_leaves_no_temporary_file() {
    use common::broker::{generated, live_args, produce, with_topic};
    let (broker, dir) = with_topic("saved");
    let file = generated(dir.path(), "events.jsonl", 200_000, true);
    produce(&broker, "saved", &file);
    let folder = dir.path().join("state");
    std::fs::create_dir(&folder).unwrap();
    let state = folder.join("live.state");
    let mut args = live_args(&broker, "saved", &["--state", state.to_str().unwrap()]);
    let idle = args.iter().position(|a| a == "--until-idle").unwrap();
    args.splice(idle..idle + 2, ["--every".to_owned(), "1s".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let status = signalled_mid_write(&args, &folder, ".journeyscope-state-", signal)
            .expect("the state's temporary file was never seen");
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        assert_eq!(
            names(&folder)
                .iter()
                .filter(|n| n.starts_with(".journeyscope"))
                .count(),
            0
        );
        // An earlier save, if there was one, is whole.
        if state.exists() {
            let config = journeyscope::engine::EngineConfig::default();
            journeyscope::source::live_state::load_state(&state, config, 300_000_000).unwrap();
        }
    }
}

/// A process id no process has: a child's, once it has ended.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_stale_temporary_file_of_a_gone_writer_is_swept_by_the_next_export() {
    let dir = tempfile::tempdir().unwrap();
    let events = clean_sample(dir.path(), "events.csv", 300);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let dead = dead_pid();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let make = |name: &str, modified: SystemTime| {
        let file = std::fs::File::create(out_dir.join(name)).unwrap();
        file.set_modified(modified).unwrap();
    };
    let stale = format!(".journeyscope-export-{dead}-0badcafe");
    let stale_state = format!(".journeyscope-state-{dead}-0badcaff");
    // A writer that is gone, but only just: it may be another machine's.
    let recent = format!(".journeyscope-export-{dead}-00000001");
    // This test's own process is alive.
    let alive = format!(".journeyscope-export-{}-0badcafe", std::process::id());
    // A file of the user's that only looks like ours.
    let users = ".journeyscope-export-notes.txt";
    for name in [&stale, &stale_state, &alive] {
        make(name, hour_ago);
    }
    make(&recent, SystemTime::now());
    make(users, hour_ago);
    let map = out_dir.join("map.svg");
    let out = run(&[
        "export",
        events.to_str().unwrap(),
        "--out",
        map.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut kept = vec![alive, recent, users.to_owned(), "map.svg".to_owned()];
    kept.sort();
    assert_eq!(names(&out_dir), kept);
}

/// `export` with the umask `umask`.
fn export_with_umask(source: &Path, out: &Path, umask: libc::mode_t) -> Output {
    let mut command = Command::new(BIN);
    command.args([
        "export",
        source.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // SAFETY: umask is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
    command.output().unwrap()
}

#[test]
fn an_export_has_the_mode_of_the_umask_or_of_the_file_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let events = clean_sample(dir.path(), "events.csv", 300);
    let fresh = dir.path().join("fresh.svg");
    assert!(export_with_umask(&events, &fresh, 0o022).status.success());
    assert_eq!(mode(&fresh), 0o644);
    let group = dir.path().join("group.csv");
    assert!(export_with_umask(&events, &group, 0o027).status.success());
    assert_eq!(mode(&group), 0o640);
    // An existing file keeps its mode, whatever the umask.
    let kept = dir.path().join("kept.json");
    std::fs::write(&kept, "{}").unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(export_with_umask(&events, &kept, 0o022).status.success());
    assert_eq!(mode(&kept), 0o640);
    assert!(
        std::fs::read_to_string(&kept)
            .unwrap()
            .contains("\"edges\"")
    );
    let shared = dir.path().join("shared.dot");
    std::fs::write(&shared, "").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o664)).unwrap();
    assert!(export_with_umask(&events, &shared, 0o077).status.success());
    assert_eq!(mode(&shared), 0o664);
}

#[test]
fn an_export_to_a_link_writes_the_file_it_points_to() {
    let dir = tempfile::tempdir().unwrap();
    let events = clean_sample(dir.path(), "events.csv", 300);
    let maps = dir.path().join("maps");
    std::fs::create_dir(&maps).unwrap();
    let target = maps.join("current.svg");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("map.svg");
    std::os::unix::fs::symlink("maps/current.svg", &link).unwrap();
    let out = run(&[
        "export",
        events.to_str().unwrap(),
        "--out",
        link.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with("<svg")
    );
    assert_eq!(mode(&target), 0o600);
    assert_eq!(names(&maps), ["current.svg"]);

    // A link to nothing yet: the file it names is made.
    let dangling = dir.path().join("later.csv");
    std::os::unix::fs::symlink("maps/later.csv", &dangling).unwrap();
    let out = run(&[
        "export",
        events.to_str().unwrap(),
        "--out",
        dangling.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
    assert!(maps.join("later.csv").is_file());

    // A folder, or a link to one, is not written.
    let folder = dir.path().join("folder.svg");
    std::fs::create_dir(&folder).unwrap();
    let folder_link = dir.path().join("folder_link.svg");
    std::os::unix::fs::symlink("folder.svg", &folder_link).unwrap();
    for out_path in [&folder, &folder_link] {
        let out = run(&[
            "export",
            events.to_str().unwrap(),
            "--out",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("it is a folder"), "{}", stderr(&out));
    }
    assert!(names(&folder).is_empty());
    assert_eq!(names(&maps), ["current.svg", "later.csv"]);
}

/// A DuckDB database `shop.duckdb` with an `events` table, alone in a
/// folder of its own.
fn shop_database(dir: &Path) -> PathBuf {
    let parquet = clean_sample(dir, "events.parquet", 2_000);
    let folder = dir.join("db");
    std::fs::create_dir(&folder).unwrap();
    let db = folder.join("shop.duckdb");
    let conn = duckdb::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE events AS SELECT * FROM read_parquet('{}')",
        parquet.display()
    ))
    .unwrap();
    drop(conn);
    db
}

#[test]
fn a_query_past_the_duckdb_memory_limit_stops_naming_the_flag_and_spills_nowhere_near() {
    let dir = tempfile::tempdir().unwrap();
    let db = shop_database(dir.path());
    let before = std::fs::read(&db).unwrap();
    let work = tempfile::tempdir().unwrap();
    let temporary = tempfile::tempdir().unwrap();
    // Eight billion rows, each of its own: DuckDB must hold them all (or
    // spill them) before the first is given.
    let query = "SELECT DISTINCT a.customer_id || '-' || b.customer_id || '-' || c.customer_id \
                 AS customer_id, a.event, a.timestamp FROM events a, events b, events c";
    let started = Instant::now();
    let out = Command::new(BIN)
        .args([
            "summarize",
            db.to_str().unwrap(),
            "--query",
            query,
            "--duckdb-memory-limit",
            "50MB",
        ])
        .current_dir(work.path())
        .env("TMPDIR", temporary.path())
        .output()
        .unwrap();
    let took = started.elapsed();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(
        message.contains("more memory than --duckdb-memory-limit 50MB lets it use"),
        "{message}"
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
    // Nothing beside the database, in the working folder, or left in the
    // temporary folder; the database as it was.
    assert_eq!(names(db.parent().unwrap()), ["shop.duckdb"]);
    assert!(names(work.path()).is_empty(), "{:?}", names(work.path()));
    assert!(
        names(temporary.path()).is_empty(),
        "{:?}",
        names(temporary.path())
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // A limit DuckDB cannot read is a usage error that says what to give.
    let out = run(&[
        "summarize",
        db.to_str().unwrap(),
        "--duckdb-memory-limit",
        "lots",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("such as 4GB"), "{}", stderr(&out));
    // Within the limit, the same database reads.
    let out = run(&[
        "summarize",
        db.to_str().unwrap(),
        "--duckdb-memory-limit",
        "200MB",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}
