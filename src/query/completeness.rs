//! The completeness line printed under every report: from `ingest_ledger`, which sources were
//! collected, up to when, how long ago, and what is incomplete, so nobody reads a report over
//! data that is missing without being told.

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

use crate::error::Result;

/// A source is stale when its newest ingest is older than this.
pub const STALE_AFTER_HOURS: i64 = 36;

/// One summary line, e.g. `data: file 121 items (latest 2026-11-24 03:10Z); graph:directoryAudits
/// through 2026-11-24 02:45Z, 2 slices incomplete; …`.
pub async fn line(ctx: &SessionContext, now: DateTime<Utc>) -> Result<String> {
    let sql = "SELECT source, count(*) AS items, \
               sum(CASE WHEN complete THEN 0 ELSE 1 END) AS incomplete, \
               max(finished_at) AS latest, \
               max(CASE WHEN complete THEN window_end END) AS through \
               FROM ingest_ledger WHERE source <> 'import' GROUP BY source ORDER BY source";
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut parts = Vec::new();
    for b in &batches {
        // Text columns reach queries as Utf8View (see context.rs); read them as plain strings.
        let s = cast(b.column(0), &DataType::Utf8)?;
        let s = s.as_any().downcast_ref::<StringArray>().cloned();
        let items = cast(b.column(1), &DataType::Int64)?;
        let items = items.as_any().downcast_ref::<Int64Array>().cloned();
        let inc = cast(b.column(2), &DataType::Int64)?;
        let inc = inc.as_any().downcast_ref::<Int64Array>().cloned();
        let latest = b.column(3).as_any().downcast_ref::<TimestampMicrosecondArray>().cloned();
        let through = b.column(4).as_any().downcast_ref::<TimestampMicrosecondArray>().cloned();
        let (Some(s), Some(items), Some(inc), Some(latest), Some(through)) = (s, items, inc, latest, through)
        else {
            continue;
        };
        for i in 0..b.num_rows() {
            let mut p = format!("{} {} items", s.value(i), items.value(i));
            if !through.is_null(i)
                && let Some(t) = DateTime::from_timestamp_micros(through.value(i))
            {
                p.push_str(&format!(" through {}", t.format("%Y-%m-%d %H:%MZ")));
            }
            if !latest.is_null(i)
                && let Some(t) = DateTime::from_timestamp_micros(latest.value(i))
            {
                let age = now - t;
                p.push_str(&format!(", latest {}", t.format("%Y-%m-%d %H:%MZ")));
                if age.num_hours() >= STALE_AFTER_HOURS {
                    p.push_str(&format!(" (STALE: {} h old)", age.num_hours()));
                }
            }
            if inc.value(i) > 0 {
                p.push_str(&format!(", {} INCOMPLETE", inc.value(i)));
            }
            parts.push(p);
        }
    }
    if parts.is_empty() {
        return Ok("data: nothing ingested yet (ingest_ledger is empty)".into());
    }
    Ok(format!("data: {}", parts.join("; ")))
}
