//! EVTX → lake throughput on a generated domain-controller Security log of ≥ 500 MB.
//!
//! `cargo bench --bench evtx` (criterion reports bytes/s of EVTX). Each iteration imports the file
//! into a fresh lake: chunks found and checked by the `evtx` crate, their records read straight
//! from BinXML into typed events and routed into Arrow rows on worker threads (half the events
//! are password events kept in `dc_security_events`, half are logon noise counted and skipped),
//! and each day merged, sorted, encoded and published once the log has moved two days past it.
//! Peer: `evtx_dump -o jsonl` (the crate's own tool, `cargo install evtx`) on the same file, timed
//! by `benches/peer/evtx_dump.py`. The file is generated once under `target/bench-data/` with the
//! project's EVTX writer (never timed); `SSPR_BENCH_EVTX_MB` changes its size.

mod common;

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sspr_analytics::collectors::import::{ImportOptions, import};
use sspr_analytics::sample::evtx_writer::{EvtxWriter, WinEvent};
use sspr_analytics::store::Lake;

const AUDIT_SUCCESS: u64 = 0x8020_0000_0000_0000;
const AUDIT_FAILURE: u64 = 0x8010_0000_0000_0000;

fn target_mb() -> u64 {
    std::env::var("SSPR_BENCH_EVTX_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(520)
}

/// The bench log: (path, events, kept events).
fn bench_log() -> (PathBuf, u64, u64) {
    let mb = target_mb();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join(format!("dc-security-{mb}mb.evtx"));
    let meta = dir.join(format!("dc-security-{mb}mb.json"));
    if let Ok(text) = std::fs::read_to_string(&meta) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if path.exists() {
            return (path, v["events"].as_u64().unwrap(), v["kept"].as_u64().unwrap());
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("generating {} (not timed)…", path.display());
    let file = std::fs::File::create(&path).unwrap();
    let mut w = EvtxWriter::new(std::io::BufWriter::with_capacity(1 << 20, file)).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let start = 1_793_577_600_000_000i64; // 2026-11-01T00:00:00Z
    let (mut events, mut kept) = (0u64, 0u64);
    let mut written = 0u64;
    while written < mb * 1_000_000 {
        let r = next();
        let user = format!("user{:05}", r % 60_000);
        let sid = |rid: u64| format!("S-1-5-21-3623811015-3361044348-30300820-{rid}");
        let (id, task, keywords, data): (u16, u16, u64, Vec<(&str, String)>) = match r % 10 {
            0..=4 => (
                4624,
                12544,
                AUDIT_SUCCESS,
                vec![
                    ("SubjectUserSid", "S-1-5-18".into()),
                    ("SubjectUserName", "DC01$".into()),
                    ("SubjectDomainName", "CONTOSO".into()),
                    ("SubjectLogonId", "0x3e7".into()),
                    ("TargetUserSid", sid(1100 + r % 60_000)),
                    ("TargetUserName", user.clone()),
                    ("TargetDomainName", "CONTOSO".into()),
                    ("TargetLogonId", format!("0x{:x}", r >> 20)),
                    ("LogonType", "3".into()),
                    ("LogonProcessName", "Kerberos".into()),
                    ("AuthenticationPackageName", "Kerberos".into()),
                    ("WorkstationName", "-".into()),
                    ("LogonGuid", format!("{{{:08x}-1d2c-4b6a-9f3e-{:012x}}}", r as u32, r >> 16)),
                    ("TransmittedServices", "-".into()),
                    ("LmPackageName", "-".into()),
                    ("KeyLength", "0".into()),
                    ("ProcessId", "0x0".into()),
                    ("ProcessName", "-".into()),
                    ("IpAddress", format!("10.{}.{}.{}", r % 7, (r >> 8) % 250, (r >> 16) % 250)),
                    ("IpPort", format!("{}", 49152 + (r >> 24) % 16000)),
                ],
            ),
            5..=7 => (
                4724,
                13824,
                if r % 41 == 0 { AUDIT_FAILURE } else { AUDIT_SUCCESS },
                vec![
                    ("TargetUserName", user.clone()),
                    ("TargetDomainName", "CONTOSO".into()),
                    ("TargetSid", sid(1100 + r % 60_000)),
                    ("SubjectUserSid", sid(1604)),
                    (
                        "SubjectUserName",
                        if r % 5 == 0 { "helpdesk.admin".into() } else { "MSOL_73c8a9aa6173".into() },
                    ),
                    ("SubjectDomainName", "CONTOSO".into()),
                    ("SubjectLogonId", format!("0x{:x}", r >> 28)),
                ],
            ),
            8 => (
                4723,
                13824,
                AUDIT_SUCCESS,
                vec![
                    ("TargetUserName", user.clone()),
                    ("TargetDomainName", "CONTOSO".into()),
                    ("TargetSid", sid(1100 + r % 60_000)),
                    ("SubjectUserSid", sid(1100 + r % 60_000)),
                    ("SubjectUserName", user.clone()),
                    ("SubjectDomainName", "CONTOSO".into()),
                    ("SubjectLogonId", format!("0x{:x}", r >> 28)),
                    ("PrivilegeList", "-".into()),
                ],
            ),
            _ => (
                4634,
                12545,
                AUDIT_SUCCESS,
                vec![
                    ("TargetUserSid", sid(1100 + r % 60_000)),
                    ("TargetUserName", user.clone()),
                    ("TargetDomainName", "CONTOSO".into()),
                    ("TargetLogonId", format!("0x{:x}", r >> 20)),
                    ("LogonType", "3".into()),
                ],
            ),
        };
        if matches!(id, 4723 | 4724) {
            kept += 1;
        }
        events += 1;
        let ev = WinEvent {
            provider: "Microsoft-Windows-Security-Auditing".into(),
            event_id: id,
            version: if id == 4624 { 2 } else { 0 },
            task,
            keywords,
            // 30 days of events, 2.6 s apart on average.
            time_created: start + (events as i64) * 2_600_000 % (30 * 86_400_000_000),
            event_record_id: events,
            process_id: 668,
            thread_id: 2844 + (r % 64) as u32,
            channel: "Security".into(),
            computer: "DC01.contoso.com".into(),
            data: data.into_iter().map(|(k, v)| (Some(k.to_string()), v)).collect(),
            ..Default::default()
        };
        w.write(&ev).unwrap();
        // Estimated size: what the chunks hold so far.
        if events.is_multiple_of(4096) {
            written = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        }
    }
    w.finish().unwrap();
    std::fs::write(&meta, serde_json::json!({"events": events, "kept": kept}).to_string()).unwrap();
    (path, events, kept)
}

/// Where the time goes (`SSPR_BENCH_EVTX_PARTS=1`, `=reader` for the first part only): our reader alone, on one and two threads and
/// through the crate's XML, and the crate's renderers alone, on the same file.
fn parts(log: &std::path::Path) {
    use evtx::{EvtxParser, ParserSettings};
    use sspr_analytics::collectors::eventlog::evtx::{Engine, Keep, read_with};
    use sspr_analytics::collectors::eventlog::{Route, Routing};
    let routing = Routing::default();
    let keep: Keep = std::sync::Arc::new(move |r| routing.route(r) != Route::Skip);
    for (engine, threads) in [(Engine::Direct, 2), (Engine::Direct, 1), (Engine::Crate, 2)] {
        if engine == Engine::Crate && std::env::var("SSPR_BENCH_EVTX_PARTS").is_ok_and(|v| v == "reader") {
            continue;
        }
        let t = std::time::Instant::now();
        let (mut kept, mut all) = (0usize, 0usize);
        let stats = read_with(log, threads, keep.clone(), engine, |r| {
            all += 1;
            kept += usize::from(matches!(r, Ok(Some(_))));
        })
        .unwrap();
        println!(
            "read_with {engine:?} on {threads} thread(s), records only: {:.2} s, {all} records, {kept} kept, {} of {} chunks direct",
            t.elapsed().as_secs_f64(),
            stats.direct_chunks,
            stats.chunks
        );
    }
    let none: Keep = std::sync::Arc::new(|_| false);
    let t = std::time::Instant::now();
    read_with(log, 1, none, Engine::Direct, |_| {}).unwrap();
    println!(
        "read_with Direct on 1 thread, keeping nothing (System only): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    let mut p = EvtxParser::from_path(log).unwrap();
    let (mut chunks, mut bad) = (0, 0);
    for c in p.chunks().flatten() {
        chunks += 1;
        bad += usize::from(!c.validate_checksum());
    }
    println!(
        "the crate's chunks + CRC32 check alone: {:.2} s, {chunks} chunks, {bad} bad",
        t.elapsed().as_secs_f64()
    );
    if std::env::var("SSPR_BENCH_EVTX_PARTS").is_ok_and(|v| v == "reader") {
        return;
    }
    let settings = || ParserSettings::new().num_threads(2).indent(false);
    let t = std::time::Instant::now();
    let mut p = EvtxParser::from_path(log).unwrap().with_configuration(settings());
    let bytes: usize = p.chunks_json_bytes(false).map(|c| c.data.len()).sum();
    println!("chunks_json_bytes: {:.2} s, {} MB of JSON", t.elapsed().as_secs_f64(), bytes / 1_000_000);
    let t = std::time::Instant::now();
    let mut p = EvtxParser::from_path(log).unwrap().with_configuration(settings());
    let bytes: usize = p.chunks_xml_bytes(false).map(|c| c.data.len()).sum();
    println!("chunks_xml_bytes: {:.2} s, {} MB of XML", t.elapsed().as_secs_f64(), bytes / 1_000_000);
    let t = std::time::Instant::now();
    let mut p = EvtxParser::from_path(log).unwrap().with_configuration(settings());
    let n = p.serialized_records(|r| r?.into_xml().map(|x| x.data.len())).count();
    println!("serialized_records into_xml: {:.2} s, {n} records", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let mut p = EvtxParser::from_path(log).unwrap().with_configuration(settings());
    let mut recs = 0usize;
    for c in p.chunks_json_bytes(false) {
        for (_, r) in c.records() {
            let v: serde_json::Value = serde_json::from_slice(r).unwrap();
            recs += usize::from(v.is_object());
        }
    }
    println!(
        "chunks_json_bytes + serde_json Value on one thread: {:.2} s, {recs} records",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    let mut p = EvtxParser::from_path(log).unwrap().with_configuration(settings());
    let mut recs = 0usize;
    for c in p.chunks_xml_bytes(false) {
        for (_, r) in c.records() {
            let ev = sspr_analytics::collectors::eventlog::xml::parse_event(std::str::from_utf8(r).unwrap())
                .unwrap();
            recs += usize::from(ev.event_id.is_some());
        }
    }
    println!(
        "chunks_xml_bytes + parse_event on one thread: {:.2} s, {recs} records",
        t.elapsed().as_secs_f64()
    );
}

fn bench_evtx(c: &mut Criterion) {
    let (log, events, kept) = bench_log();
    if std::env::var("SSPR_BENCH_EVTX_PARTS").is_ok() {
        parts(&log);
        return;
    }
    let bytes = std::fs::metadata(&log).unwrap().len();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut g = c.benchmark_group("evtx");
    g.sample_size(10).throughput(Throughput::Bytes(bytes));
    g.bench_function("evtx_to_lake", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
                let s = rt
                    .block_on(import(&lake, std::slice::from_ref(&log), &ImportOptions::default(), &|_| {}))
                    .unwrap();
                assert_eq!(s.records, events);
                assert_eq!(s.rows_new as u64, kept);
                dir
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
    let t = std::time::Instant::now();
    let s =
        rt.block_on(import(&lake, std::slice::from_ref(&log), &ImportOptions::default(), &|_| {})).unwrap();
    println!(
        "evtx import phases: read+parse+route {:.2} s, merge+sort+encode+publish {:.2} s, whole import {:.2} s",
        s.parse_seconds,
        s.merge_seconds,
        t.elapsed().as_secs_f64()
    );
    let peak_mib = common::peak_rss_mib();
    println!(
        "evtx/evtx_to_lake: {} ({} MB, {events} events, {kept} kept); peak RSS (VmHWM) {} MiB",
        log.display(),
        bytes / 1_000_000,
        peak_mib
    );
}

criterion_group!(benches, bench_evtx);
criterion_main!(benches);
