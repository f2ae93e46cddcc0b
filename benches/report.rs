//! Issue 21 item 7: what the charts and pages add to a report. Over the lake of the generated
//! 100,000-user tenant (the `queries` bench's; `SSPR_BENCH_SESSION_RATE=1200` for ≈11M audit
//! events), each iteration renders the three shipped dashboards:
//!
//! - `report/queries_only`: every panel's query, bound and run as `sspr report` runs it, its rows
//!   converted to the report's zone; no chart, no page;
//! - `report/full`: the same and the header (completeness line and tenant, once per run), every
//!   chart drawn (SVG) and every page written out as HTML — `sspr report` minus the file writes.
//!
//! The target: `full` at most 10 % over `queries_only`. `cargo bench --bench report` (the lake is
//! imported and built on first use, untimed; `SSPR_BENCH_BUILD=1` rebuilds it).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use sspr_analytics::query::context::QueryConfig;
use sspr_analytics::query::saved::Registry;
use sspr_analytics::report::{self, Dashboard, Window};

fn bench_report(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (lake, _) = common::bench_lake(&rt, std::env::var("SSPR_BENCH_BUILD").as_deref() == Ok("1"));
    let registry = Registry::load(None).unwrap();
    let dashboards = Dashboard::load_all(None, &registry).unwrap();
    let cfg = QueryConfig::default();
    let window = Window { from: None, to: None, tz: chrono_tz::Europe::Brussels };
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function("queries_only", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut rows = 0;
                for d in &dashboards {
                    for p in report::query_panels(&lake, &cfg, &registry, d, &window).await.unwrap() {
                        rows += p.batches.iter().map(|b| b.num_rows()).sum::<usize>();
                    }
                }
                rows
            })
        })
    });
    g.bench_function("full", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut bytes = 0;
                let header = report::Header::of_lake(&lake, &cfg, chrono::Utc::now()).await.unwrap();
                for d in &dashboards {
                    let r = report::run(&lake, &cfg, &registry, d, &window, &header).await.unwrap();
                    bytes += r.html().unwrap().len();
                }
                bytes
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
