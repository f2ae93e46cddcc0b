use super::*;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Layered> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sspr.toml");
    std::fs::write(&p, text).unwrap();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Layered::load(Some(&p), &env)
}

#[test]
fn unknown_keys_name_the_line_and_the_nearest_key() {
    let e = load("lake = \"/x\"\n[query]\ntz = \"UTC\"\nmemory_limt = \"1GiB\"\n", &[]).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("sspr.toml:4: unknown key `memory_limt` in [query]; did you mean `memory_limit`?"),
        "{m}"
    );
    let m = load("[qeury]\ntz = \"UTC\"\n", &[]).unwrap_err().to_string();
    assert!(m.contains(":1: unknown key `qeury`; did you mean `query`?"), "{m}");
    let m = load("lake = \"/x\"\n\n[[nightly.wach]]\npath = \"/in\"\n", &[]).unwrap_err().to_string();
    assert!(m.contains(":3: unknown key `wach` in [nightly]; did you mean `watch`?"), "{m}");
    let m = load("zebra = 1\n", &[]).unwrap_err().to_string();
    assert!(m.contains("unknown key `zebra`; known: lake, queries_dir"), "{m}");
}

#[test]
fn the_environment_overrides_the_file_and_says_so() {
    let l = load(
        "lake = \"/x\"\n[query]\ntz = \"UTC\"\n[graph]\nclient_secret = \"s3cret\"\n",
        &[("SSPR_QUERY_TZ", "Europe/Brussels"), ("SSPR_QUERY_TARGET_PARTITIONS", "3"), ("SSPR_OTHER", "x")],
    )
    .unwrap();
    assert_eq!(l.table["query"]["tz"].as_str(), Some("Europe/Brussels"));
    assert_eq!(l.table["query"]["target_partitions"].as_integer(), Some(3));
    assert_eq!(l.origin("query", "tz"), Some(&Origin::Env("SSPR_QUERY_TZ".into())));
    assert!(matches!(l.origin("", "lake"), Some(Origin::File { line: 1, .. })));
    let d = l.describe();
    assert!(d.contains("tz = \"Europe/Brussels\"  # env SSPR_QUERY_TZ"), "{d}");
    assert!(d.contains("client_secret = \"********\"") && !d.contains("s3cret"), "{d}");
    assert!(d.contains("memory_limit = (default)"), "{d}");
}

/// [`KEYS`] and the serde structs agree: every listed key is accepted, and every field a
/// section accepts is listed (read from serde's own "expected one of" list).
#[test]
fn the_key_list_matches_the_config_structs() {
    use crate::settings::ConfigFile;
    let sections: std::collections::BTreeSet<&str> = KEYS.iter().map(|(s, _)| *s).collect();
    for section in sections {
        let probe = if section.is_empty() {
            "zz_unknown = 1\n".to_string()
        } else {
            format!("[{section}]\nzz_unknown = 1\n")
        };
        let msg = toml::from_str::<ConfigFile>(&probe).unwrap_err().to_string();
        let expected: std::collections::BTreeSet<String> = msg
            .split("expected one of")
            .nth(1)
            .or_else(|| msg.split("expected").nth(1))
            .unwrap_or_else(|| panic!("{msg}"))
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        let listed: std::collections::BTreeSet<String> = KEYS
            .iter()
            .filter(|(s, _)| *s == section)
            .map(|(_, k)| k.to_string())
            .chain(if section.is_empty() {
                sections_of_keys().into_iter().map(str::to_string).collect::<Vec<_>>()
            } else {
                Vec::new()
            })
            .collect();
        assert_eq!(listed, expected, "section [{section}]");
    }
}

fn sections_of_keys() -> Vec<&'static str> {
    let mut v: Vec<&str> = KEYS.iter().map(|(s, _)| *s).filter(|s| !s.is_empty()).collect();
    v.dedup();
    v
}

/// The example config documents every key: each one of [`KEYS`] is in it (set, or commented
/// out with an example value) under its section, and with every commented key switched on
/// the file is still a valid config.
#[test]
fn the_example_config_shows_every_key_and_each_example_value_is_valid() {
    let example = crate::sample::EXAMPLE_CONFIG;
    let mut uncommented = String::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut section = String::new();
    for line in example.lines() {
        let body = line.strip_prefix("# ").unwrap_or(line);
        let header = body.split('#').next().unwrap_or("").trim();
        if header.starts_with('[') {
            section =
                header.trim_matches(|c| c == '[' || c == ']').split('.').next().unwrap_or("").to_string();
            uncommented.push_str(body);
        } else if let Some((key, _)) = body.split_once(" = ")
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && !key.is_empty()
        {
            seen.insert((section.clone(), key.to_string()));
            uncommented.push_str(body);
        } else {
            uncommented.push_str(line);
        }
        uncommented.push('\n');
    }
    for (s, k) in KEYS {
        let wanted = (s.to_string(), k.to_string());
        // `[[nightly.watch]]` tables stand for the `watch` key.
        let shown = seen.contains(&wanted)
            || (*s == "nightly" && *k == "watch" && example.contains("[[nightly.watch]]"));
        assert!(shown, "the example config does not show [{s}] {k}");
    }
    for (s, k) in &seen {
        assert!(
            KEYS.contains(&(s.as_str(), k.as_str())) || s == "nightly",
            "the example shows an unknown key [{s}] {k}"
        );
    }
    let file: crate::settings::ConfigFile =
        toml::from_str(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    assert!(file.graph.is_some() && file.mail.is_some() && file.retention.audit_events.is_some());
}

#[test]
fn env_values_read_as_toml_when_they_can() {
    assert_eq!(parse_env_value("true"), toml::Value::Boolean(true));
    assert_eq!(parse_env_value("/var/lib/sspr"), toml::Value::String("/var/lib/sspr".into()));
    assert_eq!(parse_env_value("[\"overview\"]").as_array().map(|a| a.len()), Some(1));
    assert_eq!(edit_distance("memory_limt", "memory_limit"), 1);
}
