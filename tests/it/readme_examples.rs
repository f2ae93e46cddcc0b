//! Issue 19 item 18: every command example in `README.md`, `queries/README.md` and
//! `dashboards/README.md` runs, in the order a reader meets it, against the sample data, and its
//! output is checked, so an example can never rot again.
//!
//! What counts as an example: the `example` column of README's commands table, and every line of
//! a ```` ```sh ```` block whose first word is `sspr` (or `mkdir` / `cp`, which prepare a folder for
//! the next line). Lines that start another program (`cargo`, `python3`) are the reader's
//! business, not examples of this binary. Each runs through `sh -c` in a sandbox that has the
//! repository's `sample-data/` and `queries/`, with `sspr` on the `PATH`, `SSPR_LAKE` pointing at
//! the lake the demo example builds, and a `sspr.toml` whose `[graph]` section points at the
//! loopback Graph mock.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::repo;

/// One example: where it was found and the command line.
#[derive(Debug)]
struct Example {
    file: &'static str,
    line: usize,
    command: String,
}

const DOCS: &[&str] = &["README.md", "queries/README.md", "dashboards/README.md"];
const RUNNABLE: &[&str] = &["sspr", "mkdir", "cp"];

/// Code spans (`…`) of a Markdown line.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, s)| s).collect()
}

fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    for file in DOCS {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let mut in_sh = false;
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.starts_with("```") {
                in_sh = !in_sh && trimmed == "```sh";
                continue;
            }
            if in_sh {
                let first = trimmed.split_whitespace().next().unwrap_or("");
                if RUNNABLE.contains(&first) {
                    out.push(Example { file, line: i + 1, command: trimmed.to_string() });
                }
                continue;
            }
            // The commands table: | `sspr x` | `example` / `example` | what it does |
            let cells: Vec<&str> = line.split(" | ").collect();
            if *file == "README.md" && line.starts_with("| `sspr") && cells.len() >= 3 {
                for span in code_spans(cells[1]) {
                    if span.starts_with("sspr ") {
                        out.push(Example { file, line: i + 1, command: span.to_string() });
                    }
                }
            }
        }
    }
    out
}

/// What a command's output must show, beyond exiting 0 (first match wins).
fn expectation(command: &str) -> Option<&'static str> {
    const CHECKS: &[(&str, &str)] = &[
        ("demo --dir", "saved queries ran; lake verify:"),
        ("import sample-data", "partitions written"),
        ("build --full", "build (full)"),
        ("sspr build", "build (changed partitions)"),
        ("collect graph", "slices"),
        ("doctor", "ok"),
        ("config check", "ok"),
        ("nightly", "complete"),
        ("queries --format markdown", "| name | title | params | description |"),
        ("reset_success_daily --from -30d --tz Europe/Brussels --format csv", "day,sessions_started,"),
        ("--sql", "activity"),
        ("lake verify --format json", "\"problems\": []"),
        ("lake verify", "ok: "),
        ("lake stats", "audit_events"),
        ("sample generate", "wrote my-tenant"),
        ("--queries-dir my-queries", "source"),
        ("report overview --out reports", "reports/overview.html"),
        ("report security --out reports", "reports/security.html"),
    ];
    CHECKS.iter().find(|(k, _)| command.contains(k)).map(|(_, v)| *v)
}

/// Files an example writes instead of printing, and how they start.
fn written(command: &str) -> Option<(&'static str, &'static [u8])> {
    if command.contains("--out errors.csv") {
        return Some(("errors.csv", b"source,code,name"));
    }
    if command.contains("--out reset_success_daily.parquet") {
        return Some(("reset_success_daily.parquet", b"PAR1"));
    }
    None
}

fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).unwrap();
}

#[test]
fn every_documented_example_runs_and_says_what_the_docs_promise() {
    let all = examples();
    assert!(all.len() >= 16, "found only {} examples: {all:?}", all.len());
    for f in DOCS {
        assert!(all.iter().any(|e| e.file == *f), "{f} has no runnable example");
    }
    let mock = crate::collect_graph::setup(|_| {});
    let config = crate::collect_graph::config_file(&mock, "");
    let sandbox = tempfile::tempdir().unwrap();
    let dir = sandbox.path();
    link(&repo().join("sample-data"), &dir.join("sample-data"));
    link(&repo().join("queries"), &dir.join("queries"));
    std::fs::copy(&config, dir.join("sspr.toml")).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sspr"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    for e in &all {
        let o = Command::new("sh")
            .arg("-c")
            .arg(&e.command)
            .current_dir(dir)
            .env("PATH", &path)
            .env("SSPR_LAKE", "sspr-demo/lake")
            .env("NO_COLOR", "1")
            .env_remove("SSPR_CONFIG")
            .env_remove("COLUMNS")
            .output()
            .unwrap();
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        let at = format!("{}:{}: {}", e.file, e.line, e.command);
        assert!(o.status.success(), "{at}\nexit {:?}\n{out}\n{err}", o.status.code());
        match (expectation(&e.command), written(&e.command)) {
            (_, Some((file, head))) => {
                let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
                assert!(bytes.starts_with(head), "{at}: {file} does not start with {head:?}");
            }
            (Some(want), None) => assert!(out.contains(want), "{at}: stdout lacks {want:?}:\n{out}\n{err}"),
            (None, None) => {
                let first = e.command.split_whitespace().next().unwrap_or("");
                assert!(first != "sspr" || !out.trim().is_empty(), "{at}: printed nothing\n{err}");
            }
        }
    }
}

/// Issue 19 item 5: README's list of saved queries is the whole catalogue, no more, no less.
#[test]
fn the_readme_lists_every_saved_query_and_no_other() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("## Saved queries").nth(1).unwrap().split("\n## ").next().unwrap();
    let listed: std::collections::BTreeSet<String> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| code_spans(l).first().map(|s| s.to_string()))
        .collect();
    let registry = sspr_analytics::query::saved::Registry::load(None).unwrap();
    let known: std::collections::BTreeSet<String> = registry.queries.iter().map(|q| q.name.clone()).collect();
    assert_eq!(listed, known);
    let queries_readme = std::fs::read_to_string(repo().join("queries/README.md")).unwrap();
    assert!(queries_readme.contains(&format!("({} of them)", known.len())), "queries/README.md's count");
}
