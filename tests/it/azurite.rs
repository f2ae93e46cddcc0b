//! Issue 22 item 4: the lake and the export on Azure Blob Storage for real, against Azurite (the
//! storage emulator, from npm; `.ci/run` installs it) started by these tests on loopback, each test
//! with its own instance and container. The binary reaches it the way a user's shell does: the
//! standard `AZURE_STORAGE_USE_EMULATOR` that `object_store` reads, and Azurite's blob URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

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
    /// `http`, or `https` with OAuth (bearer tokens) accepted beside SharedKey.
    scheme: &'static str,
}

impl Azurite {
    fn start() -> Self {
        Self::start_with(&["--loose"], "http")
    }

    /// Over HTTPS with a self-signed certificate for 127.0.0.1 (made with `openssl`), accepting
    /// bearer tokens: Azurite's `--oauth basic` checks a token's lifetime, issuer and audience
    /// (not its signature), and only over HTTPS.
    fn start_oauth(dir: &std::path::Path) -> Self {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let o = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl (.ci/run installs it)");
        assert!(o.status.success(), "openssl: {}", String::from_utf8_lossy(&o.stderr));
        let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
        Self::start_with(&["--oauth", "basic", "--cert", &cert, "--key", &key], "https")
    }

    /// Azurite picks its own port (`--blobPort 0`) and says which on stdout. Picking a free port
    /// here and passing it raced: between our probe and Azurite's bind another test's Azurite
    /// could take it, this one exited on "address in use", and the readiness check connected to
    /// the other instance, whose test then stopped it under this one.
    fn start_with(extra: &[&str], scheme: &'static str) -> Self {
        let mut child = Command::new(azurite_bin())
            .args(["--silent", "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry"])
            .args(extra)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            // Read to the end, so Azurite never blocks on a full pipe.
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("successfully listens on ").nth(1) {
                    let _ = tx.send(rest.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok()));
                }
            }
        });
        let port =
            rx.recv_timeout(Duration::from_secs(30)).ok().flatten().unwrap_or_else(|| {
                panic!("Azurite did not say it listens within 30 s ({:?})", child.try_wait())
            });
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok(), "Azurite listens on {port}");
        Self { child, port, scheme }
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
        let url = format!("{}://127.0.0.1:{}/{ACCOUNT}/{name}?restype=container", self.scheme, self.port);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = rt.block_on(async {
            // The certificate of `start_oauth` is self-signed: this request is to loopback only.
            let client = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
            let reply = client
                .put(&url)
                .header("x-ms-date", &date)
                .header("x-ms-version", version)
                .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
                .header("Content-Length", "0")
                .send()
                .await
                .unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap_or_default())
        });
        assert_eq!(status.0, 201, "create container {name}: {}", status.1);
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
/// local sample lake; the export is complete, incremental, readable as a lake, and read by
/// pyarrow and DuckDB with the profile a local export has.
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
    // pyarrow reads every exported table from the account itself, DuckDB a copy of it: the same
    // Power BI-safe profile and the manifest's rows as a local export (issue 22: "the same export
    // to Azurite passes the same checks").
    let tables = crate::export::profile(&export_lake, Some(az.port));
    assert_eq!(tables.len(), second["tables"].as_array().unwrap().len());
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
    let run = |cfg: &std::path::Path, args: &[&str]| with_config(cfg, args, &[]);
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
    // An account SAS (read and list) in a file instead of the key: reads work, a write is
    // refused by the service.
    let sas_file = dir.path().join("account.sas");
    std::fs::write(&sas_file, format!("?{}\n", account_sas("rl"))).unwrap();
    let sas_cfg = dir.path().join("sas.toml");
    std::fs::write(
        &sas_cfg,
        format!(
            "lake = \"az://cfg/lake\"\n[storage]\naccount = \"{ACCOUNT}\"\nsas_token_file = \"{}\"\nendpoint = \"http://127.0.0.1:{}/{ACCOUNT}\"\n",
            sas_file.display(),
            az.port
        ),
    )
    .unwrap();
    let by_sas = ok(&run(&sas_cfg, &["lake", "stats", "--format", "json"]));
    assert_eq!(by_sas, stats, "the same lake through the SAS");
    let write = run(&sas_cfg, &["-q", "import", "--no-build", &graph]);
    let (_, err) = text(&write);
    assert!(!write.status.success() && err.contains("403"), "a read-only SAS cannot write: {err}");
    std::fs::write(&key_file, KEY.replace('E', "F")).unwrap();
    let wrong = run(&cfg, &["lake", "stats"]);
    assert!(!wrong.status.success(), "a wrong key is refused: {:?}", text(&wrong));
}

/// Runs `sspr --config CFG ARGS` with only the config's credentials (and `env`), not the
/// emulator's.
fn with_config(cfg: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sspr"));
    c.arg("--config").arg(cfg).args(args).env_remove("SSPR_LAKE").env_remove("AZURE_STORAGE_USE_EMULATOR");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// An account SAS for the emulator's account (blob service; service, container and object
/// level) with `permissions`, valid for an hour, signed with its key as the service checks it.
fn account_sas(permissions: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (version, expiry) =
        ("2021-08-06", (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"));
    let to_sign = format!("{ACCOUNT}\n{permissions}\nb\nsco\n\n{expiry}\n\n\n{version}\n\n");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &b64.decode(KEY).unwrap());
    let signature = b64.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", version)
        .append_pair("ss", "b")
        .append_pair("srt", "sco")
        .append_pair("sp", permissions)
        .append_pair("se", &expiry.to_string())
        .append_pair("sig", &signature)
        .finish();
    q
}

const TENANT: &str = "6f1c0e8a-2b7d-4c55-9a3e-1d2f3a4b5c6d";
const APP: &str = "3c9a1f70-aaaa-4bbb-8ccc-0123456789ab";
const SECRET: &str = "app-secret-from-a-file";
const IDENTITY: &str = "9e8d7c6b-1111-4222-8333-444455556666";

/// A loopback stand-in for Entra ID's two token services that `object_store` asks for a storage
/// token: the client-credentials endpoint (`{authority}/{tenant}/oauth2/v2.0/token`) and the
/// managed-identity endpoint (IMDS). It answers as they do, with a JWT for
/// `https://storage.azure.com` that Azurite's `--oauth basic` accepts, and logs each request.
struct TokenService {
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TokenService {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Ok(line) = answer_token_request(stream) {
                    seen.lock().unwrap().push(line);
                }
            }
        });
        Self { port, log }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// A token as Entra ID shapes one (header, claims, signature), for `audience`.
fn jwt(audience: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "aud": audience, "iss": format!("https://sts.windows.net/{TENANT}/"), "tid": TENANT,
        "iat": now - 60, "nbf": now - 60, "exp": now + 3600, "oid": APP, "ver": "1.0",
    });
    format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64.encode(claims.to_string()),
        b64.encode(b"not-checked-by-azurite")
    )
}

/// Answers one request; returns the line the log keeps (method, path and who asked).
fn answer_token_request(stream: TcpStream) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let (mut length, mut metadata) = (0usize, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((h, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "metadata" => metadata = value.trim() == "true",
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let form = |s: &[u8]| -> std::collections::HashMap<String, String> {
        url::form_urlencoded::parse(s).into_owned().collect()
    };
    let now = chrono::Utc::now().timestamp();
    let (status, reply, who) = if method == "POST" && path == format!("/{TENANT}/oauth2/v2.0/token") {
        let f = form(&body);
        let who = f.get("client_id").cloned().unwrap_or_default();
        let good = who == APP
            && f.get("client_secret").map(String::as_str) == Some(SECRET)
            && f.get("grant_type").map(String::as_str) == Some("client_credentials")
            && f.get("scope").map(String::as_str) == Some("https://storage.azure.com/.default");
        if good {
            let token = jwt("https://storage.azure.com");
            (
                "200 OK",
                serde_json::json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}),
                who,
            )
        } else {
            let e = "AADSTS7000215: Invalid client secret provided.";
            ("401 Unauthorized", serde_json::json!({"error": "invalid_client", "error_description": e}), who)
        }
    } else if method == "GET" && path == "/msi" && metadata {
        let q = form(query.as_bytes());
        let who = q.get("client_id").cloned().unwrap_or_default();
        // Another identity gets a token for another resource, which the storage service refuses.
        let audience = if who == IDENTITY { "https://storage.azure.com" } else { "https://vault.azure.net" };
        let ok = q.get("resource").map(String::as_str) == Some("https://storage.azure.com");
        let token = jwt(audience);
        let expires = (now + 3600).to_string();
        let reply = serde_json::json!({"access_token": token, "expires_on": expires, "token_type": "Bearer"});
        (if ok { "200 OK" } else { "400 Bad Request" }, reply, who)
    } else {
        ("404 Not Found", serde_json::json!({"error": "not_found"}), String::new())
    };
    let reply = reply.to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    Ok(format!("{method} {path} {who} {}", &status[..3]))
}

/// Issue 22 item 4's other two credentials, an app registration's client secret and a managed
/// identity, both from the config's `[storage]` section: `object_store` fetches a bearer token
/// from the (loopback) token service and Azurite, over HTTPS with OAuth on, accepts it. A wrong
/// secret is refused by the token service, and a token for another resource by the storage
/// service, each with a non-zero exit that says so.
#[test]
fn a_client_secret_and_a_managed_identity_reach_storage_with_bearer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let az = Azurite::start_oauth(dir.path());
    az.create_container("oauth");
    let tokens = TokenService::start();
    let secret_file = dir.path().join("client.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let endpoint = format!("https://127.0.0.1:{}/{ACCOUNT}", az.port);
    let write_config = |name: &str, credential: &str| {
        let p = dir.path().join(name);
        let text = format!(
            "lake = \"az://oauth/lake\"\n[storage]\naccount = \"{ACCOUNT}\"\nendpoint = \"{endpoint}\"\n{credential}"
        );
        std::fs::write(&p, text).unwrap();
        p
    };
    let app = write_config(
        "app.toml",
        &format!(
            "client_id = \"{APP}\"\ntenant_id = \"{TENANT}\"\nclient_secret_file = \"{}\"\nauthority_host = \"{}\"\n",
            secret_file.display(),
            tokens.url()
        ),
    );
    let identity = write_config("identity.toml", &format!("managed_identity_client_id = \"{IDENTITY}\"\n"));
    let stranger = write_config("stranger.toml", "managed_identity_client_id = \"someone-else\"\n");
    // Azurite's certificate is self-signed, and the token service is plain HTTP on loopback:
    // both only in this test.
    let env = [
        ("AZURE_ALLOW_INVALID_CERTIFICATES", "true".to_string()),
        ("AZURE_ALLOW_HTTP", "true".to_string()),
        ("AZURE_MSI_ENDPOINT", format!("{}/msi", tokens.url())),
    ];
    let run = |cfg: &std::path::Path, args: &[&str]| with_config(cfg, args, &env);
    let graph = repo().join("sample-data/graph").to_string_lossy().into_owned();
    ok(&run(&app, &["-q", "import", &graph]));
    let by_app = ok(&run(&app, &["-q", "query", "reset_success_daily", "--format", "json"]));
    let by_identity = ok(&run(&identity, &["-q", "query", "reset_success_daily", "--format", "json"]));
    assert_eq!(by_app, by_identity, "one lake, whichever credential reads it");
    assert!(by_app.contains("succeeded"), "{by_app}");
    let log = tokens.log();
    assert!(log.iter().any(|l| l == &format!("POST /{TENANT}/oauth2/v2.0/token {APP} 200")), "{log:?}");
    assert!(log.iter().any(|l| l == &format!("GET /msi {IDENTITY} 200")), "{log:?}");
    // A wrong secret: the token service refuses it, and the error says what was refused.
    std::fs::write(&secret_file, "not-the-secret").unwrap();
    let refused = run(&app, &["lake", "stats"]);
    let (_, err) = text(&refused);
    assert!(!refused.status.success(), "{err}");
    assert!(err.contains("AADSTS7000215") || err.contains("401"), "{err}");
    // A token for another resource: the storage service refuses it.
    let refused = run(&stranger, &["lake", "stats"]);
    let (_, err) = text(&refused);
    assert!(!refused.status.success(), "{err}");
    assert!(err.contains("403") || err.to_ascii_lowercase().contains("audience"), "{err}");
}
