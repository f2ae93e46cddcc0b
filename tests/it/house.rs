//! The shape of the code base itself: no two modules import each other, so each can be read,
//! tested and replaced from the leaves up. A module and its own submodules are one unit (the
//! parent declares its parts and may use them; a part may use the parent's shared types), so the
//! rule is about modules that are not nested in one another.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`store::lake`) of every source file, with its non-test, non-comment text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let rel = path.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            parts.pop();
        }
        if parts.last().is_some_and(|p| p == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: Vec<&str> = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        out.insert(parts.join("::"), code.join("\n"));
    }
    out
}

/// Every `crate::a::b…` and `super::a…` path in `code`, as segments from the crate root.
fn paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", {
            let mut m: Vec<String> = module.split("::").filter(|s| !s.is_empty()).map(String::from).collect();
            m.pop();
            m
        }),
    ] {
        for (at, _) in code.match_indices(prefix) {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            let end =
                rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            let mut segs = base.clone();
            segs.extend(rest[..end].split("::").filter(|s| !s.is_empty()).map(String::from));
            out.push(segs);
        }
    }
    out
}

#[test]
fn no_two_modules_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    assert!(mods.len() > 100 && mods.contains_key("store::lake"), "{} modules", mods.len());
    let mut edges = BTreeSet::new();
    for (m, code) in &mods {
        for segs in paths(m, code) {
            // The longest prefix of the path that is a module is what the path imports.
            let target = (1..=segs.len()).rev().map(|k| segs[..k].join("::")).find(|p| mods.contains_key(p));
            if let Some(t) = target.filter(|t| t != m && !t.is_empty()) {
                edges.insert((m.clone(), t));
            }
        }
    }
    let mutual: Vec<String> = edges
        .iter()
        .filter(|(a, b)| a < b && edges.contains(&(b.clone(), a.clone())))
        .filter(|(a, b)| !b.starts_with(&format!("{a}::")))
        .map(|(a, b)| format!("{a} <-> {b}"))
        .collect();
    assert!(edges.len() > 200, "the scan found only {} imports", edges.len());
    assert!(mutual.is_empty(), "modules that import each other:\n{}", mutual.join("\n"));
}

/// Files stay readable in one sitting: no more than 460 lines of code each (a file's unit tests,
/// from its `#[cfg(test)]` on, do not count). Split a file by concern before it grows past this.
#[test]
fn no_file_is_longer_than_460_lines_of_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let code = text.lines().take_while(|l| *l != "#[cfg(test)]").count();
        if code > 460 {
            long.push(format!("{} ({code} lines)", entry.path().strip_prefix(&src).unwrap().display()));
        }
    }
    assert!(long.is_empty(), "split by concern: {long:?}");
}
