//! The `[graph]` section of the config file, resolved with the environment into a client and a
//! collection plan. Secrets come from a file, an environment variable or the config file, never
//! from the command line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::collectors::graph::auth::{Credential, TokenProvider};
use crate::collectors::graph::client::{GraphClient, http_client};
use crate::collectors::graph::cloud::{Cloud, Endpoints};
use crate::collectors::graph::limiter::RateLimiter;
use crate::collectors::graph::plan::{
    CollectPlan, DEFAULT_TIMEOUT, default_plan, default_services, parse_span,
};
use crate::collectors::graph::retry::RetryPolicy;
use crate::collectors::graph::secret::Secret;
use crate::error::{Error, Result};

/// Most slices in flight at once; the rate limiter is what bounds requests.
const MAX_CONCURRENCY: usize = 32;
/// How late a request may reach Graph after its send, by default: the limiter counts each place
/// from then (or from the answer, if sooner). Half a second covers the one-way latency of an
/// internet path with room to spare, and lengthens Graph's 10-second window by at most 5 %.
const DEFAULT_ARRIVAL_MARGIN: f64 = 0.5;
/// Environment variables read for the client secret, in order.
const SECRET_ENV: &[&str] = &["SSPR_GRAPH_CLIENT_SECRET", "AZURE_CLIENT_SECRET"];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    #[default]
    ClientSecret,
    Certificate,
    ManagedIdentity,
    WorkloadIdentity,
}

/// `[graph]` as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSection {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    #[serde(default)]
    pub auth: AuthKind,
    /// Discouraged (prefer a file or the environment) but accepted: the config file is a secret store too.
    pub client_secret: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
    /// Password of a `.pfx` / `.p12` certificate_file (or SSPR_GRAPH_CERTIFICATE_PASSWORD).
    pub certificate_password_file: Option<PathBuf>,
    pub managed_identity_client_id: Option<String>,
    pub managed_identity_endpoint: Option<String>,
    pub federated_token_file: Option<PathBuf>,
    #[serde(default)]
    pub cloud: Cloud,
    pub graph_endpoint: Option<String>,
    pub authority_endpoint: Option<String>,
    pub services: Option<Vec<String>>,
    pub requests_per_window: Option<usize>,
    pub window_seconds: Option<f64>,
    /// How late a request may reach Graph after we send it (default 0.5 s; see README).
    pub arrival_margin_seconds: Option<f64>,
    pub concurrency: Option<usize>,
    pub slice_hours: Option<i64>,
    pub overlap: Option<String>,
    pub lag: Option<String>,
    pub initial_lookback: Option<String>,
    pub max_retries: Option<u32>,
    pub retry_budget: Option<u32>,
    pub timeout_seconds: Option<u64>,
    pub beta_audits: Option<bool>,
    pub registration: Option<bool>,
    pub users: Option<bool>,
    /// Collect the directory role assignments snapshot (default true).
    pub roles: Option<bool>,
    pub state_dir: Option<PathBuf>,
    /// Give a 429's limiter slot back (default true; see README).
    pub refund_throttled: Option<bool>,
}

/// Everything a collection needs, validated.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    pub plan: CollectPlan,
    pub requests_per_window: usize,
    pub window: Duration,
    pub arrival_margin: Duration,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub state_dir: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl GraphSection {
    /// Validates the section and reads the credential material.
    pub fn resolve(&self) -> Result<GraphSettings> {
        let cfg = |m: String| Error::Config(format!("[graph] {m}"));
        let tenant_id = self.tenant_id.clone().or_else(|| env("AZURE_TENANT_ID")).unwrap_or_default();
        let client_id = self.client_id.clone().or_else(|| env("AZURE_CLIENT_ID")).unwrap_or_default();
        if tenant_id.is_empty() && self.auth != AuthKind::ManagedIdentity {
            return Err(cfg("tenant_id is missing (or set AZURE_TENANT_ID)".into()));
        }
        if client_id.is_empty() && self.auth != AuthKind::ManagedIdentity {
            return Err(cfg("client_id is missing (or set AZURE_CLIENT_ID)".into()));
        }
        let credential = match self.auth {
            AuthKind::ClientSecret => {
                let secret = if let Some(f) = &self.client_secret_file {
                    Secret::from_file(f)?
                } else if let Some(v) = SECRET_ENV.iter().find_map(|n| env(n)) {
                    Secret::new(v)
                } else if let Some(v) = &self.client_secret {
                    Secret::new(v.clone())
                } else {
                    return Err(cfg(format!(
                        "no client secret: set client_secret_file, or {}",
                        SECRET_ENV.join(" or ")
                    )));
                };
                if secret.is_empty() {
                    return Err(cfg("the client secret is empty".into()));
                }
                Credential::ClientSecret { secret }
            }
            AuthKind::Certificate => {
                let cert = self
                    .certificate_file
                    .as_ref()
                    .ok_or_else(|| cfg("certificate_file is missing".into()))?;
                let is_pfx = cert
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| x.eq_ignore_ascii_case("pfx") || x.eq_ignore_ascii_case("p12"));
                let (key_pem, cert_pem, key) = if is_pfx {
                    let password = match &self.certificate_password_file {
                        Some(f) => Secret::from_file(f)?,
                        None => Secret::new(env("SSPR_GRAPH_CERTIFICATE_PASSWORD").unwrap_or_default()),
                    };
                    let (k, c) =
                        read_pfx(cert, &password).map_err(|m| cfg(format!("{}: {m}", cert.display())))?;
                    (k, c, cert.clone())
                } else {
                    let key = self.private_key_file.clone().unwrap_or_else(|| cert.clone());
                    let cert_pem = std::fs::read_to_string(cert).map_err(|e| Error::io(cert, e))?;
                    (Secret::from_file(&key)?, cert_pem, key)
                };
                // Fail now, with the file named, rather than at the first token request.
                crate::collectors::graph::auth::client_assertion(&client_id, "check", &key_pem, &cert_pem)
                    .map_err(|e| cfg(format!("{} / {}: {e}", cert.display(), key.display())))?;
                Credential::Certificate { key_pem, cert_pem }
            }
            AuthKind::ManagedIdentity => Credential::ManagedIdentity {
                client_id: self
                    .managed_identity_client_id
                    .clone()
                    .or_else(|| (!client_id.is_empty()).then(|| client_id.clone())),
                endpoint: self.managed_identity_endpoint.clone(),
                header: None,
            },
            AuthKind::WorkloadIdentity => {
                let token_file = self
                    .federated_token_file
                    .clone()
                    .or_else(|| env("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from))
                    .ok_or_else(|| {
                        cfg("federated_token_file is missing (or set AZURE_FEDERATED_TOKEN_FILE)".into())
                    })?;
                if !token_file.is_file() {
                    return Err(cfg(format!("federated token file {} does not exist", token_file.display())));
                }
                Credential::WorkloadIdentity { token_file }
            }
        };
        for (key, value) in
            [("graph_endpoint", &self.graph_endpoint), ("authority_endpoint", &self.authority_endpoint)]
        {
            if let Some(v) = value {
                check_endpoint(v).map_err(|m| cfg(format!("{key} = {v:?}: {m}")))?;
            }
        }
        let endpoints =
            Endpoints::new(self.cloud, self.authority_endpoint.as_deref(), self.graph_endpoint.as_deref());
        let mut plan = default_plan(endpoints);
        if let Some(s) = &self.services {
            if s.is_empty() {
                return Err(cfg("services must name at least one loggedByService".into()));
            }
            plan.services = s.clone();
        } else {
            plan.services = default_services();
        }
        let span = |v: &Option<String>, d: chrono::Duration| {
            v.as_deref().map(parse_span).transpose().map(|x| x.unwrap_or(d)).map_err(cfg)
        };
        plan.overlap = span(&self.overlap, plan.overlap)?;
        plan.lag = span(&self.lag, plan.lag)?;
        plan.initial_lookback = span(&self.initial_lookback, plan.initial_lookback)?;
        if let Some(h) = self.slice_hours {
            if !(1..=24 * 31).contains(&h) {
                return Err(cfg("slice_hours must be 1..744".into()));
            }
            plan.slice = chrono::Duration::hours(h);
        }
        if let Some(c) = self.concurrency {
            if !(1..=MAX_CONCURRENCY).contains(&c) {
                return Err(cfg(format!("concurrency must be 1..{MAX_CONCURRENCY}")));
            }
            plan.concurrency = c;
        }
        plan.beta_audits = self.beta_audits.unwrap_or(false);
        plan.registration = self.registration.unwrap_or(true);
        plan.users = self.users.unwrap_or(true);
        plan.roles = self.roles.unwrap_or(true);
        let requests_per_window = self.requests_per_window.unwrap_or(5);
        let window = Duration::from_secs_f64(self.window_seconds.unwrap_or(10.0));
        if requests_per_window == 0 || window.is_zero() {
            return Err(cfg("requests_per_window and window_seconds must be positive".into()));
        }
        let arrival_margin = match self.arrival_margin_seconds.unwrap_or(DEFAULT_ARRIVAL_MARGIN) {
            m if m.is_finite() && m >= 0.0 => Duration::from_secs_f64(m),
            m => return Err(cfg(format!("arrival_margin_seconds must be zero or more seconds, not {m}"))),
        };
        let mut retry = RetryPolicy::default();
        if let Some(m) = self.max_retries {
            retry.max_retries = m;
        }
        if let Some(b) = self.retry_budget {
            retry.budget = b;
        }
        if let Some(r) = self.refund_throttled {
            retry.refund_throttled = r;
        }
        Ok(GraphSettings {
            tenant_id,
            client_id,
            credential,
            plan,
            requests_per_window,
            window,
            arrival_margin,
            retry,
            timeout: self.timeout_seconds.map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT),
            state_dir: self.state_dir.clone(),
        })
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first private key and its leaf certificate of a PKCS#12 file, as PEM.
fn read_pfx(path: &std::path::Path, password: &Secret) -> std::result::Result<(Secret, String), String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        password.expose(),
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| format!("cannot open the PKCS#12 file (wrong password?): {e}"))?;
    let chain = store
        .entries()
        .find_map(|(_, e)| match e {
            p12_keystore::KeyStoreEntry::PrivateKeyChain(c) => Some(c.clone()),
            _ => None,
        })
        .ok_or("the PKCS#12 file holds no private key")?;
    let cert = chain.certs().first().ok_or("the PKCS#12 file holds no certificate for its key")?;
    Ok((Secret::new(pem("PRIVATE KEY", chain.key().as_der())), pem("CERTIFICATE", cert.as_der())))
}

impl GraphSettings {
    /// The client of one run: HTTP, tokens, one shared limiter, the retry policy.
    pub fn client(&self) -> Result<GraphClient> {
        let http = http_client(self.timeout).map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let tokens = TokenProvider::new(
            &self.tenant_id,
            &self.client_id,
            self.credential.clone(),
            self.plan.endpoints.clone(),
            http.clone(),
        );
        Ok(GraphClient::new(
            http,
            Arc::new(tokens),
            RateLimiter::new(self.requests_per_window, self.window, self.arrival_margin),
            self.retry.clone(),
        ))
    }
}

/// An endpoint override must be an absolute http(s) URL with a host (a proxy or a test mock).
fn check_endpoint(v: &str) -> std::result::Result<(), String> {
    let url = url::Url::parse(v)
        .map_err(|e| format!("not an absolute URL ({e}); write it as https://host[:port][/path]"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(())
}
