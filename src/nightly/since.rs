//! "Since last night": the figures a run records in its manifest, and the comparison with the
//! previous complete run that becomes `reports/<date>/summary.md`: new error codes, error spikes
//! (against the median of the seven days before, stated), the coverage change and who lost
//! coverage, new security-signal hits, and sources that are stale or incomplete.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::Result;
use crate::query::saved::Registry;
use crate::settings::Settings;
use crate::store::Lake;

use super::manifest::{Figures, RunManifest};

/// Queries whose rows are security signals: each row is a hit.
const SIGNALS: &[&str] = &[
    "blocked_users",
    "bulk_admin_resets",
    "password_operations_per_user_daily",
    "register_then_reset",
    "repeated_password_rejections",
    "reset_then_privileged_operation",
    "resets_per_ip",
    "sms_voice_only_resets_from_rare_ip",
    "verification_recon",
];

/// The rows of a signal query that are hits. A query with a `note` column may answer with a row
/// that only says what the lake cannot show (its first column empty): that row is no hit.
fn hits(batches: &[datafusion::arrow::array::RecordBatch]) -> usize {
    use datafusion::arrow::array::Array as _;
    batches
        .iter()
        .map(|b| match b.schema().index_of("note") {
            Ok(_) if b.num_columns() > 0 => b.num_rows() - b.column(0).null_count(),
            _ => b.num_rows(),
        })
        .sum()
}

/// Days of errors before the newest one that make the spike baseline.
const BASELINE_DAYS: usize = 7;

impl Figures {
    pub(crate) async fn of_lake(
        lake: &Lake,
        settings: &Settings,
        registry: &Registry,
        tz: chrono_tz::Tz,
    ) -> Result<Self> {
        let ctx = crate::query::context::build_context(lake, &settings.query).await?;
        let rows = async |sql: &str| -> Result<Vec<Vec<String>>> {
            let batches = ctx.sql(sql).await?.collect().await?;
            crate::output::text_rows(&batches)
        };
        let mut f = Figures::default();
        for r in rows("SELECT source || ':' || code, count(*) FROM error_events GROUP BY 1").await? {
            f.error_codes.insert(r[0].clone(), r[1].parse().unwrap_or(0));
        }
        let days = rows(&format!(
            "SELECT CAST(event_date AS VARCHAR), count(*) FROM error_events GROUP BY 1 ORDER BY 1 DESC LIMIT {}",
            BASELINE_DAYS + 1
        ))
        .await?;
        for r in days {
            f.errors_by_day.insert(r[0].clone(), r[1].parse().unwrap_or(0));
        }
        let saved = async |name: &str| -> Result<Vec<Vec<String>>> {
            let q = registry.get(name)?;
            let batches = crate::query::saved::run(&ctx, q, &BTreeMap::new(), &tz).await?;
            crate::output::text_rows(&batches)
        };
        if let Some(all) = saved("registration_coverage").await?.into_iter().find(|r| r[1] == "all") {
            f.coverage_snapshot = Some(all[0].clone());
            f.coverage_pct = all[9].parse().ok();
        }
        let lost = registry.get("coverage_lost")?;
        let batches = crate::query::saved::run(&ctx, lost, &BTreeMap::new(), &tz).await?;
        let schema = lost_schema(&batches);
        if let Some(i) = schema.and_then(|s| s.index_of("user_principal_name").ok()) {
            for r in crate::output::text_rows(&batches)? {
                f.lost_coverage.push(r[i].clone());
            }
        }
        for name in SIGNALS {
            if let Ok(q) = registry.get(name) {
                let batches = crate::query::saved::run(&ctx, q, &BTreeMap::new(), &tz).await?;
                f.signals.insert(name.to_string(), hits(&batches) as i64);
            }
        }
        let c = crate::query::completeness::Completeness::of_lake(&ctx, lake, chrono::Utc::now()).await?;
        f.stale = c.tables.iter().filter(|t| t.stale).map(|t| t.table.clone()).collect();
        f.incomplete = c.sources.iter().filter(|s| s.incomplete > 0).map(|s| s.source.clone()).collect();
        Ok(f)
    }
}

fn lost_schema(
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Option<datafusion::arrow::datatypes::SchemaRef> {
    batches.first().map(|b| b.schema())
}

/// The summary page: this run against the previous complete one.
pub(crate) fn summary(now: &Figures, before: Option<&RunManifest>, run: &RunManifest) -> String {
    let mut s = format!("# Since last night — {}\n\n", run.report_date);
    let imported: usize = run.sources.iter().map(|x| x.files_imported.len()).sum();
    let rows: usize = run.sources.iter().map(|x| x.rows_new).sum();
    if run.nothing_new {
        s.push_str("**Nothing new**: no source brought a new row and no derived table changed.\n\n");
    } else {
        let _ = writeln!(s, "This run: {imported} file(s) imported, {rows} new row(s).\n");
    }
    let Some(before) = before else {
        s.push_str("No earlier complete run to compare with: this run is the baseline for the next.\n\n");
        housekeeping(&mut s, run);
        return s;
    };
    let empty = Figures::default();
    let prev = before.figures.as_ref().unwrap_or(&empty);
    let _ = writeln!(s, "Compared with run {} ({}).\n", before.run_id, before.report_date);
    // New error codes.
    let new_codes: Vec<String> = now
        .error_codes
        .iter()
        .filter(|(c, _)| !prev.error_codes.contains_key(*c))
        .map(|(c, n)| format!("`{c}` ({n})"))
        .collect();
    section(&mut s, "New error codes", &new_codes);
    // Spikes: the newest day against the median of the days before it.
    let mut spikes = Vec::new();
    let days: Vec<(&String, i64)> = now.errors_by_day.iter().map(|(d, n)| (d, *n)).collect();
    if let Some(&(day, n)) = days.last() {
        let mut base: Vec<i64> = days.iter().rev().skip(1).take(BASELINE_DAYS).map(|&(_, v)| v).collect();
        base.sort_unstable();
        if !base.is_empty() {
            let median = base[base.len() / 2];
            if n > (2 * median).max(median + 10) {
                spikes.push(format!(
                    "{day}: {n} errors against a median of {median} over the {} days before",
                    base.len()
                ));
            }
        }
    }
    section(&mut s, "Error spikes", &spikes);
    // Coverage.
    let mut coverage = Vec::new();
    match (prev.coverage_pct, now.coverage_pct) {
        (Some(a), Some(b)) if (a - b).abs() >= 0.05 => coverage.push(format!(
            "capable {a:.1} % → {b:.1} % ({:+.1} points; snapshot {})",
            b - a,
            now.coverage_snapshot.as_deref().unwrap_or("?")
        )),
        _ => {}
    }
    let lost: Vec<&String> = now.lost_coverage.iter().filter(|u| !prev.lost_coverage.contains(u)).collect();
    if !lost.is_empty() {
        let shown: Vec<String> = lost.iter().take(20).map(|u| format!("`{u}`")).collect();
        coverage.push(format!(
            "{} user(s) lost coverage: {}{}",
            lost.len(),
            shown.join(", "),
            if lost.len() > 20 { ", … (`sspr query coverage_lost`)" } else { "" }
        ));
    }
    section(&mut s, "Coverage", &coverage);
    // Security signals.
    let hits: Vec<String> = now
        .signals
        .iter()
        .filter_map(|(q, &n)| {
            let was = prev.signals.get(q).copied().unwrap_or(0);
            (n > was).then(|| format!("`{q}`: {} new hit(s) ({was} → {n})", n - was))
        })
        .collect();
    section(&mut s, "New security-signal hits", &hits);
    // Sources.
    let mut sources: Vec<String> =
        now.stale.iter().filter(|t| !prev.stale.contains(t)).map(|t| format!("{t} went stale")).collect();
    sources.extend(
        now.incomplete.iter().filter(|t| !prev.incomplete.contains(t)).map(|t| format!("{t} is incomplete")),
    );
    sources.extend(
        run.sources.iter().filter_map(|x| x.error.as_ref().map(|e| format!("{} failed: {e}", x.name))),
    );
    section(&mut s, "Sources", &sources);
    housekeeping(&mut s, run);
    s
}

/// What retention and the lock's clean-up removed this run (nothing said when nothing was).
fn housekeeping(s: &mut String, run: &RunManifest) {
    let mut items = Vec::new();
    let mut by_table: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &run.partitions_removed {
        *by_table.entry(p.split('/').next().unwrap_or(p)).or_default() += 1;
    }
    for (table, n) in by_table {
        items.push(format!("{table}: {n} partition(s) past retention removed"));
    }
    if !run.removed.is_empty() {
        items.push(format!("{} report folder(s) past `keep_reports_days` removed", run.removed.len()));
    }
    if run.staging_cleaned > 0 {
        items.push(format!(
            "{} leftover(s) of an interrupted run removed from `_staging/`",
            run.staging_cleaned
        ));
    }
    if !items.is_empty() {
        section(s, "Housekeeping", &items);
    }
}

fn section(s: &mut String, title: &str, items: &[String]) {
    let _ = writeln!(s, "## {title}\n");
    if items.is_empty() {
        s.push_str("None.\n\n");
    } else {
        for i in items {
            let _ = writeln!(s, "- {i}");
        }
        s.push('\n');
    }
}

#[cfg(test)]
mod hit_tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::hits;

    fn batch(names: &[&str], users: Vec<Option<&str>>, notes: Option<Vec<Option<&str>>>) -> RecordBatch {
        let mut fields = vec![Field::new(names[0], DataType::Utf8, true)];
        let mut columns: Vec<Arc<dyn datafusion::arrow::array::Array>> =
            vec![Arc::new(StringArray::from(users))];
        if let Some(n) = notes {
            fields.push(Field::new("note", DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from(n)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn a_row_that_only_carries_a_note_is_no_hit() {
        let note_only = batch(&["user_principal_name"], vec![None], Some(vec![Some("no directory audits")]));
        assert_eq!(hits(&[note_only]), 0);
        let found_with_note =
            batch(&["user_principal_name"], vec![Some("a@x"), Some("b@x")], Some(vec![Some("n"), Some("n")]));
        assert_eq!(hits(&[found_with_note]), 2);
        // A query without a note column: every row is a hit, nulls or not.
        assert_eq!(hits(&[batch(&["ip"], vec![None, Some("1.2.3.4")], None)]), 2);
    }
}
