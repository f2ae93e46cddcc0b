//! The chart a saved query asks for: its header's `-- chart:` line, `kind key=value …`.
//!
//! ```text
//! -- chart: line x=day y=success_rate_pct units=%
//! -- chart: bar x=code y=events limit=10
//! -- chart: hbar x=computer y=errors
//! -- chart: line x=snapshot_date y=capable,registered series=user_type
//! ```
//!
//! Keys: `x` (the category or time column), `y` (one or more value columns, comma-separated),
//! `series` (a column whose values split `y` into one line each), `sort` (`desc`, `asc` or `none`;
//! bars default to `desc`, lines keep the query's order), `limit` (bars: the top N, the rest
//! summed into one "other" bar; default 12), `units` (the value axis' unit, e.g. `%`, `ms`,
//! `users`; a `y` column ending in `_pct` is a percentage, drawn on a 0–100 axis), `title`
//! (default: the query's title). A spec is checked against the result's columns, and an error
//! names the key and the column.

use crate::error::{Error, Result};

/// Chart kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// A value over an ordered x (days, snapshots), one line per series.
    Line,
    /// Vertical bars per category.
    Bar,
    /// Horizontal bars per category, for long labels (UPNs, reasons, machine names).
    HBar,
}

/// How bars are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Desc,
    Asc,
    None,
}

/// A parsed `-- chart:` line.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSpec {
    pub kind: ChartKind,
    pub x: String,
    pub y: Vec<String>,
    pub series: Option<String>,
    pub sort: Sort,
    pub limit: usize,
    pub units: Option<String>,
    pub title: Option<String>,
}

/// Bars shown at most (the rest are summed into "other") unless `limit=` says otherwise.
pub const DEFAULT_LIMIT: usize = 12;

impl ChartSpec {
    /// Parses `kind key=value …`; `None` for `table` (no chart). `origin` names the query in
    /// errors.
    pub fn parse(origin: &str, text: &str) -> Result<Option<Self>> {
        let bad = |m: String| Error::Query { query: origin.to_string(), message: format!("-- chart: {m}") };
        let mut words = text.split_whitespace();
        let kind = match words.next().unwrap_or("table") {
            "table" => return Ok(None),
            "line" | "timeline" => ChartKind::Line,
            "bar" => ChartKind::Bar,
            "hbar" => ChartKind::HBar,
            other => return Err(bad(format!("unknown chart kind {other:?} (line, bar, hbar, table)"))),
        };
        let mut spec = ChartSpec {
            kind,
            x: String::new(),
            y: Vec::new(),
            series: None,
            sort: if kind == ChartKind::Line { Sort::None } else { Sort::Desc },
            limit: DEFAULT_LIMIT,
            units: None,
            title: None,
        };
        for w in words {
            let (k, v) = w.split_once('=').ok_or_else(|| bad(format!("{w:?} is not key=value")))?;
            match k {
                "x" => spec.x = v.to_string(),
                "y" => spec.y = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                "series" => spec.series = Some(v.to_string()),
                "sort" => {
                    spec.sort = match v {
                        "desc" => Sort::Desc,
                        "asc" => Sort::Asc,
                        "none" => Sort::None,
                        _ => return Err(bad(format!("sort={v:?}: desc, asc or none"))),
                    }
                }
                "limit" => {
                    spec.limit = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 2)
                        .ok_or_else(|| bad(format!("limit={v:?}: a whole number of at least 2")))?
                }
                "units" => spec.units = Some(v.replace('_', " ")),
                "title" => spec.title = Some(v.replace('_', " ")),
                other => {
                    return Err(bad(format!(
                        "unknown key {other:?} (x, y, series, sort, limit, units, title)"
                    )));
                }
            }
        }
        if spec.x.is_empty() || spec.y.is_empty() {
            return Err(bad("needs x= and y=".into()));
        }
        Ok(Some(spec))
    }

    /// Checks the spec's columns against a result's column names.
    pub fn check(&self, origin: &str, columns: &[String]) -> Result<()> {
        let named = std::iter::once(("x", &self.x))
            .chain(self.y.iter().map(|y| ("y", y)))
            .chain(self.series.iter().map(|s| ("series", s)));
        for (key, col) in named {
            if !columns.iter().any(|c| c == col) {
                return Err(Error::Query {
                    query: origin.to_string(),
                    message: format!(
                        "-- chart: {key}={col}: the result has no such column (it has: {})",
                        columns.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Whether the values are percentages (drawn on a 0–100 axis).
    pub fn percent(&self) -> bool {
        self.units.as_deref() == Some("%") || self.y.iter().all(|y| y.ends_with("_pct"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_and_its_errors() {
        let s = ChartSpec::parse("q", "bar x=code y=events limit=5 units=events").unwrap().unwrap();
        assert_eq!(
            (s.kind, s.x.as_str(), s.y.clone(), s.limit, s.sort),
            (ChartKind::Bar, "code", vec!["events".to_string()], 5, Sort::Desc)
        );
        let l = ChartSpec::parse("q", "line x=day y=a,b series=t").unwrap().unwrap();
        assert_eq!((l.y.len(), l.series.as_deref(), l.sort), (2, Some("t"), Sort::None));
        assert!(ChartSpec::parse("q", "table").unwrap().is_none());
        assert!(ChartSpec::parse("q", "line x=day y=success_rate_pct").unwrap().unwrap().percent());
        for (text, says) in [
            ("pie x=a y=b", "unknown chart kind"),
            ("bar x=a", "needs x= and y="),
            ("bar x=a y=b colour=red", "unknown key \"colour\""),
            ("bar x=a y=b limit=1", "limit=\"1\""),
            ("bar x=a y=b sort=up", "sort=\"up\""),
        ] {
            let e = ChartSpec::parse("q", text).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("query q"), "{text}: {e}");
        }
        let e = s.check("q", &["code".into(), "n".into()]).unwrap_err().to_string();
        assert!(e.contains("y=events") && e.contains("code, n"), "{e}");
    }
}
