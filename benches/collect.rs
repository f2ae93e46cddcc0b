//! Graph collector benchmarks (`cargo bench --bench collect`), against the loopback mock running
//! in a child process (so its in-memory dataset does not count in our memory figures).
//!
//! 1. Throughput under throttling: the mock enforces 5 requests per window and answers 10 % of
//!    requests 429 without Retry-After; the figure is events/s collected as a share of the
//!    ceiling `999 events × 5 requests / window`. The window is 1 s instead of Graph's 10 s so the
//!    run takes a minute rather than ten; the share does not depend on the window's length as
//!    long as it is much longer than a request's latency (set SSPR_BENCH_WINDOW_S=10 to check).
//!    The limiter's arrival margin is scaled with the window: the default 0.5 s is 5 % of Graph's
//!    10 s, so 5 % of the window here.
//! 2. Peak memory (VmHWM) of a collection of 1,000,000 events, the mock's budget opened wide.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sspr_analytics::collectors::graph::collect::collect;
use sspr_analytics::collectors::graph::mock::{MockConfig, MockGraph};
use sspr_analytics::collectors::graph::settings::GraphSection;
use sspr_analytics::store::Lake;

const SERVICE: &str = "Self-service Password Management";

/// `n` realistic-size events spread evenly over 2026-11-01 … 2026-11-14.
fn events(n: usize) -> Vec<Value> {
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap().timestamp_micros();
    let span = 14 * 86_400 * 1_000_000i64;
    (0..n)
        .map(|i| {
            let t = chrono::DateTime::from_timestamp_micros(start + span / n as i64 * i as i64).unwrap();
            json!({
                "id": format!("SSGM_{i:012}_BENCH_{}", 10_000_000 + i), "category": "UserManagement",
                "correlationId": format!("{:08x}-0000-4000-8000-{:012x}", i / 7, i),
                "result": "success", "resultReason": "User started the mobile SMS verification option",
                "activityDisplayName": "Self-service password reset flow activity progress",
                "activityDateTime": t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "loggedByService": SERVICE, "operationType": "Update",
                "initiatedBy": {"app": null, "user": {"id": format!("u-{}", i % 100_000), "displayName": null, "userPrincipalName": format!("user{}@contoso.example", i % 100_000), "ipAddress": "203.0.113.7", "userType": null, "homeTenantId": null, "homeTenantName": null}},
                "targetResources": [{"id": format!("u-{}", i % 100_000), "displayName": null, "type": "User", "userPrincipalName": format!("user{}@contoso.example", i % 100_000), "groupType": null, "modifiedProperties": []}],
                "additionalDetails": [{"key": "ClientType", "value": "Browser"}, {"key": "User-Agent", "value": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"}]
            })
        })
        .collect()
}

/// Child mode: serve a mock until stdin closes. Args: events budget window_ms throttle.
fn serve_mock(args: &[String]) {
    let n: usize = args[0].parse().unwrap();
    let mut cfg = MockConfig::new(events(n));
    cfg.budget = args[1].parse().unwrap();
    cfg.budget_window = Duration::from_millis(args[2].parse().unwrap());
    cfg.random_throttle = args[3].parse().unwrap();
    let mock = MockGraph::start(cfg).unwrap();
    println!("{}", mock.base);
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

struct Child {
    proc: std::process::Child,
    base: String,
}

fn spawn_mock(n: usize, budget: usize, window: Duration, throttle: f64) -> Child {
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "--serve-mock",
            &n.to_string(),
            &budget.to_string(),
            &window.as_millis().to_string(),
            &throttle.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut base = String::new();
    BufReader::new(proc.stdout.take().unwrap()).read_line(&mut base).unwrap();
    Child { proc, base: base.trim().to_string() }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn run(
    child: &Child,
    requests: usize,
    window: Duration,
    concurrency: usize,
    slice_hours: i64,
) -> (u64, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cr3t-value-never-logged").unwrap();
    let section = GraphSection {
        tenant_id: Some("contoso-tenant".into()),
        client_id: Some("app-id".into()),
        client_secret_file: Some(secret),
        graph_endpoint: Some(child.base.clone()),
        authority_endpoint: Some(child.base.clone()),
        requests_per_window: Some(requests),
        window_seconds: Some(window.as_secs_f64()),
        arrival_margin_seconds: Some(window.as_secs_f64() * 0.05),
        concurrency: Some(concurrency),
        slice_hours: Some(slice_hours),
        services: Some(vec![SERVICE.into()]),
        registration: Some(false),
        users: Some(false),
        retry_budget: Some(1_000_000),
        ..Default::default()
    };
    let mut g = section.resolve().unwrap();
    g.plan.from = Some("2026-11-01T00:00:00Z".parse().unwrap());
    g.plan.to = Some("2026-11-15T00:00:00Z".parse().unwrap());
    let client = g.client().unwrap();
    let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let start = Instant::now();
    let last_page = std::sync::Mutex::new(start);
    let s = rt
        .block_on(collect(&lake, &client, &g.plan, &dir.path().join("state"), &|_, _| {
            *last_page.lock().unwrap() = Instant::now();
        }))
        .unwrap();
    assert!(s.incomplete.is_empty(), "{:?}", s.incomplete);
    let fetched = last_page.lock().unwrap().duration_since(start);
    (s.items, fetched, start.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-mock") {
        return serve_mock(&args[i + 1..]);
    }
    let window = Duration::from_secs_f64(
        std::env::var("SSPR_BENCH_WINDOW_S").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0),
    );
    let n: usize = std::env::var("SSPR_BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let child = spawn_mock(n, 5, window, 0.10);
    // Four slices of 3.5 days: ~50 full pages each, fetched concurrently under one limiter.
    let (items, fetched, total) = run(&child, 5, window, 4, 84);
    let ceiling = 999.0 * 5.0 / window.as_secs_f64();
    let rate_fetch = items as f64 / fetched.as_secs_f64();
    let rate_total = items as f64 / total.as_secs_f64();
    println!(
        "collect/throttled: {items} events, window {window:?}, 10% injected 429s: fetch {:.1} s = {:.0} events/s = {:.1}% of the {ceiling:.0} events/s ceiling; with spool import {:.1} s = {:.1}%",
        fetched.as_secs_f64(),
        rate_fetch,
        100.0 * rate_fetch / ceiling,
        total.as_secs_f64(),
        100.0 * rate_total / ceiling
    );
    drop(child.proc);
    let big: usize =
        std::env::var("SSPR_BENCH_MEMORY_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let child = spawn_mock(big, 1000, Duration::from_millis(100), 0.0);
    let before = vm_hwm_kib();
    let (items, _, total) = run(&child, 1000, Duration::from_millis(100), 4, 24);
    println!(
        "collect/memory: {items} events in {:.1} s; peak RSS (VmHWM) {} MiB (before the run {} MiB)",
        total.as_secs_f64(),
        vm_hwm_kib() / 1024,
        before / 1024
    );
}
