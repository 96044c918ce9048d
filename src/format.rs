//! Text as it is shown and written: counts and durations for people, and
//! names and values from a user's data made safe for terminals, XML, DOT
//! and spreadsheets. A leaf: every part may use it, it uses none.
//!
//! Touchpoint names, column names and rejected values come from whatever
//! file or topic a user opens. Every writer that cannot carry any character
//! passes them through here first: control characters (which clear a
//! terminal or make XML invalid), Unicode noncharacters and bidirectional
//! overrides are shown as visible escapes (`\u{1b}`), and a cell a
//! spreadsheet would run as a formula starts with `'`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A count with thousands separators.
///
/// ```
/// assert_eq!(journeyscope::format::thousands(1234567), "1,234,567");
/// ```
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and its noun, plural unless the count is one ("1 event",
/// "1,204 events").
///
/// ```
/// assert_eq!(journeyscope::format::plural(1204, "event"), "1,204 events");
/// ```
pub fn plural(n: usize, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {what}{s}", thousands(n as u64))
}

/// A duration for people: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h";
/// a smaller unit that is zero is left out ("30 min", not "30 min 0 s").
///
/// ```
/// use journeyscope::format::human_duration;
/// assert_eq!(human_duration(200.0), "3 min 20 s");
/// assert_eq!(human_duration(7500.0), "2 h 5 min");
/// assert_eq!(human_duration(1800.0), "30 min");
/// ```
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "–".into();
    }
    let s = seconds.abs();
    if s < 10.0 {
        return format!("{seconds:.1} s");
    }
    let total = s.round() as u64;
    let (d, h, m, sec) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let sign = if seconds < 0.0 { "-" } else { "" };
    let (big, small) = if d > 0 {
        ((d, "d"), (h, "h"))
    } else if h > 0 {
        ((h, "h"), (m, "min"))
    } else if m > 0 {
        ((m, "min"), (sec, "s"))
    } else {
        return format!("{sign}{sec} s");
    };
    match small {
        (0, _) => format!("{sign}{} {}", big.0, big.1),
        (n, unit) => format!("{sign}{} {} {n} {unit}", big.0, big.1),
    }
}

/// True for characters that a terminal, XML 1.0 or DOT cannot show as
/// themselves: C0 and C1 controls, DEL, noncharacters (U+FFFE…), and the
/// bidirectional controls that reorder what follows them.
pub fn is_unprintable(c: char) -> bool {
    let n = c as u32;
    c.is_control()
        || (0xFDD0..=0xFDEF).contains(&n)
        || (n & 0xFFFE) == 0xFFFE
        || (0x202A..=0x202E).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

/// `text` with every unprintable character (see [`is_unprintable`])
/// written as `\u{…}`; borrowed when there is none.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_where(text, is_unprintable)
}

/// Like [`printable`], but line breaks and tabs stay (for messages of
/// several lines).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && c != '\t' && is_unprintable(c))
}

/// JSON text (as serde_json writes it) with every unprintable character
/// (see [`is_unprintable`]) inside its strings written as a `\uXXXX`
/// escape: the same JSON to whatever reads it, safe on a terminal. The
/// line breaks, tabs and returns left raw are the spaces between values
/// (inside strings serde_json escapes them).
pub fn json_printable(json: &str) -> Cow<'_, str> {
    let escaped = |c: char| is_unprintable(c) && !matches!(c, '\n' | '\t' | '\r');
    if !json.chars().any(escaped) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn escape_where(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most `max_chars` characters of `text`, printable, with `…` where it
/// was cut: how a value from the data is quoted in a message.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let cut = text.char_indices().nth(max_chars).map(|(i, _)| i);
    let shown = printable(&text[..cut.unwrap_or(text.len())]).into_owned();
    match cut {
        Some(_) => shown + "…",
        None => shown,
    }
}

/// Like [`excerpt`] for bytes that may not be UTF-8.
pub fn excerpt_bytes(bytes: &[u8], max_chars: usize) -> String {
    let head = &bytes[..bytes.len().min(max_chars * 4)];
    let text = String::from_utf8_lossy(head);
    let mut shown = excerpt(&text, max_chars);
    if head.len() < bytes.len() && !shown.ends_with('…') {
        shown.push('…');
    }
    shown
}

/// Names joined with ", ", each as an [`excerpt`], listing at most `max`
/// of them and counting the rest ("a, b, … and 9,998 more").
pub fn name_list(names: &[String], max: usize) -> String {
    let mut shown: Vec<String> = names.iter().take(max).map(|n| excerpt(n, 60)).collect();
    if names.len() > max {
        shown.push(format!("… and {} more", names.len() - max));
    }
    shown.join(", ")
}

/// An error with the causes behind it, joined by ": " (a cause already
/// quoted by the message before it is not repeated), printable.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    printable_lines(&text).into_owned()
}

/// A CSV cell that a spreadsheet will not run as a formula: text starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
/// (the OWASP rule). Numbers written by Journeyscope itself never need it.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A record's bytes as rejected-record text: the text itself when it is
/// UTF-8 without NUL bytes, else its size and first 64 bytes in hex (a
/// binary Kafka value).
pub fn value_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => text.to_owned(),
        _ => {
            let shown: String = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
            let more = if bytes.len() > 64 { "…" } else { "" };
            format!("{} bytes: {shown}{more}", bytes.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(4.25), "4.2 s");
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(200.0), "3 min 20 s");
        assert_eq!(human_duration(7500.0), "2 h 5 min");
        assert_eq!(human_duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 4 h");
    }

    #[test]
    fn controls_and_noncharacters_become_visible_escapes() {
        assert_eq!(printable("home"), "home");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("nul\0"), "nul\\u{0}");
        assert_eq!(printable("x\u{fffe}\u{ffff}"), "x\\u{fffe}\\u{ffff}");
        assert_eq!(printable("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(printable("two\nlines"), "two\\u{a}lines");
        assert_eq!(printable_lines("two\nlines\u{7}"), "two\nlines\\u{7}");
        assert_eq!(printable("café 東京"), "café 東京");
    }

    #[test]
    fn json_keeps_its_strings_and_shows_no_control() {
        let name = "evil \u{202e}\u{1b}[2J \u{85}\u{7f}\u{1fffe}\n";
        let pretty = serde_json::to_string_pretty(&serde_json::json!({ "rule": name })).unwrap();
        let shown = json_printable(&pretty);
        assert!(
            !shown.chars().any(|c| is_unprintable(c) && c != '\n'),
            "{shown}"
        );
        assert!(
            shown.contains("\\u202e") && shown.contains("\\ud83f\\udffe"),
            "{shown}"
        );
        let read: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(read["rule"], name);
        assert_eq!(json_printable("{\"a\": 1}"), "{\"a\": 1}");
    }

    #[test]
    fn excerpts_are_short_and_marked_when_cut() {
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt_bytes(&[0u8; 5000], 4), "\\u{0}\\u{0}\\u{0}\\u{0}…");
        let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        assert_eq!(name_list(&names, 2), "c0, c1, … and 3 more");
    }

    #[test]
    fn error_chains_name_each_cause_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("cannot read x")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("Is a directory"));
        assert_eq!(error_chain(&e), "cannot read x: Is a directory");
    }

    #[test]
    fn formulas_are_neutralised() {
        for cell in [
            "=1+1",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(1+1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"));
        }
        assert_eq!(spreadsheet_safe("home"), "home");
        assert_eq!(spreadsheet_safe(""), "");
    }
}
