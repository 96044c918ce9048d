//! The summary as a readable table, as CSV of edges and as Graphviz DOT.

use std::fmt::Write;

use super::{Summary, human_duration, thousands};

fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// The summary as a table for a terminal.
pub fn to_table(s: &Summary) -> String {
    let mut out = String::new();
    let m = &s.mapping;
    let mut mapping = format!("customer={}", m.customer);
    if let Some(f) = &m.customer_fallback {
        let _ = write!(mapping, " (else {f})");
    }
    let _ = write!(mapping, "  event={}  time={}", m.event, m.time);
    for (label, column) in [("event id", &m.event_id), ("session id", &m.session_id)] {
        if let Some(c) = column {
            let _ = write!(mapping, "  {label}={c}");
        }
    }
    let _ = writeln!(out, "Source      {}", s.source);
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
    let reasons: Vec<String> = s
        .rejected
        .by_reason
        .iter()
        .map(|(r, n)| format!("{r} {}", thousands(*n)))
        .collect();
    let _ = writeln!(
        out,
        "Rejected    {}{}",
        thousands(s.rejected.total),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join(", "))
        }
    );
    for r in s.rejected.sample.iter().take(5) {
        let _ = writeln!(
            out,
            "            {}: {} — {}",
            r.position, r.reason, r.detail
        );
    }

    let _ = writeln!(out, "\nTouchpoints");
    let width = s
        .nodes
        .iter()
        .map(|n| n.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(10);
    let _ = writeln!(
        out,
        "  {:<width$} {:>10} {:>10} {:>10} {:>10}",
        "name", "events", "sessions", "customers", "exits"
    );
    for n in &s.nodes {
        let _ = writeln!(
            out,
            "  {:<width$} {:>10} {:>10} {:>10} {:>10}",
            n.name,
            thousands(n.events),
            thousands(n.sessions),
            thousands(n.customers),
            thousands(n.exits)
        );
    }

    let _ = writeln!(out, "\nTransitions (most frequent first)");
    let pair = |e: &crate::engine::EdgeReport| format!("{} → {}", e.from, e.to);
    let pw = s
        .edges
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
    for e in &s.edges {
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

    if let Some(funnel) = &s.funnel {
        let within = funnel.within_s.map_or("no time limit".to_owned(), |w| {
            format!("within {}", human_duration(w))
        });
        let _ = writeln!(out, "\nFunnel ({within})");
        for (i, step) in funnel.steps.iter().enumerate() {
            let time = step.median_time_s.map_or(String::new(), |t| {
                format!(", median {} from previous", human_duration(t))
            });
            let _ = writeln!(
                out,
                "  {}. {:<24} {:>10} customers  {:>7} of previous  {:>7} of first  (-{}{time})",
                i + 1,
                step.touchpoint,
                thousands(step.customers),
                percent(step.conversion_from_previous),
                percent(step.conversion_from_first),
                thousands(step.drop_off),
            );
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The edges as CSV, one row per transition.
pub fn to_csv(s: &Summary) -> String {
    let mut out = String::from(
        "from,to,transitions,customers,share,time_count,time_mean_s,time_min_s,time_max_s,time_median_s,time_p90_s,time_p99_s\n",
    );
    for e in &s.edges {
        let _ = write!(
            out,
            "{},{},{},{},{}",
            csv_field(&e.from),
            csv_field(&e.to),
            e.transitions,
            e.customers,
            e.share
        );
        match &e.time_s {
            Some(t) => {
                let _ = writeln!(
                    out,
                    ",{},{},{},{},{},{},{}",
                    t.count, t.mean, t.min, t.max, t.median, t.p90, t.p99
                );
            }
            None => out.push_str(",0,,,,,,\n"),
        }
    }
    out
}

fn dot_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
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
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
