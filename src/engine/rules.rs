//! Touchpoint rules: how raw event names become the touchpoints of the map.
//!
//! Rules apply in order: rename by regular expression, split by a property,
//! exclude.

use regex::Regex;
use thiserror::Error;

/// A rule given in a form the engine cannot use.
#[derive(Debug, Error)]
pub enum RuleError {
    /// `--rename` needs `REGEX=NAME`.
    #[error("rename rule `{0}` must look like REGEX=NAME, for example '^/product/.*=product page'")]
    RenameSyntax(String),
    /// The regular expression does not compile.
    #[error("rename rule `{rule}`: {source}")]
    Regex {
        /// The rule as given.
        rule: String,
        /// What is wrong with the expression.
        source: regex::Error,
    },
    /// `--split-by` needs `EVENT:PROPERTY`.
    #[error("split rule `{0}` must look like EVENT:PROPERTY, for example 'page_view:page_path'")]
    SplitSyntax(String),
}

/// One rename rule: event names matching `pattern` become `name`.
#[derive(Debug, Clone)]
pub struct RenameRule {
    /// Matched against the whole event name (unanchored unless the pattern anchors).
    pub pattern: Regex,
    /// The touchpoint name that replaces matching event names.
    pub name: String,
}

/// One split rule: touchpoint `event` becomes `event: <value of property>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRule {
    /// The touchpoint to split (after renaming).
    pub event: String,
    /// The property whose value refines it.
    pub property: String,
}

/// The ordered touchpoint rules.
#[derive(Debug, Clone, Default)]
pub struct TouchpointRules {
    /// Rename/group rules; the first match wins.
    pub renames: Vec<RenameRule>,
    /// Split rules.
    pub splits: Vec<SplitRule>,
    /// Event names (raw or renamed) that are left out entirely.
    pub excludes: Vec<String>,
}

/// What the rules make of one event name, before any property is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The event is left out.
    Excluded,
    /// The touchpoint is this name.
    Touchpoint(String),
    /// The touchpoint is this name refined by this property's value.
    Split(String, String),
}

impl TouchpointRules {
    /// Parses command-line style rules.
    pub fn parse(
        renames: &[String],
        splits: &[String],
        excludes: &[String],
    ) -> Result<Self, RuleError> {
        let renames = renames
            .iter()
            .map(|rule| {
                let (pattern, name) = rule
                    .rsplit_once('=')
                    .ok_or_else(|| RuleError::RenameSyntax(rule.clone()))?;
                let pattern = Regex::new(pattern).map_err(|source| RuleError::Regex {
                    rule: rule.clone(),
                    source,
                })?;
                Ok(RenameRule {
                    pattern,
                    name: name.to_owned(),
                })
            })
            .collect::<Result<_, RuleError>>()?;
        let splits = splits
            .iter()
            .map(|rule| {
                let (event, property) = rule
                    .rsplit_once(':')
                    .filter(|(e, p)| !e.is_empty() && !p.is_empty())
                    .ok_or_else(|| RuleError::SplitSyntax(rule.clone()))?;
                Ok(SplitRule {
                    event: event.to_owned(),
                    property: property.to_owned(),
                })
            })
            .collect::<Result<_, RuleError>>()?;
        Ok(TouchpointRules {
            renames,
            splits,
            excludes: excludes.to_vec(),
        })
    }

    /// The property names that sources must keep for these rules.
    pub fn wanted_properties(&self) -> Vec<String> {
        let mut names: Vec<String> = self.splits.iter().map(|s| s.property.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// What becomes of an event called `event`.
    pub fn resolve(&self, event: &str) -> Resolution {
        let renamed = self
            .renames
            .iter()
            .find(|r| r.pattern.is_match(event))
            .map_or(event, |r| r.name.as_str());
        if self.excludes.iter().any(|x| x == event || x == renamed) {
            return Resolution::Excluded;
        }
        match self.splits.iter().find(|s| s.event == renamed) {
            Some(split) => Resolution::Split(renamed.to_owned(), split.property.clone()),
            None => Resolution::Touchpoint(renamed.to_owned()),
        }
    }
}

/// The touchpoint name of a split event.
pub fn split_name(touchpoint: &str, value: &str) -> String {
    format!("{touchpoint}: {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: &[&str], s: &[&str], x: &[&str]) -> TouchpointRules {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        TouchpointRules::parse(&v(r), &v(s), &v(x)).unwrap()
    }

    #[test]
    fn rename_groups_matching_events() {
        let r = rules(&["^/product/.*=product page"], &[], &[]);
        assert_eq!(
            r.resolve("/product/42"),
            Resolution::Touchpoint("product page".into())
        );
        assert_eq!(r.resolve("/cart"), Resolution::Touchpoint("/cart".into()));
    }

    #[test]
    fn split_applies_after_rename() {
        let r = rules(&["^pv$=page_view"], &["page_view:page_path"], &[]);
        assert_eq!(
            r.resolve("pv"),
            Resolution::Split("page_view".into(), "page_path".into())
        );
        assert_eq!(r.wanted_properties(), vec!["page_path".to_string()]);
    }

    #[test]
    fn exclude_matches_raw_or_renamed_names() {
        let r = rules(&["^hb.*=heartbeat"], &[], &["heartbeat", "debug"]);
        assert_eq!(r.resolve("hb1"), Resolution::Excluded);
        assert_eq!(r.resolve("debug"), Resolution::Excluded);
    }

    #[test]
    fn malformed_rules_are_explained() {
        let err = TouchpointRules::parse(&["nope".into()], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("REGEX=NAME"));
        let err = TouchpointRules::parse(&[], &["page_view".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("EVENT:PROPERTY"));
    }
}
