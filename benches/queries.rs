//! Every saved query over a lake built from the generated ≈1,000,000-event tenant.
//!
//! `cargo bench --bench queries`. The lake is imported once, outside the timed part; then one
//! `sspr build --full` is timed by hand (the derived tables), and each saved query iteration plans
//! and runs one saved query to completion in a fresh session (its setup not timed).
//! `SSPR_BENCH_QUERY=a,b` runs those; `SSPR_BENCH_BUILD=0` skips the build when the derived tables
//! exist; `SSPR_BENCH_SESSION_RATE=1200` makes the 100,000-user tenant ≈11M audit events.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use sspr_analytics::collectors::import::{ImportOptions, import};
use sspr_analytics::query::build::build;
use sspr_analytics::query::context::{QueryConfig, build_context};
use sspr_analytics::query::saved::{Registry, run};
use sspr_analytics::store::Lake;

fn bench_queries(c: &mut Criterion) {
    let tenant = common::big_tenant();
    let lake_dir = tenant.join("lake");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lake = Lake::open(&lake_dir.to_string_lossy()).unwrap();
    if !lake_dir.join("audit_events").exists() {
        let inputs = ["graph", "diagnostic-archive", "log-analytics"].map(|d| tenant.join(d));
        rt.block_on(import(&lake, &inputs, &ImportOptions::default(), &|_| {})).unwrap();
    }
    // One full build, timed by hand (minutes on this tenant: too long for criterion's 10 samples);
    // SSPR_BENCH_BUILD=0 skips it when the derived tables are there from an earlier run.
    if std::env::var("SSPR_BENCH_BUILD").as_deref() != Ok("0") || !lake_dir.join("reset_attempts").exists() {
        let t = std::time::Instant::now();
        let s = rt.block_on(build(&lake, &QueryConfig::default(), true)).unwrap();
        let per_table: Vec<String> =
            s.tables.iter().map(|t| format!("{} {} rows", t.table, t.rows)).collect();
        println!("build/full: {:.1} s ({})", t.elapsed().as_secs_f64(), per_table.join(", "));
    }
    let registry = Registry::load(None).unwrap();
    let mut g = c.benchmark_group("saved_query");
    g.sample_size(10);
    let only = std::env::var("SSPR_BENCH_QUERY").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|o| o == name));
    for q in registry.queries.iter().filter(|q| wanted(&q.name)) {
        // A fresh session per iteration, set up outside the timed part (as the DuckDB peer opens a
        // fresh connection and creates its views untimed): what is timed is planning and running.
        g.bench_function(q.name.as_str(), |b| {
            b.iter_batched(
                || rt.block_on(build_context(&lake, &QueryConfig::default())).unwrap(),
                |ctx| rt.block_on(run(&ctx, q, &Default::default(), &chrono_tz::UTC)).unwrap(),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_queries);
criterion_main!(benches);
