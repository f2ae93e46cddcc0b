//! Graph JSON → lake import throughput on a generated ≈1,000,000-event input.
//!
//! `cargo bench --bench import` (criterion reports elements/s = events/s). Each iteration
//! imports `graph/directoryAudits/` into a fresh lake: split, parse, flatten, partition, merge,
//! sort, encode Parquet (SNAPPY, page index) and publish. Peer: `benches/peer/duckdb_import.py`.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sspr_analytics::collectors::import::{ImportOptions, import};
use sspr_analytics::store::Lake;

fn bench_import(c: &mut Criterion) {
    let tenant = common::big_tenant();
    let pages = tenant.join("graph/directoryAudits");
    let events = common::audit_events(&tenant);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("import");
    g.sample_size(10).throughput(Throughput::Elements(events));
    g.bench_function("graph_pages_to_lake", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
                let s = rt
                    .block_on(import(&lake, std::slice::from_ref(&pages), &ImportOptions::default(), &|_| {}))
                    .unwrap();
                assert_eq!(s.rows_new as u64, events);
                dir
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    // Memory: the process's peak resident set over every iteration above (each imports the whole
    // input into a fresh lake; nothing is kept between iterations).
    let peak_mib = common::peak_rss_mib();
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
    let s =
        rt.block_on(import(&lake, std::slice::from_ref(&pages), &ImportOptions::default(), &|_| {})).unwrap();
    println!(
        "import phases: read+parse {:.2} s, merge+sort+encode+publish {:.2} s",
        s.parse_seconds, s.merge_seconds
    );
    let input: u64 =
        std::fs::read_dir(&pages).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    println!(
        "import/graph_pages_to_lake: {events} events, {} MB of JSON; peak RSS (VmHWM) {} MiB",
        input / 1_000_000,
        peak_mib
    );
}

criterion_group!(benches, bench_import);
criterion_main!(benches);
