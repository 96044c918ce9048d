//! Schema detection: which column is the customer, the event, the time…
//!
//! Known conventions are recognised as families (XES, bupaR, Segment, GA4),
//! so that a file with `concept:name` and `time:timestamp` takes its customer
//! from `case:concept:name` even if another column is called `customer`.
//! Otherwise each role takes a column named by one of its aliases
//! (case-insensitive); when several could serve, the one with more distinct
//! values wins. Flags override everything.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::epoch::EpochUnit;
use super::timestamp::TimeParser;

/// Which column plays which role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Customer column.
    pub customer: String,
    /// Used for the customer when the customer column is empty (Segment's
    /// `anonymousId` behind `userId`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub customer_fallback: Option<String>,
    /// Event (touchpoint) column.
    pub event: String,
    /// Timestamp column.
    pub time: String,
    /// The unit of the time column's epoch numbers, decided once from the
    /// values sampled for detection (see [`EpochUnit::of_column`]); None
    /// when they are not numbers (or none was sampled: then each number is
    /// read by its size).
    #[serde(default)]
    pub time_unit: Option<EpochUnit>,
    /// Unique event id column, used to drop duplicates.
    pub event_id: Option<String>,
    /// Explicit session id column.
    pub session_id: Option<String>,
    /// Channel column.
    pub channel: Option<String>,
    /// The convention recognised: "xes", "bupar", "segment", "ga4" or "aliases".
    pub convention: String,
    /// Every column seen while detecting, in source order.
    #[serde(skip)]
    pub columns: Vec<String>,
    /// The other columns with a few distinct values in the detection
    /// sample (see [`COMPARABLE_VALUES`]): kept for segments and
    /// comparisons unless the user chose the kept columns.
    #[serde(skip)]
    pub comparable: Vec<String>,
}

/// No columns at all: what a stream shows before anything told it its
/// mapping (a merged view before any worker has reported).
pub fn no_columns() -> Mapping {
    Mapping {
        convention: String::new(),
        ..Mapping::named("", "", "")
    }
}

impl Mapping {
    /// The customer, event and time columns named so, by their aliases,
    /// and nothing else.
    pub fn named(customer: &str, event: &str, time: &str) -> Mapping {
        Mapping {
            customer: customer.into(),
            customer_fallback: None,
            event: event.into(),
            time: time.into(),
            time_unit: None,
            event_id: None,
            session_id: None,
            channel: None,
            convention: "aliases".into(),
            columns: Vec::new(),
            comparable: Vec::new(),
        }
    }
}

/// Column names given by the user; they win over detection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingOverrides {
    /// `--customer`.
    pub customer: Option<String>,
    /// `--event`.
    pub event: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--event-id`.
    pub event_id: Option<String>,
    /// `--session-id`.
    pub session_id: Option<String>,
}

/// Why no mapping could be made.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SchemaError {
    /// A required role has no column.
    #[error(
        "no {role} column found; columns are: {}; pass --{flag} COLUMN",
        column_list(columns)
    )]
    Missing {
        /// customer, event or time.
        role: &'static str,
        /// The flag that names it.
        flag: &'static str,
        /// The columns that were found.
        columns: Vec<String>,
    },
    /// A flag names a column that does not exist.
    #[error(
        "column `{}` (from --{flag}) not found; columns are: {}",
        crate::format::excerpt(column, 60),
        column_list(columns)
    )]
    UnknownColumn {
        /// The name given.
        column: String,
        /// The flag that gave it.
        flag: &'static str,
        /// The columns that were found.
        columns: Vec<String>,
    },
}

/// The columns an error names: at most 40, each printable and short.
fn column_list(columns: &[String]) -> String {
    if columns.is_empty() {
        return "(none)".to_owned();
    }
    crate::format::name_list(columns, 40)
}

/// A column with from two to this many distinct values in the detection
/// sample (a device, a plan, a country) is kept for comparing by default.
pub const COMPARABLE_VALUES: usize = 50;

/// ... and each value seen this many times on average there.
pub const COMPARABLE_REPEATS: usize = 5;

/// At most this many columns are kept for comparing by default (each costs
/// 4 bytes per event), the most often filled.
pub const COMPARABLE_COLUMNS: usize = 6;

/// Records read before the mapping is decided, at most.
pub const DETECTION_SAMPLE: usize = 1000;

/// Bytes of records read before the mapping is decided, at most: a few
/// huge records cannot hold much memory back.
pub const DETECTION_BYTES: usize = 8 << 20;

/// Values longer than this are not kept for detection (no id, name or time
/// is that long).
const SAMPLE_VALUE_BYTES: usize = 256;

/// How much a source reads ahead to detect its mapping.
#[derive(Debug, Default)]
pub struct DetectionBudget {
    records: usize,
    bytes: usize,
}

impl DetectionBudget {
    /// True while fewer than [`DETECTION_SAMPLE`] records and
    /// [`DETECTION_BYTES`] bytes have been read.
    pub fn wants_more(&self) -> bool {
        self.records < DETECTION_SAMPLE && self.bytes < DETECTION_BYTES
    }

    /// Counts one record of `bytes` bytes.
    pub fn count(&mut self, bytes: usize) {
        self.records += 1;
        self.bytes += bytes;
    }

    /// Counts `records` records that came in `bytes` bytes.
    pub fn count_many(&mut self, records: usize, bytes: usize) {
        self.records += records;
        self.bytes += bytes;
    }
}

/// A column and a sample of its values, for detection.
#[derive(Debug, Clone, Default)]
pub struct ColumnSample {
    /// The column name as written in the source.
    pub name: String,
    /// Non-empty values seen in the first records, as text.
    pub values: Vec<String>,
    /// True when the source's type is already a timestamp.
    pub is_timestamp_type: bool,
    /// True for a field nested in a record's `properties`: read as a
    /// property (kept for comparing, hidden), never detected as a role.
    pub nested: bool,
}

const CUSTOMER_ALIASES: &[&str] = &[
    "customer",
    "customer_id",
    "user_id",
    "userid",
    "anonymous_id",
    "anonymousid",
    "user_pseudo_id",
    "visitor_id",
    "case_id",
    "case:concept:name",
    "case id",
    "session",
];
const EVENT_ALIASES: &[&str] = &[
    "event",
    "event_name",
    "event_type",
    "type",
    "action",
    "activity",
    "concept:name",
    "name",
];
const TIME_ALIASES: &[&str] = &[
    "timestamp",
    "ts",
    "time",
    "event_time",
    "event_timestamp",
    "time:timestamp",
    "complete timestamp",
    "created_at",
];
const EVENT_ID_ALIASES: &[&str] = &["event_id", "messageid", "message_id", "id"];
const SESSION_ALIASES: &[&str] = &["session_id", "sessionid", "ga_session_id"];
const CHANNEL_ALIASES: &[&str] = &["channel", "source", "medium", "case:channel"];

/// A convention's choice of columns, by lower-case name.
struct Family {
    name: &'static str,
    signature: &'static [&'static str],
    customer: &'static [&'static str],
    event: &'static str,
    time: &'static str,
    event_id: Option<&'static str>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "xes",
        signature: &["concept:name", "time:timestamp"],
        customer: &["case:concept:name"],
        event: "concept:name",
        time: "time:timestamp",
        event_id: None,
    },
    Family {
        name: "bupar",
        signature: &["case id", "activity", "complete timestamp"],
        customer: &["case id"],
        event: "activity",
        time: "complete timestamp",
        event_id: None,
    },
    Family {
        name: "ga4",
        signature: &["user_pseudo_id", "event_name", "event_timestamp"],
        customer: &["user_pseudo_id"],
        event: "event_name",
        time: "event_timestamp",
        event_id: None,
    },
    Family {
        name: "segment",
        signature: &["event", "timestamp"],
        customer: &["userid", "anonymousid"],
        event: "event",
        time: "timestamp",
        event_id: Some("messageid"),
    },
];

impl ColumnSample {
    /// Keeps `value` for detection unless it is blank or too long to be an
    /// id, a name or a time.
    pub fn sample(&mut self, value: &str) {
        if value.len() <= SAMPLE_VALUE_BYTES && !value.trim().is_empty() {
            self.values.push(value.to_owned());
        }
    }
}

impl Mapping {
    /// The mapping of a source that holds no records: what detection finds
    /// in the column names, the rest left empty.
    pub fn of_empty(
        columns: &[ColumnSample],
        overrides: &MappingOverrides,
        parser: &TimeParser,
    ) -> Result<Mapping, SchemaError> {
        match detect(columns, overrides, parser) {
            Ok(mapping) => Ok(mapping),
            Err(e @ SchemaError::UnknownColumn { .. }) if !columns.is_empty() => Err(e),
            Err(_) => Ok(Mapping {
                convention: "empty".to_owned(),
                columns: columns.iter().map(|c| c.name.clone()).collect(),
                ..Mapping::named(
                    overrides.customer.as_deref().unwrap_or_default(),
                    overrides.event.as_deref().unwrap_or_default(),
                    overrides.time.as_deref().unwrap_or_default(),
                )
            }),
        }
    }
}

/// Picks the columns of each role.
pub fn detect(
    columns: &[ColumnSample],
    overrides: &MappingOverrides,
    parser: &TimeParser,
) -> Result<Mapping, SchemaError> {
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let all_columns = columns;
    let top_level: Vec<ColumnSample> = columns.iter().filter(|c| !c.nested).cloned().collect();
    let columns = top_level.as_slice();
    let mut roles = Roles::given(overrides, all_columns, &names)?;
    let family = family_of(columns);
    if let Some(f) = family {
        roles.take_from_family(f, columns);
    }
    roles.pick_by_aliases(columns, parser);
    let Roles {
        customer,
        customer_fallback,
        event,
        time,
        event_id,
        session_id,
        channel,
    } = roles;

    let missing = |role, flag| SchemaError::Missing {
        role,
        flag,
        columns: names.clone(),
    };
    let customer = customer.ok_or_else(|| missing("customer", "customer"))?;
    let event = event.ok_or_else(|| missing("event", "event"))?;
    let time = time.ok_or_else(|| missing("time", "time"))?;
    let time_unit = all_columns
        .iter()
        .find(|c| c.name == time && !c.is_timestamp_type)
        .and_then(|c| EpochUnit::of_column(c.values.iter().map(String::as_str)));
    let roles = [
        Some(&customer),
        customer_fallback.as_ref(),
        Some(&event),
        Some(&time),
        event_id.as_ref(),
        session_id.as_ref(),
        channel.as_ref(),
    ];
    let comparable = comparable_columns(all_columns, &roles);
    Ok(Mapping {
        customer,
        customer_fallback,
        event,
        time,
        time_unit,
        event_id,
        session_id,
        channel,
        convention: family.map_or("aliases", |f| f.name).to_owned(),
        columns: names.clone(),
        comparable,
    })
}

/// The column of each role, while detection decides them (None: not yet).
struct Roles {
    customer: Option<String>,
    customer_fallback: Option<String>,
    event: Option<String>,
    time: Option<String>,
    event_id: Option<String>,
    session_id: Option<String>,
    channel: Option<String>,
}

impl Roles {
    /// The columns the flags in `overrides` name, found among `all_columns`
    /// (whose names, for an error, are `names`); the other roles undecided.
    fn given(
        overrides: &MappingOverrides,
        all_columns: &[ColumnSample],
        names: &[String],
    ) -> Result<Roles, SchemaError> {
        let resolve = |given: &Option<String>, flag: &'static str| {
            resolve_flag(given, flag, all_columns, names)
        };
        Ok(Roles {
            customer: resolve(&overrides.customer, "customer")?,
            customer_fallback: None,
            event: resolve(&overrides.event, "event")?,
            time: resolve(&overrides.time, "time")?,
            event_id: resolve(&overrides.event_id, "event-id")?,
            session_id: resolve(&overrides.session_id, "session-id")?,
            channel: None,
        })
    }

    /// Gives the roles no flag decided the columns `family` uses for them,
    /// where `columns` have them: its first customer column present, and
    /// the second as the fallback.
    fn take_from_family(&mut self, family: &Family, columns: &[ColumnSample]) {
        let find = |lower: &str| find_lower(columns, lower);
        let present: Vec<&ColumnSample> = family.customer.iter().filter_map(|c| find(c)).collect();
        if self.customer.is_none() {
            self.customer = present.first().map(|c| c.name.clone());
            self.customer_fallback = present.get(1).map(|c| c.name.clone());
        }
        self.event = self
            .event
            .take()
            .or_else(|| find(family.event).map(|c| c.name.clone()));
        self.time = self
            .time
            .take()
            .or_else(|| find(family.time).map(|c| c.name.clone()));
        if self.event_id.is_none() {
            self.event_id = family.event_id.and_then(find).map(|c| c.name.clone());
        }
    }

    /// Gives each role still undecided the best column of `columns` named
    /// by one of its aliases (see [`best_candidate`]) and not taken by
    /// another role; times first, read with `parser`.
    fn pick_by_aliases(&mut self, columns: &[ColumnSample], parser: &TimeParser) {
        let mut taken: HashSet<String> = [
            &self.customer,
            &self.event,
            &self.time,
            &self.event_id,
            &self.session_id,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        if let Some(f) = &self.customer_fallback {
            taken.insert(f.clone());
        }
        let mut pick = |slot: &mut Option<String>, aliases: &[&str], prefer_times: bool| {
            if slot.is_none() {
                *slot = best_candidate(columns, aliases, &taken, prefer_times.then_some(parser));
            }
            if let Some(name) = slot {
                taken.insert(name.clone());
            }
        };
        pick(&mut self.time, TIME_ALIASES, true);
        pick(&mut self.customer, CUSTOMER_ALIASES, false);
        pick(&mut self.event, EVENT_ALIASES, false);
        pick(&mut self.event_id, EVENT_ID_ALIASES, false);
        pick(&mut self.session_id, SESSION_ALIASES, false);
        pick(&mut self.channel, CHANNEL_ALIASES, false);
    }
}

/// The column `given` by the flag `--{flag}` names, as written in
/// `all_columns`: the one named exactly so, else ignoring case; None when
/// the flag was not given. `names` are the columns an error lists.
fn resolve_flag(
    given: &Option<String>,
    flag: &'static str,
    all_columns: &[ColumnSample],
    names: &[String],
) -> Result<Option<String>, SchemaError> {
    let Some(given) = given else { return Ok(None) };
    let found = all_columns.iter().find(|c| c.name == *given).or_else(|| {
        let lower = given.to_lowercase();
        all_columns.iter().find(|c| c.name.to_lowercase() == lower)
    });
    match found {
        Some(c) => Ok(Some(c.name.clone())),
        None => Err(SchemaError::UnknownColumn {
            column: given.clone(),
            flag,
            columns: names.to_vec(),
        }),
    }
}

/// The first of `columns` whose name in lower case is `lower`.
fn find_lower<'a>(columns: &'a [ColumnSample], lower: &str) -> Option<&'a ColumnSample> {
    columns.iter().find(|c| c.name.to_lowercase() == lower)
}

/// The convention `columns` follow: the first family whose signature
/// columns are all there, with at least one of its customer columns.
fn family_of(columns: &[ColumnSample]) -> Option<&'static Family> {
    let find = |lower: &str| find_lower(columns, lower);
    FAMILIES.iter().find(|f| {
        f.signature.iter().all(|s| find(s).is_some())
            && f.customer.iter().any(|c| find(c).is_some())
    })
}

/// The names of the columns kept for comparing by default: neither a
/// timestamp nor one of `roles`, with a few values each seen again and
/// again (see [`COMPARABLE_VALUES`]); at most [`COMPARABLE_COLUMNS`].
fn comparable_columns(all_columns: &[ColumnSample], roles: &[Option<&String>]) -> Vec<String> {
    let mut comparable: Vec<(usize, &ColumnSample)> = all_columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_timestamp_type && !roles.contains(&Some(&c.name)))
        .filter(|(_, c)| {
            // A few values, each seen again and again: not an id that is
            // merely rare in the sample (an order number).
            let distinct = c.values.iter().collect::<HashSet<_>>().len();
            (2..=COMPARABLE_VALUES).contains(&distinct)
                && c.values.len() >= distinct * COMPARABLE_REPEATS
        })
        .collect();
    // The most often filled first, in source order.
    comparable.sort_by_key(|(at, c)| (std::cmp::Reverse(c.values.len()), *at));
    comparable.truncate(COMPARABLE_COLUMNS);
    comparable.sort_by_key(|(at, _)| *at);
    comparable
        .into_iter()
        .map(|(_, c)| c.name.clone())
        .collect()
}

/// Among untaken columns named by an alias: for times, those whose values
/// read as timestamps first; then the one with most distinct values; then
/// alias order.
fn best_candidate(
    columns: &[ColumnSample],
    aliases: &[&str],
    taken: &HashSet<String>,
    times: Option<&TimeParser>,
) -> Option<String> {
    columns
        .iter()
        .filter(|c| !taken.contains(&c.name))
        .filter_map(|c| {
            let lower = c.name.to_lowercase();
            let alias_rank = aliases.iter().position(|a| *a == lower)?;
            let time_share = times.map_or(0, |p| timestamp_share_percent(c, p));
            let distinct = c.values.iter().collect::<HashSet<_>>().len();
            Some((c, time_share, distinct, alias_rank))
        })
        .max_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)).then(b.3.cmp(&a.3)))
        .map(|(c, ..)| c.name.clone())
}

fn timestamp_share_percent(column: &ColumnSample, parser: &TimeParser) -> usize {
    if column.is_timestamp_type {
        return 100;
    }
    if column.values.is_empty() {
        return 0;
    }
    let parsed = column
        .values
        .iter()
        .filter(|v| parser.parse_str(v).is_some())
        .count();
    parsed * 100 / column.values.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(spec: &[(&str, &[&str])]) -> Vec<ColumnSample> {
        spec.iter()
            .map(|(name, values)| ColumnSample {
                name: name.to_string(),
                values: values.iter().map(|v| v.to_string()).collect(),
                is_timestamp_type: false,
                nested: false,
            })
            .collect()
    }

    fn detect_default(columns: &[ColumnSample]) -> Result<Mapping, SchemaError> {
        detect(
            columns,
            &MappingOverrides::default(),
            &TimeParser::default(),
        )
    }

    #[test]
    fn few_valued_columns_are_comparable_ids_and_roles_are_not() {
        let repeat = |values: &[&'static str], times: usize| -> Vec<&'static str> {
            values
                .iter()
                .copied()
                .cycle()
                .take(values.len() * times)
                .collect()
        };
        let devices = repeat(&["mobile", "desktop", "tablet"], 10);
        let ids: Vec<String> = (0..30).map(|i| format!("o{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let many: Vec<String> = (0..60).map(|i| format!("v{}", i % 51)).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let columns = cols(&[
            ("customer_id", &repeat(&["a", "b"], 15)),
            ("event", &repeat(&["home", "cart"], 15)),
            ("timestamp", &["2024-01-01T00:00:00Z"]),
            ("channel", &repeat(&["web", "app"], 15)),
            ("device", &devices),
            ("order_id", &ids),
            ("plan", &["free"; 30]),
            ("page", &many),
        ]);
        let mapping = detect_default(&columns).unwrap();
        // The channel is kept as such; the customer and event are roles; an
        // id, a single value and 51 values are not for comparing.
        assert_eq!(mapping.comparable, vec!["device"]);
        let many_columns: Vec<ColumnSample> = (0..10)
            .map(|i| ColumnSample {
                name: format!("flag{i}"),
                values: repeat(&["yes", "no"], 10 + i)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                is_timestamp_type: false,
                nested: false,
            })
            .chain(columns)
            .collect();
        let mapping = detect_default(&many_columns).unwrap();
        // At most six, the most often filled, in source order.
        assert_eq!(
            mapping.comparable,
            vec!["flag5", "flag6", "flag7", "flag8", "flag9", "device"]
        );
    }

    #[test]
    fn xes_family_wins_over_a_customer_alias() {
        let c = cols(&[
            ("customer", &["x", "y", "z"]),
            ("case:concept:name", &["1", "1"]),
            ("concept:name", &["a"]),
            ("Activity", &["a"]),
            ("time:timestamp", &["2010-12-30 14:32:00+01:00"]),
        ]);
        let m = detect_default(&c).unwrap();
        assert_eq!(
            (m.customer.as_str(), m.event.as_str()),
            ("case:concept:name", "concept:name")
        );
        assert_eq!(m.convention, "xes");
    }

    #[test]
    fn bupar_and_segment_conventions() {
        let c = cols(&[
            ("Case ID", &["A"]),
            ("Activity", &["x"]),
            ("Complete Timestamp", &["2014/10/22 11:15:41.000"]),
        ]);
        let m = detect_default(&c).unwrap();
        assert_eq!(
            (m.customer.as_str(), m.time.as_str()),
            ("Case ID", "Complete Timestamp")
        );
        let c = cols(&[
            ("anonymousId", &["a"]),
            ("userId", &["u"]),
            ("event", &["e"]),
            ("timestamp", &["2020-01-01T00:00:00Z"]),
            ("messageId", &["m"]),
        ]);
        let m = detect_default(&c).unwrap();
        assert_eq!(m.customer, "userId");
        assert_eq!(m.customer_fallback.as_deref(), Some("anonymousId"));
        assert_eq!(m.event_id.as_deref(), Some("messageId"));
    }

    #[test]
    fn more_distinct_values_break_ties() {
        let c = cols(&[
            ("user_id", &["1", "1", "1"]),
            ("customer_id", &["1", "2", "3"]),
            ("event", &["a"]),
            ("ts", &["1659304800025"]),
        ]);
        assert_eq!(detect_default(&c).unwrap().customer, "customer_id");
    }

    #[test]
    fn time_prefers_columns_that_parse() {
        let c = cols(&[
            ("user_id", &["1"]),
            ("event", &["a"]),
            ("time", &["morning", "noon"]),
            (
                "created_at",
                &["2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"],
            ),
        ]);
        assert_eq!(detect_default(&c).unwrap().time, "created_at");
    }

    #[test]
    fn failure_names_the_columns_found() {
        let c = cols(&[("who", &["1"]), ("what", &["a"])]);
        let err = detect_default(&c).unwrap_err().to_string();
        assert!(err.contains("who, what"), "{err}");
        assert!(err.contains("--"), "{err}");
    }

    #[test]
    fn flags_win_and_unknown_flags_are_explained() {
        let c = cols(&[
            ("session", &["1"]),
            ("type", &["clicks"]),
            ("ts", &["1659304800025"]),
        ]);
        let overrides = MappingOverrides {
            customer: Some("SESSION".into()),
            ..Default::default()
        };
        let m = detect(&c, &overrides, &TimeParser::default()).unwrap();
        assert_eq!(m.customer, "session");
        let overrides = MappingOverrides {
            event: Some("kind".into()),
            ..Default::default()
        };
        let err = detect(&c, &overrides, &TimeParser::default()).unwrap_err();
        assert!(err.to_string().contains("`kind`"));
    }
}
