//! Every Kafka client is made here: the consumer and its watcher, the
//! `produce` and alerts producers. Each gets its own settings, then the
//! `-X` client properties (which may override them) but for the registry's
//! (`schema.registry.*`, read by the registry client); a client that
//! cannot be made says why without any property value in the message.

use rdkafka::config::{ClientConfig, FromClientConfig};

use super::Redactor;
use crate::source::values::REGISTRY_PROPERTY_PREFIX;

/// Makes a client with `settings`, then `properties` (the `-X` flags);
/// the error names what is wrong without quoting any property's value.
pub fn create_client<T: FromClientConfig>(
    settings: &[(&str, &str)],
    properties: &[(String, String)],
) -> Result<T, String> {
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
        .create()
        .map_err(|e| Redactor::new(properties).clean(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::producer::BaseProducer;

    fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn registry_properties_stay_out_and_errors_quote_no_value() {
        let settings = [("bootstrap.servers", "127.0.0.1:1")];
        let registry = props(&[("schema.registry.basic.auth.user.info", "u:SECRET123")]);
        assert!(create_client::<BaseProducer>(&settings, &registry).is_ok());
        let bad = props(&[("security.protocol", "SECRET123")]);
        let e = create_client::<BaseProducer>(&settings, &bad)
            .err()
            .expect("an invalid value is refused");
        assert!(
            e.contains("security.protocol") && !e.contains("SECRET123"),
            "{e}"
        );
    }
}
