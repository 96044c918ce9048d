//! A Confluent Schema Registry client: schemas fetched by id once (with
//! the schemas they reference), cached, and read into decoders.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::background::lock;
use crate::engine::RejectReason;

use super::Undecoded;
use super::avro;
use super::protobuf;

/// Where the registry is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrySpec {
    /// The base URL (`http://host:8081`, `https://…`).
    pub url: String,
    /// `USER:PASS` for HTTP basic auth (a secret: never shown).
    pub basic_auth: Option<String>,
    /// A PEM file of the CA that signed the registry's certificate.
    pub ca_location: Option<PathBuf>,
}

impl std::fmt::Debug for RegistrySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySpec")
            .field("url", &self.url)
            .field("basic_auth", &self.basic_auth.as_ref().map(|_| "***"))
            .field("ca_location", &self.ca_location)
            .finish()
    }
}

/// The client properties (`-X`) that configure the registry rather than
/// the Kafka client.
pub const REGISTRY_PROPERTY_PREFIX: &str = "schema.registry.";

/// The registry properties the client reads (after the prefix).
const REGISTRY_PROPERTIES: [&str; 2] = ["basic.auth.user.info", "ssl.ca.location"];

impl RegistrySpec {
    /// The registry at `url`, with the `schema.registry.*` client
    /// properties among `properties` (basic auth, CA). Credentials written
    /// in the URL (`https://USER:PASS@host`) are taken out of it and used
    /// when no basic-auth property gives others; a registry property the
    /// client does not know is warned about.
    pub fn from_properties(url: &str, properties: &[(String, String)]) -> Self {
        let property = |key: &str| {
            properties
                .iter()
                .find(|(k, _)| k == &format!("{REGISTRY_PROPERTY_PREFIX}{key}"))
                .map(|(_, v)| v.clone())
        };
        let unknown: Vec<&str> = properties
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(REGISTRY_PROPERTY_PREFIX))
            .filter(|k| !REGISTRY_PROPERTIES.contains(k))
            .collect();
        if !unknown.is_empty() {
            log::warn!(
                "-X {}: not a registry property Journeyscope reads (ignored); it reads {}",
                unknown
                    .iter()
                    .map(
                        |k| crate::format::printable(&format!("{REGISTRY_PROPERTY_PREFIX}{k}"))
                            .into_owned()
                    )
                    .collect::<Vec<_>>()
                    .join(", "),
                REGISTRY_PROPERTIES
                    .map(|k| format!("{REGISTRY_PROPERTY_PREFIX}{k}"))
                    .join(" and ")
            );
        }
        let (url, user_info) = split_user_info(url.trim().trim_end_matches('/'));
        RegistrySpec {
            url,
            basic_auth: property("basic.auth.user.info").or(user_info),
            ca_location: property("ssl.ca.location").map(PathBuf::from),
        }
    }
}

/// `url` without the user and password it may carry, and them
/// (percent-decoded), as `USER:PASS`.
fn split_user_info(url: &str) -> (String, Option<String>) {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => (
            format!("{scheme}{}", &rest[at + 1..]),
            Some(percent_decoded(&rest[..at])),
        ),
        None => (url.to_owned(), None),
    }
}

/// A URL as it may be shown: without the user and password it may carry
/// (`https://alice:secret@host/` is shown as `https://host/`). Every
/// message that names a registry shows it so.
pub fn shown_url(url: &str) -> String {
    crate::format::printable(&split_user_info(url).0).into_owned()
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which kind of schema an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// Avro.
    Avro,
    /// Protobuf.
    Protobuf,
    /// JSON Schema.
    Json,
}

impl SchemaKind {
    /// As the user reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaKind::Avro => "Avro",
            SchemaKind::Protobuf => "Protobuf",
            SchemaKind::Json => "JSON Schema",
        }
    }
}

/// A registered schema, read.
pub enum Registered {
    /// An Avro schema.
    Avro(Box<avro::AvroSchema>),
    /// A Protobuf file: the messages are found by the values' indexes.
    Protobuf(prost_reflect::FileDescriptor),
    /// JSON Schema: the payload is JSON text.
    Json,
}

impl Registered {
    /// Its kind.
    pub fn kind(&self) -> SchemaKind {
        match self {
            Registered::Avro(_) => SchemaKind::Avro,
            Registered::Protobuf(_) => SchemaKind::Protobuf,
            Registered::Json => SchemaKind::Json,
        }
    }
}

/// A schema as the registry answers for an id or a subject's version.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct SchemaText {
    pub schema: String,
    #[serde(rename = "schemaType", default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Vec<Reference>,
}

/// A schema another one imports.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i64,
}

/// How often a registry that answers with an error (or cannot be
/// connected to) is asked again before the value is given up on; one that
/// does not answer in time is not asked again at once.
const ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// How long one request may take in all, and connecting.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read (a schema, with its envelope).
const MAX_ANSWER_BYTES: u64 = 16 << 20;
/// How deep references may nest.
const MAX_REFERENCE_DEPTH: usize = 16;

/// Schemas by id, each fetched once.
pub struct Registry {
    spec: RegistrySpec,
    agent: ureq::Agent,
    /// Each id's answer; a failure to reach the registry is kept only
    /// until the instant given, then asked again.
    cache: Mutex<HashMap<u32, Answer>>,
}

/// A schema or why there is none, and until when that holds (None: for good).
type Answer = (Result<Arc<Registered>, Undecoded>, Option<Instant>);

/// How long a registry that could not be asked (or refused the
/// credentials) is not asked again about the same id.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(1);

enum Failure {
    /// The registry does not know it (404).
    Unknown,
    /// The registry could not be asked (or answered with an error).
    Unreachable(String),
    /// The schema text cannot be read.
    Unreadable(String),
}

impl Registry {
    /// A client of the registry `spec` names.
    pub fn new(spec: RegistrySpec) -> Self {
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .http_status_as_error(false);
        if let Some(ca) = spec
            .ca_location
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            && let Ok(certificate) = ureq::tls::Certificate::from_pem(&ca)
        {
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[certificate]))
                    .build(),
            );
        }
        Registry {
            spec,
            agent: config.build().into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The schema of `id`: from the cache, or fetched (a registry that
    /// answers with an error is asked a few times, about 2 s in all, one
    /// that does not answer within 10 s once, and then neither is asked
    /// again for a second; an id it does not know is remembered as
    /// unknown).
    pub fn schema(&self, id: u32) -> Result<Arc<Registered>, Undecoded> {
        let cached = lock(&self.cache).get(&id).cloned();
        if let Some((answer, until)) = cached
            && until.is_none_or(|until| Instant::now() < until)
        {
            return answer;
        }
        let mut until = None;
        let answer = match self.fetch(id) {
            Ok(schema) => Ok(Arc::new(schema)),
            Err(Failure::Unknown) => Err(Undecoded::new(
                RejectReason::UnknownSchemaId,
                format!(
                    "schema id {id} is not in the registry at {}",
                    shown_url(&self.spec.url)
                ),
            )),
            Err(Failure::Unreadable(e)) => Err(Undecoded::new(
                RejectReason::Undecodable,
                format!("schema id {id} from the registry cannot be read: {e}"),
            )),
            Err(Failure::Unreachable(e)) => {
                // Remembered for a moment only: asked again after it.
                until = Some(Instant::now() + ASK_AGAIN_AFTER);
                Err(Undecoded::new(
                    RejectReason::RegistryUnavailable,
                    format!(
                        "schema id {id}: the registry at {} did not answer ({e})",
                        shown_url(&self.spec.url)
                    ),
                ))
            }
        };
        lock(&self.cache).insert(id, (answer.clone(), until));
        answer
    }

    fn fetch(&self, id: u32) -> Result<Registered, Failure> {
        let text: SchemaText = self.get_json(&format!("/schemas/ids/{id}"), id)?;
        self.read(text, id)
    }

    fn read(&self, text: SchemaText, id: u32) -> Result<Registered, Failure> {
        let mut references = Vec::new();
        self.collect_references(&text.references, &mut references, 0, id)?;
        match text.schema_type.as_deref().unwrap_or("AVRO") {
            "AVRO" => avro::read_registered(&text.schema, &references)
                .map(|schema| Registered::Avro(Box::new(schema)))
                .map_err(Failure::Unreadable),
            "PROTOBUF" => protobuf::read_registered(&text.schema, &references)
                .map(Registered::Protobuf)
                .map_err(Failure::Unreadable),
            "JSON" => Ok(Registered::Json),
            other => Err(Failure::Unreadable(format!("unknown schemaType `{other}`"))),
        }
    }

    /// Every schema `refs` name, depth first (a reference's own references
    /// come before it), as (name, schema text).
    fn collect_references(
        &self,
        refs: &[Reference],
        into: &mut Vec<(String, String)>,
        depth: usize,
        id: u32,
    ) -> Result<(), Failure> {
        if depth > MAX_REFERENCE_DEPTH {
            return Err(Failure::Unreadable("references nest too deep".into()));
        }
        for reference in refs {
            if into.iter().any(|(name, _)| *name == reference.name) {
                continue;
            }
            let version = match reference.version {
                v if v < 0 => "latest".to_owned(),
                v => v.to_string(),
            };
            let subject = utf8_percent(&reference.subject);
            let text: SchemaText =
                self.get_json(&format!("/subjects/{subject}/versions/{version}"), id)?;
            self.collect_references(&text.references, into, depth + 1, id)?;
            into.push((reference.name.clone(), text.schema));
        }
        Ok(())
    }

    /// The registry's JSON answer at `path` (asked for schema `id`).
    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str, id: u32) -> Result<T, Failure> {
        let url = format!("{}{path}", self.spec.url);
        let mut pause = FIRST_PAUSE;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .agent
                .get(&url)
                .header("accept", "application/vnd.schemaregistry.v1+json");
            if let Some(auth) = self.authorization() {
                request = request.header("authorization", &auth);
            }
            match request.call() {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    match status {
                        200 => {
                            let body = self.answer(response.body_mut(), id)?;
                            return serde_json::from_str(&body).map_err(|e| {
                                Failure::Unreadable(format!("the registry's answer: {e}"))
                            });
                        }
                        404 => return Err(Failure::Unknown),
                        401 | 403 => {
                            return Err(Failure::Unreachable(format!(
                                "HTTP {status}: the registry refused the credentials \
                                 (-X schema.registry.basic.auth.user.info=USER:PASS)"
                            )));
                        }
                        _ => last = format!("HTTP {status}"),
                    }
                }
                // Waited for long enough already: not asked again now.
                Err(ureq::Error::Timeout(_)) => {
                    return Err(Failure::Unreachable(format!(
                        "no answer within {} s",
                        TIMEOUT.as_secs()
                    )));
                }
                Err(e) => last = self.clean(&e.to_string()),
            }
            if attempt < ATTEMPTS {
                std::thread::sleep(pause);
                pause *= 2;
            }
        }
        Err(Failure::Unreachable(last))
    }

    /// The text of an answer, read up to [`MAX_ANSWER_BYTES`].
    fn answer(&self, body: &mut ureq::Body, id: u32) -> Result<String, Failure> {
        body.with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => Failure::Unreadable(format!(
                    "the registry's answer for schema id {id} is larger than {} MiB",
                    MAX_ANSWER_BYTES >> 20
                )),
                ureq::Error::Timeout(_) => Failure::Unreachable(format!(
                    "its answer did not arrive within {} s",
                    TIMEOUT.as_secs()
                )),
                other => Failure::Unreachable(format!(
                    "its answer broke off: {}",
                    self.clean(&other.to_string())
                )),
            })
    }

    /// Registers `schema` under `subject` (as `produce` does for the
    /// events it replays) and returns its id.
    pub fn register(&self, subject: &str, schema: &str, kind: SchemaKind) -> Result<u32, String> {
        #[derive(Deserialize)]
        struct Id {
            id: u32,
        }
        let schema_type = match kind {
            SchemaKind::Avro => "AVRO",
            SchemaKind::Protobuf => "PROTOBUF",
            SchemaKind::Json => "JSON",
        };
        let body = serde_json::json!({ "schema": schema, "schemaType": schema_type }).to_string();
        let url = format!(
            "{}/subjects/{}/versions",
            self.spec.url,
            utf8_percent(subject)
        );
        let mut request = self
            .agent
            .post(&url)
            .header("content-type", "application/vnd.schemaregistry.v1+json");
        if let Some(auth) = self.authorization() {
            request = request.header("authorization", &auth);
        }
        let shown = shown_url(&self.spec.url);
        let mut response = request
            .send(&body)
            .map_err(|e| format!("the registry at {shown}: {}", self.clean(&e.to_string())))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| {
                format!(
                    "the registry at {shown} answered, but its answer could not be read: {}",
                    self.clean(&e.to_string())
                )
            })?;
        if status != 200 {
            return Err(format!(
                "the registry at {shown} refused the schema for `{subject}` (HTTP {status}): {}",
                crate::format::excerpt(&self.clean(&text), 300)
            ));
        }
        serde_json::from_str::<Id>(&text)
            .map(|id| id.id)
            .map_err(|e| format!("the registry's answer: {e}"))
    }

    /// The basic-auth header value, when credentials are given.
    fn authorization(&self) -> Option<String> {
        use base64::Engine;
        let auth = self.spec.basic_auth.as_ref()?;
        let token = base64::engine::general_purpose::STANDARD.encode(auth);
        Some(format!("Basic {token}"))
    }

    /// `text` without the credentials (whole, or the password alone).
    fn clean(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if let Some(secret) = self.spec.basic_auth.as_deref().filter(|s| !s.is_empty()) {
            text = text.replace(secret, "***");
            if let Some((_, password)) = secret.split_once(':')
                && password.len() >= 3
            {
                text = text.replace(password, "***");
            }
        }
        text
    }
}

/// A subject as a URL path segment.
fn utf8_percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
