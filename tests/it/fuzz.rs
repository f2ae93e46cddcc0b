//! Issue 20 item 3: structure-aware mutation tests of the hand-written parsers — the JSON
//! splitter and lexer with the record router, the event-XML byte scanner and parser, the BinXML
//! reader, and the CSV readers (Get-WinEvent exports, Log Analytics and the admin center's
//! download). Each starts from real inputs (the sample tenant's files, a real EVTX chunk) and
//! applies format-aware edits: byte flips, cuts, duplicated and deleted ranges, and the tokens
//! that end or open a structure in that format. Any panic fails the test with the input that
//! caused it (proptest shrinks it first).
//!
//! `cargo fuzz` needs the whole crate (DataFusion included) built again with nightly and the
//! sanitizers, 20+ minutes on these machines, which CI's budget cannot hold; these run on stable
//! inside the test binary. Cases per target: `SSPR_FUZZ_CASES` (default 3,000, a few seconds for
//! all five in a debug build); the README says how many ran without a finding.

use std::path::PathBuf;

use proptest::prelude::*;
use sspr_analytics::collectors::eventlog::{EventContext, Routing};
use sspr_analytics::collectors::files::flatten::RowContext;
use sspr_analytics::collectors::files::parse::{Sink, parse_document, parse_unit};
use sspr_analytics::collectors::files::scan::Splitter;
use sspr_analytics::collectors::files::{FileFormat, parse_file};

use crate::util::{realdata, sample};

fn cases() -> u32 {
    std::env::var("SSPR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
}

/// One edit of a seed: where, how much, and what (kind picks the edit).
#[derive(Debug, Clone)]
struct Edit {
    kind: u8,
    at: usize,
    len: usize,
    token: usize,
    byte: u8,
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(
        (any::<u8>(), any::<usize>(), 0usize..64, any::<usize>(), any::<u8>())
            .prop_map(|(kind, at, len, token, byte)| Edit { kind, at, len, token, byte }),
        1..8,
    )
}

/// Applies the edits to a copy of `seed`, splicing in `tokens` of the format.
fn mutate(seed: &[u8], edits: &[Edit], tokens: &[&[u8]]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let n = b.len().max(1);
        let at = e.at % n;
        let end = (at + e.len).min(b.len());
        match e.kind % 6 {
            0 => {
                if let Some(x) = b.get_mut(at) {
                    *x ^= e.byte | 1;
                }
            }
            1 => b.truncate(at),
            2 => {
                b.drain(at.min(b.len())..end);
            }
            3 => {
                let piece = b[at.min(b.len())..end].to_vec();
                let i = end.min(b.len());
                b.splice(i..i, piece);
            }
            _ => {
                let t = tokens[e.token % tokens.len()];
                let i = at.min(b.len());
                b.splice(i..i, t.iter().copied());
            }
        }
    }
    b
}

const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b":",
    b",",
    b"null",
    b"\n",
    b"\r\n",
    b"1e999999",
    b"\"\\ud800\"",
    b"{\"value\":[",
    b"\"activityDateTime\":\"0000-01-01T00:00:00Z\"",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
];
const XML_TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</Event>",
    b"<Event>",
    b"<![CDATA[",
    b"]]>",
    b"&#x0;",
    b"&amp",
    b"'",
    b"\"",
    b"<!--",
    b"-->",
    b"<EventID>x</EventID>",
    b"<?xml?>",
    b"\n",
];
const CSV_TOKENS: &[&[u8]] =
    &[b"\"", b",", b"\n", b"\r\n", b"\"\"", b"#TYPE x\n", b"\xef\xbb\xbf", b"/Date(-1)/"];
const BINXML_TOKENS: &[&[u8]] = &[
    b"\x0f\x01\x01\x00",
    b"\x0c",
    b"\x0d",
    b"\x0e",
    b"\x41",
    b"\x01",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
];

/// A text seed cut to a size that keeps a case fast.
fn seed(path: PathBuf, max: usize) -> Vec<u8> {
    let mut b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    b.truncate(max);
    b
}

fn row_context() -> RowContext<'static> {
    RowContext { source_file: "fuzz", ingested_at: 0, snapshot_date: 0 }
}

/// The JSON splitter, lexer and router on one input: units, then each unit's records.
fn json_all(bytes: &[u8]) {
    let ctx = row_context();
    let mut sink = Sink::default();
    for unit in Splitter::new(bytes).flatten() {
        parse_unit(&unit, FileFormat::Auto, &ctx, &mut sink);
    }
    parse_document(bytes, FileFormat::Auto, &ctx, &mut sink);
}

fn xml_all(bytes: &[u8]) {
    use sspr_analytics::collectors::eventlog::xml::{XmlSplitter, parse_event};
    let mut split = XmlSplitter::new(bytes);
    while let Some(unit) = split.next_unit() {
        let Ok(u) = unit else { break };
        if let Ok(text) = std::str::from_utf8(&u.text) {
            let _ = parse_event(text);
        }
    }
}

fn binxml_all(chunk: &[u8]) {
    use sspr_analytics::collectors::eventlog::binxml::ChunkReader;
    let keep = |_: &sspr_analytics::collectors::eventlog::EventRecord| true;
    let _ = ChunkReader::new(chunk).read_all(&keep);
}

/// The CSV readers go through files, as imports do.
fn csv_all(bytes: &[u8], dir: &std::path::Path) {
    let path = dir.join("case.csv");
    std::fs::write(&path, bytes).unwrap();
    let routing = Routing::default();
    let ctx = EventContext {
        source_file: "fuzz",
        ingested_at: 0,
        routing: &routing,
        source_tz: chrono_tz::UTC,
        threads: 1,
    };
    let _ = sspr_analytics::collectors::eventlog::pscsv::import(&path, &ctx, &mut |_, _, _, _| Ok(()));
    for format in [FileFormat::Auto, FileFormat::LogAnalyticsCsv, FileFormat::PortalCsv] {
        let _ = parse_file(&path, format, &row_context(), 1);
    }
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn json_readers_never_panic(which in 0usize..3, e in edits()) {
        let seeds = [
            seed(sample("graph/directoryAudits/page-0001.json"), 12_000),
            seed(sample("log-analytics/AuditLogs.json"), 12_000),
            seed(sample("graph/users/2026-11-14/page-0001.json"), 8_000),
        ];
        json_all(&mutate(&seeds[which], &e, JSON_TOKENS));
    }

    #[test]
    fn event_xml_readers_never_panic(e in edits()) {
        let s = seed(sample("eventlogs/DC01/Security.xml"), 12_000);
        xml_all(&mutate(&s, &e, XML_TOKENS));
    }

    #[test]
    fn the_binxml_reader_never_panics(which in 0usize..2, e in edits()) {
        let file = std::fs::read(if which == 0 { sample("eventlogs/DC01/Security.evtx") } else { realdata("evtx/security.evtx") }).unwrap();
        let chunk = &file[4096..4096 + 65536];
        // Edits land in the records, past the chunk header and its tables.
        let mut body = mutate(&chunk[512..], &e, BINXML_TOKENS);
        body.resize(65536 - 512, 0);
        let mut c = chunk[..512].to_vec();
        c.extend(body);
        binxml_all(&c);
    }

    #[test]
    fn csv_readers_never_panic(which in 0usize..2, e in edits()) {
        let dir = tempfile::tempdir().unwrap();
        let seeds: [&[u8]; 2] = [
            b"#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord\nProviderName,Id,TimeCreated,RecordId,MachineName,LogName,Message,Properties\n\
              Microsoft-Windows-Security-Auditing,4724,11/24/2026 6:02:00 AM,7,DC01,Security,\"An attempt was made\nto reset\",System.Collections.Generic.List\n",
            b"Date (UTC),CorrelationId,Service,Category,Activity,Result,ResultReason,User Agent,ActorType,ActorUserPrincipalName,IPAddress,Target1UserPrincipalName\n\
              2026-11-14T08:00:01Z,c-1,Self-service Password Management,UserManagement,Self-service password reset flow activity progress,Success,User submitted their user ID,UA,User,u@x,203.0.113.9,u@x\n",
        ];
        csv_all(&mutate(seeds[which], &e, CSV_TOKENS), dir.path());
    }
}
