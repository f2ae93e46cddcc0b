//! Issue 21 item 7: what the charts and pages add to a report. Over the lake of the generated
//! 100,000-user tenant (the `queries` bench's; `SSPR_BENCH_SESSION_RATE=1200` for ≈11M audit
//! events), each iteration renders the three shipped dashboards:
//!
//! - `report/queries_only`: every panel's query, bound and run as `sspr report` runs it, its rows
//!   converted to the report's zone; no chart, no page;
//! - `report/full`: the same and the header (completeness line and tenant, once per run), every
//!   chart drawn (SVG) and every page written out as HTML — `sspr report` minus the file writes
//!   ([`report::render_all`]: the header and the charts run beside the panels' queries).
//!
//! `report/header_only` and `report/charts_only` time the two parts `full` adds, each alone.
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
                let all: Vec<&Dashboard> = dashboards.iter().collect();
                let (_, pages) =
                    report::render_all(&lake, &cfg, &registry, &all, &window, chrono::Utc::now())
                        .await
                        .unwrap();
                pages.iter().map(|r| r.html().unwrap().len()).sum::<usize>()
            })
        })
    });
    // The parts of the difference, each alone: the header, and drawing every chart from query
    // results fetched once outside the timed part.
    g.bench_function("header_only", |b| {
        b.iter(|| rt.block_on(report::Header::of_lake(&lake, &cfg, chrono::Utc::now())).unwrap())
    });
    let fetched: Vec<report::PanelQuery> = rt.block_on(async {
        let mut all = Vec::new();
        for d in &dashboards {
            all.extend(report::query_panels(&lake, &cfg, &registry, d, &window).await.unwrap());
        }
        all
    });
    g.bench_function("charts_only", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for p in &fetched {
                if let Some((spec, origin)) = &p.chart {
                    let data = sspr_analytics::charts::data(&p.batches, &p.schema, spec, origin).unwrap();
                    bytes += sspr_analytics::charts::svg_sized(&data, spec, "", (900, 360)).unwrap().len();
                }
            }
            bytes
        })
    });
    g.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
