//! Fixtures: the bundled sample, the shared real data, fresh lakes, and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sspr_analytics::collectors::import::{ImportOptions, ImportSummary, import};
use sspr_analytics::query::context::{QueryConfig, build_context};
use sspr_analytics::query::saved::{Registry, run};
use sspr_analytics::sample::truth::GroundTruth;
use sspr_analytics::store::Lake;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file or folder of the committed sample tenant.
pub fn sample(rel: &str) -> PathBuf {
    repo().join("sample-data").join(rel)
}

/// The export folders of the sample (what `sspr demo` imports).
pub fn sample_exports() -> Vec<PathBuf> {
    ["graph", "diagnostic-archive", "log-analytics", "eventlogs"].iter().map(|d| sample(d)).collect()
}

pub fn ground_truth() -> GroundTruth {
    serde_json::from_str(&std::fs::read_to_string(sample("ground_truth.json")).unwrap()).unwrap()
}

/// A real public file from `../shared/realdata/` (CI has `../shared` beside the clone).
pub fn realdata(rel: &str) -> PathBuf {
    let p = repo().join("../shared/realdata").join(rel);
    assert!(p.exists(), "{} is missing: tests need ../shared beside the repository", p.display());
    p
}

/// A fresh lake in a temporary directory (kept alive by the returned guard).
pub fn temp_lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
    (dir, lake)
}

pub async fn import_paths(lake: &Lake, paths: &[PathBuf]) -> ImportSummary {
    import(lake, paths, &ImportOptions::default(), &|_| {}).await.unwrap()
}

/// A lake built from the whole sample, with its derived tables (`sspr build`).
pub async fn sample_lake() -> (tempfile::TempDir, Lake) {
    let (dir, lake) = temp_lake();
    let s = import_paths(&lake, &sample_exports()).await;
    assert_eq!(s.quarantined, 0, "{:?}", s.files.iter().filter(|f| f.quarantined > 0).collect::<Vec<_>>());
    sspr_analytics::query::build::build(&lake, &QueryConfig::default(), false).await.unwrap();
    (dir, lake)
}

/// One sample lake (imported and built) shared by the tests of this binary that only read it:
/// built once per test run, not once per test. Tests that write build their own.
pub fn shared_sample_lake() -> &'static Path {
    static LAKE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = LAKE.get_or_init(|| {
        // Its own thread and runtime: the caller may be inside a test's runtime.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (dir, lake) = sample_lake().await;
                let path = lake.root.local.clone().unwrap();
                (dir, path)
            })
        })
        .join()
        .unwrap()
    });
    path
}

/// The folder holding the shared sample lake (`path().join("lake")` is the lake), like the
/// temporary folder [`sample_lake`] returns.
pub struct SharedDir;

impl SharedDir {
    pub fn path(&self) -> &'static Path {
        shared_sample_lake().parent().expect("the lake's folder")
    }
}

/// The shared sample lake for tests that only read it (built once per test binary).
pub async fn shared_lake() -> (SharedDir, Lake) {
    let path = tokio::task::spawn_blocking(shared_sample_lake).await.unwrap();
    (SharedDir, Lake::open(&path.to_string_lossy()).unwrap())
}

/// The shared sample lake as a `--lake` argument.
pub fn shared_lake_arg() -> String {
    shared_sample_lake().to_string_lossy().into_owned()
}

/// True (and says so) when `SSPR_ENGINE_EXTENSIONS=off`: a test of one of our engine extensions
/// has nothing to test then. CI runs the whole suite both ways; every other test must give the
/// same answers with DataFusion alone.
pub fn skip_without_extensions() -> bool {
    let off = !sspr_analytics::query::context::extensions_from_env().any();
    if off {
        eprintln!("skipped: SSPR_ENGINE_EXTENSIONS=off");
    }
    off
}

/// Runs a saved query and returns its rows as JSON objects.
pub async fn query_rows(lake: &Lake, name: &str, params: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let ctx = build_context(lake, &QueryConfig::default()).await.unwrap();
    let reg = Registry::load(None).unwrap();
    let q = reg.get(name).unwrap();
    let given = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let batches = run(&ctx, q, &given, &chrono_tz::UTC).await.unwrap();
    batches_json(&batches)
}

pub async fn sql_rows(lake: &Lake, sql: &str) -> Vec<serde_json::Value> {
    let ctx = build_context(lake, &QueryConfig::default()).await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches_json(&batches)
}

/// Plain DataFusion (none of our rules or options) over one lake table's files: the answer a
/// rule of ours must not change.
pub async fn datafusion_alone(lake: &Lake, table: &str) -> datafusion::prelude::SessionContext {
    let ctx = datafusion::prelude::SessionContext::new();
    let dir = lake.root.local.as_ref().expect("a local lake").join(table);
    ctx.register_parquet(
        table,
        dir.to_string_lossy().as_ref(),
        datafusion::prelude::ParquetReadOptions::default(),
    )
    .await
    .unwrap();
    ctx
}

/// The physical plan's `FilterExec` and `DataSourceExec` lines.
pub async fn plan_lines(ctx: &datafusion::prelude::SessionContext, sql: &str) -> (String, String) {
    let batches = ctx.sql(&format!("EXPLAIN {sql}")).await.unwrap().collect().await.unwrap();
    let mut text = String::new();
    for b in &batches {
        let kind = b.column(0).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        let plan = b.column(1).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        for i in 0..b.num_rows() {
            if kind.value(i) == "physical_plan" {
                text.push_str(plan.value(i));
            }
        }
    }
    let line = |what: &str| text.lines().find(|l| l.contains(what)).unwrap_or_default().trim().to_string();
    (line("FilterExec"), line("DataSourceExec"))
}

pub fn batches_json(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<serde_json::Value> {
    let mut buf = Vec::new();
    {
        let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
    }
    if buf.is_empty() {
        return vec![];
    }
    serde_json::from_slice(&buf).unwrap()
}

/// Runs the `sspr` binary.
pub fn sspr(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sspr"));
    c.args(args).env_remove("SSPR_LAKE").env_remove("SSPR_CONFIG").env_remove("COLUMNS").env("NO_COLOR", "1");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Runs `sspr` in `dir` with no `NO_COLOR`, as cron would (stdout and stderr are pipes).
pub fn sspr_plain_env(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sspr"))
        .args(args)
        .current_dir(dir)
        .env_remove("SSPR_LAKE")
        .env_remove("SSPR_CONFIG")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

/// One Graph directoryAudit record as JSON text.
pub fn audit_record(id: &str, time: &str, reason: &str) -> String {
    serde_json::json!({
        "id": id, "category": "UserManagement", "correlationId": format!("corr-{id}"),
        "result": "success", "resultReason": reason,
        "activityDisplayName": "Self-service password reset flow activity progress",
        "activityDateTime": time, "loggedByService": "Self-service Password Management",
        "operationType": "Update",
        "initiatedBy": {"user": {"id": "u1", "userPrincipalName": "u1@contoso.example", "ipAddress": "203.0.113.9"}, "app": null},
        "targetResources": [{"id": "u1", "type": "User", "userPrincipalName": "u1@contoso.example"}],
        "additionalDetails": [{"key": "clienttype", "value": "WindowsLogonScreen"}, {"key": "User-Agent", "value": "UA/1"}]
    })
    .to_string()
}

/// A tmpfs mounted over a folder for a fault test (a full disk, a read-only file system), and
/// unmounted when dropped. Root may mount one, as CI runs; where mounting is refused, `mount`
/// says so and returns `None`, and the test checks nothing.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output();
        if !o.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: cannot mount a tmpfs here ({o:?})");
            return None;
        }
        Some(Self(at.to_path_buf()))
    }

    /// Remounts it read-only (`true`) or writable again.
    pub fn read_only(&self, on: bool) {
        let mode = if on { "remount,ro" } else { "remount,rw" };
        let o = Command::new("mount").args(["-o", mode]).arg(&self.0).output().unwrap();
        assert!(o.status.success(), "mount -o {mode}: {o:?}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
