//! The parts of the crate import one way (see ARCHITECTURE.md): a part
//! uses only parts below it, and inside a part no file imports one that
//! imports it back. Read from the sources themselves, so that a circle
//! cannot come back unnoticed.

// Tests state what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each part and its layer: a part may import parts of lower layers only.
const LAYERS: &[(&str, u32)] = &[
    ("format", 0),
    ("background", 0),
    ("cli", 0),
    ("engine", 1),
    ("files", 1),
    ("source", 2),
    ("layout", 2),
    ("report", 3),
    ("generate", 3),
    ("reference", 3),
    ("settings", 4),
    ("export", 4),
    ("fuzzing", 4),
    ("live", 4),
    ("app", 5),
    ("ui", 6),
    ("commands", 7),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without comments (doc links are not imports).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The words that follow `prefix` in `text` (`crate::engine::x` → engine).
fn words_after<'t>(text: &'t str, prefix: &str) -> BTreeSet<&'t str> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The part a file belongs to: `src/engine/x.rs` → engine, `src/format.rs`
/// → format.
fn part_of(path: &Path) -> String {
    let relative = path.strip_prefix(src()).unwrap();
    let first = relative.components().next().unwrap();
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

#[test]
fn every_part_imports_only_parts_below_it() {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let part = part_of(file);
        let Some(&own) = layer.get(part.as_str()) else {
            assert!(
                ["lib", "main"].contains(&part.as_str()),
                "{} is in no layer: add it to LAYERS and ARCHITECTURE.md",
                file.display()
            );
            continue;
        };
        for used in words_after(&code(file), "crate::") {
            if used == part {
                continue;
            }
            match layer.get(used) {
                Some(&theirs) if theirs < own => {}
                Some(_) => wrong.push(format!("{} ({part}) imports {used}", file.display())),
                None => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    // Files of one folder, by module name, and the siblings each names.
    let mut folders: BTreeMap<PathBuf, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let Some(dir) = file.parent().filter(|d| *d != src()) else {
            continue;
        };
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let part = part_of(file);
        let text = code(file);
        let mut named: BTreeSet<String> = words_after(&text, "super::")
            .into_iter()
            .map(str::to_owned)
            .collect();
        let full = format!("crate::{part}::");
        named.extend(words_after(&text, &full).into_iter().map(str::to_owned));
        named.remove(&name);
        folders
            .entry(dir.to_path_buf())
            .or_default()
            .insert(name, named);
    }
    for (dir, modules) in &folders {
        // Only edges to sibling files count; `mod.rs` declares them all.
        let edges: BTreeMap<&str, Vec<&str>> = modules
            .iter()
            .filter(|(name, _)| name.as_str() != "mod")
            .map(|(name, named)| {
                let siblings = named
                    .iter()
                    .filter(|n| modules.contains_key(*n) && n.as_str() != "mod")
                    .map(String::as_str)
                    .collect();
                (name.as_str(), siblings)
            })
            .collect();
        if let Some(cycle) = find_cycle(&edges) {
            panic!("in {}: {}", dir.display(), cycle.join(" → "));
        }
    }
}

/// A cycle in `edges`, as the modules along it, if there is one.
fn find_cycle<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        at: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == at) {
            let mut cycle = path[i..].to_vec();
            cycle.push(at);
            return Some(cycle);
        }
        if !done.insert(at) {
            return None;
        }
        path.push(at);
        for next in edges.get(at).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_checks_find_what_they_look_for() {
    let text = "use crate::engine::Event;\nlet x = crate::format::thousands(3);";
    let found = words_after(text, "crate::");
    assert_eq!(found, BTreeSet::from(["engine", "format"]));
    let edges = BTreeMap::from([("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]);
    assert_eq!(find_cycle(&edges), Some(vec!["a", "b", "c", "a"]));
    let acyclic = BTreeMap::from([("a", vec!["b"]), ("b", vec![]), ("c", vec!["a"])]);
    assert_eq!(find_cycle(&acyclic), None);
}

/// The paths a text names in backticks (`engine/walk.rs`, `fuzz/`):
/// words of lower-case letters, digits and underscores joined by `/`.
fn named_paths(text: &str) -> Vec<&str> {
    let is_path = |token: &str| {
        token.contains('/')
            && token
                .trim_end_matches('/')
                .trim_end_matches(".rs")
                .split('/')
                .all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
    };
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| is_path(t))
        .collect()
}

#[test]
fn every_path_the_architecture_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let paths = named_paths(&text);
    assert!(paths.len() > 30, "only {} paths found", paths.len());
    let missing: Vec<&str> = paths
        .into_iter()
        .filter(|p| !root.join(p).exists() && !root.join("src").join(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn the_path_check_finds_what_it_looks_for() {
    let text = "see `engine/walk.rs` and `fuzz/`, not `--a/--b`, `x` or `(a / b)`";
    assert_eq!(named_paths(text), vec!["engine/walk.rs", "fuzz/"]);
}
