//! Shared bench setup: a generated tenant large enough to measure, cached under
//! `target/bench-data/` so repeated runs skip generation (it is never timed). Each bench uses
//! the part it needs.
#![allow(dead_code)]

use std::path::PathBuf;

use sspr_analytics::sample::{Params, generate};

/// The allocator the `sspr` binary uses (src/main.rs), so the benches measure what it does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parameters of the 1,000,000-event tenant (100,000 users, 14 days, 112 sessions per 1,000
/// users per day: 1,034,978 audit events, 1.13 GB of Graph pages; `SSPR_BENCH_SESSION_RATE`
/// changes the rate).
pub fn big_params() -> Params {
    Params {
        users: 100_000,
        days: 14,
        seed: 11,
        end_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 14).unwrap(),
        session_rate: std::env::var("SSPR_BENCH_SESSION_RATE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(112.0),
    }
}

/// The generated tenant's folder (generated on first use).
pub fn big_tenant() -> PathBuf {
    let p = big_params();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(format!("tenant-u{}-d{}-s{}-r{}", p.users, p.days, p.seed, p.session_rate));
    if !dir.join("ground_truth.json").exists() {
        eprintln!("generating the bench tenant in {} (not timed)…", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
        generate(&p, &dir).expect("generate bench tenant");
    }
    dir
}

/// The bench tenant's lake (`<tenant>/lake`): imported from all three cloud export formats and the
/// event logs on first use (not timed), and its derived tables built when they are missing or `build` is true. Returns
/// the lake and, when it built, the build's seconds and summary line.
pub fn bench_lake(
    rt: &tokio::runtime::Runtime,
    build: bool,
) -> (sspr_analytics::store::Lake, Option<(f64, String)>) {
    use sspr_analytics::collectors::import::{ImportOptions, import};
    use sspr_analytics::query::context::QueryConfig;
    let tenant = big_tenant();
    let lake_dir = tenant.join("lake");
    let lake = sspr_analytics::store::Lake::open(&lake_dir.to_string_lossy()).unwrap();
    if !lake_dir.join("audit_events").exists() {
        // The event logs too, so the on-premises reports have rows to read (and the peers a table).
        let inputs = ["graph", "diagnostic-archive", "log-analytics", "eventlogs"].map(|d| tenant.join(d));
        rt.block_on(import(&lake, &inputs, &ImportOptions::default(), &|_| {})).unwrap();
    }
    if !build && lake_dir.join("reset_attempts").exists() {
        return (lake, None);
    }
    let t = std::time::Instant::now();
    let s = rt.block_on(sspr_analytics::query::build::build(&lake, &QueryConfig::default(), true)).unwrap();
    let per_table: Vec<String> = s.tables.iter().map(|t| format!("{} {} rows", t.table, t.rows)).collect();
    (lake, Some((t.elapsed().as_secs_f64(), per_table.join(", "))))
}

/// Unique audit events of the tenant (all are in the Graph pages).
pub fn audit_events(dir: &std::path::Path) -> u64 {
    let gt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground_truth.json")).unwrap()).unwrap();
    gt["audit_events"].as_u64().unwrap()
}

/// This process's peak resident set (VmHWM) in MiB, 0 where /proc is not available.
pub fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}
