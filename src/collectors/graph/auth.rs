//! OAuth2 client-credentials tokens for unattended collection (reference/entra-audit.md §4):
//! client secret, certificate (a signed JWT client assertion, RS256, from PEM files), managed
//! identity (IMDS, and the App Service `IDENTITY_ENDPOINT` variant) and workload-identity
//! federation (`AZURE_FEDERATED_TOKEN_FILE`). Tokens are cached and refreshed five minutes before
//! they expire, and once more on demand when Graph answers 401 mid-run.
//!
//! Nothing here prints a secret: [`Secret`] hides itself, and errors carry Entra's error code and
//! description, never the request body.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::collectors::graph::cloud::Endpoints;
use crate::collectors::graph::secret::Secret;

/// Refresh tokens this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// IMDS token endpoint (Azure VMs, AKS node identities).
const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// How the collector proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    ClientSecret {
        secret: Secret,
    },
    /// A certificate registered on the app: the private key (PKCS#8 or PKCS#1 PEM) and the
    /// certificate (PEM) whose SHA-1 thumbprint goes in the assertion's `x5t` header.
    Certificate {
        key_pem: Secret,
        cert_pem: String,
    },
    /// Azure managed identity; `client_id` picks a user-assigned identity.
    ManagedIdentity {
        client_id: Option<String>,
        endpoint: Option<String>,
        header: Option<Secret>,
    },
    /// Workload-identity federation: the assertion is read from this file on every request.
    WorkloadIdentity {
        token_file: PathBuf,
    },
}

impl Credential {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Credential::ClientSecret { .. } => "client secret",
            Credential::Certificate { .. } => "certificate",
            Credential::ManagedIdentity { .. } => "managed identity",
            Credential::WorkloadIdentity { .. } => "workload identity federation",
        }
    }
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("token request to {url} was refused ({status}): {code}: {description}")]
    Refused { url: String, status: u16, code: String, description: String },
    #[error("token response from {url} is not usable: {message}")]
    BadResponse { url: String, message: String },
    #[error("credential: {0}")]
    Credential(String),
}

impl AuthError {
    /// Transport problems and 5xx answers may pass; refusals (bad secret, no consent) will not.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            AuthError::Transport { .. } => true,
            AuthError::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    expires_at: DateTime<Utc>,
    lifetime: chrono::Duration,
}

impl Cached {
    /// Still good for a while: more than the refresh margin left (a fifth of the lifetime for
    /// short-lived tokens, so they are not refreshed on every call).
    fn fresh(&self, now: DateTime<Utc>) -> bool {
        let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default().min(self.lifetime / 5);
        self.expires_at - margin > now
    }
}

/// Gets, caches and refreshes tokens.
#[derive(Debug)]
pub struct TokenProvider {
    tenant: String,
    client_id: String,
    credential: Credential,
    endpoints: Endpoints,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
}

impl TokenProvider {
    pub fn new(
        tenant: &str,
        client_id: &str,
        credential: Credential,
        endpoints: Endpoints,
        http: reqwest::Client,
    ) -> Self {
        Self {
            tenant: tenant.into(),
            client_id: client_id.into(),
            credential,
            endpoints,
            http,
            cache: Mutex::new(None),
        }
    }

    /// A valid token, from the cache while it has more than [`REFRESH_MARGIN`] left.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.fresh(Utc::now())
        {
            return Ok(c.token.clone());
        }
        let fresh = self.request().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token (after a 401) so the next call gets a new one.
    pub(crate) async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    async fn request(&self) -> Result<Cached, AuthError> {
        match &self.credential {
            Credential::ManagedIdentity { client_id, endpoint, header } => {
                self.managed_identity(client_id.as_deref(), endpoint.as_deref(), header.as_ref()).await
            }
            other => {
                let url = self.endpoints.token_url(&self.tenant);
                let mut form: Vec<(&str, String)> = vec![
                    ("grant_type", "client_credentials".into()),
                    ("client_id", self.client_id.clone()),
                    ("scope", self.endpoints.scope.clone()),
                ];
                match other {
                    Credential::ClientSecret { secret } => {
                        form.push(("client_secret", secret.expose().to_string()))
                    }
                    Credential::Certificate { key_pem, cert_pem } => {
                        let jwt = client_assertion(&self.client_id, &url, key_pem, cert_pem)?;
                        form.push(("client_assertion_type", JWT_BEARER.into()));
                        form.push(("client_assertion", jwt));
                    }
                    Credential::WorkloadIdentity { token_file } => {
                        let a = Secret::from_file(token_file)
                            .map_err(|e| AuthError::Credential(e.to_string()))?;
                        form.push(("client_assertion_type", JWT_BEARER.into()));
                        form.push(("client_assertion", a.expose().to_string()));
                    }
                    Credential::ManagedIdentity { .. } => unreachable!("handled above"),
                }
                let resp = self.http.post(&url).form(&form).send().await;
                parse_token_response(&url, resp).await
            }
        }
    }

    async fn managed_identity(
        &self,
        client_id: Option<&str>,
        endpoint: Option<&str>,
        header: Option<&Secret>,
    ) -> Result<Cached, AuthError> {
        let resource = self.endpoints.scope.trim_end_matches("/.default").to_string();
        let app_service = std::env::var("IDENTITY_ENDPOINT").ok();
        let (url, api, header) = match (endpoint, &app_service) {
            (Some(e), _) => (e.to_string(), "2018-02-01", header.cloned().map(|h| ("X-IDENTITY-HEADER", h))),
            (None, Some(e)) => {
                let h = std::env::var("IDENTITY_HEADER").map(Secret::new).map_err(|_| {
                    AuthError::Credential("IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not".into())
                })?;
                (e.clone(), "2019-08-01", Some(("X-IDENTITY-HEADER", h)))
            }
            (None, None) => (IMDS_ENDPOINT.to_string(), "2018-02-01", None),
        };
        let mut q = vec![("api-version", api.to_string()), ("resource", resource)];
        if let Some(c) = client_id {
            q.push(("client_id", c.to_string()));
        }
        let mut req = self.http.get(&url).query(&q).header("Metadata", "true");
        if let Some((name, value)) = header {
            req = req.header(name, value.expose());
        }
        parse_token_response(&url, req.send().await).await
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn parse_token_response(
    url: &str,
    resp: reqwest::Result<reqwest::Response>,
) -> Result<Cached, AuthError> {
    let resp =
        resp.map_err(|e| AuthError::Transport { url: url.into(), message: e.without_url().to_string() })?;
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.map_err(|e| AuthError::BadResponse {
        url: url.into(),
        message: format!("status {status}, body is not JSON ({e})"),
    })?;
    if status != 200 {
        let s = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        return Err(AuthError::Refused {
            url: url.into(),
            status,
            code: s("error"),
            description: s("error_description").lines().next().unwrap_or("").to_string(),
        });
    }
    let token = body
        .get("access_token")
        .and_then(|v| v.as_str())
        .ok_or_else(|| AuthError::BadResponse { url: url.into(), message: "no access_token".into() })?;
    // AAD sends a number, managed identity a string.
    let expires_in = match body.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| AuthError::BadResponse { url: url.into(), message: "no expires_in".into() })?;
    let lifetime = chrono::Duration::seconds(expires_in);
    Ok(Cached { token: Secret::new(token), expires_at: Utc::now() + lifetime, lifetime })
}

/// The PEM blocks of a given label, decoded.
fn pem_blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(i) = rest.find(&begin) {
        let after = &rest[i + begin.len()..];
        let Some(j) = after.find(&end) else { break };
        let body: String = after[..j].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = STANDARD.decode(body) {
            out.push(der);
        }
        rest = &after[j + end.len()..];
    }
    out
}

/// A signed client assertion (RFC 7523) for certificate credentials: RS256, `x5t` = SHA-1
/// thumbprint of the certificate, audience = the token endpoint, valid for ten minutes.
pub(crate) fn client_assertion(
    client_id: &str,
    audience: &str,
    key_pem: &Secret,
    cert_pem: &str,
) -> Result<String, AuthError> {
    let cert = pem_blocks(cert_pem, "CERTIFICATE")
        .into_iter()
        .next()
        .ok_or_else(|| AuthError::Credential("the certificate file has no PEM CERTIFICATE block".into()))?;
    let key = if let Some(der) = pem_blocks(key_pem.expose(), "PRIVATE KEY").into_iter().next() {
        ring::signature::RsaKeyPair::from_pkcs8(&der)
    } else if let Some(der) = pem_blocks(key_pem.expose(), "RSA PRIVATE KEY").into_iter().next() {
        ring::signature::RsaKeyPair::from_der(&der)
    } else {
        return Err(AuthError::Credential(
            "the key file has no PEM PRIVATE KEY or RSA PRIVATE KEY block".into(),
        ));
    }
    .map_err(|e| AuthError::Credential(format!("the private key is not a usable RSA key ({e})")))?;
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, &cert);
    let header = serde_json::json!({
        "alg": "RS256", "typ": "JWT",
        "x5t": URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        "x5t#S256": URL_SAFE_NO_PAD.encode(sha256.as_ref()),
    });
    let now = Utc::now().timestamp();
    let mut jti = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut jti)
        .map_err(|_| AuthError::Credential("no randomness for the assertion id".into()))?;
    let claims = serde_json::json!({
        "aud": audience, "iss": client_id, "sub": client_id,
        "jti": URL_SAFE_NO_PAD.encode(jti), "nbf": now, "iat": now, "exp": now + 600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| AuthError::Credential("signing the client assertion failed".into()))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Checks an RS256 JWT against the public key of a PEM certificate's key pair, as the mock token
/// endpoint does (test scaffolding, `testkit`). Returns the claims.
#[cfg(feature = "testkit")]
pub(crate) fn verify_assertion(jwt: &str, key_pem: &Secret) -> Result<serde_json::Value, AuthError> {
    let bad = |m: &str| AuthError::Credential(m.to_string());
    let der = pem_blocks(key_pem.expose(), "PRIVATE KEY").into_iter().next().ok_or_else(|| bad("no key"))?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| bad("bad key"))?;
    let (signed, sig) = jwt.rsplit_once('.').ok_or_else(|| bad("not a JWT"))?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad("signature is not base64url"))?;
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        key.public().as_ref(),
    );
    public.verify(signed.as_bytes(), &sig).map_err(|_| bad("signature does not verify"))?;
    let claims = signed.split('.').nth(1).ok_or_else(|| bad("no claims"))?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).map_err(|_| bad("claims are not base64url"))?)
        .map_err(|_| bad("claims are not JSON"))
}
