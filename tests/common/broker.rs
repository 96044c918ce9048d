//! A real Kafka-compatible broker (tansu) for the live tests, and helpers
//! that drive the `journeyscope` binary against it.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_journeyscope");

/// The tansu binary: `$JOURNEYSCOPE_TANSU`, which `scripts/test` sets.
pub fn tansu() -> PathBuf {
    match std::env::var_os("JOURNEYSCOPE_TANSU") {
        Some(path) => path.into(),
        None => panic!(
            "no Kafka broker for the tests: run them with `scripts/test` (it installs tansu) \
             or set JOURNEYSCOPE_TANSU"
        ),
    }
}

/// An S3 server (moto, from the tests' Python environment) that holds a
/// broker's storage across broker restarts; stopped when dropped.
struct ObjectStore {
    child: Child,
    port: u16,
}

impl ObjectStore {
    /// The bucket the broker's storage lives in.
    const BUCKET: &str = "tansu";

    fn start(dir: &Path) -> ObjectStore {
        let server = super::registry::python().with_file_name("moto_server");
        let port = free_port();
        let log = std::fs::File::create(dir.join("s3.log")).expect("log");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", server.display()));
        let store = ObjectStore { child, port };
        wait_for_port(port, "the S3 server");
        ureq::put(&format!("{}/{}", store.endpoint(), ObjectStore::BUCKET))
            .send_empty()
            .expect("create the broker's bucket");
        store
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ObjectStore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something listens on `port`, at most 30 s.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A broker process, stopped when dropped.
pub struct Broker {
    child: Option<Child>,
    port: u16,
    /// The port clients are told to connect to (a proxy's, in front).
    advertised: u16,
    storage: String,
    /// Where durable storage lives, when it does.
    store: Option<ObjectStore>,
    dir: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker with memory storage.
    pub fn start() -> Broker {
        Broker::start_with(false)
    }

    /// Starts a broker whose storage survives restarts (a bucket on an S3
    /// server of the test's own).
    pub fn durable() -> Broker {
        Broker::start_with(true)
    }

    fn start_with(durable: bool) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let store = durable.then(|| ObjectStore::start(dir.path()));
        let storage = match store {
            Some(_) => format!("s3://{}/", ObjectStore::BUCKET),
            None => "memory://tansu/".to_owned(),
        };
        let mut broker = Broker {
            child: None,
            port,
            advertised: port,
            storage,
            store,
            dir,
        };
        broker.run();
        broker
    }

    /// Starts a broker with memory storage that tells clients to connect
    /// to `advertised` (where a TLS terminator in front of it listens).
    pub fn behind(advertised: u16) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut broker = Broker {
            child: None,
            port: free_port(),
            advertised,
            storage: "memory://tansu/".to_owned(),
            store: None,
            dir,
        };
        broker.run();
        broker
    }

    /// The port the broker itself listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("broker.log")).expect("log");
        let mut command = Command::new(tansu());
        if let Some(store) = &self.store {
            command
                .env("AWS_ENDPOINT", store.endpoint())
                .env("AWS_ALLOW_HTTP", "true")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test");
        }
        let child = command
            .current_dir(self.dir.path())
            .args(["broker", "--listener-url", &self.url()])
            .args([
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{}", self.advertised),
            ])
            .args(["--storage-engine", &self.storage])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        wait_for_port(self.port, "the broker");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn create_topic(&self, topic: &str) {
        self.create_topic_with(topic, 4);
    }

    pub fn create_topic_with(&self, topic: &str, partitions: u32) {
        let out = Command::new(tansu())
            .args(["topic", "create", "--broker", &self.url()])
            .args(["--partitions", &partitions.to_string(), topic])
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

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn run(args: &[&str]) -> Output {
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

pub fn produce(broker: &Broker, topic: &str, file: &Path) {
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

/// `live --headless` on `topic`: from the earliest message, printing the
/// summary JSON once the topic has been quiet for 3 s. `flags` are pairs of
/// flag and value; one of the defaults given there takes the new value
/// (client properties, `-X`, are added to the defaults).
pub fn live_args(broker: &Broker, topic: &str, flags: &[&str]) -> Vec<String> {
    let mut pairs: Vec<(String, String)> = [
        ("--brokers", broker.brokers().as_str()),
        ("--topic", topic),
        ("--from", "earliest"),
        ("--until-idle", "3s"),
        ("--format", "json"),
        ("-X", "reconnect.backoff.max.ms=500"),
        // Generated files hold events written up to 5 minutes late; within
        // this lateness the stream is exactly the file.
        ("--lateness", "5m"),
    ]
    .iter()
    .map(|(f, v)| (f.to_string(), v.to_string()))
    .collect();
    for pair in flags.chunks(2) {
        let [flag, value] = pair else {
            panic!("flags come in pairs: {flags:?}")
        };
        match pairs.iter_mut().find(|(f, _)| f == flag && f != "-X") {
            Some(slot) => slot.1 = value.to_string(),
            None => pairs.push((flag.to_string(), value.to_string())),
        }
    }
    let mut args = vec!["live".to_owned(), "--headless".to_owned()];
    args.extend(pairs.into_iter().flat_map(|(f, v)| [f, v]));
    args
}

/// Runs `live` (see [`live_args`]) and reads its JSON.
pub fn live_with(broker: &Broker, topic: &str, flags: &[&str]) -> Value {
    let args = live_args(broker, topic, flags);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    json(&run(&args))
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn summarize_json(file: &Path) -> Value {
    json(&run(&[
        "summarize",
        &file.display().to_string(),
        "--format",
        "json",
    ]))
}

/// Asserts two summaries are equal, naming the fields that differ rather
/// than printing both whole.
pub fn assert_same(got: &Value, want: &Value, what: &str) {
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

/// Asserts that two summaries describe the same events (see
/// [`comparable`]).
pub fn assert_same_summary(got: Value, want: Value, what: &str) {
    assert_same(&comparable(got), &comparable(want), what);
}

/// A broker with `topic` created, and a temporary directory for files.
pub fn with_topic(topic: &str) -> (Broker, tempfile::TempDir) {
    let broker = Broker::start();
    broker.create_topic(topic);
    (broker, tempfile::tempdir().expect("a temporary directory"))
}

/// The parts of a summary that describe the events: everything but where
/// they came from (source name, rejected records' positions, Kafka offsets)
/// and what only a stream has (who is there now).
pub fn comparable(mut v: Value) -> Value {
    let o = v.as_object_mut().expect("an object");
    o.remove("source");
    o.remove("kafka");
    o.remove("live");
    o.remove("open_sessions");
    if let Some(r) = o.get_mut("rejected").and_then(Value::as_object_mut) {
        r.remove("sample");
    }
    v
}

pub fn generated(dir: &Path, name: &str, events: usize, clean: bool) -> PathBuf {
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

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).expect("create");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
}

/// The events of a generated file that the engine accepts, with their
/// times (µs): parsed here with serde_json and chrono, apart from the engine.
pub fn accepted_events(lines: &[String]) -> Vec<(String, i64)> {
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

/// A generated file cut in two at `share` of its lines, for streams that
/// arrive in two parts.
pub struct TwoParts {
    /// The whole file.
    pub file: PathBuf,
    /// Its first part, and the number of records in it.
    pub first: (PathBuf, u64),
    /// Its second part, and the number of records in it.
    pub second: (PathBuf, u64),
}

/// Generates `events` records (messy) in `dir` and cuts them in two.
pub fn two_parts(dir: &Path, events: usize, share: f64) -> TwoParts {
    let file = generated(dir, "events.jsonl", events, false);
    let all = lines(&file);
    let (first, second) = all.split_at((all.len() as f64 * share) as usize);
    let part = |name: &str, lines: &[String]| {
        let path = dir.join(name);
        write_lines(&path, lines);
        (path, lines.len() as u64)
    };
    TwoParts {
        first: part("first.jsonl", first),
        second: part("second.jsonl", second),
        file,
    }
}

/// A webhook on a free local port (its URL) that answers every POST with
/// 200, handing each body to `take`.
pub fn serve_webhook(take: impl Fn(String) + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let serve = move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                take(String::from_utf8(body).unwrap());
            }
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    };
    std::thread::Builder::new()
        .name("webhook".into())
        .spawn(serve)
        .unwrap();
    url
}

/// A webhook (its URL) whose bodies arrive on the receiver (64 at most
/// waiting).
pub fn webhook() -> (String, crossbeam_channel::Receiver<String>) {
    let (bodies, received) = crossbeam_channel::bounded(64);
    let url = serve_webhook(move |body| {
        let _ = bodies.send(body);
    });
    (url, received)
}

/// Up to `n` alerts produced to `topic` (partitions 0 to 3, read from the
/// beginning for 20 s at most): (key, JSON).
pub fn read_alerts(broker: &Broker, topic: &str, n: usize) -> Vec<(String, serde_json::Value)> {
    let twenty = std::time::Duration::from_secs(20);
    read_topic(broker, topic, n, (twenty, twenty))
}

/// The messages on `topic` (partitions 0 to 3, from the beginning) until
/// `n` are read, nothing more comes for `quiet`, or `within` passes:
/// (key, JSON).
pub fn read_topic(
    broker: &Broker,
    topic: &str,
    n: usize,
    (within, quiet): (std::time::Duration, std::time::Duration),
) -> Vec<(String, serde_json::Value)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    use std::time::{Duration, Instant};

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.brokers())
        .set("group.id", "read-test")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..4 {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut read = Vec::new();
    let deadline = Instant::now() + within;
    let mut last_new = Instant::now();
    while read.len() < n && Instant::now() < deadline && last_new.elapsed() < quiet {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let key = String::from_utf8_lossy(m.key().unwrap()).to_string();
            read.push((key, serde_json::from_slice(m.payload().unwrap()).unwrap()));
            last_new = Instant::now();
        }
    }
    read
}

/// Checks a streamed summary against `summarize` of just the lines it
/// should hold (`inside`, written to `path`): the same in every number but
/// the rejected records, and as many events as the lines less their
/// duplicates.
pub fn assert_same_as_lines(streamed: Value, inside: &[String], path: &Path, what: &str) {
    write_lines(path, inside);
    let mut reference = comparable(summarize_json(path));
    let mut got = comparable(streamed);
    for v in [&mut got, &mut reference] {
        v.as_object_mut().unwrap().remove("rejected");
    }
    assert_eq!(
        got["events"],
        inside.len() as u64 - reference["duplicates"].as_u64().unwrap()
    );
    assert_same(&got, &reference, what);
}
