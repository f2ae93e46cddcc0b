//! Every saved query over a lake built from the generated ≈1,000,000-event tenant.
//!
//! `cargo bench --bench queries`. The lake is imported once, outside the timed part; then one
//! `sspr build --full` is timed by hand (the derived tables), and each saved query iteration plans
//! and runs one saved query to completion in a fresh session (its setup not timed).
//! `SSPR_BENCH_QUERY=a,b` runs those; `SSPR_BENCH_BUILD=0` skips the build when the derived tables
//! exist; `SSPR_BENCH_SESSION_RATE=1200` makes the 100,000-user tenant ≈11M audit events.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use sspr_analytics::query::context::{QueryConfig, build_context};
use sspr_analytics::query::saved::{Registry, run};

fn bench_queries(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // One full build, timed by hand (minutes on this tenant: too long for criterion's 10 samples);
    // SSPR_BENCH_BUILD=0 skips it when the derived tables are there from an earlier run.
    let (lake, built) = common::bench_lake(&rt, std::env::var("SSPR_BENCH_BUILD").as_deref() != Ok("0"));
    if let Some((secs, tables)) = built {
        println!("build/full: {secs:.1} s ({tables})");
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
