//! The ONE place a DataFusion `SessionContext` is built: UTC session time zone, a bounded memory
//! pool that spills to disk, every lake table registered with its declared schema and partition
//! column, the reference tables from `queries/reference/`, the views from `queries/views/`, and
//! the few functions our SQL needs that are not portable (see `queries/README.md`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::cache::cache_manager::{
    CacheManager, CacheManagerConfig, FileMetadataCache, FileStatisticsCache,
};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::query::functions::{epoch_seconds_udf, local_date_udf, local_hour_udf, local_weekday_udf};
use crate::query::known_subquery::InlineKnownSubqueries;
use crate::query::materialize::{MaterializeCtes, ShareMaterializedCtes, SsprOptions, SsprQueryPlanner};
use crate::query::proven::DropProvenFilters;
use crate::query::session_parquet::SessionParquet;
use crate::store::Lake;
use crate::store::schema::all_tables;

/// Reference tables shipped in the binary: (table name, CSV text).
pub(crate) const REFERENCE_TABLES: &[(&str, &str)] = &[
    ("sspr_steps", include_str!("../../queries/reference/sspr_steps.csv")),
    ("error_codes", include_str!("../../queries/reference/error_codes.csv")),
    ("activities", include_str!("../../queries/reference/activities.csv")),
    ("client_types", include_str!("../../queries/reference/client_types.csv")),
    ("message_patterns", include_str!("../../queries/reference/message_patterns.csv")),
    ("auth_methods", include_str!("../../queries/reference/auth_methods.csv")),
    ("security_info_methods", include_str!("../../queries/reference/security_info_methods.csv")),
    ("privileged_operations", include_str!("../../queries/reference/privileged_operations.csv")),
    ("privileged_roles", include_str!("../../queries/reference/privileged_roles.csv")),
];

/// Views every context defines, in dependency order: (name, `CREATE VIEW` text).
const VIEWS: &[(&str, &str)] = &[
    ("disabled_accounts", include_str!("../../queries/views/disabled_accounts.sql")),
    ("sspr_step_events", include_str!("../../queries/views/sspr_step_events.sql")),
    ("security_info_events", include_str!("../../queries/views/security_info_events.sql")),
];

/// Knobs of the query engine (from settings).
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Memory the engine may use before spilling (bytes).
    pub memory_limit: usize,
    /// Streams a plan is split into (default [`default_partitions`]).
    pub target_partitions: usize,
    pub batch_size: usize,
    /// Our engine extensions (the physical rules in `proven.rs` and `known_subquery.rs`,
    /// `sspr.materialize_ctes`, our `percentile_cont` accumulators). Off, every
    /// query runs on DataFusion alone and gives the same rows: `[query] extensions = false`, or
    /// `SSPR_ENGINE_EXTENSIONS=off` (CI runs the whole suite both ways).
    pub extensions: Extensions,
    /// Business hours on the report zone's wall clock, Monday to Friday: [start, end) hours, for
    /// the queries that take `start_hour` / `end_hour` (`[query] business_hours`, default 8–18).
    pub business_hours: (u32, u32),
    /// Footers and file statistics kept from one session to the next (see [`FooterCache`]):
    /// set for a run of many queries over a lake nothing writes to meanwhile (`sspr report`),
    /// none for a single query.
    pub footers: Option<FooterCache>,
}

/// The Parquet footers and per-file statistics the sessions of one run share. DataFusion keeps
/// both per session, so each panel of `sspr report` (a fresh session per panel, for a consistent
/// snapshot) read every file's footer again: on Azure a GET per file per panel; on the 1M-event
/// bench lake, planning time of the small reports (benches/README.md).
/// Every entry is checked against the file's size and modification time from a fresh listing
/// (listings themselves stay per session), so a file rewritten since is read again; a file
/// rewritten in place within the store's time resolution (a second on Azure) with the same size
/// is not noticed, hence a cache per run of reads, not per process.
#[derive(Clone)]
pub struct FooterCache {
    statistics: Option<Arc<FileStatisticsCache>>,
    metadata: Arc<FileMetadataCache>,
}

impl FooterCache {
    /// Empty caches of DataFusion's default sizes (20 MiB of statistics, 50 MiB of footers).
    pub fn new() -> Result<Self> {
        let caches = CacheManager::try_new(&CacheManagerConfig::default())?;
        Ok(Self { statistics: caches.get_file_statistic_cache(), metadata: caches.get_file_metadata_cache() })
    }

    /// How many files it holds statistics for, and how many footers.
    pub fn cached(&self) -> (usize, usize) {
        (self.statistics.as_ref().map_or(0, |s| s.len()), self.metadata.len())
    }

    fn config(&self) -> CacheManagerConfig {
        CacheManagerConfig::default()
            .with_file_statistics_cache(self.statistics.clone())
            .with_file_metadata_cache(Some(self.metadata.clone()))
    }
}

impl std::fmt::Debug for FooterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FooterCache").field("footers", &self.metadata.len()).finish()
    }
}

impl QueryConfig {
    /// This config with a [`FooterCache`] for a run of many queries, unless it has one.
    pub fn sharing_footers(&self) -> Result<Self> {
        let footers = match &self.footers {
            Some(f) => f.clone(),
            None => FooterCache::new()?,
        };
        Ok(Self { footers: Some(footers), ..self.clone() })
    }
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            memory_limit: 2 << 30,
            target_partitions: default_partitions(crate::util::cores()),
            batch_size: 8192,
            extensions: extensions_from_env(),
            business_hours: (8, 18),
            footers: None,
        }
    }
}

/// Which of our engine extensions a session uses. Each is a way to the same rows, faster; each
/// can be turned off alone (`SSPR_ENGINE_EXTENSIONS=-percentile`) to measure what it gains
/// (`cargo bench --bench extensions`; benches/README.md has the figures, and says why a fifth,
/// short `IN` lists of strings compared as string views, was removed: its gain was within noise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// `sspr.materialize_ctes`: a CTE named by a query's settings computed once for all its
    /// references (the analyzer rule, the planner and [`ShareMaterializedCtes`]).
    pub materialize_ctes: bool,
    /// [`InlineKnownSubqueries`]: a scalar subquery answered from statistics becomes a literal.
    pub known_subqueries: bool,
    /// [`DropProvenFilters`]: filters the footers prove true are dropped.
    pub proven_filters: bool,
    /// Our `percentile_cont` accumulators.
    pub percentile: bool,
    /// [`InlineReads`](crate::query::inline_reads): a local lake's column chunks read in place,
    /// not through tokio's blocking pool.
    pub inline_reads: bool,
}

impl Extensions {
    pub const ALL: Self = Self {
        materialize_ctes: true,
        known_subqueries: true,
        proven_filters: true,
        percentile: true,
        inline_reads: true,
    };
    pub const NONE: Self = Self {
        materialize_ctes: false,
        known_subqueries: false,
        proven_filters: false,
        percentile: false,
        inline_reads: false,
    };
    /// The names `SSPR_ENGINE_EXTENSIONS` takes, with the switch each sets.
    pub const NAMES: [&'static str; 5] =
        ["materialize_ctes", "known_subqueries", "proven_filters", "percentile", "inline_reads"];

    fn slot(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "materialize_ctes" => &mut self.materialize_ctes,
            "known_subqueries" => &mut self.known_subqueries,
            "proven_filters" => &mut self.proven_filters,
            "percentile" => &mut self.percentile,
            "inline_reads" => &mut self.inline_reads,
            _ => return None,
        })
    }

    /// `on` / `off` (also `1`/`0`, `true`/`false`, `yes`/`no`), or a comma list of names, each
    /// turned on (`name`, `+name`) or off (`-name`), starting from all on when the list only
    /// turns some off and from none when it names some to keep: `-percentile` is all but one,
    /// `percentile` is that one alone.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "" | "on" | "1" | "true" | "yes" | "all" => return Ok(Self::ALL),
            "off" | "0" | "false" | "no" | "none" => return Ok(Self::NONE),
            _ => {}
        }
        let items: Vec<&str> = t.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
        let mut out = if items.iter().all(|i| i.starts_with('-')) { Self::ALL } else { Self::NONE };
        for item in items {
            let (on, name) = match item.strip_prefix('-') {
                Some(n) => (false, n),
                None => (true, item.trim_start_matches('+')),
            };
            *out.slot(name).ok_or_else(|| {
                format!(
                    "SSPR_ENGINE_EXTENSIONS: no engine extension named {name:?} (known: {})",
                    Self::NAMES.join(", ")
                )
            })? = on;
        }
        Ok(out)
    }

    /// Any extension on.
    pub fn any(&self) -> bool {
        *self != Self::NONE
    }
}

impl From<bool> for Extensions {
    fn from(on: bool) -> Self {
        if on { Self::ALL } else { Self::NONE }
    }
}

/// `SSPR_ENGINE_EXTENSIONS` ([`Extensions::parse`]); all on when unset. A value that names no
/// extension is warned about and leaves them all on.
pub fn extensions_from_env() -> Extensions {
    match std::env::var("SSPR_ENGINE_EXTENSIONS") {
        Err(_) => Extensions::ALL,
        Ok(v) => Extensions::parse(&v).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "Ignoring SSPR_ENGINE_EXTENSIONS: every extension stays on.");
            Extensions::ALL
        }),
    }
}

/// A quarter more partitions than cores (at least one more): DataFusion's default is one per
/// core, but a partition waiting for a file read (handed to a blocking thread) then leaves its
/// core idle. On the 2-core bench machine, 3 partitions kept 1.88 cores busy instead of 1.71
/// during sms_voice_only_resets_from_rare_ip (159 -> 141 ms); the heavy reports gained 5-12 %
/// and the small ones stayed within noise (README, Benchmarks).
fn default_partitions(cores: usize) -> usize {
    cores + (cores / 4).max(1)
}

/// Bytes read from the end of a Parquet file to get its footer in one read. DataFusion reads
/// 512 KiB by default; the lake's own footers are under 10 KiB (≈8 KiB for a day of a 10M-event
/// audit log), and reading, zeroing and freeing half a megabyte per file cost a report over 14
/// day files 1–2 ms of planning. A larger footer (another writer's file) costs one more read.
const FOOTER_READ: usize = 64 * 1024;

/// Builds the session over a lake. DataFusion options come from `DATAFUSION_*` environment
/// variables first, then from the config (`target_partitions`, `batch_size`, memory).
pub async fn build_context(lake: &Lake, cfg: &QueryConfig) -> Result<SessionContext> {
    let mut config = SessionConfig::from_env()?
        .with_information_schema(true)
        .with_target_partitions(cfg.target_partitions)
        .with_batch_size(cfg.batch_size)
        .with_option_extension(SsprOptions::default());
    config.options_mut().execution.time_zone = Some("UTC".to_string());
    lake_defaults(config.options_mut())?;
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(cfg.memory_limit)));
    let runtime = match &cfg.footers {
        Some(footers) => runtime.with_cache_manager(footers.config()),
        None => runtime,
    }
    .build_arc()?;
    let builder =
        SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).with_default_features();
    let ext = cfg.extensions;
    let builder = if ext.materialize_ctes {
        builder.with_analyzer_rule(Arc::new(MaterializeCtes)).with_query_planner(Arc::new(SsprQueryPlanner))
    } else {
        builder
    };
    let state =
        if ext.any() { builder.with_physical_optimizer_rules(physical_rules(ext)) } else { builder }.build();
    let statistics = state.runtime_env().cache_manager.get_file_statistic_cache();
    let ctx = SessionContext::new_with_state(state);
    if lake.root.local.is_none() {
        // Local lakes use a file:// store of their own (the lake's is rooted at the lake
        // directory, which would double the path); remote ones register the store the lake was
        // opened with.
        ctx.register_object_store(&lake.root.url, lake.root.store.clone());
    } else if ext.inline_reads {
        let url = url::Url::parse("file://").expect("the file:// URL");
        ctx.register_object_store(&url, Arc::new(crate::query::inline_reads::InlineReads::default()));
    }
    for table in all_tables() {
        let url = ListingTableUrl::parse(lake.root.table_url(table))?;
        let options = ListingOptions::new(Arc::new(SessionParquet))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(table.partition_col.to_string(), DataType::Date32)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(view_types(&table.file_schema_without_partition()));
        // DataFusion's own factory gives its tables the session's statistics cache; built by
        // hand, a table has none and works out every file's statistics in every scan.
        let provider = ListingTable::try_new(config)?.with_cache(statistics.clone());
        ctx.register_table(table.name, Arc::new(provider))?;
    }
    for (name, csv) in REFERENCE_TABLES {
        let batch = reference_batch(name, csv)?;
        let mem = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(*name, Arc::new(mem))?;
    }
    ctx.register_udf(local_date_udf());
    ctx.register_udf(local_hour_udf());
    ctx.register_udf(local_weekday_udf());
    ctx.register_udf(epoch_seconds_udf());
    if ext.percentile {
        ctx.register_udaf(crate::query::percentile::percentile_cont_udaf());
    }
    for (name, sql) in VIEWS {
        ctx.sql(sql)
            .await
            .map_err(|e| Error::Query { query: format!("view {name}"), message: e.to_string() })?;
    }
    Ok(ctx)
}

/// The lake's own defaults for DataFusion's Parquet reading, where the environment does not set
/// them (`DATAFUSION_EXECUTION_PARQUET_*`; a saved query's `-- settings:` still may): footers
/// read in one [`FOOTER_READ`] request, and no look for bloom filters, which the lake's writer
/// never writes (looking evaluated each file's pruning predicate once more: a tenth of a
/// millisecond per file opened).
fn lake_defaults(options: &mut datafusion::common::config::ConfigOptions) -> Result<()> {
    let footer = FOOTER_READ.to_string();
    let defaults = [
        ("datafusion.execution.parquet.metadata_size_hint", footer.as_str()),
        ("datafusion.execution.parquet.bloom_filter_on_read", "false"),
    ];
    for (key, value) in defaults {
        if std::env::var_os(key.to_uppercase().replace('.', "_")).is_none() {
            options.set(key, value)?;
        }
    }
    Ok(())
}

/// DataFusion's physical optimizer rules with ours: [`InlineKnownSubqueries`] right after the
/// rule that answers aggregates from statistics (it needs those answers, and the filters must get
/// their literals before they are pushed into the scans), [`DropProvenFilters`], and
/// [`ShareMaterializedCtes`] last (it needs the plan below it final).
fn physical_rules(ext: Extensions) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let after = rules.iter().position(|r| r.name() == "aggregate_statistics").map_or(0, |i| i + 1);
    if ext.known_subqueries {
        rules.insert(after, Arc::new(InlineKnownSubqueries));
    }
    if ext.proven_filters {
        rules.push(Arc::new(DropProvenFilters));
    }
    if ext.materialize_ctes {
        rules.push(Arc::new(ShareMaterializedCtes));
    }
    rules
}

/// The schema queries see: text columns as `Utf8View`, which the Parquet reader fills without
/// copying string bytes (the files keep plain `Utf8`).
fn view_types(schema: &datafusion::arrow::datatypes::Schema) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{Field, Schema};
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Parses a reference CSV: text columns, and `*_order` columns as INT.
pub(crate) fn reference_batch(name: &str, csv_text: &str) -> Result<RecordBatch> {
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let bad = |m: String| Error::Table { table: name.to_string(), message: m };
    let headers: Vec<String> =
        rdr.headers().map_err(|e| bad(e.to_string()))?.iter().map(str::to_string).collect();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    for (i, r) in rdr.records().enumerate() {
        let r = r.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        if r.len() != headers.len() {
            return Err(bad(format!("row {} has {} cells, expected {}", i + 2, r.len(), headers.len())));
        }
        for (c, v) in r.iter().enumerate() {
            cols[c].push(v.to_string());
        }
    }
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (h, values) in headers.iter().zip(cols) {
        if h.ends_with("_order") {
            let ints = values
                .iter()
                .map(|v| v.parse::<i32>().map_err(|_| bad(format!("column {h}: {v:?} is not a number"))))
                .collect::<Result<Vec<_>>>()?;
            fields.push(Field::new(h, DataType::Int32, false));
            arrays.push(Arc::new(Int32Array::from(ints)));
        } else {
            fields.push(Field::new(h, DataType::Utf8, true));
            let opt: Vec<Option<String>> =
                values.into_iter().map(|v| Some(v).filter(|v| !v.is_empty())).collect();
            arrays.push(Arc::new(StringArray::from(opt)));
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_switched_all_together_or_one_by_one() {
        assert_eq!(Extensions::parse("off"), Ok(Extensions::NONE));
        assert_eq!(Extensions::parse("ON"), Ok(Extensions::ALL));
        let one_off = Extensions::parse("-proven_filters").unwrap();
        assert_eq!(one_off, Extensions { proven_filters: false, ..Extensions::ALL });
        let only = Extensions::parse("percentile, +proven_filters").unwrap();
        assert_eq!(only, Extensions { percentile: true, proven_filters: true, ..Extensions::NONE });
        let e = Extensions::parse("-string_in").unwrap_err();
        assert!(e.contains("\"string_in\"") && e.contains("proven_filters"), "{e}");
        for name in Extensions::NAMES {
            let alone = Extensions::parse(name).unwrap();
            assert!(alone.any() && alone != Extensions::ALL, "{name}");
        }
    }

    /// An analyst writing `--sql` reads the README's list of what every query can name, and
    /// queries/README.md's description of each file: both must know every table and view.
    #[tokio::test]
    async fn a_local_lake_reads_through_inline_reads_unless_it_is_switched_off() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
        let file_store = |ext: Extensions| {
            let lake = &lake;
            async move {
                let cfg = QueryConfig { extensions: ext, ..QueryConfig::default() };
                let ctx = build_context(lake, &cfg).await.unwrap();
                let url = datafusion::execution::object_store::ObjectStoreUrl::local_filesystem();
                ctx.runtime_env().object_store(url).unwrap().to_string()
            }
        };
        assert!(file_store(Extensions::ALL).await.starts_with("InlineReads("));
        let off = Extensions { inline_reads: false, ..Extensions::ALL };
        assert!(!file_store(off).await.starts_with("InlineReads("));
        assert!(!file_store(Extensions::NONE).await.starts_with("InlineReads("));
    }

    #[test]
    fn the_readmes_name_every_reference_table_and_view() {
        let readme = include_str!("../../README.md");
        let listed = readme
            .split("\n\n")
            .find(|p| p.starts_with("Reference tables registered in every query"))
            .expect("README paragraph listing the reference tables");
        let folder = include_str!("../../queries/README.md");
        for (name, _) in REFERENCE_TABLES {
            assert!(listed.contains(&format!("`{name}`")), "README does not list reference table {name}");
            let row = format!("| `reference/{name}.csv` |");
            assert!(folder.contains(&row), "queries/README.md does not describe {name}.csv");
        }
        for (name, _) in VIEWS {
            assert!(listed.contains(&format!("`{name}`")), "README does not list view {name}");
            assert!(folder.contains(&format!("| `views/{name}.sql` |")), "queries/README.md: {name}");
        }
    }

    #[test]
    fn a_quarter_more_partitions_than_cores_and_at_least_one() {
        let got: Vec<usize> = [1, 2, 3, 4, 8, 16, 64].iter().map(|&c| default_partitions(c)).collect();
        assert_eq!(got, [2, 3, 4, 5, 10, 20, 80]);
        assert_eq!(QueryConfig::default().target_partitions, default_partitions(crate::util::cores()));
    }
}
