//! Every saved query over a lake built from the generated ≈1,000,000-event tenant.
//!
//! `cargo bench --bench queries`. The lake is imported once, outside the timed part; then one
//! `sspr build --full` is timed by hand (the derived tables), and each saved query iteration plans
//! and runs one saved query to completion in a fresh session (its setup not timed).
//! `SSPR_BENCH_QUERY=a,b` runs those; `SSPR_BENCH_BUILD=0` skips the build when the derived tables
//! exist; `SSPR_BENCH_SESSION_RATE=1200` makes the 100,000-user tenant ≈11M audit events.
//! A lookup (`user_timeline`, whose `user` has no default) is timed for the user with the most
//! audit events, the helpdesk's worst case; the peers skip lookups.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use sspr_analytics::query::context::{QueryConfig, build_context};
use sspr_analytics::query::saved::{Registry, run};

/// The UPN with the most audit events as actor or target (ties: the first by name).
fn busiest_user(rt: &tokio::runtime::Runtime, lake: &sspr_analytics::store::Lake) -> String {
    let sql = "SELECT upn FROM (SELECT target_upn AS upn FROM audit_events UNION ALL \
               SELECT actor_upn FROM audit_events) WHERE upn IS NOT NULL \
               GROUP BY upn ORDER BY count(*) DESC, upn LIMIT 1";
    rt.block_on(async {
        let ctx = build_context(lake, &QueryConfig::default()).await.unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let col = datafusion::arrow::compute::cast(
            batches[0].column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        col.as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap().value(0).to_string()
    })
}

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
    let mut user = None;
    // The sessions share their footers and file statistics, as the panels of one `sspr report`
    // run do and as the polars peer's lazy scans keep their resolved files from one collect to
    // the next. SSPR_BENCH_COLD=1 reads them afresh each time, as one `sspr query` process does.
    let cfg = match std::env::var("SSPR_BENCH_COLD").as_deref() {
        Ok("1") => QueryConfig::default(),
        _ => QueryConfig::default().sharing_footers().unwrap(),
    };
    for q in registry.queries.iter().filter(|q| wanted(&q.name)) {
        let mut given = std::collections::BTreeMap::new();
        for p in q.params.iter().filter(|p| p.default.is_none()) {
            assert_eq!(p.name, "user", "{}: no bench value for required parameter {}", q.name, p.name);
            let upn = user.get_or_insert_with(|| busiest_user(&rt, &lake)).clone();
            println!("{}: user={upn}", q.name);
            given.insert(p.name.clone(), upn);
        }
        // A fresh session per iteration, set up and dropped outside the timed part (as the DuckDB
        // peer opens a fresh connection and creates its views untimed, and closes it untimed):
        // what is timed is planning and running. The session goes out with the rows, which
        // criterion drops after the clock stops (0.3-0.9 ms of teardown otherwise timed).
        g.bench_function(q.name.as_str(), |b| {
            b.iter_batched(
                || rt.block_on(build_context(&lake, &cfg)).unwrap(),
                |ctx| {
                    let rows = rt.block_on(run(&ctx, q, &given, &chrono_tz::UTC)).unwrap();
                    (ctx, rows)
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_queries);
criterion_main!(benches);
