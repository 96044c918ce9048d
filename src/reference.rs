//! Reference computations in DuckDB SQL: the same sessionized transitions
//! the engine computes, written independently with window functions. The
//! benchmark times the engine against them and tests compare numbers.

use crate::source::duck::sql_identifier;

/// Column names of an event relation, as used by [`transitions_sql`].
#[derive(Debug, Clone)]
pub struct Columns<'a> {
    /// Customer column.
    pub customer: &'a str,
    /// Event column.
    pub event: &'a str,
    /// Timestamp column; must be a TIMESTAMP or TIMESTAMPTZ.
    pub time: &'a str,
    /// Event id column for de-duplication, if any.
    pub event_id: Option<&'a str>,
    /// A column holding each row's position in the file (such as Parquet's
    /// `file_row_number`); None numbers rows as they are read.
    pub position: Option<&'a str>,
}

/// SQL returning one row per transition `(src, dst, transitions, customers,
/// median_s)` of `relation` (a table, view or `read_…(…)` call): duplicates
/// by event id dropped (the first in file order kept), events ordered per
/// customer by (time, file order), a new session after an idle gap longer
/// than `timeout_us` (None: one session per customer), START and END added.
pub fn transitions_sql(relation: &str, columns: &Columns<'_>, timeout_us: Option<i64>) -> String {
    let c = sql_identifier(columns.customer);
    let e = sql_identifier(columns.event);
    let t = sql_identifier(columns.time);
    let dedupe = match columns.event_id {
        Some(id) => format!(
            "QUALIFY row_number() OVER (PARTITION BY {} ORDER BY pos) = 1",
            sql_identifier(id)
        ),
        None => String::new(),
    };
    let position = columns
        .position
        .map_or("row_number() OVER ()".to_owned(), sql_identifier);
    let id_column = columns
        .event_id
        .map_or(String::new(), |id| format!(", {}", sql_identifier(id)));
    let gap = timeout_us.map_or("FALSE".to_owned(), |t| format!("> {t}"));
    let (starts, ends) = if timeout_us.is_some() {
        (format!("t - prev_t {gap}"), format!("next_t - t {gap}"))
    } else {
        ("FALSE".to_owned(), "FALSE".to_owned())
    };
    format!(
        "WITH raw AS (
            SELECT CAST({c} AS VARCHAR) AS c, CAST({e} AS VARCHAR) AS e, epoch_us({t}) AS t{id_column},
                   {position} AS pos
            FROM {relation}
         ),
         valid AS (
            SELECT * FROM raw WHERE c IS NOT NULL AND c <> '' AND e IS NOT NULL AND e <> '' AND t IS NOT NULL
         ),
         deduped AS (SELECT * FROM valid {dedupe}),
         ordered AS (
            SELECT c, e, t,
                   lag(t) OVER w AS prev_t, lag(e) OVER w AS prev_e, lead(t) OVER w AS next_t
            FROM deduped WINDOW w AS (PARTITION BY c ORDER BY t, pos)
         ),
         marked AS (
            SELECT *, (prev_t IS NULL OR {starts}) AS starts, (next_t IS NULL OR {ends}) AS ends
            FROM ordered
         ),
         transitions AS (
            SELECT c, CASE WHEN starts THEN 'START' ELSE prev_e END AS src, e AS dst,
                   CASE WHEN starts THEN NULL ELSE (t - prev_t) / 1e6 END AS secs
            FROM marked
            UNION ALL
            SELECT c, e, 'END', NULL FROM marked WHERE ends
         )
         SELECT src, dst, count(*) AS transitions, count(DISTINCT c) AS customers, median(secs) AS median_s
         FROM transitions GROUP BY src, dst ORDER BY src, dst"
    )
}
