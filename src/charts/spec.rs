//! The chart a saved query asks for: its header's `-- chart:` line, `kind key=value …`.
//!
//! ```text
//! -- chart: line x=day y=success_rate_pct units=%
//! -- chart: bar x=code y=events limit=10
//! -- chart: hbar x=computer y=errors
//! -- chart: line x=snapshot_date y=capable,registered series=user_type
//! -- chart: stacked x=day y=sessions_succeeded,sessions_not_succeeded sort=none limit=400
//! -- chart: funnel x=stage y=attempts
//! -- chart: heatmap x=hour y=errors series=weekday
//! -- chart: timeline x=starts end=ends y=kind series=computer
//! ```
//!
//! Kinds: `line`; `bar` and `hbar` (vertical and horizontal bars; the first `y`); `stacked` (one
//! bar per `x`, each `y` column, or each value of `series`, a segment of it); `funnel` (stages in
//! the query's order, each a bar centred under the one before with its share of the first);
//! `heatmap` (a cell per `x` × `series` value, its shade the `y` number); `timeline` (a mark per
//! row at the time `x` in the lane of its `series` value, a span to `end` when given, coloured by
//! the text column `y`).
//!
//! Keys: `x` (the category or time column; several comma-separated columns label each bar with
//! their values joined by ` / `, e.g. `x=user_type,role`), `y` (one or more value columns, comma-separated),
//! `series` (a column whose values split `y` into one line, segment, heatmap row or timeline
//! lane each), `end` (timeline: a column of span ends), `sort` (`desc`, `asc` or `none`; bars
//! default to `desc`, the other kinds keep the query's order), `limit` (bars: the top N, the rest
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
    /// Bars split into segments (by method, by category, by outcome).
    Stacked,
    /// Stages in order, each centred under the one before, with its share of the first.
    Funnel,
    /// Cells of an `x` × `series` grid shaded by their number (errors by hour and weekday).
    Heatmap,
    /// Marks and spans on a time axis, one lane per `series` value.
    Timeline,
}

impl ChartKind {
    /// Whether the kind draws bars that `sort` and `limit` apply to.
    fn has_bars(self) -> bool {
        matches!(self, ChartKind::Bar | ChartKind::HBar | ChartKind::Stacked)
    }
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
    /// Timeline: the column of span ends (a row with no end is a point).
    pub end: Option<String>,
    pub sort: Sort,
    pub limit: usize,
    pub units: Option<String>,
    pub title: Option<String>,
}

/// Bars shown at most (the rest are summed into "other") unless `limit=` says otherwise.
const DEFAULT_LIMIT: usize = 12;

impl ChartSpec {
    /// Parses `kind key=value …`; `None` for `table` (no chart). `origin` names the query in
    /// errors.
    pub fn parse(origin: &str, text: &str) -> Result<Option<Self>> {
        let bad = |m: String| Error::Query { query: origin.to_string(), message: format!("-- chart: {m}") };
        let mut words = text.split_whitespace();
        let kind = match words.next().unwrap_or("table") {
            "table" => return Ok(None),
            "line" => ChartKind::Line,
            "bar" => ChartKind::Bar,
            "hbar" => ChartKind::HBar,
            "stacked" => ChartKind::Stacked,
            "funnel" => ChartKind::Funnel,
            "heatmap" => ChartKind::Heatmap,
            "timeline" => ChartKind::Timeline,
            other => {
                return Err(bad(format!(
                    "unknown chart kind {other:?} (line, bar, hbar, stacked, funnel, heatmap, timeline, table)"
                )));
            }
        };
        let mut spec = ChartSpec {
            kind,
            x: String::new(),
            y: Vec::new(),
            series: None,
            end: None,
            sort: if kind.has_bars() { Sort::Desc } else { Sort::None },
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
                "end" => spec.end = Some(v.to_string()),
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
                        "unknown key {other:?} (x, y, series, end, sort, limit, units, title)"
                    )));
                }
            }
        }
        if spec.x.is_empty() || spec.y.is_empty() {
            return Err(bad("needs x= and y=".into()));
        }
        if kind == ChartKind::Timeline && spec.x.contains(',') {
            return Err(bad("a timeline's x= is one time column".into()));
        }
        if spec.end.is_some() && kind != ChartKind::Timeline {
            return Err(bad("end= is for timeline charts".into()));
        }
        if spec.y.len() > 1 && matches!(kind, ChartKind::Funnel | ChartKind::Heatmap | ChartKind::Timeline) {
            return Err(bad(format!("a {} chart takes one y column", words_kind(kind))));
        }
        if kind == ChartKind::Heatmap && spec.series.is_none() {
            return Err(bad("a heatmap needs series= (the column of its rows)".into()));
        }
        Ok(Some(spec))
    }

    /// Checks the spec's columns against a result's column names.
    pub(crate) fn check(&self, origin: &str, columns: &[String]) -> Result<()> {
        let named = self
            .x_columns()
            .map(|x| ("x", x))
            .chain(self.y.iter().map(|y| ("y", y.as_str())))
            .chain(self.series.iter().map(|s| ("series", s.as_str())))
            .chain(self.end.iter().map(|e| ("end", e.as_str())));
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

    /// The `x` column(s).
    pub(crate) fn x_columns(&self) -> impl Iterator<Item = &str> {
        self.x.split(',').filter(|c| !c.is_empty())
    }

    /// The x axis' name: its columns joined as the labels are.
    pub(crate) fn x_name(&self) -> String {
        self.x_columns().collect::<Vec<_>>().join(" / ")
    }

    /// Whether the values are percentages (drawn on a 0–100 axis).
    pub(crate) fn percent(&self) -> bool {
        self.units.as_deref() == Some("%") || self.y.iter().all(|y| y.ends_with("_pct"))
    }
}

fn words_kind(kind: ChartKind) -> &'static str {
    match kind {
        ChartKind::Line => "line",
        ChartKind::Bar => "bar",
        ChartKind::HBar => "hbar",
        ChartKind::Stacked => "stacked",
        ChartKind::Funnel => "funnel",
        ChartKind::Heatmap => "heatmap",
        ChartKind::Timeline => "timeline",
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
            ("bar x=a y=b end=c", "end= is for timeline"),
            ("heatmap x=h y=n", "needs series="),
            ("funnel x=s y=a,b", "one y column"),
            ("timeline x=a,b y=k", "one time column"),
        ] {
            let e = ChartSpec::parse("q", text).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("query q"), "{text}: {e}");
        }
        let t = ChartSpec::parse("q", "timeline x=starts end=ends y=kind series=computer").unwrap().unwrap();
        assert_eq!((t.kind, t.end.as_deref(), t.sort), (ChartKind::Timeline, Some("ends"), Sort::None));
        let e = t.check("q", &["starts".into(), "kind".into(), "computer".into()]).unwrap_err().to_string();
        assert!(e.contains("end=ends"), "{e}");
        let two = ChartSpec::parse("q", "bar x=user_type,role y=n").unwrap().unwrap();
        assert_eq!(two.x_name(), "user_type / role");
        let e = two.check("q", &["user_type".into(), "n".into()]).unwrap_err().to_string();
        assert!(e.contains("x=role"), "{e}");
        let st = ChartSpec::parse("q", "stacked x=d y=a,b").unwrap().unwrap();
        assert_eq!((st.kind, st.sort), (ChartKind::Stacked, Sort::Desc));
        let e = s.check("q", &["code".into(), "n".into()]).unwrap_err().to_string();
        assert!(e.contains("y=events") && e.contains("code, n"), "{e}");
    }
}
