//! Client property values (`-X key=value`) may be secrets: passwords,
//! keys, tokens. librdkafka and its Rust binding quote values in their
//! errors ("Invalid value "…" for configuration property …"), so every
//! message a Kafka client gives passes through a [`Redactor`] that removes
//! every value given, for every property, known or not.

/// What a removed value is shown as.
pub const REDACTED: &str = "***";

/// Removes the values of client properties from messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// The values, longest first (so that a value inside another goes too).
    values: Vec<String>,
}

impl Redactor {
    /// A redactor for these `(key, value)` properties.
    pub fn new(properties: &[(String, String)]) -> Self {
        let mut values: Vec<String> = properties
            .iter()
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { values }
    }

    /// `text` with every value removed. Values of three characters or more
    /// go wherever they occur; shorter ones wherever they stand quoted or
    /// after `=` (a one-letter value would otherwise blank out every word
    /// holding that letter).
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in &self.values {
            if value.chars().count() >= 3 {
                out = out.replace(value.as_str(), REDACTED);
            } else {
                for (before, after) in [("\"", "\""), ("'", "'"), ("=", ""), ("`", "`")] {
                    out = out.replace(
                        &format!("{before}{value}{after}"),
                        &format!("{before}{REDACTED}{after}"),
                    );
                }
            }
        }
        out
    }
}

/// Reads one client property written `key=value` (the key and value are
/// trimmed). A mistake is explained without quoting the argument, which
/// may be a secret typed without its key.
pub fn client_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        Some(_) => Err("a client property has a value but no name before `=`; \
             write it as key=value, e.g. security.protocol=SASL_SSL"
            .to_owned()),
        None => Err(
            "a client property has no `=` (it is not shown, as it may be a secret); \
             write it as key=value, e.g. security.protocol=SASL_SSL"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `-X` properties from pairs.
    pub(in crate::source::kafka) fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_value_is_removed_known_property_or_not() {
        let r = Redactor::new(&props(&[
            ("ssl.key.password", "SECRET123"),
            ("sasl.pasword", "hunter2hunter2"),
            ("x", "ab"),
        ]));
        let message = r#"Client config error: Invalid value "SECRET123" for configuration property "ssl.key.password"; hunter2hunter2 x="ab" x=ab"#;
        let clean = r.clean(message);
        assert!(!clean.contains("SECRET123"), "{clean}");
        assert!(!clean.contains("hunter2"), "{clean}");
        assert!(
            !clean.contains("\"ab\"") && !clean.contains("=ab"),
            "{clean}"
        );
        assert!(clean.contains("ssl.key.password"), "{clean}");
    }

    #[test]
    fn bad_arguments_are_explained_without_being_quoted() {
        assert_eq!(
            client_property(" sasl.username = ops "),
            Ok(("sasl.username".into(), "ops".into()))
        );
        for bad in ["=hunter2", "SECRET123", "sasl.password:SECRET123"] {
            let e = client_property(bad).unwrap_err();
            assert!(!e.contains("hunter2") && !e.contains("SECRET123"), "{e}");
        }
    }
}
