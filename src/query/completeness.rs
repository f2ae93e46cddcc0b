//! The completeness line printed under every report, so nobody reads a report over data that is
//! old or missing without being told: for every raw table, the newest event (or snapshot) it
//! holds, STALE when that is older than [`STALE_AFTER_HOURS`]; then, from `ingest_ledger`, what
//! was ingested per source and how much of it is INCOMPLETE.
//!
//! Freshness is judged by the newest *event*, not by when it was imported: an export of 18-day-old
//! events imported a minute ago is 18 days old.

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::error::Result;
use crate::store::schema::{cols, tables};

/// Data is stale when its newest event is older than this.
const STALE_AFTER_HOURS: i64 = 36;

/// The raw tables whose freshness is shown, with the column that says how new a row is.
const FRESHNESS: &[(&str, &str)] = &[
    (tables::AUDIT_EVENTS, cols::ACTIVITY_TIME),
    (tables::REGISTRATION_DETAILS, cols::SNAPSHOT_DATE),
    (tables::USERS, cols::SNAPSHOT_DATE),
    (tables::ROLE_ASSIGNMENTS, cols::SNAPSHOT_DATE),
    (tables::WRITEBACK_EVENTS, cols::TIME_CREATED),
    (tables::CREDENTIAL_PROVIDER_EVENTS, cols::TIME_CREATED),
    (tables::DC_SECURITY_EVENTS, cols::TIME_CREATED),
];

/// How new one table's data is.
#[derive(Debug, Clone, Serialize)]
pub struct Freshness {
    pub table: String,
    /// The newest event time, or the end of the newest snapshot day.
    pub newest: DateTime<Utc>,
    /// For snapshot tables: the newest snapshot's date.
    pub snapshot: Option<NaiveDate>,
    pub age_hours: i64,
    pub stale: bool,
}

/// What one ingest source delivered (from `ingest_ledger`).
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    pub source: String,
    pub items: i64,
    pub incomplete: i64,
}

/// The whole picture: how new each table is and what was ingested.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Completeness {
    pub tables: Vec<Freshness>,
    pub sources: Vec<Ingested>,
    /// Derived tables older than their inputs (`sspr build` has not run since they changed).
    pub unbuilt: Vec<crate::query::build::Unbuilt>,
}

impl Completeness {
    /// Everything the line shows: [`Self::read`] plus the derived tables left unbuilt.
    pub(crate) async fn of_lake(
        ctx: &SessionContext,
        lake: &crate::store::Lake,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let mut c = Self::read(ctx, now).await?;
        c.unbuilt = crate::query::build::unbuilt(lake).await?;
        Ok(c)
    }

    /// Reads the freshness of every raw table and the ledger's totals per source.
    async fn read(ctx: &SessionContext, now: DateTime<Utc>) -> Result<Self> {
        let union = FRESHNESS
            .iter()
            .map(|(t, c)| format!("SELECT '{t}' AS t, CAST(max({c}) AS TIMESTAMP) AS newest FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut tables = Vec::new();
        for b in ctx.sql(&union).await?.collect().await? {
            let names = cast(b.column(0), &DataType::Utf8)?;
            let newest = cast(b.column(1), &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let (names, newest) =
                (names.as_string::<i32>(), newest.as_primitive::<TimestampMicrosecondType>());
            for i in (0..b.num_rows()).filter(|&i| !newest.is_null(i)) {
                let Some(t) = DateTime::from_timestamp_micros(newest.value(i)) else { continue };
                let table = names.value(i).to_string();
                let is_snapshot = FRESHNESS.iter().any(|(n, c)| *n == table && *c == cols::SNAPSHOT_DATE);
                // A snapshot describes its whole day: it is as new as the day's end.
                let (newest, snapshot) = if is_snapshot {
                    (t + chrono::Duration::days(1), Some(t.date_naive()))
                } else {
                    (t, None)
                };
                let age_hours = (now - newest).num_hours().max(0);
                tables.push(Freshness {
                    table,
                    newest,
                    snapshot,
                    age_hours,
                    stale: age_hours >= STALE_AFTER_HOURS,
                });
            }
        }
        tables.sort_by_key(|f| FRESHNESS.iter().position(|(n, _)| *n == f.table));
        let ledger = "SELECT source, count(*) AS items, \
                      count(*) FILTER (WHERE NOT complete) AS incomplete \
                      FROM ingest_ledger WHERE source <> 'import' GROUP BY source ORDER BY source";
        let mut sources = Vec::new();
        for b in ctx.sql(ledger).await?.collect().await? {
            sources.extend(ledger_rows(&b)?);
        }
        Ok(Self { tables, sources, unbuilt: Vec::new() })
    }

    /// Whether anything is stale or incomplete.
    pub(crate) fn has_warning(&self) -> bool {
        self.tables.iter().any(|t| t.stale)
            || self.sources.iter().any(|s| s.incomplete > 0)
            || !self.unbuilt.is_empty()
    }

    /// The warning for a report that reads derived tables its inputs have moved past, naming
    /// the command that fixes it; `None` when `sql` reads none of them.
    pub(crate) fn unbuilt_warning(&self, sql: &str) -> Option<String> {
        let read: Vec<String> = self
            .unbuilt
            .iter()
            .filter(|u| sql.contains(&u.table))
            .map(|u| format!("{} ({} day{})", u.table, u.days, if u.days == 1 { "" } else { "s" }))
            .collect();
        (!read.is_empty()).then(|| {
            format!(
                "warning: this report reads {} older than the data imported since: run `sspr build` to bring it up to date",
                read.join(", ")
            )
        })
    }

    /// One line: `data: audit_events 2026-11-14 23:58Z, registration_details 2026-11-14 (snapshot),
    /// … · STALE (newest older than 36 h): audit_events 18 d, … · ingested: file 121 items;
    /// graph:directoryAudits 14 items, 2 INCOMPLETE`.
    pub(crate) fn line(&self) -> String {
        if self.tables.is_empty() && self.sources.is_empty() {
            return "data: nothing ingested yet (the lake's tables and ingest_ledger are empty)".into();
        }
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|f| match f.snapshot {
                Some(d) => format!("{} {d} (snapshot)", f.table),
                None => format!("{} {}", f.table, f.newest.format("%Y-%m-%d %H:%MZ")),
            })
            .collect();
        let mut out =
            format!("data: {}", if tables.is_empty() { "no events".into() } else { tables.join(", ") });
        let stale: Vec<&Freshness> = self.tables.iter().filter(|t| t.stale).collect();
        if !stale.is_empty() {
            let ages: Vec<i64> = stale.iter().map(|t| t.age_hours).collect();
            let (lo, hi) = (ages.iter().min().copied().unwrap_or(0), ages.iter().max().copied().unwrap_or(0));
            if stale.len() == self.tables.len() {
                let span = if age(lo) == age(hi) { age(lo) } else { format!("{}–{}", age(lo), age(hi)) };
                out.push_str(&format!(" · STALE: the newest data of every table is {span} old"));
            } else {
                let list: Vec<String> =
                    stale.iter().map(|t| format!("{} {}", t.table, age(t.age_hours))).collect();
                out.push_str(&format!(
                    " · STALE (newest older than {STALE_AFTER_HOURS} h): {}",
                    list.join(", ")
                ));
            }
        }
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|s| {
                let mut p = format!("{} {} items", s.source, s.items);
                if s.incomplete > 0 {
                    p.push_str(&format!(", {} INCOMPLETE", s.incomplete));
                }
                p
            })
            .collect();
        if !sources.is_empty() {
            out.push_str(&format!(" · ingested: {}", sources.join("; ")));
        }
        if !self.unbuilt.is_empty() {
            let list: Vec<String> =
                self.unbuilt.iter().map(|u| format!("{} ({} days)", u.table, u.days)).collect();
            out.push_str(&format!(
                " · NOT BUILT since the last import: {} (run `sspr build`)",
                list.join(", ")
            ));
        }
        out
    }
}

/// `36 h` below three days, else `18 d`.
fn age(hours: i64) -> String {
    if hours < 72 { format!("{hours} h") } else { format!("{} d", hours / 24) }
}

fn ledger_rows(b: &RecordBatch) -> Result<Vec<Ingested>> {
    let source = cast(b.column(0), &DataType::Utf8)?;
    let items = cast(b.column(1), &DataType::Int64)?;
    let incomplete = cast(b.column(2), &DataType::Int64)?;
    let (source, items, incomplete) = (
        source.as_string::<i32>(),
        items.as_primitive::<Int64Type>(),
        incomplete.as_primitive::<Int64Type>(),
    );
    Ok((0..b.num_rows())
        .map(|i| Ingested {
            source: source.value(i).to_string(),
            items: items.value(i),
            incomplete: incomplete.value(i),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(table: &str, hours: i64) -> Freshness {
        let now = Utc::now();
        Freshness {
            table: table.into(),
            newest: now - chrono::Duration::hours(hours),
            snapshot: None,
            age_hours: hours,
            stale: hours >= STALE_AFTER_HOURS,
        }
    }

    #[test]
    fn stale_tables_are_named_with_their_age_and_incomplete_sources_counted() {
        let c = Completeness {
            tables: vec![fresh("audit_events", 2), fresh("writeback_events", 80)],
            sources: vec![Ingested { source: "graph:directoryAudits".into(), items: 14, incomplete: 2 }],
            unbuilt: vec![],
        };
        let line = c.line();
        assert!(line.contains("STALE (newest older than 36 h): writeback_events 3 d"), "{line}");
        assert!(!line.contains("audit_events 2 h"), "{line}");
        assert!(line.contains("graph:directoryAudits 14 items, 2 INCOMPLETE"), "{line}");
        assert!(c.has_warning());
        let all = Completeness { tables: vec![fresh("a", 40), fresh("b", 50)], ..Default::default() };
        assert!(
            all.line().contains("STALE: the newest data of every table is 40 h–50 h old"),
            "{}",
            all.line()
        );
        let ok = Completeness { tables: vec![fresh("a", 1)], ..Default::default() };
        assert!(!ok.has_warning() && !ok.line().contains("STALE"));
    }
}
