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
