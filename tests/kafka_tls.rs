//! Kafka over TLS for real: a TLS terminator (stunnel) with a test CA in
//! front of the broker. Events produced and read through it give the
//! summary of their file; a client that trusts another CA is refused, and
//! says why. The Kafka client is built with TLS and SASL.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::broker::*;

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
}

/// A certificate authority `name.pem` (with `name.key`) in `dir`.
fn authority(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    let cert = format!("{name}.pem");
    let subject = format!("/CN=Journeyscope test {name}");
    openssl(dir, &["genrsa", "-out", &key, "2048"]);
    openssl(
        dir,
        &[
            "req", "-x509", "-new", "-key", &key, "-sha256", "-days", "2", "-subj", &subject,
            "-out", &cert,
        ],
    );
}

/// `server.pem` and `server.key` for 127.0.0.1, signed by the CA `ca`.
fn server_certificate(dir: &Path) {
    openssl(dir, &["genrsa", "-out", "server.key", "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-subj",
            "/CN=127.0.0.1",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// stunnel taking TLS on `tls_port` to the broker's plain port; stopped
/// when dropped.
struct Terminator(Child);

impl Terminator {
    fn start(dir: &Path, tls_port: u16, broker_port: u16) -> Terminator {
        let config = dir.join("stunnel.conf");
        std::fs::write(
            &config,
            format!(
                "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{tls_port}\nconnect = \
                 127.0.0.1:{broker_port}\ncert = {}\nkey = {}\n",
                dir.join("server.pem").display(),
                dir.join("server.key").display()
            ),
        )
        .unwrap();
        let child = Command::new("stunnel4")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 (Debian's stunnel4 package)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
            assert!(Instant::now() < deadline, "stunnel did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Terminator(child)
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The client properties of TLS with `ca` trusted.
fn tls(ca: &Path) -> Vec<String> {
    vec![
        "-X".into(),
        "security.protocol=SSL".into(),
        "-X".into(),
        format!("ssl.ca.location={}", ca.display()),
    ]
}

#[test]
fn events_read_over_tls_equal_their_file_and_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    authority(dir.path(), "ca");
    authority(dir.path(), "other");
    server_certificate(dir.path());
    let tls_port = free_port();
    let broker = Broker::behind(tls_port);
    broker.create_topic("secure");
    let _terminator = Terminator::start(dir.path(), tls_port, broker.port());
    let brokers = format!("127.0.0.1:{tls_port}");

    let file = generated(dir.path(), "events.jsonl", 5_000, false);
    let trusted = tls(&dir.path().join("ca.pem"));
    let mut produce: Vec<String> = ["produce", "--brokers", &brokers, "--topic", "secure"]
        .map(str::to_owned)
        .to_vec();
    produce.extend(["--input".to_owned(), file.display().to_string()]);
    produce.extend(trusted.iter().cloned());
    run(&produce.iter().map(String::as_str).collect::<Vec<_>>());

    let live = |properties: &[String]| {
        let mut args = vec![
            "live",
            "--headless",
            "--brokers",
            &brokers,
            "--topic",
            "secure",
            "--from",
            "earliest",
            "--until-idle",
            "3s",
            "--lateness",
            "5m",
            "--format",
            "json",
        ];
        args.extend(properties.iter().map(String::as_str));
        Command::new(BIN).args(&args).output().expect("live")
    };
    let out = live(&trusted);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_summary(json(&out), summarize_json(&file), "over TLS");

    // A client that trusts another authority: refused, and told why.
    let started = Instant::now();
    let out = live(&tls(&dir.path().join("other.pem")));
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("error: Kafka: cannot reach the brokers")
            && said
                .contains("ssl.ca.location must name the CA that signed the brokers' certificate"),
        "{said}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// The Kafka client speaks TLS and every SASL mechanism production
/// clusters use.
#[test]
fn the_kafka_client_has_tls_and_sasl() {
    let config = rdkafka::ClientConfig::new().create_native_config().unwrap();
    let features = config.get("builtin.features").unwrap();
    for feature in [
        "ssl",
        "sasl_scram",
        "sasl_plain",
        "sasl_oauthbearer",
        "sasl_gssapi",
    ] {
        assert!(
            features.split(',').any(|f| f == feature),
            "{feature} is not in {features}"
        );
    }
}
