//! Dashboard specs: `dashboards/*.toml`, embedded in the binary and overridable from a folder.
//!
//! ```toml
//! title = "SSPR overview"
//! description = "Who can reset, do resets work, what goes wrong."
//!
//! [[panel]]
//! query = "reset_success_daily"          # a saved query
//! title = "Reset success per day"        # default: the query's title
//! chart = "line x=day y=success_rate_pct" # default: the query's `-- chart:` line; "table": none
//! params = { }                           # the query's parameters, as --param would give them
//! size = "full"                          # full | half (two half panels share a row)
//! text = "What the figure means, and what to do about it."
//! ```
//!
//! A spec is checked when it is loaded: an unknown key, query, parameter or chart kind is an error
//! naming the file, the panel and the key; the chart's columns are checked against the query's
//! result when it runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::charts::ChartSpec;
use crate::error::{Error, Result};
use crate::query::saved::Registry;

/// The dashboards shipped in the binary.
const EMBEDDED: &[(&str, &str)] = &[
    ("overview", include_str!("../../dashboards/overview.toml")),
    ("operations", include_str!("../../dashboards/operations.toml")),
    ("security", include_str!("../../dashboards/security.toml")),
];

/// One dashboard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    #[serde(skip)]
    pub name: String,
    /// Where it came from (`dashboards/overview.toml` or a file), for messages.
    #[serde(skip)]
    pub origin: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "panel")]
    pub panels: Vec<Panel>,
}

/// One panel: a saved query, drawn and tabled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    pub query: String,
    pub title: Option<String>,
    pub chart: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub size: Size,
    #[serde(default)]
    pub text: String,
}

/// How wide a panel is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    #[default]
    Full,
    Half,
}

impl Dashboard {
    /// Parses and checks a spec against the saved queries.
    fn parse(name: &str, origin: &str, text: &str, registry: &Registry) -> Result<Self> {
        let mut d: Dashboard =
            toml::from_str(text).map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim())))?;
        d.name = name.to_string();
        d.origin = origin.to_string();
        if d.panels.is_empty() {
            return Err(Error::Config(format!("{origin}: a dashboard needs at least one [[panel]]")));
        }
        for (i, p) in d.panels.iter().enumerate() {
            let at = |key: &str, m: String| {
                Error::Config(format!("{origin}: panel {} ({}), key {key}: {m}", i + 1, p.query))
            };
            let q = registry.get(&p.query).map_err(|e| at("query", e.to_string()))?;
            for k in p.params.keys() {
                if !q.params.iter().any(|d| &d.name == k) {
                    return Err(at(
                        "params",
                        format!("query {} has no parameter {k:?} (it takes: {})", q.name, q.param_names()),
                    ));
                }
            }
            let chart = p.chart.as_deref().or(q.chart.as_deref()).unwrap_or("table");
            ChartSpec::parse(&q.name, chart).map_err(|e| at("chart", e.to_string()))?;
        }
        Ok(d)
    }

    /// The dashboards by name: the embedded ones, replaced or added to by the `*.toml` of `dir`.
    pub fn load_all(dir: Option<&Path>, registry: &Registry) -> Result<Vec<Dashboard>> {
        let mut out: Vec<Dashboard> = EMBEDDED
            .iter()
            .map(|(name, text)| Dashboard::parse(name, &format!("dashboards/{name}.toml"), text, registry))
            .collect::<Result<_>>()?;
        if let Some(dir) = dir {
            for f in crate::util::files_with_extension(dir, "toml").map_err(|e| Error::io(dir, e))? {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let d = Dashboard::parse(&name, &f.display().to_string(), &text, registry)?;
                out.retain(|x| x.name != d.name);
                out.push(d);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dashboards_are_valid_and_mistakes_are_named() {
        let reg = Registry::load(None).unwrap();
        let all = Dashboard::load_all(None, &reg).unwrap();
        assert_eq!(
            all.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["overview", "operations", "security"]
        );
        let ok = "title = \"t\"\n[[panel]]\nquery = \"error_codes\"\n";
        assert!(Dashboard::parse("x", "x.toml", ok, &reg).is_ok());
        for (text, says) in [
            ("title = \"t\"\n[[panel]]\nquery = \"nope\"\n", "panel 1 (nope), key query"),
            ("title = \"t\"\n[[panel]]\nquery = \"error_codes\"\nchart = \"pie x=a y=b\"\n", "key chart"),
            ("title = \"t\"\n[[panel]]\nquery = \"error_codes\"\nparams = { n = \"1\" }\n", "key params"),
            (
                "title = \"t\"\n[[panel]]\nquery = \"error_codes\"\ncolour = \"red\"\n",
                "unknown field `colour`",
            ),
            ("title = \"t\"\n", "missing field `panel`"),
        ] {
            let e = Dashboard::parse("x", "x.toml", text, &reg).unwrap_err().to_string();
            assert!(e.contains("x.toml") && e.contains(says), "{text}: {e}");
        }
    }
}
