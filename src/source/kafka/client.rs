//! Every Kafka client is made here: the consumer and its watcher, the
//! `produce` and alerts producers. Each gets its own settings, then the
//! `-X` client properties (which may override them) but for the registry's
//! (`schema.registry.*`, read by the registry client); a client that
//! cannot be made says why without any property value in the message.

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfig};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::Redactor;
use crate::source::values::REGISTRY_PROPERTY_PREFIX;

/// Why a client could not be made, with every client property's value
/// taken out of the client's message (made only by [`create_client`] and
/// [`create_consumer`], so none can hold one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(String);

impl ClientError {
    fn of(error: &KafkaError, redactor: &Redactor) -> Self {
        ClientError(redactor.clean(&error.to_string()))
    }
}

/// Makes a client with `settings`, then `properties` (the `-X` flags);
/// the error names what is wrong without quoting any property's value.
pub fn create_client<T: FromClientConfig>(
    settings: &[(&str, &str)],
    properties: &[(String, String)],
) -> Result<T, ClientError> {
    config_of(settings, properties)
        .create()
        .map_err(|e| ClientError::of(&e, &Redactor::new(properties)))
}

/// The consumer that reads events: as [`create_client`], with a context
/// that does not log the ends of partitions the reader asks to be told of.
pub fn create_consumer(
    settings: &[(&str, &str)],
    properties: &[(String, String)],
) -> Result<EventConsumer, ClientError> {
    let redactor = Redactor::new(properties);
    config_of(settings, properties)
        .create_with_context(EndsAreNews {
            redactor: redactor.clone(),
        })
        .map_err(|e| ClientError::of(&e, &redactor))
}

/// A consumer with a context of the caller's (a worker's, told of each
/// rebalance), made as [`create_client`] makes clients.
pub fn create_consumer_with<C: ConsumerContext + 'static>(
    settings: &[(&str, &str)],
    properties: &[(String, String)],
    context: C,
) -> Result<BaseConsumer<C>, ClientError> {
    config_of(settings, properties)
        .create_with_context(context)
        .map_err(|e| ClientError::of(&e, &Redactor::new(properties)))
}

/// Whether a client error is only the end of a partition, which readers
/// that ask for it (`enable.partition.eof`) need not hear of as an error.
pub fn is_partition_end(error: &KafkaError) -> bool {
    matches!(
        error,
        KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
    )
}

/// `settings`, then the `-X` properties but for the registry's.
fn config_of(settings: &[(&str, &str)], properties: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in settings {
        config.set(*key, *value);
    }
    for (key, value) in properties {
        if !key.starts_with(REGISTRY_PROPERTY_PREFIX) {
            config.set(key, value);
        }
    }
    config
}

/// A consumer of events.
pub type EventConsumer = BaseConsumer<EndsAreNews>;

/// The events consumer's context: librdkafka reports reaching the end of
/// a partition (`enable.partition.eof`) as an error too; the reader asked
/// for it, so it is not logged. Other client errors are, as by default,
/// without any client property's value.
pub struct EndsAreNews {
    redactor: Redactor,
}

impl EndsAreNews {
    /// `text` (a client error's) without any client property's value.
    pub fn clean(&self, text: &str) -> String {
        self.redactor.clean(text)
    }
}

impl ClientContext for EndsAreNews {
    fn error(&self, error: KafkaError, reason: &str) {
        if !is_partition_end(&error) {
            let text = self.redactor.clean(&format!("{error}: {reason}"));
            log::error!("librdkafka: {text}");
        }
    }
}

impl ConsumerContext for EndsAreNews {}

#[cfg(test)]
mod tests {
    use super::super::secrets::tests::props;
    use super::*;
    use rdkafka::producer::BaseProducer;

    #[test]
    fn registry_properties_stay_out_and_errors_quote_no_value() {
        let settings = [("bootstrap.servers", "127.0.0.1:1")];
        let registry = props(&[("schema.registry.basic.auth.user.info", "u:SECRET123")]);
        assert!(create_client::<BaseProducer>(&settings, &registry).is_ok());
        let bad = props(&[("security.protocol", "SECRET123")]);
        let e = create_client::<BaseProducer>(&settings, &bad)
            .err()
            .expect("an invalid value is refused")
            .to_string();
        assert!(
            e.contains("security.protocol") && !e.contains("SECRET123"),
            "{e}"
        );
    }
}
