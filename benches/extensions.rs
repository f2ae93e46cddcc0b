//! What each engine extension gains: every saved query run with all extensions on, with all off,
//! and with each one off alone, side by side in one process (issue 20 item 13).
//!
//! `cargo bench --bench extensions`. Round by round, every (query, configuration) pair plans and
//! runs the query in a fresh session, in an order that rotates each round, so that drift (the
//! page cache, the CPU's clock) falls on every configuration alike. Printed: per query the median
//! of each configuration, and per extension the queries where turning it off costs more than
//! the noise (the spread of the all-on runs). `SSPR_BENCH_ROUNDS=15` (default 11);
//! `SSPR_BENCH_QUERY=a,b` runs those queries only.

mod common;

use std::time::Instant;

use sspr_analytics::query::context::{Extensions, QueryConfig, build_context};
use sspr_analytics::query::saved::{Registry, run};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (lake, _) = common::bench_lake(&rt, false);
    let registry = Registry::load(None).unwrap();
    let only = std::env::var("SSPR_BENCH_QUERY").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|o| o == name));
    let queries: Vec<_> = registry.queries.iter().filter(|q| wanted(&q.name)).collect();
    let rounds: usize = std::env::var("SSPR_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(11);
    let mut configs: Vec<(String, Extensions)> =
        vec![("all".into(), Extensions::ALL), ("none".into(), Extensions::NONE)];
    for name in Extensions::NAMES {
        configs.push((format!("-{name}"), Extensions::parse(&format!("-{name}")).unwrap()));
    }
    // times[query][config] in milliseconds, one per round.
    let mut times = vec![vec![Vec::with_capacity(rounds); configs.len()]; queries.len()];
    let once = |q: &sspr_analytics::query::saved::SavedQuery, ext: Extensions| -> f64 {
        let cfg = QueryConfig { extensions: ext, ..QueryConfig::default() };
        let ctx = rt.block_on(build_context(&lake, &cfg)).unwrap();
        let t = Instant::now();
        rt.block_on(run(&ctx, q, &Default::default(), &chrono_tz::UTC)).unwrap();
        t.elapsed().as_secs_f64() * 1e3
    };
    // One warm-up round, not counted: the page cache and the allocator's arenas.
    for q in &queries {
        once(q, Extensions::ALL);
    }
    for round in 0..rounds {
        for (qi, q) in queries.iter().enumerate() {
            for k in 0..configs.len() {
                let ci = (k + round + qi) % configs.len();
                times[qi][ci].push(once(q, configs[ci].1));
            }
        }
        eprintln!("round {}/{rounds}", round + 1);
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    // The noise of one query: half the spread between the all-on runs' quartiles, as a share.
    let noise = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() * 3 / 4] - v[v.len() / 4]) / 2.0 / median(&v)
    };
    let names: Vec<&str> = configs.iter().map(|(n, _)| n.as_str()).collect();
    println!("| query | {} | noise |", names.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(names.len()));
    let mut gains: Vec<Vec<String>> = vec![Vec::new(); configs.len()];
    for (qi, q) in queries.iter().enumerate() {
        let all = median(&times[qi][0]);
        let n = noise(&times[qi][0]);
        let cells: Vec<String> = (0..configs.len())
            .map(|ci| {
                let m = median(&times[qi][ci]);
                if ci == 0 { format!("{m:.1} ms") } else { format!("{:.2}", m / all) }
            })
            .collect();
        println!("| {} | {} | ±{:.1} % |", q.name, cells.join(" | "), n * 100.0);
        for ci in 2..configs.len() {
            let ratio = median(&times[qi][ci]) / all;
            if ratio - 1.0 > (2.0 * n).max(0.03) {
                gains[ci].push(format!("{} {:.2}", q.name, ratio));
            }
        }
    }
    println!();
    for (ci, (name, _)) in configs.iter().enumerate().skip(2) {
        let g = &gains[ci];
        let verdict = if g.is_empty() { "within noise on every query".to_string() } else { g.join(", ") };
        println!("{name}: {verdict}");
    }
}
