//! The Schema Registry-compatible test server (`tests/registry/registry.py`)
//! and the Python beside it, for the tests that read registry-framed
//! values.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python with confluent-kafka, fastavro and protobuf:
/// `$JOURNEYSCOPE_PYTHON`, or the environment `scripts/test` makes.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("JOURNEYSCOPE_PYTHON") {
        return path.into();
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let path = Path::new(&home).join(".cache/journeyscope/py/bin/python");
    assert!(
        path.exists(),
        "no Python with confluent-kafka at {}: run `scripts/test` (it makes one) or set \
         JOURNEYSCOPE_PYTHON",
        path.display()
    );
    path
}

/// A script of `tests/registry`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/registry")
        .join(name)
}

/// The test registry, stopped when dropped.
pub struct Registry {
    child: Child,
    port: u16,
    /// One line per request: METHOD PATH auth|no-auth.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts it; with `user`, every request must carry those credentials.
    pub fn start(user: Option<&str>) -> Registry {
        let mut flags = Vec::new();
        if let Some(user) = user {
            flags.extend(["--user", user]);
        }
        Registry::start_with(&flags)
    }

    /// Starts it with more flags (`--delay SECONDS`, `--fail STATUS`,
    /// `--pad BYTES`: see the script).
    pub fn start_with(flags: &[&str]) -> Registry {
        let dir = tempfile::tempdir().expect("temp dir");
        let port_file = dir.path().join("port");
        let log = dir.path().join("requests.log");
        let child = Command::new(python())
            .arg(script("registry.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--log")
            .arg(&log)
            .args(flags)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the test registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "the registry did not start within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Registry {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Registers an Avro schema under `subject`; returns its id.
    pub fn register_avro(&self, subject: &str, schema: &str) -> u32 {
        let body = serde_json::json!({ "schema": schema }).to_string();
        let answer = ureq::post(&format!("{}/subjects/{subject}/versions", self.url()))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .send(&body)
            .expect("register a schema")
            .body_mut()
            .read_to_string()
            .expect("the registry's answer");
        let id: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
        id["id"].as_u64().expect("an id") as u32
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
