//! The config file as text and TOML, before it becomes [`crate::settings::Settings`]: every key
//! the file may hold ([`KEYS`]), the `SSPR_<SECTION>_<KEY>` environment variables that override
//! them, where each resolved value came from (file and line, variable, default), secrets masked
//! for printing, and unknown keys refused with the file, the line and the nearest known key.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Every key of the config file: (section, key); the section is empty for top-level keys. A test
/// holds this list to the serde structs in both directions.
const KEYS: &[(&str, &str)] = &[
    ("", "lake"),
    ("", "queries_dir"),
    ("query", "memory_limit"),
    ("query", "target_partitions"),
    ("query", "tz"),
    ("query", "extensions"),
    ("query", "business_hours"),
    ("graph", "tenant_id"),
    ("graph", "client_id"),
    ("graph", "auth"),
    ("graph", "client_secret"),
    ("graph", "client_secret_file"),
    ("graph", "certificate_file"),
    ("graph", "private_key_file"),
    ("graph", "certificate_password_file"),
    ("graph", "managed_identity_client_id"),
    ("graph", "managed_identity_endpoint"),
    ("graph", "federated_token_file"),
    ("graph", "cloud"),
    ("graph", "graph_endpoint"),
    ("graph", "authority_endpoint"),
    ("graph", "services"),
    ("graph", "requests_per_window"),
    ("graph", "window_seconds"),
    ("graph", "arrival_margin_seconds"),
    ("graph", "concurrency"),
    ("graph", "slice_hours"),
    ("graph", "overlap"),
    ("graph", "lag"),
    ("graph", "initial_lookback"),
    ("graph", "max_retries"),
    ("graph", "retry_budget"),
    ("graph", "timeout_seconds"),
    ("graph", "beta_audits"),
    ("graph", "registration"),
    ("graph", "users"),
    ("graph", "roles"),
    ("graph", "state_dir"),
    ("graph", "refund_throttled"),
    ("eventlog", "credential_providers"),
    ("eventlog", "dc_event_ids"),
    ("eventlog", "writeback_providers"),
    ("export", "to"),
    ("export", "pseudonym_key_file"),
    ("export", "pseudonymize_ids"),
    ("export", "keep"),
    ("storage", "account"),
    ("storage", "access_key_file"),
    ("storage", "sas_token_file"),
    ("storage", "client_id"),
    ("storage", "tenant_id"),
    ("storage", "client_secret_file"),
    ("storage", "managed_identity_client_id"),
    ("storage", "authority_host"),
    ("storage", "endpoint"),
    ("storage", "use_emulator"),
    ("nightly", "reports_dir"),
    ("nightly", "queries"),
    ("nightly", "dashboards"),
    ("nightly", "collect_graph"),
    ("nightly", "watch"),
    ("nightly", "export"),
    ("nightly", "keep_reports_days"),
    ("nightly", "source_tz"),
    ("nightly", "webhook_url_file"),
    ("mail", "smtp_host"),
    ("mail", "smtp_port"),
    ("mail", "starttls"),
    ("mail", "username"),
    ("mail", "password_file"),
    ("mail", "from"),
    ("mail", "to"),
    ("mail", "ca_file"),
    ("mail", "attach_overview"),
    ("retention", "audit_events"),
    ("retention", "registration_details"),
    ("retention", "users"),
    ("retention", "role_assignments"),
    ("retention", "writeback_events"),
    ("retention", "credential_provider_events"),
    ("retention", "dc_security_events"),
    ("retention", "ingest_ledger"),
    ("retention", "runs"),
];

/// Keys whose value is a secret itself (not a path to one): printed masked.
const SECRET_KEYS: &[(&str, &str)] = &[("graph", "client_secret")];

/// The environment variable that overrides a key: `SSPR_QUERY_TZ` for `[query] tz`,
/// `SSPR_LAKE` for the top-level `lake`.
fn env_name(section: &str, key: &str) -> String {
    let path = if section.is_empty() { key.to_string() } else { format!("{section}_{key}") };
    format!("SSPR_{}", path.to_ascii_uppercase())
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file, at this line.
    File { path: PathBuf, line: usize },
    /// An environment variable.
    Env(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(v) => write!(f, "env {v}"),
        }
    }
}

/// The config as TOML with the environment's overrides applied, and where each key came from.
#[derive(Debug, Default, Clone)]
pub struct Layered {
    pub table: toml::Table,
    pub origins: Vec<((String, String), Origin)>,
}

impl Layered {
    /// Reads `path` (if any), refusing unknown keys with their line and the nearest known key,
    /// then applies every `SSPR_<SECTION>_<KEY>` variable of `env`.
    pub(crate) fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Self> {
        let mut out = Layered::default();
        if let Some(p) = path {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            out.table = toml::from_str::<toml::Table>(&text)
                .map_err(|e| Error::Config(format!("{}: {}", p.display(), one_line(&e.to_string()))))?;
            check_keys(&out.table, &text, p)?;
            for (section, key) in present(&out.table) {
                let line = line_of(&text, &section, &key);
                out.origins.push(((section, key), Origin::File { path: p.to_path_buf(), line }));
            }
        }
        for &(section, key) in KEYS {
            let var = env_name(section, key);
            let Some((_, value)) = env.iter().find(|(k, _)| *k == var) else { continue };
            let value = parse_env_value(value);
            let slot = if section.is_empty() {
                &mut out.table
            } else {
                let entry = out
                    .table
                    .entry(section.to_string())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                match entry {
                    toml::Value::Table(t) => t,
                    _ => return Err(Error::Config(format!("{var}: [{section}] is not a section"))),
                }
            };
            slot.insert(key.to_string(), value);
            out.origins.retain(|((s, k), _)| !(s == section && k == key));
            out.origins.push(((section.to_string(), key.to_string()), Origin::Env(var)));
        }
        Ok(out)
    }

    /// Where a key's value came from, if it was given at all.
    fn origin(&self, section: &str, key: &str) -> Option<&Origin> {
        self.origins.iter().find(|((s, k), _)| s == section && k == key).map(|(_, o)| o)
    }

    /// Every key as `sspr config check` prints it: `[section] key = value  # origin`, secrets
    /// masked, keys not given shown as defaults.
    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        let mut last = None;
        for &(section, key) in KEYS {
            if last != Some(section) {
                if !section.is_empty() {
                    out.push_str(&format!("\n[{section}]\n"));
                }
                last = Some(section);
            }
            let value = if section.is_empty() {
                self.table.get(key)
            } else {
                self.table.get(section).and_then(|s| s.get(key))
            };
            let shown = match value {
                None => "(default)".to_string(),
                Some(_) if SECRET_KEYS.contains(&(section, key)) => "\"********\"".to_string(),
                Some(v) => v.to_string(),
            };
            let origin = self.origin(section, key).map(|o| format!("  # {o}")).unwrap_or_default();
            out.push_str(&format!("{key} = {shown}{origin}\n"));
        }
        out
    }
}

/// An environment value as TOML when it reads as one (`true`, `3`, `["a", "b"]`), else a string.
fn parse_env_value(v: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {v}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(v.to_string())),
        Err(_) => toml::Value::String(v.to_string()),
    }
}

/// The (section, key) pairs a table holds, sections' keys included (array-of-tables entries,
/// `[[nightly.watch]]`, are the section's key `watch`).
fn present(t: &toml::Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in t {
        match v {
            toml::Value::Table(inner) => {
                out.extend(inner.keys().map(|ik| (k.clone(), ik.clone())));
            }
            _ => out.push((String::new(), k.clone())),
        }
    }
    out
}

/// Refuses a key that is not in [`KEYS`], naming the file, the line and the nearest known key.
fn check_keys(t: &toml::Table, text: &str, path: &Path) -> Result<()> {
    for (k, v) in t {
        let is_section = matches!(v, toml::Value::Table(_));
        let known_section = KEYS.iter().any(|(s, _)| !s.is_empty() && s == k);
        if is_section && !known_section {
            return Err(unknown(path, text, "", k, KEYS.iter().map(|(s, _)| *s).filter(|s| !s.is_empty())));
        }
        if !is_section && !KEYS.contains(&("", k.as_str())) {
            return Err(unknown(
                path,
                text,
                "",
                k,
                KEYS.iter().filter(|(s, _)| s.is_empty()).map(|(_, k)| *k),
            ));
        }
    }
    for (section, key) in present(t) {
        if section.is_empty() {
            continue;
        }
        if !KEYS.iter().any(|(s, k)| *s == section && *k == key) {
            let known = KEYS.iter().filter(|(s, _)| *s == section).map(|(_, k)| *k);
            return Err(unknown(path, text, &section, &key, known));
        }
    }
    Ok(())
}

fn unknown<'a>(
    path: &Path,
    text: &str,
    section: &str,
    key: &str,
    known: impl Iterator<Item = &'a str>,
) -> Error {
    let known: Vec<&str> = known.collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let nearest = known.iter().min_by_key(|k| edit_distance(key, k)).filter(|k| edit_distance(key, k) <= 3);
    let hint = match nearest {
        Some(n) => format!("; did you mean `{n}`?"),
        None => format!("; known: {}", known.join(", ")),
    };
    let place = if section.is_empty() { String::new() } else { format!(" in [{section}]") };
    Error::Config(format!(
        "{}:{}: unknown key `{key}`{place}{hint}",
        path.display(),
        line_of(text, section, key)
    ))
}

/// The 1-based line of `key` in `section` (or of the `[key]` header for a section), else 1.
fn line_of(text: &str, section: &str, key: &str) -> usize {
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(h) = line.strip_prefix('[') {
            let name = h.trim_start_matches('[').split(']').next().unwrap_or("").trim();
            if section.is_empty() && name == key {
                return i + 1;
            }
            current = name.split('.').next().unwrap_or("").to_string();
            if section == current && h.starts_with('[') && name == format!("{section}.{key}") {
                return i + 1;
            }
            continue;
        }
        let name = line.split('=').next().unwrap_or("").trim().trim_matches('"');
        if current == section && name == key && line.contains('=') {
            return i + 1;
        }
    }
    1
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A TOML error's message on one line.
fn one_line(s: &str) -> String {
    s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
