//! The live Graph collector against the loopback mock: every scripted fault ends with exactly the
//! mock's events in the lake (or a clear failure and an incomplete ledger row that the next run
//! resumes), the limiter keeps to the budget, tokens refresh on 401, SIGKILL at any point resumes
//! to the same lake, and the secret appears in no output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sspr_analytics::collectors::graph::collect::collect;
use sspr_analytics::collectors::graph::mock::{Fault, MockConfig, MockGraph};
use sspr_analytics::collectors::graph::settings::GraphSection;
use sspr_analytics::store::Lake;

use crate::util::{sample, sql_rows, sspr, text, write};

/// The sample tenant's audit events, registration rows and users (Graph shape).
fn sample_objects(rel: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(sample(rel)).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let page: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            out.extend(page["value"].as_array().unwrap().iter().cloned());
        }
    }
    out
}

fn mock_config() -> MockConfig {
    let mut cfg = MockConfig::new(sample_objects("graph/directoryAudits"));
    cfg.registrations = sample_objects("graph/userRegistrationDetails/2026-11-14");
    cfg.users = sample_objects("graph/users");
    cfg.roles = sample_objects("graph/roleAssignments");
    cfg.page_size = 200;
    cfg.budget = 5;
    cfg.budget_window = Duration::from_millis(100);
    cfg
}

/// What the tests collect: the password services and the whole directory log, which the sample
/// has a few privileged operations of (`reset_then_privileged_operation`), so the lake can hold
/// exactly the mock's events.
const SERVICES: [&str; 3] = ["Self-service Password Management", "Authentication Methods", "Core Directory"];

fn section(mock: &MockGraph, cfg: &MockConfig, dir: &Path) -> GraphSection {
    let secret = write(dir, "secret.txt", &format!("{}\n", cfg.client_secret));
    GraphSection {
        tenant_id: Some(cfg.tenant.clone()),
        client_id: Some(cfg.client_id.clone()),
        client_secret_file: Some(secret),
        graph_endpoint: Some(mock.base.clone()),
        authority_endpoint: Some(mock.base.clone()),
        requests_per_window: Some(5),
        window_seconds: Some(0.12),
        concurrency: Some(4),
        state_dir: Some(dir.join("state")),
        max_retries: Some(6),
        services: Some(SERVICES.map(String::from).to_vec()),
        ..Default::default()
    }
}

pub(crate) struct Run {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) lake: Lake,
    mock: MockGraph,
    cfg: MockConfig,
}

pub(crate) fn setup(tweak: impl FnOnce(&mut MockConfig)) -> Run {
    let mut cfg = mock_config();
    tweak(&mut cfg);
    let mock = MockGraph::start(cfg.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake").to_string_lossy()).unwrap();
    Run { dir, lake, mock, cfg }
}

async fn collect_once(r: &Run) -> sspr_analytics::collectors::graph::collect::CollectSummary {
    collect_with(r, section(&r.mock, &r.cfg, r.dir.path())).await
}

async fn collect_with(
    r: &Run,
    sec: GraphSection,
) -> sspr_analytics::collectors::graph::collect::CollectSummary {
    let mut g = sec.resolve().unwrap();
    g.plan.from = Some("2026-11-01T00:00:00Z".parse().unwrap());
    g.plan.to = Some("2026-11-15T00:00:00Z".parse().unwrap());
    g.retry.base = Duration::from_millis(20);
    let client = g.client().unwrap();
    collect(&r.lake, &client, &g.plan, &r.dir.path().join("state"), &|_, _| {}).await.unwrap()
}

/// The lake holds exactly the mock's events, registrations and users: no loss, no duplicate.
pub(crate) async fn assert_lake_equals_mock(r: &Run) {
    let rows = sql_rows(&r.lake, "SELECT count(*) AS n, count(DISTINCT id) AS d FROM audit_events").await;
    assert_eq!(rows[0]["n"].as_u64().unwrap() as usize, r.cfg.audits.len());
    assert_eq!(rows[0]["d"], rows[0]["n"]);
    let ids = sql_rows(&r.lake, "SELECT id FROM audit_events ORDER BY id").await;
    let mut want: Vec<&str> = r.cfg.audits.iter().map(|e| e["id"].as_str().unwrap()).collect();
    want.sort();
    let got: Vec<&str> = ids.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    let reg = sql_rows(&r.lake, "SELECT count(*) AS n FROM registration_details").await;
    assert_eq!(reg[0]["n"].as_u64().unwrap() as usize, r.cfg.registrations.len());
    let users = sql_rows(&r.lake, "SELECT count(*) AS n FROM users").await;
    assert_eq!(users[0]["n"].as_u64().unwrap() as usize, r.cfg.users.len());
    // Role assignments: every one, with the expanded role's name.
    let roles =
        sql_rows(&r.lake, "SELECT count(*) AS n, count(role_name) AS named FROM role_assignments").await;
    assert_eq!(roles[0]["n"].as_u64().unwrap() as usize, r.cfg.roles.len());
    assert_eq!(roles[0]["named"], roles[0]["n"]);
}

#[tokio::test]
async fn a_clean_run_collects_every_event_and_keeps_to_the_budget() {
    let r = setup(|_| {});
    let s = collect_once(&r).await;
    assert!(s.incomplete.is_empty(), "{:?}", s.incomplete);
    assert_eq!(
        s.items as usize,
        r.cfg.audits.len() + r.cfg.registrations.len() + r.cfg.users.len() + r.cfg.roles.len()
    );
    assert_lake_equals_mock(&r).await;
    assert_eq!(
        r.mock.stats.budget_violations.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the limiter kept to 5 requests per window"
    );
    let ledger = sql_rows(&r.lake, "SELECT source, count(*) AS slices, sum(CASE WHEN complete THEN 1 ELSE 0 END) AS done FROM ingest_ledger WHERE source LIKE 'graph:%' GROUP BY source ORDER BY source").await;
    // directoryAudits, roleAssignments, userRegistrationDetails, users.
    assert_eq!(ledger.len(), 4, "{ledger:?}");
    assert!(ledger.iter().all(|l| l["slices"] == l["done"]), "{ledger:?}");
    // A second run over the same window (overlap) adds nothing.
    let again = collect_once(&r).await;
    assert_eq!(again.rows_new, 0);
    assert_lake_equals_mock(&r).await;
}

/// Requests reach Graph late by varying amounts, and Graph counts its budget from when each
/// arrives. A limiter counting from when it sent a request, with the server's own window, sends a
/// sixth request that arrives within the window of a first that arrived late (28 violations in
/// one run before the fix). Counting each place from its send plus a margin longer than the
/// latency (or from its answer, if sooner), it never does.
#[tokio::test]
async fn requests_arriving_late_by_varying_amounts_never_exceed_the_servers_budget() {
    let r = setup(|c| c.arrival_jitter = Duration::from_millis(40));
    let sec = GraphSection {
        window_seconds: Some(0.1),
        arrival_margin_seconds: Some(0.05),
        ..section(&r.mock, &r.cfg, r.dir.path())
    };
    let s = collect_with(&r, sec).await;
    assert!(s.incomplete.is_empty(), "{:?}", s.incomplete);
    assert_lake_equals_mock(&r).await;
    let served = r.mock.stats.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(served > 20, "enough requests to fill many windows: {served}");
    assert_eq!(
        r.mock.stats.budget_violations.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the limiter kept to 5 requests per window as the server counts them"
    );
}

#[tokio::test]
async fn every_transient_fault_is_retried_to_exactly_the_mock_events() {
    let faults = [
        Fault::Throttle(Some(0)),
        Fault::Throttle(None),
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Status(504),
        Fault::ResetMidBody,
        Fault::TruncatedJson,
        Fault::Slow(Duration::from_millis(300)),
        Fault::EmptyPageWithNextLink,
        Fault::Unauthorized,
        Fault::LargePage,
    ];
    for f in faults {
        let r = setup(|_| {});
        for _ in 0..2 {
            r.mock.push_fault(Some("directoryAudits"), f.clone());
        }
        let s = collect_once(&r).await;
        assert!(s.incomplete.is_empty(), "{f:?}: {:?}", s.incomplete);
        assert_lake_equals_mock(&r).await;
        let played = r.mock.stats.faults_played.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(played, 2, "{f:?} was played");
        if matches!(f, Fault::Unauthorized) {
            assert!(
                r.mock.stats.token_requests.load(std::sync::atomic::Ordering::Relaxed) >= 2,
                "token refreshed after 401"
            );
        }
    }
}

#[tokio::test]
async fn a_next_link_loop_or_a_refusal_fails_clearly_and_the_next_run_resumes() {
    for f in [Fault::NextLinkLoop, Fault::Status(403)] {
        let r = setup(|_| {});
        r.mock.push_fault(Some("directoryAudits"), f.clone());
        let s = collect_once(&r).await;
        assert_eq!(s.incomplete.len(), 1, "{f:?}");
        let msg = &s.incomplete[0].1;
        assert!(msg.contains("nextLink loop") || msg.contains("HTTP 403"), "{msg}");
        let ledger = sql_rows(&r.lake, "SELECT item, error FROM ingest_ledger WHERE NOT complete").await;
        assert_eq!(ledger.len(), 1, "{ledger:?}");
        assert!(ledger[0]["error"].as_str().unwrap().contains(msg.split(':').next().unwrap()));
        // Nothing of an incomplete run is imported yet; the next run finishes it.
        let again = collect_once(&r).await;
        assert!(again.resumed && again.incomplete.is_empty(), "{again:?}");
        assert_lake_equals_mock(&r).await;
    }
}

#[tokio::test]
async fn a_persistent_outage_exhausts_the_retries_with_a_clear_message() {
    let r = setup(|_| {});
    for _ in 0..20 {
        r.mock.push_fault(Some("users"), Fault::Status(503));
    }
    let s = collect_once(&r).await;
    assert_eq!(s.incomplete.len(), 1);
    assert!(
        s.incomplete[0].1.contains("gave up after 7 attempts") && s.incomplete[0].1.contains("HTTP 503"),
        "{:?}",
        s.incomplete
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_without_showing_it() {
    let r = setup(|_| {});
    let mut sec = section(&r.mock, &r.cfg, r.dir.path());
    let bad = write(r.dir.path(), "bad.txt", "not-the-secret-xyz");
    sec.client_secret_file = Some(bad);
    let g = sec.resolve().unwrap();
    let e = g.client().unwrap().tokens().token().await.unwrap_err().to_string();
    assert!(e.contains("invalid_client") && e.contains("AADSTS7000215"), "{e}");
    assert!(!e.contains("not-the-secret-xyz"));
}

pub(crate) fn config_file(r: &Run, extra: &str) -> PathBuf {
    let sec = section(&r.mock, &r.cfg, r.dir.path());
    let text = format!(
        "lake = {:?}\n[graph]\ntenant_id = {:?}\nclient_id = {:?}\nclient_secret_file = {:?}\ngraph_endpoint = {:?}\nauthority_endpoint = {:?}\nrequests_per_window = 5\nwindow_seconds = 0.12\nconcurrency = 4\nstate_dir = {:?}\nservices = {:?}\n{extra}",
        r.dir.path().join("lake").to_string_lossy(),
        sec.tenant_id.unwrap(),
        sec.client_id.unwrap(),
        sec.client_secret_file.unwrap().to_string_lossy(),
        r.mock.base,
        r.mock.base,
        r.dir.path().join("state").to_string_lossy(),
        SERVICES,
    );
    write(r.dir.path(), "sspr.toml", &text)
}

#[tokio::test]
async fn sigkill_at_several_points_then_resume_gives_exactly_the_mock_events() {
    let r = setup(|c| c.page_size = 50);
    let cfg = config_file(&r, "");
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "collect",
        "graph",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-15",
        "--quiet",
    ];
    let checkpoint = r.dir.path().join("state/graph-checkpoint.json");
    let pages_done = || -> u64 {
        std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|v| {
                v["state"]["run"]["slices"]
                    .as_object()
                    .map(|s| s.values().map(|x| x["pages"].as_u64().unwrap_or(0)).sum())
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    let mut last = 0;
    for target in [1u64, 25, 60] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sspr")).args(args).spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while pages_done() < target && std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let now = pages_done();
        assert!(now >= last, "progress is never lost: {now} < {last}");
        last = now;
    }
    let o = sspr(&args, &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("(resumed:") || last == 0, "{:?}", text(&o));
    assert_lake_equals_mock(&r).await;
    assert!(
        !r.dir.path().join("state/graph-spool").read_dir().map(|mut d| d.next().is_some()).unwrap_or(false),
        "spool removed"
    );
}

#[tokio::test]
async fn the_secret_appears_in_no_output_log_ledger_checkpoint_or_lake_file() {
    let r = setup(|_| {});
    r.mock.push_fault(Some("directoryAudits"), Fault::Unauthorized);
    let cfg = config_file(&r, "");
    let o = sspr(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "-vv",
            "collect",
            "graph",
            "--from",
            "2026-11-10",
            "--to",
            "2026-11-12",
        ],
        &[("RUST_LOG", "trace")],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let d = sspr(&["--config", cfg.to_str().unwrap(), "-vv", "doctor"], &[]);
    let (dout, derr) = text(&d);
    let ledger = sspr(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "query",
            "--sql",
            "SELECT * FROM ingest_ledger",
            "--format",
            "csv",
        ],
        &[],
    );
    let mut haystack = vec![out, err, dout, derr, text(&ledger).0];
    for e in walkdir::WalkDir::new(r.dir.path())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
    {
        if e.file_name() != "secret.txt" && e.file_name() != "sspr.toml" {
            haystack.push(String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned());
        }
    }
    for h in &haystack {
        assert!(!h.contains(&r.cfg.client_secret), "the client secret leaked");
        assert!(!h.contains("mock-token-"), "a bearer token leaked");
    }
}

#[tokio::test]
async fn doctor_reports_each_check_with_a_fix() {
    let r = setup(|_| {});
    let cfg = config_file(&r, "");
    let o = sspr(&["--config", cfg.to_str().unwrap(), "doctor", "--json"], &[]);
    let checks: Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = checks.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for n in [
        "config",
        "credential",
        "token",
        "permissions",
        "directoryAudits",
        "userRegistrationDetails",
        "users",
        "roleAssignments",
        "retention",
        "estimate",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let retention = checks.as_array().unwrap().iter().find(|c| c["name"] == "retention").unwrap();
    assert_eq!(retention["ok"], true, "the mock holds events older than 8 days: {retention}");
    assert!(checks.as_array().unwrap().iter().all(|c| c["ok"] == true), "{checks}");
    assert_eq!(o.status.code(), Some(0));
    // A wrong secret is one problem with a fix, and nothing after it is attempted.
    let bad = write(
        r.dir.path(),
        "sspr-bad.toml",
        &std::fs::read_to_string(&cfg).unwrap().replace("secret.txt", "missing.txt"),
    );
    let o = sspr(&["--config", bad.to_str().unwrap(), "doctor"], &[]);
    let (out, _) = text(&o);
    assert!(out.contains("problem") && out.contains("missing.txt"), "{out}");
    assert_eq!(o.status.code(), Some(3));
}

fn fixture(name: &str) -> PathBuf {
    crate::util::repo().join("tests/fixtures/graph").join(name)
}

async fn token_with(r: &Run, sec: GraphSection) -> String {
    let g = sec.resolve().unwrap();
    let client = g.client().unwrap();
    let (page, _) = client.get_page(&format!("{}/v1.0/users?$top=1", r.mock.base)).await.unwrap();
    assert_eq!(page.items, 1);
    client.tokens().token().await.unwrap().expose().to_string()
}

#[tokio::test]
async fn certificate_managed_identity_and_workload_identity_get_tokens() {
    use sspr_analytics::collectors::graph::settings::AuthKind;
    let r = setup(|c| {
        c.certificate_key_pem = Some(std::fs::read_to_string(fixture("test-app.key")).unwrap());
        c.federated_assertion =
            Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c3NwciJ9.c2ln".into());
        c.identity_header = Some("app-service-header".into());
    });
    let base = section(&r.mock, &r.cfg, r.dir.path());
    // Certificate: a JWT client assertion signed with the key, x5t from the certificate.
    let cert = GraphSection {
        auth: AuthKind::Certificate,
        client_secret_file: None,
        certificate_file: Some(fixture("test-app.crt")),
        private_key_file: Some(fixture("test-app.key")),
        ..base.clone()
    };
    assert!(token_with(&r, cert).await.starts_with("mock-token-"));
    // The same key and certificate from a PFX (PKCS#12) file with its password in a file.
    let pass = write(r.dir.path(), "pfx-password", "fixture-password\n");
    let pfx = GraphSection {
        auth: AuthKind::Certificate,
        client_secret_file: None,
        certificate_file: Some(fixture("test-app.pfx")),
        certificate_password_file: Some(pass),
        ..base.clone()
    };
    assert!(token_with(&r, pfx).await.starts_with("mock-token-"));
    let wrong_pass = write(r.dir.path(), "pfx-wrong", "nope");
    let e = GraphSection {
        auth: AuthKind::Certificate,
        client_secret_file: None,
        certificate_file: Some(fixture("test-app.pfx")),
        certificate_password_file: Some(wrong_pass),
        ..base.clone()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(e.contains("test-app.pfx") && e.contains("password"), "{e}");
    // A key that does not match is refused by the token endpoint.
    let other = fixture("other-app.key");
    let wrong = GraphSection {
        auth: AuthKind::Certificate,
        client_secret_file: None,
        certificate_file: Some(fixture("test-app.crt")),
        private_key_file: Some(other),
        ..base.clone()
    };
    let e = wrong.resolve().unwrap().client().unwrap().tokens().token().await.unwrap_err().to_string();
    assert!(e.contains("invalid_client"), "{e}");
    // Workload identity federation: the assertion comes from the token file.
    let file = write(r.dir.path(), "federated-token", r.cfg.federated_assertion.as_deref().unwrap());
    let wif = GraphSection {
        auth: AuthKind::WorkloadIdentity,
        client_secret_file: None,
        federated_token_file: Some(file),
        ..base.clone()
    };
    assert!(token_with(&r, wif).await.starts_with("mock-token-"));
    // Managed identity (an IMDS-style endpoint; string expires_in) with the App Service header.
    let mi = GraphSection {
        auth: AuthKind::ManagedIdentity,
        client_secret_file: None,
        managed_identity_endpoint: Some(format!("{}/metadata/identity/oauth2/token", r.mock.base)),
        ..base.clone()
    };
    let g = mi.resolve().unwrap();
    let sspr_analytics::collectors::graph::auth::Credential::ManagedIdentity { client_id, endpoint, .. } =
        g.credential.clone()
    else {
        panic!()
    };
    let cred = sspr_analytics::collectors::graph::auth::Credential::ManagedIdentity {
        client_id,
        endpoint,
        header: Some(sspr_analytics::collectors::graph::secret::Secret::new("app-service-header")),
    };
    let tokens = sspr_analytics::collectors::graph::auth::TokenProvider::new(
        &g.tenant_id,
        &g.client_id,
        cred,
        g.plan.endpoints.clone(),
        reqwest::Client::new(),
    );
    assert!(tokens.token().await.unwrap().expose().starts_with("mock-token-"));
    // Without the header the identity endpoint refuses, and the error says so.
    let e = g.client().unwrap().tokens().token().await.unwrap_err().to_string();
    assert!(e.contains("invalid_request") && e.contains("metadata"), "{e}");
}

#[test]
fn missing_credentials_are_config_errors_that_name_what_to_set() {
    use sspr_analytics::collectors::graph::settings::AuthKind;
    let base =
        GraphSection { tenant_id: Some("t".into()), client_id: Some("c".into()), ..Default::default() };
    if std::env::var("SSPR_GRAPH_CLIENT_SECRET").is_err() && std::env::var("AZURE_CLIENT_SECRET").is_err() {
        let e = base.resolve().unwrap_err().to_string();
        assert!(e.contains("client_secret_file") && e.contains("SSPR_GRAPH_CLIENT_SECRET"), "{e}");
    }
    let e = GraphSection { auth: AuthKind::Certificate, ..base.clone() }.resolve().unwrap_err().to_string();
    assert!(e.contains("certificate_file"), "{e}");
    let e = GraphSection {
        auth: AuthKind::Certificate,
        certificate_file: Some(fixture("test-app.crt")),
        private_key_file: Some(fixture("README.md")),
        ..base.clone()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(e.contains("README.md") && e.contains("PRIVATE KEY"), "{e}");
    let e = GraphSection { client_secret: Some("x".into()), concurrency: Some(0), ..base.clone() }
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("concurrency"), "{e}");
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire_during_a_long_run() {
    let r = setup(|c| {
        c.token_lifetime = Duration::from_millis(1500);
        c.page_size = 100;
    });
    let s = collect_once(&r).await;
    assert!(s.incomplete.is_empty(), "{:?}", s.incomplete);
    assert_lake_equals_mock(&r).await;
    let tokens = r.mock.stats.token_requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(tokens >= 2, "a run longer than one token lifetime refreshes ({tokens} token requests)");
}

#[tokio::test]
async fn only_the_password_operations_of_core_directory_are_collected() {
    let core = |id: &str, activity: &str| {
        serde_json::json!({"id": id, "activityDateTime": "2026-11-05T10:00:00Z", "loggedByService": "Core Directory",
            "activityDisplayName": activity, "category": "UserManagement", "result": "success", "correlationId": "c"})
    };
    let r = setup(|c| {
        c.audits = vec![
            core("cd-1", "Reset user password"),
            core("cd-2", "Update user"),
            core("cd-3", "Change user password"),
        ];
        c.registrations.clear();
        c.users.clear();
        c.roles.clear();
    });
    let s = collect_with(&r, GraphSection { services: None, ..section(&r.mock, &r.cfg, r.dir.path()) }).await;
    assert!(s.incomplete.is_empty(), "{:?}", s.incomplete);
    let ids = sql_rows(&r.lake, "SELECT id FROM audit_events ORDER BY id").await;
    assert_eq!(ids, vec![serde_json::json!({"id": "cd-1"}), serde_json::json!({"id": "cd-3"})]);
}

/// Issue 19 item 11: a refused credential is not answered with "rerun to resume" alone, and an
/// explicit window asked for while an earlier run is unfinished is refused naming that run's
/// window, instead of being silently ignored.
#[test]
fn a_refused_credential_and_a_pending_window_are_explained() {
    let r = setup(|_| {});
    let cfg = config_file(&r, "");
    let bad = write(r.dir.path(), "secret.txt", "not-the-secret-xyz\n");
    let window = ["--from", "2026-11-01", "--to", "2026-11-03"];
    let mut args = vec!["--config", cfg.to_str().unwrap(), "collect", "graph"];
    args.extend(window);
    let o = sspr(&args, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("The credential was refused") && err.contains("sspr doctor"), "{err}");
    assert!(!err.contains("not-the-secret-xyz"));
    // The pending run owns 2026-11-01 → 2026-11-03; another window is refused, naming it.
    let other = ["--config", cfg.to_str().unwrap(), "collect", "graph", "--from", "-2d"];
    let o = sspr(&other, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2026-11-01T00:00:00+00:00 → 2026-11-03T00:00:00+00:00") && err.contains("unfinished"),
        "{err}"
    );
    // Fixed credential, no window: the pending run finishes.
    std::fs::write(&bad, format!("{}\n", r.cfg.client_secret)).unwrap();
    let o = sspr(&["--config", cfg.to_str().unwrap(), "collect", "graph"], &[]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("(resumed:"), "{:?}", text(&o));
}
