//! `sspr build`: the derived (gold) tables, materialised from raw and reference tables by the SQL
//! in `queries/derived/`, one output partition at a time, and only for the partitions whose inputs
//! changed since the last build (`--full` rebuilds everything).
//!
//! Change detection: the build records, per derived table, the version (e-tag, else size and
//! modification time) of every input partition it read, in `<lake>/_state/build.json`. A new,
//! changed or removed input partition marks the output dates that depend on it; each of those is
//! recomputed with the table's SQL (`$from`/`$to` = that day) and replaces the output partition
//! whole (or removes it when the day has no rows any more). Deterministic: the same inputs give
//! byte-identical outputs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::query::context::{QueryConfig, build_context};
use crate::store::lake::sort_batch;
use crate::store::layout::partition_rel;
use crate::store::schema::{
    AUDIT_EVENTS, CREDENTIAL_PROVIDER_EVENTS, DC_SECURITY_EVENTS, ERROR_EVENTS, REGISTRATION_COVERAGE_DAILY,
    REGISTRATION_DETAILS, RESET_ATTEMPTS, TableDef, USERS, WRITEBACK_EVENTS, WRITEBACK_OPERATIONS,
};
use crate::store::{Lake, writer};

/// How an input partition's date maps to the output dates that read it.
#[derive(Debug, Clone, Copy)]
enum Reach {
    /// Output D reads input D only.
    Same,
    /// Output D reads inputs D and D+1 (sessions and operations that cross midnight).
    SameAndPrevious,
    /// Every output date may read this input (a lookup snapshot): any change rebuilds all the
    /// dates of the table's first input.
    All,
}

struct Derived {
    table: &'static TableDef,
    sql: &'static str,
    inputs: &'static [(&'static TableDef, Reach)],
}

static DERIVED: [Derived; 4] = [
    Derived {
        table: &RESET_ATTEMPTS,
        sql: include_str!("../../queries/derived/reset_attempts.sql"),
        inputs: &[
            (&AUDIT_EVENTS, Reach::SameAndPrevious),
            (&WRITEBACK_EVENTS, Reach::SameAndPrevious),
            (&DC_SECURITY_EVENTS, Reach::SameAndPrevious),
        ],
    },
    Derived {
        table: &REGISTRATION_COVERAGE_DAILY,
        sql: include_str!("../../queries/derived/registration_coverage_daily.sql"),
        inputs: &[(&REGISTRATION_DETAILS, Reach::Same), (&USERS, Reach::All)],
    },
    Derived {
        table: &WRITEBACK_OPERATIONS,
        sql: include_str!("../../queries/derived/writeback_operations.sql"),
        inputs: &[(&WRITEBACK_EVENTS, Reach::SameAndPrevious)],
    },
    Derived {
        table: &ERROR_EVENTS,
        sql: include_str!("../../queries/derived/error_events.sql"),
        inputs: &[
            (&AUDIT_EVENTS, Reach::Same),
            (&WRITEBACK_EVENTS, Reach::Same),
            (&CREDENTIAL_PROVIDER_EVENTS, Reach::Same),
        ],
    },
];

/// Where the build state lives, relative to the lake root.
const STATE_REL: &str = "_state/build.json";

/// Input partition versions each derived table was last built from.
#[derive(Debug, Default, Serialize, Deserialize)]
struct BuildState {
    version: u32,
    /// derived table → input table → partition date → version.
    built_from: BTreeMap<String, BTreeMap<String, BTreeMap<NaiveDate, String>>>,
}

/// What a build did to one derived table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableBuild {
    pub table: String,
    /// Output dates recomputed.
    pub dates: Vec<NaiveDate>,
    /// Partitions whose content changed (a recomputed day with the same result is not rewritten).
    pub partitions_written: usize,
    pub partitions_removed: usize,
    pub rows: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildSummary {
    pub full: bool,
    pub tables: Vec<TableBuild>,
    pub seconds: f64,
}

/// What one derived table needs: the input versions it would be built from, the output dates to
/// recompute, and the output partitions that exist now.
struct Plan {
    current: BTreeMap<String, BTreeMap<NaiveDate, String>>,
    dates: BTreeSet<NaiveDate>,
    existing: BTreeSet<NaiveDate>,
}

/// Compares a derived table's inputs with the versions it was last built from.
async fn plan(lake: &Lake, state: &BuildState, d: &Derived, full: bool) -> Result<Plan> {
    let mut current: BTreeMap<String, BTreeMap<NaiveDate, String>> = BTreeMap::new();
    let mut dates = BTreeSet::new();
    let previous = state.built_from.get(d.table.name).cloned().unwrap_or_default();
    for (input, _) in d.inputs {
        let files: BTreeMap<NaiveDate, String> =
            lake.list_files(input).await?.into_iter().filter_map(|f| Some((f.date?, f.version))).collect();
        current.insert(input.name.to_string(), files);
    }
    let primary: Vec<NaiveDate> = current[d.inputs[0].0.name].keys().copied().collect();
    for (input, reach) in d.inputs {
        let files = &current[input.name];
        let before = previous.get(input.name).cloned().unwrap_or_default();
        let changed: Vec<NaiveDate> = files
            .iter()
            .filter(|(date, v)| before.get(*date) != Some(*v))
            .map(|(date, _)| *date)
            .chain(before.keys().filter(|date| !files.contains_key(*date)).copied())
            .collect();
        for date in changed {
            match reach {
                Reach::Same => {
                    dates.insert(date);
                }
                Reach::SameAndPrevious => {
                    dates.insert(date);
                    dates.insert(date - Duration::days(1));
                }
                Reach::All => dates.extend(primary.iter().copied()),
            }
        }
    }
    // Output partitions that exist but whose inputs are all gone are removed too.
    let existing: BTreeSet<NaiveDate> =
        lake.list_files(d.table).await?.into_iter().filter_map(|f| f.date).collect();
    if full {
        dates.extend(existing.iter().copied());
    }
    Ok(Plan { current, dates, existing })
}

/// A derived table older than its inputs: `days` output days would change if it were built.
#[derive(Debug, Clone, Serialize)]
pub struct Unbuilt {
    pub table: String,
    pub days: usize,
}

/// The derived tables whose inputs changed since the last `sspr build` (without taking the lock
/// or building anything): what a report over them must warn about.
pub(crate) async fn unbuilt(lake: &Lake) -> Result<Vec<Unbuilt>> {
    let state = load_state(lake).await?;
    let mut out = Vec::new();
    for d in &DERIVED {
        let p = plan(lake, &state, d, false).await?;
        if !p.dates.is_empty() {
            out.push(Unbuilt { table: d.table.name.to_string(), days: p.dates.len() });
        }
    }
    Ok(out)
}

/// Builds the derived tables. Holds the writer lock, and releases it on every path.
pub async fn build(lake: &Lake, cfg: &QueryConfig, full: bool) -> Result<BuildSummary> {
    let lock = lake.lock().await?;
    let result = build_locked(lake, cfg, full).await;
    let released = lock.release().await;
    let summary = result?;
    released?;
    Ok(summary)
}

async fn build_locked(lake: &Lake, cfg: &QueryConfig, full: bool) -> Result<BuildSummary> {
    let started = std::time::Instant::now();
    let mut state = if full { BuildState::default() } else { load_state(lake).await? };
    let ctx = build_context(lake, cfg).await?;
    let mut summary = BuildSummary { full, ..Default::default() };
    for d in &DERIVED {
        let Plan { current, dates, existing } = plan(lake, &state, d, full).await?;
        let mut report = TableBuild { table: d.table.name.to_string(), ..Default::default() };
        for date in dates {
            let batches = run_day(&ctx, d, date).await?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let rel = partition_rel(d.table, date);
            if rows == 0 {
                if existing.contains(&date) {
                    lake.root.store.delete(&lake.root.key(&rel)).await?;
                    report.partitions_removed += 1;
                }
            } else {
                let table = d.table;
                let bytes = tokio::task::spawn_blocking(move || -> Result<bytes::Bytes> {
                    let schema = table.schema();
                    let all = datafusion::arrow::compute::concat_batches(&schema, &batches)?;
                    let sorted = sort_batch(&all, table)?;
                    writer::encode(table, &[sorted])
                })
                .await
                .map_err(|e| Error::Table {
                    table: d.table.name.into(),
                    message: format!("encode task failed: {e}"),
                })??;
                report.rows += rows;
                // A recomputed day whose result did not change keeps its file untouched.
                let same = existing.contains(&date)
                    && lake.read_object(&lake.root.key(&rel)).await.is_ok_and(|old| old == bytes);
                if !same {
                    writer::publish(&lake.root, &rel, bytes).await?;
                    report.partitions_written += 1;
                }
            }
            report.dates.push(date);
        }
        state.built_from.insert(d.table.name.to_string(), current);
        summary.tables.push(report);
    }
    state.version = 1;
    save_state(lake, &state).await?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Runs a derived table's SQL for one output day and conforms the result to the table's schema.
async fn run_day(ctx: &SessionContext, d: &Derived, date: NaiveDate) -> Result<Vec<RecordBatch>> {
    let origin = format!("derived {}", d.table.name);
    let params = std::collections::HashMap::from([
        ("from".to_string(), ScalarValue::Date32(Some(crate::util::date32(date)))),
        ("to".to_string(), ScalarValue::Date32(Some(crate::util::date32(date + Duration::days(1))))),
    ]);
    let sql = d.sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    let df = crate::query::saved::plan(ctx, &origin, &sql, params).await?;
    let batches =
        df.collect().await.map_err(|e| Error::Query { query: origin.clone(), message: e.to_string() })?;
    let schema = d.table.schema();
    batches
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| {
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let col = b.column_by_name(f.name()).ok_or_else(|| Error::Query {
                        query: origin.clone(),
                        message: format!("the SQL does not produce column {}", f.name()),
                    })?;
                    Ok(cast(col, f.data_type())?)
                })
                .collect::<Result<Vec<_>>>()?;
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Query {
                query: origin.clone(),
                message: format!("result does not fit the table schema: {e}"),
            })
        })
        .collect()
}

async fn load_state(lake: &Lake) -> Result<BuildState> {
    match lake.root.store.get(&lake.root.key(STATE_REL)).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            // A damaged state file only costs a full rebuild.
            Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "Build state is unreadable; rebuilding everything.");
                BuildState::default()
            }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(BuildState::default()),
        Err(e) => Err(e.into()),
    }
}

async fn save_state(lake: &Lake, state: &BuildState) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(state)?;
    lake.root.store.put(&lake.root.key(STATE_REL), PutPayload::from(bytes)).await?;
    Ok(())
}
