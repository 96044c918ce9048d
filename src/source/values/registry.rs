//! A Confluent Schema Registry client: schemas fetched by id once (with
//! the schemas they reference), cached, and read into decoders.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

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

impl RegistrySpec {
    /// The registry at `url`, with the `schema.registry.*` client
    /// properties among `properties` (basic auth, CA).
    pub fn from_properties(url: &str, properties: &[(String, String)]) -> Self {
        let property = |key: &str| {
            properties
                .iter()
                .find(|(k, _)| k == &format!("{REGISTRY_PROPERTY_PREFIX}{key}"))
                .map(|(_, v)| v.clone())
        };
        RegistrySpec {
            url: url.trim_end_matches('/').to_owned(),
            basic_auth: property("basic.auth.user.info"),
            ca_location: property("ssl.ca.location").map(PathBuf::from),
        }
    }
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
    Avro(avro::AvroSchema),
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

/// How often a registry that does not answer is asked again before the
/// value is given up on.
const ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const TIMEOUT: Duration = Duration::from_secs(10);
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
    /// does not answer is asked a few times, about 4 s in all, and then
    /// not again for a second; an id it does not know is remembered as
    /// unknown).
    pub fn schema(&self, id: u32) -> Result<Arc<Registered>, Undecoded> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(&id).cloned());
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
                format!("schema id {id} is not in the registry at {}", self.spec.url),
            )),
            Err(Failure::Unreadable(e)) => Err(Undecoded::new(
                RejectReason::Undecodable,
                format!("schema id {id} from the registry cannot be read: {e}"),
            )),
            Err(Failure::Unreachable(e)) => {
                // Remembered for a moment only: asked again after it.
                until = Some(Instant::now() + ASK_AGAIN_AFTER);
                Err(Undecoded::new(
                    RejectReason::UnknownSchemaId,
                    format!(
                        "schema id {id}: the registry at {} did not answer ({e})",
                        self.spec.url
                    ),
                ))
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(id, (answer.clone(), until));
        }
        answer
    }

    fn fetch(&self, id: u32) -> Result<Registered, Failure> {
        let text: SchemaText = self.get_json(&format!("/schemas/ids/{id}"))?;
        self.read(text)
    }

    fn read(&self, text: SchemaText) -> Result<Registered, Failure> {
        let mut references = Vec::new();
        self.collect_references(&text.references, &mut references, 0)?;
        match text.schema_type.as_deref().unwrap_or("AVRO") {
            "AVRO" => avro::read_registered(&text.schema, &references)
                .map(Registered::Avro)
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
                self.get_json(&format!("/subjects/{subject}/versions/{version}"))?;
            self.collect_references(&text.references, into, depth + 1)?;
            into.push((reference.name.clone(), text.schema));
        }
        Ok(())
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
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
                    let body = response.body_mut().read_to_string().unwrap_or_default();
                    match status {
                        200 => {
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
                Err(e) => last = self.clean(&e.to_string()),
            }
            if attempt < ATTEMPTS {
                std::thread::sleep(pause);
                pause *= 2;
            }
        }
        Err(Failure::Unreachable(last))
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
        let mut response = request.send(&body).map_err(|e| {
            format!(
                "the registry at {}: {}",
                self.spec.url,
                self.clean(&e.to_string())
            )
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            return Err(format!(
                "the registry at {} refused the schema for `{subject}` (HTTP {status}): {}",
                self.spec.url,
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

    /// `text` without the credentials.
    fn clean(&self, text: &str) -> String {
        match &self.spec.basic_auth {
            Some(secret) if !secret.is_empty() => text.replace(secret.as_str(), "***"),
            _ => text.to_owned(),
        }
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
