//! The summary as a readable table, as CSV of edges and as Graphviz DOT.
//!
//! Everything is written into a `String`, which cannot fail: the
//! `let _ = write!(…)` below drop an `Ok(())`.

use std::fmt::Write;

use crate::engine::{
    ConformanceReport, EdgeReport, FunnelReport, NodeReport, RejectedLog, VariantsReport,
};
use crate::format::{printable, spreadsheet_safe};
use crate::source::Mapping;

use crate::format::{human_duration, thousands};

use super::Summary;

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// The summary as a table for a terminal.
pub fn to_table(s: &Summary) -> String {
    let mut out = String::new();
    write_overview(&mut out, s);
    write_rejected(&mut out, &s.rejected);
    write_touchpoints(&mut out, &s.nodes);
    write_transitions(&mut out, &s.edges);
    if let Some(funnel) = &s.funnel {
        write_funnel(&mut out, funnel);
    }
    if let Some(variants) = &s.variants {
        write_variants(&mut out, variants);
    }
    if let Some(conformance) = &s.conformance {
        write_conformance(&mut out, conformance);
    }
    out
}

/// The variants, one line each, and the rest added up.
fn write_variants(out: &mut String, v: &VariantsReport) {
    let goal = v
        .goal
        .as_deref()
        .map_or("no goal touchpoint".to_owned(), |g| {
            format!("converting at {}", printable(g))
        });
    let _ = writeln!(
        out,
        "\nVariants ({} in {} sessions; {goal})",
        thousands(v.variants),
        thousands(v.sessions)
    );
    if let Some(missing) = &v.missing_goal {
        let _ = writeln!(
            out,
            "  note: no touchpoint is called {}: no session converts",
            printable(missing)
        );
    }
    for (i, row) in v.top.iter().enumerate() {
        let steps: Vec<String> = row
            .steps
            .iter()
            .map(|s| printable(s).into_owned())
            .collect();
        let _ = writeln!(
            out,
            "  {:>2}. {:>9} sessions {:>7} (cumulative {:>7})  median {:>8}  p90 {:>8}  converted {:>7}  {}",
            i + 1,
            thousands(row.sessions),
            percent(row.share),
            percent(row.cumulative_share),
            human_duration(row.duration_median_s),
            human_duration(row.duration_p90_s),
            percent(row.conversion),
            steps.join(" › ")
        );
    }
    if v.other.variants > 0 {
        let _ = writeln!(
            out,
            "      {} other variants ({} sessions)",
            thousands(v.other.variants),
            thousands(v.other.sessions)
        );
    }
}

/// The expected journey: who entered, who conformed, where the others left.
fn write_conformance(out: &mut String, c: &ConformanceReport) {
    let _ = writeln!(out, "\nExpected journey {}", printable(&c.expected));
    for missing in &c.missing_steps {
        let _ = writeln!(
            out,
            "  note: no touchpoint is called {}",
            printable(missing)
        );
    }
    let median = c.median_duration_s.map_or(String::new(), |m| {
        format!(", median {} to the last required step", human_duration(m))
    });
    let _ = writeln!(
        out,
        "  {} of {} sessions entered conform ({}){median}",
        thousands(c.conforming),
        thousands(c.entered),
        percent(c.rate)
    );
    for step in &c.steps {
        let _ = writeln!(
            out,
            "  {:<28} {:>9} still on the journey",
            format!(
                "{}{}",
                printable(&step.step),
                if step.optional { "?" } else { "" }
            ),
            thousands(step.on_path)
        );
    }
    for d in c.deviations.iter().take(10) {
        let _ = writeln!(
            out,
            "  after {}: {} {} — {} sessions ({} of entered)",
            printable(&d.after),
            d.kind.name(),
            printable(&d.touchpoint),
            thousands(d.sessions),
            percent(d.share)
        );
    }
}

/// Which column plays which role, as one line of `role=column` pairs.
fn mapping_line(m: &Mapping) -> String {
    let mut mapping = format!("customer={}", printable(&m.customer));
    if let Some(f) = &m.customer_fallback {
        let _ = write!(mapping, " (else {})", printable(f));
    }
    let _ = write!(
        mapping,
        "  event={}  time={}",
        printable(&m.event),
        printable(&m.time)
    );
    if let Some(unit) = m.time_unit {
        let _ = write!(mapping, " ({})", unit.describe());
    }
    for (label, column) in [("event id", &m.event_id), ("session id", &m.session_id)] {
        if let Some(c) = column {
            let _ = write!(mapping, "  {label}={}", printable(c));
        }
    }
    mapping
}

/// Writes what was read and how: the source, the mapping, the counts of
/// events, customers and sessions, and the time span.
fn write_overview(out: &mut String, s: &Summary) {
    let m = &s.mapping;
    let mapping = mapping_line(m);
    let _ = writeln!(out, "Source      {}", printable(&s.source));
    let _ = writeln!(out, "Mapping     {mapping}   [{} convention]", m.convention);
    let _ = writeln!(
        out,
        "Events      {} ({} duplicates dropped, {} excluded)",
        thousands(s.events),
        thousands(s.duplicates),
        thousands(s.excluded)
    );
    let _ = writeln!(out, "Customers   {}", thousands(s.customers));
    let timeout = s
        .session_timeout_s
        .map_or("one session per customer".to_owned(), |t| {
            format!("{} idle gap", human_duration(t))
        });
    let _ = writeln!(out, "Sessions    {} ({timeout})", thousands(s.sessions));
    if let (Some(a), Some(b)) = (&s.first_event, &s.last_event) {
        let _ = writeln!(out, "Time span   {a} … {b}");
    }
}

/// Writes the rejected records: their total and reasons, a few of them, and
/// the times that were adjusted.
fn write_rejected(out: &mut String, rejected: &RejectedLog) {
    let reasons: Vec<String> = rejected
        .by_reason
        .iter()
        .map(|(r, n)| format!("{r} {}", thousands(*n)))
        .collect();
    let _ = writeln!(
        out,
        "Rejected    {}{}",
        thousands(rejected.total),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join(", "))
        }
    );
    for r in rejected.sample.iter().take(5) {
        let _ = writeln!(
            out,
            "            {}: {} — {}",
            printable(&r.position),
            r.reason,
            printable(&r.detail)
        );
    }
    if let Some(adjusted) = rejected.times_adjusted.describe() {
        let _ = writeln!(out, "Adjusted    {adjusted}");
    }
}

/// Writes the touchpoints' table: events, sessions, customers and exits.
fn write_touchpoints(out: &mut String, nodes: &[NodeReport]) {
    let _ = writeln!(out, "\nTouchpoints");
    let width = nodes
        .iter()
        .map(|n| printable(&n.name).chars().count())
        .max()
        .unwrap_or(4)
        .max(10);
    let _ = writeln!(
        out,
        "  {:<width$} {:>10} {:>10} {:>10} {:>10}",
        "name", "events", "sessions", "customers", "exits"
    );
    for n in nodes {
        let _ = writeln!(
            out,
            "  {:<width$} {:>10} {:>10} {:>10} {:>10}",
            printable(&n.name),
            thousands(n.events),
            thousands(n.sessions),
            thousands(n.customers),
            thousands(n.exits)
        );
    }
}

/// Writes the transitions' table, in the order given: counts, share and
/// times.
fn write_transitions(out: &mut String, edges: &[EdgeReport]) {
    let _ = writeln!(out, "\nTransitions (most frequent first)");
    let pair = |e: &EdgeReport| format!("{} → {}", printable(&e.from), printable(&e.to));
    let pw = edges
        .iter()
        .map(|e| pair(e).chars().count())
        .max()
        .unwrap_or(4)
        .max(10);
    let _ = writeln!(
        out,
        "  {:<pw$} {:>11} {:>10} {:>8} {:>12} {:>12}",
        "transition", "transitions", "customers", "share", "median", "p90"
    );
    for e in edges {
        let (median, p90) = e.time_s.map_or(("".into(), "".into()), |t| {
            (human_duration(t.median), human_duration(t.p90))
        });
        let _ = writeln!(
            out,
            "  {:<pw$} {:>11} {:>10} {:>8} {:>12} {:>12}",
            pair(e),
            thousands(e.transitions),
            thousands(e.customers),
            percent(e.share),
            median,
            p90
        );
    }
}

/// Writes the funnel's steps: customers, conversions, drop-off and time
/// from the previous step.
fn write_funnel(out: &mut String, funnel: &FunnelReport) {
    let within = funnel.within_s.map_or("no time limit".to_owned(), |w| {
        format!("within {}", human_duration(w))
    });
    let _ = writeln!(out, "\nFunnel ({within})");
    for (i, step) in funnel.steps.iter().enumerate() {
        let time = match (step.median_time_s, step.p90_time_s) {
            (Some(m), Some(p)) => format!(
                ", median {} (p90 {}) from previous",
                human_duration(m),
                human_duration(p)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {}. {:<24} {:>10} customers  {:>7} of previous  {:>7} of first  (-{}{time})",
            i + 1,
            printable(&step.touchpoint),
            thousands(step.customers),
            percent(step.conversion_from_previous),
            percent(step.conversion_from_first),
            thousands(step.drop_off),
        );
    }
}

/// Rows as CSV text (the `csv` crate's quoting), every text cell made
/// safe to open in a spreadsheet (see [`spreadsheet_safe`]).
pub fn csv_text<R: AsRef<[String]>>(header: &[&str], rows: &[R]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to memory cannot fail; a failure would show as missing rows.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(
            row.as_ref()
                .iter()
                .map(|c| spreadsheet_safe(c).into_owned()),
        );
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The edges as CSV, one row per transition.
pub fn to_csv(s: &Summary) -> String {
    let header = [
        "from",
        "to",
        "transitions",
        "customers",
        "share",
        "time_count",
        "time_mean_s",
        "time_min_s",
        "time_max_s",
        "time_median_s",
        "time_p90_s",
        "time_p99_s",
    ];
    let rows: Vec<Vec<String>> = s
        .edges
        .iter()
        .map(|e| {
            let mut row = vec![
                e.from.clone(),
                e.to.clone(),
                e.transitions.to_string(),
                e.customers.to_string(),
                e.share.to_string(),
            ];
            match &e.time_s {
                Some(t) => row.extend([
                    t.count.to_string(),
                    t.mean.to_string(),
                    t.min.to_string(),
                    t.max.to_string(),
                    t.median.to_string(),
                    t.p90.to_string(),
                    t.p99.to_string(),
                ]),
                None => row.extend(["0", "", "", "", "", "", ""].map(String::from)),
            }
            row
        })
        .collect();
    csv_text(&header, &rows)
}

/// A DOT string: what DOT cannot carry (NUL and other controls) made
/// visible, then backslashes and quotes escaped; line breaks become DOT's
/// centred line break.
fn dot_string(text: &str) -> String {
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| printable(l).into_owned())
        .collect();
    let escaped: Vec<String> = lines
        .iter()
        .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
        .collect();
    format!("\"{}\"", escaped.join("\\n"))
}

/// The graph in Graphviz DOT, edge width by volume.
pub fn to_dot(s: &Summary) -> String {
    let mut out = String::from(
        "digraph journeys {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
    );
    for n in &s.nodes {
        let shape = if n.name == "START" || n.name == "END" {
            ", shape=circle"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label={}{shape}];",
            dot_string(&n.name),
            dot_string(&format!("{}\n{}", n.name, thousands(n.events)))
        );
    }
    let max = s
        .edges
        .iter()
        .map(|e| e.transitions)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    for e in &s.edges {
        let mut label = thousands(e.transitions);
        if let Some(t) = e.time_s {
            let _ = write!(label, "\n{}", human_duration(t.median));
        }
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, penwidth={:.2}];",
            dot_string(&e.from),
            dot_string(&e.to),
            dot_string(&label),
            1.0 + 7.0 * e.transitions as f64 / max
        );
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_safe_for_spreadsheets() {
        let rows = vec![vec![
            "a,b".to_owned(),
            "=1+1".to_owned(),
            "say \"hi\"".to_owned(),
        ]];
        assert_eq!(
            csv_text(&["x", "y", "z"], &rows),
            "x,y,z\n\"a,b\",'=1+1,\"say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    fn dot_strings_carry_no_control_characters() {
        assert_eq!(dot_string("a\0b\"c\\"), "\"a\\\\u{0}b\\\"c\\\\\"");
        assert_eq!(dot_string("x\ny"), "\"x\\ny\"");
    }
}
