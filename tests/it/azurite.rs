//! Issue 22 item 4: the lake and the export on Azure Blob Storage for real, against Azurite (the
//! storage emulator, from npm; `.ci/run` installs it) started by these tests on loopback, each test
//! with its own instance and container. The binary reaches it the way a user's shell does: the
//! standard `AZURE_STORAGE_USE_EMULATOR` that `object_store` reads, and Azurite's blob URL.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{repo, sample_exports, text};

/// The emulator's well-known account and key (public, documented by Microsoft).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where `.ci/run` installs Azurite (`npm install --prefix`), unless `SSPR_AZURITE` names the
/// `azurite-blob` program.
fn azurite_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SSPR_AZURITE") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let p = PathBuf::from(home).join(".cache/sspr-analytics/azurite/node_modules/.bin/azurite-blob");
    assert!(
        p.exists(),
        "{} is missing: install Azurite as the README's test command does (npm install --prefix ~/.cache/sspr-analytics/azurite azurite@3.35.0)",
        p.display()
    );
    p
}

/// A running Azurite blob service on a free loopback port, stopped when dropped.
struct Azurite {
    child: Child,
    port: u16,
}

impl Azurite {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(azurite_bin())
            .args([
                "--silent",
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
            ])
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Azurite did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }

    /// The environment that points `object_store` (and so `sspr`) at this instance.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURITE_BLOB_STORAGE_URL", format!("http://127.0.0.1:{}", self.port)),
        ]
    }

    /// Creates a container with a SharedKey-signed request (object_store has no call for it).
    fn create_container(&self, name: &str) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container",
            "\n".repeat(12)
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &b64.decode(KEY).unwrap());
        let signature = b64.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
        let request = format!(
            "PUT /{ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {ACCOUNT}:{signature}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 201"), "create container {name}: {reply}");
    }

    /// Runs `sspr` against this instance.
    fn sspr(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sspr"));
        c.args(args).env_remove("SSPR_LAKE").env_remove("SSPR_CONFIG");
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(o.status.success(), "exit {:?}: {err}", o.status.code());
    out
}

/// Import (with its build), query, verify and export on `az://`, and the same answers as the
/// local sample lake; the export is complete, incremental, and readable as a lake.
#[test]
fn the_lake_and_the_export_round_trip_on_azure_blob() {
    let az = Azurite::start();
    az.create_container("sspr");
    let lake = "az://sspr/lake";
    let paths: Vec<String> = sample_exports().iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let mut args = vec!["--lake", lake, "import"];
    args.extend(paths.iter().map(String::as_str));
    ok(&az.sspr(&args));
    let on_azure = ok(&az.sspr(&["--lake", lake, "-q", "query", "reset_success_daily", "--format", "json"]));
    let local = crate::util::sspr(
        &[
            "--lake",
            &crate::util::shared_lake_arg(),
            "-q",
            "query",
            "reset_success_daily",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(on_azure, text(&local).0, "the same rows from Azure Blob as from the local lake");
    let verify = ok(&az.sspr(&["--lake", lake, "lake", "verify"]));
    assert!(verify.starts_with("ok:"), "{verify}");
    // Export to the same account, twice (the second incremental).
    let first: serde_json::Value = serde_json::from_str(&ok(&az.sspr(&[
        "--lake",
        lake,
        "export",
        "--to",
        "az://sspr/export",
        "--json",
    ])))
    .unwrap();
    let second: serde_json::Value = serde_json::from_str(&ok(&az.sspr(&[
        "--lake",
        lake,
        "export",
        "--to",
        "az://sspr/export",
        "--since",
        "last",
        "--json",
    ])))
    .unwrap();
    let files = |m: &serde_json::Value| -> Vec<serde_json::Value> {
        m["tables"].as_array().unwrap().iter().flat_map(|t| t["files"].as_array().unwrap().clone()).collect()
    };
    let carried = files(&second).iter().filter(|f| f["carried"] == true).count();
    let references = second["tables"].as_array().unwrap().iter().filter(|t| t["kind"] == "reference").count();
    assert_eq!(
        carried,
        files(&second).len() - references,
        "nothing changed: every lake partition is carried"
    );
    // The export is itself a readable lake: its derived tables have the manifest's rows.
    let export_lake = format!("az://sspr/export/{}", second["export_id"].as_str().unwrap());
    for t in second["tables"].as_array().unwrap().iter().filter(|t| t["kind"] == "derived") {
        let sql = format!("SELECT count(*) AS n FROM {}", t["name"].as_str().unwrap());
        let n = ok(&az.sspr(&["--lake", &export_lake, "-q", "query", "--sql", &sql, "--format", "json"]));
        let n: serde_json::Value = serde_json::from_str(&n).unwrap();
        assert_eq!(n[0]["n"], t["rows"], "{}", t["name"]);
    }
    assert_ne!(first["export_id"], second["export_id"]);
}

/// The writer lock on Azure: of two imports started together one is refused (exit 4, naming the
/// holder) and the other lands; an export that fails part-way leaves neither a lock nor a
/// visible export behind.
#[test]
fn one_writer_at_a_time_and_a_failed_writer_leaves_no_lock() {
    let az = Azurite::start();
    az.create_container("locks");
    let lake = "az://locks/lake";
    let graph = repo().join("sample-data/graph").to_string_lossy().into_owned();
    let spawn = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sspr"));
        c.args(["--lake", lake, "-q", "import", "--no-build", &graph]).env_remove("SSPR_LAKE");
        for (k, v) in az.env() {
            c.env(k, v);
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(codes, [Some(0), Some(4)], "one lands, one is refused: {:?} / {:?}", text(&a), text(&b));
    let refused = if a.status.code() == Some(4) { &a } else { &b };
    assert!(text(refused).1.contains("pid"), "the refusal names the holder: {:?}", text(refused));
    let unlock = ok(&az.sspr(&["--lake", lake, "lake", "unlock"]));
    assert!(unlock.contains("not locked"), "the writer released it: {unlock}");
    // An export whose lake has a file that is not Parquet fails part-way through the writing.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("lake");
    let o = Command::new("cp").arg("-a").arg(crate::util::shared_lake_arg()).arg(&local).output().unwrap();
    assert!(o.status.success());
    let victim =
        std::fs::read_dir(local.join("writeback_operations")).unwrap().flatten().last().unwrap().path();
    std::fs::write(victim.join("part-0.parquet"), b"not parquet").unwrap();
    let failed = az.sspr(&["--lake", local.to_str().unwrap(), "export", "--to", "az://locks/export"]);
    let (_, err) = text(&failed);
    assert!(!failed.status.success() && err.contains("part-0.parquet"), "{err}");
    let unlock = ok(&az.sspr(&["--lake", "az://locks/export", "lake", "unlock"]));
    assert!(unlock.contains("not locked"), "the failed export released its lock: {unlock}");
    // Nothing names the half-written export: an incremental export after the fix starts afresh.
    std::fs::copy(
        std::path::Path::new(&crate::util::shared_lake_arg())
            .join("writeback_operations")
            .join(victim.file_name().unwrap())
            .join("part-0.parquet"),
        victim.join("part-0.parquet"),
    )
    .unwrap();
    let after: serde_json::Value = serde_json::from_str(&ok(&az.sspr(&[
        "--lake",
        local.to_str().unwrap(),
        "export",
        "--to",
        "az://locks/export",
        "--since",
        "last",
        "--json",
    ])))
    .unwrap();
    let carried = after["tables"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["files"].as_array().unwrap().clone())
        .filter(|f| f["carried"] == true)
        .count();
    assert_eq!(carried, 0, "the failed export was never current, so nothing is carried from it");
}

/// Credentials from the config's `[storage]` section, no environment: the account and a key
/// file, against Azurite's endpoint, signed as for a real account (not emulator mode); a key file
/// that is missing is an error naming it, and a wrong key is refused by the service.
#[test]
fn the_config_file_carries_the_account_and_its_key() {
    let az = Azurite::start();
    az.create_container("cfg");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("account.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let config = |key_file: &std::path::Path| {
        let p = dir.path().join("sspr.toml");
        std::fs::write(
            &p,
            format!(
                "lake = \"az://cfg/lake\"\n[storage]\naccount = \"{ACCOUNT}\"\naccess_key_file = \"{}\"\nendpoint = \"http://127.0.0.1:{}/{ACCOUNT}\"\n",
                key_file.display(),
                az.port
            ),
        )
        .unwrap();
        p
    };
    let run = |cfg: &std::path::Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sspr"))
            .arg("--config")
            .arg(cfg)
            .args(args)
            .env_remove("SSPR_LAKE")
            .env_remove("AZURE_STORAGE_USE_EMULATOR")
            .output()
            .unwrap()
    };
    let cfg = config(&key_file);
    let graph = repo().join("sample-data/graph").to_string_lossy().into_owned();
    ok(&run(&cfg, &["-q", "import", &graph]));
    let stats = ok(&run(&cfg, &["lake", "stats", "--format", "json"]));
    assert!(stats.contains("audit_events"), "{stats}");
    let missing = run(&config(&dir.path().join("nope.key")), &["lake", "stats"]);
    let (_, err) = text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nope.key") && err.contains("storage.access_key_file") && err.contains("sspr.toml"),
        "{err}"
    );
    std::fs::write(&key_file, KEY.replace('E', "F")).unwrap();
    let wrong = run(&cfg, &["lake", "stats"]);
    assert!(!wrong.status.success(), "a wrong key is refused: {:?}", text(&wrong));
}
