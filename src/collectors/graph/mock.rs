//! A mock of the Graph endpoints the collector calls: a real HTTP/1.1 server on loopback
//! (`127.0.0.1`, an ephemeral port), started by tests and benches. It serves token requests and
//! pages of `directoryAudits`, `userRegistrationDetails` and `users` built from a dataset (e.g.
//! the sample tenant), filters audits on `activityDateTime ge/le` and `loggedByService eq`, and
//! plays scripted faults. It enforces the reporting budget (N served requests per window) by
//! answering 429 past it, and counts the violations so tests can prove the limiter keeps to it.
//! Requests answered 429 (budget or injected) are not served and do not use the budget.

mod pages;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use pages::build_page;

/// A fault the mock plays on the next matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with an optional `Retry-After` (seconds).
    Throttle(Option<u64>),
    /// A plain status (500, 502, 503, 504, 403 …).
    Status(u16),
    /// Headers and half the body, then the connection is closed.
    ResetMidBody,
    /// A 200 whose JSON is cut off (Content-Length matches what is sent).
    TruncatedJson,
    /// Answer after a delay.
    Slow(Duration),
    /// A page with no items but a nextLink to where the real page is.
    EmptyPageWithNextLink,
    /// A nextLink pointing back at the same page (a collector must detect the loop).
    NextLinkLoop,
    /// 401 as if the token had expired.
    Unauthorized,
    /// A page three times the usual size (more items than `$top`).
    LargePage,
}

/// The mock's data and behaviour.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    /// directoryAudit objects (Graph shape), any order.
    pub audits: Vec<Value>,
    pub registrations: Vec<Value>,
    pub users: Vec<Value>,
    /// roleAssignment objects (`$expand=roleDefinition` shape).
    pub roles: Vec<Value>,
    pub page_size: usize,
    /// Requests allowed per window per token (0 disables the check).
    pub budget: usize,
    pub budget_window: Duration,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Probability of an unscripted 429 (for the throughput bench), drawn deterministically.
    pub random_throttle: f64,
    /// Private key (PEM) whose signature client assertions must carry (certificate auth).
    pub certificate_key_pem: Option<String>,
    /// The federated assertion workload-identity requests must present.
    pub federated_assertion: Option<String>,
    /// The `X-IDENTITY-HEADER` an App Service managed-identity request must carry.
    pub identity_header: Option<String>,
    /// Network latency on the way in: each Graph request is held a pseudo-random time up to this
    /// before the server takes its time for the budget, as requests reach Graph late by varying
    /// amounts (zero: none beyond loopback's).
    pub arrival_jitter: Duration,
}

impl MockConfig {
    pub fn new(audits: Vec<Value>) -> Self {
        Self {
            tenant: "contoso-tenant".into(),
            client_id: "app-id".into(),
            client_secret: "s3cr3t-value-never-logged".into(),
            audits,
            registrations: vec![],
            users: vec![],
            roles: vec![],
            page_size: 999,
            budget: 5,
            budget_window: Duration::from_secs(10),
            token_lifetime: Duration::from_secs(3600),
            random_throttle: 0.0,
            certificate_key_pem: None,
            federated_assertion: None,
            identity_header: None,
            arrival_jitter: Duration::ZERO,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    faults: VecDeque<(Option<String>, Fault)>,
    tokens: Vec<(String, Instant)>,
    recent: VecDeque<Instant>,
    issued: u64,
    rng: u64,
}

/// What the mock saw.
#[derive(Debug, Default)]
pub struct MockStats {
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub budget_violations: AtomicU64,
    pub items_served: AtomicU64,
    pub faults_played: AtomicU64,
}

/// A running mock. Dropping it stops the server.
pub struct MockGraph {
    pub base: String,
    pub stats: Arc<MockStats>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl MockGraph {
    /// Starts the server on an ephemeral loopback port.
    pub fn start(cfg: MockConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let mut audits = cfg.audits.clone();
        audits.sort_by_key(time_of);
        let cfg = Arc::new(MockConfig { audits, ..cfg });
        let stats = Arc::new(MockStats::default());
        let state = Arc::new(Mutex::new(State { rng: 0x5eed, ..Default::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        listener.set_nonblocking(true)?;
        {
            let (stats, state, stop, base) = (stats.clone(), state.clone(), stop.clone(), base.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (cfg, stats, state, base) =
                                (cfg.clone(), stats.clone(), state.clone(), base.clone());
                            std::thread::spawn(move || {
                                let _ = serve(stream, &cfg, &stats, &state, &base);
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        Ok(Self { base, stats, state, stop })
    }

    /// Queues a fault for the next request whose path contains `path` (any request when `None`).
    pub fn push_fault(&self, path: Option<&str>, fault: Fault) {
        self.state.lock().expect("mock state").faults.push_back((path.map(str::to_string), fault));
    }
}

impl Drop for MockGraph {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    v["activityDateTime"].as_str().and_then(crate::util::parse_instant)
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Request { method, target, headers, body })
}

fn respond(
    mut s: &TcpStream,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    send: usize,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(&body[..send.min(body.len())])?;
    s.flush()
}

fn error_body(code: &str, message: &str) -> Vec<u8> {
    json!({"error": {"code": code, "message": message}}).to_string().into_bytes()
}

fn serve(
    stream: TcpStream,
    cfg: &MockConfig,
    stats: &MockStats,
    state: &Mutex<State>,
    base: &str,
) -> std::io::Result<()> {
    let req = read_request(&stream)?;
    let nth = stats.requests.fetch_add(1, Ordering::Relaxed);
    let (path, query) = req.target.split_once('?').unwrap_or((req.target.as_str(), ""));
    if req.method == "POST" && path.ends_with("/oauth2/v2.0/token") {
        stats.token_requests.fetch_add(1, Ordering::Relaxed);
        return token(&stream, cfg, state, &req, base);
    }
    if req.method == "GET" && path.ends_with("/metadata/identity/oauth2/token") {
        stats.token_requests.fetch_add(1, Ordering::Relaxed);
        return managed_identity_token(&stream, cfg, state, &req, query);
    }
    if !cfg.arrival_jitter.is_zero() {
        // Seeded by the request's number, so a test that fails fails again.
        std::thread::sleep(cfg.arrival_jitter.mul_f64(crate::rng::Rng::new(nth).f64()));
    }
    // Bearer check.
    let auth = req
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.trim_start_matches("Bearer ").to_string());
    let fault = {
        let mut st = state.lock().expect("mock state");
        let now = Instant::now();
        let valid = auth.as_ref().is_some_and(|t| st.tokens.iter().any(|(k, exp)| k == t && *exp > now));
        if !valid {
            drop(st);
            return respond(
                &stream,
                401,
                &[],
                &error_body("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
                usize::MAX,
            );
        }
        if cfg.budget > 0 {
            while st.recent.front().is_some_and(|t| now.duration_since(*t) >= cfg.budget_window) {
                st.recent.pop_front();
            }
            if st.recent.len() >= cfg.budget {
                stats.budget_violations.fetch_add(1, Ordering::Relaxed);
                drop(st);
                return respond(
                    &stream,
                    429,
                    &[],
                    &error_body("TooManyRequests", "Too many requests."),
                    usize::MAX,
                );
            }
            st.recent.push_back(now);
        }
        let i = st.faults.iter().position(|(p, _)| p.as_ref().is_none_or(|p| path.contains(p.as_str())));
        let scripted = i.and_then(|i| st.faults.remove(i)).map(|(_, f)| f);
        scripted.or_else(|| {
            if cfg.random_throttle > 0.0 {
                st.rng = st.rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((st.rng >> 11) as f64 / (1u64 << 53) as f64) < cfg.random_throttle
            } else {
                false
            }
            .then_some(Fault::Throttle(None))
        })
    };
    let scale = if fault == Some(Fault::LargePage) { 3 } else { 1 };
    let page = build_page(cfg, path, query, base, scale);
    let Some((body, items)) = page else {
        return respond(
            &stream,
            404,
            &[],
            &error_body("Request_ResourceNotFound", "Unknown resource."),
            usize::MAX,
        );
    };
    if let Some(f) = fault {
        stats.faults_played.fetch_add(1, Ordering::Relaxed);
        match f {
            Fault::Throttle(ra) => {
                // A throttled request was not served: it does not use the budget.
                state.lock().expect("mock state").recent.pop_back();
                let extra: Vec<(&str, String)> =
                    ra.map(|s| vec![("Retry-After", s.to_string())]).unwrap_or_default();
                return respond(
                    &stream,
                    429,
                    &extra,
                    &error_body("TooManyRequests", "Too many requests."),
                    usize::MAX,
                );
            }
            Fault::Status(s) => {
                return respond(&stream, s, &[], &error_body("ServiceUnavailable", "Try later."), usize::MAX);
            }
            Fault::Unauthorized => {
                return respond(
                    &stream,
                    401,
                    &[],
                    &error_body("InvalidAuthenticationToken", "Access token has expired."),
                    usize::MAX,
                );
            }
            Fault::ResetMidBody => {
                respond(&stream, 200, &[], &body, body.len() / 2)?;
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            Fault::TruncatedJson => {
                let cut = &body[..body.len() / 2];
                return respond(&stream, 200, &[], cut, usize::MAX);
            }
            Fault::Slow(d) => std::thread::sleep(d),
            Fault::LargePage => {}
            Fault::EmptyPageWithNextLink => {
                // A new link (as Graph's would carry a new skiptoken) that leads to the real page.
                let sep = if req.target.contains('?') { '&' } else { '?' };
                let here = format!(
                    "{base}{}{sep}emptyhop={}",
                    req.target,
                    stats.faults_played.load(Ordering::Relaxed)
                );
                let empty = json!({"value": [], "@odata.nextLink": here}).to_string();
                return respond(&stream, 200, &[], empty.as_bytes(), usize::MAX);
            }
            Fault::NextLinkLoop => {
                let mut v: Value = serde_json::from_slice(&body).unwrap_or_default();
                v["@odata.nextLink"] = json!(format!("{base}{}", req.target));
                return respond(&stream, 200, &[], v.to_string().as_bytes(), usize::MAX);
            }
        }
    }
    stats.items_served.fetch_add(items as u64, Ordering::Relaxed);
    respond(&stream, 200, &[], &body, usize::MAX)
}

fn token(
    stream: &TcpStream,
    cfg: &MockConfig,
    state: &Mutex<State>,
    req: &Request,
    base: &str,
) -> std::io::Result<()> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let ok_client = get("client_id") == Some(cfg.client_id.as_str());
    let assertion = get("client_assertion").filter(|_| {
        get("client_assertion_type") == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    });
    let audience = format!("{base}/{}/oauth2/v2.0/token", cfg.tenant);
    let ok_credential = get("client_secret") == Some(cfg.client_secret.as_str())
        || assertion.is_some_and(|a| cfg.federated_assertion.as_deref() == Some(a))
        || assertion.zip(cfg.certificate_key_pem.as_ref()).is_some_and(|(a, key)| {
            crate::collectors::graph::auth::verify_assertion(
                a,
                &crate::collectors::graph::secret::Secret::new(key.clone()),
            )
            .is_ok_and(|c| {
                c["aud"] == audience.as_str()
                    && c["iss"] == cfg.client_id.as_str()
                    && c["sub"] == cfg.client_id.as_str()
            })
        });
    if get("grant_type") != Some("client_credentials") || !ok_client || !ok_credential {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215]});
        return respond(stream, 401, &[], body.to_string().as_bytes(), usize::MAX);
    }
    issue(stream, cfg, state, cfg.token_lifetime.as_secs().into())
}

/// IMDS / App Service managed identity: `Metadata: true`, `resource`, optional identity header.
fn managed_identity_token(
    stream: &TcpStream,
    cfg: &MockConfig,
    state: &Mutex<State>,
    req: &Request,
    query: &str,
) -> std::io::Result<()> {
    let header = |k: &str| req.headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let has_resource = params.iter().any(|(k, v)| k == "resource" && v.starts_with("https://"));
    let header_ok = cfg.identity_header.as_deref().is_none_or(|h| header("x-identity-header") == Some(h));
    if header("metadata") != Some("true") || !has_resource || !header_ok {
        let body = json!({"error": "invalid_request", "error_description": "Required metadata header not specified"});
        return respond(stream, 400, &[], body.to_string().as_bytes(), usize::MAX);
    }
    // Managed identity sends expires_in as a string.
    issue(stream, cfg, state, json!(cfg.token_lifetime.as_secs().to_string()))
}

fn issue(
    stream: &TcpStream,
    cfg: &MockConfig,
    state: &Mutex<State>,
    expires_in: Value,
) -> std::io::Result<()> {
    let mut st = state.lock().expect("mock state");
    st.issued += 1;
    let tok = format!("mock-token-{}", st.issued);
    st.tokens.push((tok.clone(), Instant::now() + cfg.token_lifetime));
    let body = json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": tok});
    respond(stream, 200, &[], body.to_string().as_bytes(), usize::MAX)
}
