//! The shared paging driver: one GET of one Graph page under the rate limiter, with token
//! refresh on 401, retries with `Retry-After` / jittered backoff for 429 and 5xx, retries of
//! connection resets, timeouts and truncated bodies, all bounded by a per-run retry budget.
//! Collectors only decide which URLs to fetch and what to do with a page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::collectors::graph::auth::{AuthError, TokenProvider};
use crate::collectors::graph::limiter::{RateLimiter, Slot};
use crate::collectors::graph::retry::{Failure, RetryPolicy};
use crate::rng::Rng;

/// One fetched page.
#[derive(Debug, Clone)]
pub struct Page {
    /// The response body, verbatim (it is spooled to disk as it is).
    pub body: Bytes,
    pub items: usize,
    pub next_link: Option<String>,
}

/// What fetching one page cost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchStats {
    pub retries: u32,
    pub throttled: u32,
    pub token_refreshes: u32,
}

/// Why a page could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("GET {url}: HTTP {status}: {code}: {message}")]
    Refused { url: String, status: u16, code: String, message: String },
    #[error("GET {url}: gave up after {attempts} attempts: {last}")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("GET {url}: the run's retry budget ({budget}) is spent; last failure: {last}")]
    BudgetSpent { url: String, budget: u32, last: String },
}

#[derive(Deserialize)]
struct PageHead {
    value: Option<Vec<IgnoredAny>>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Run-wide counters (for progress bars and the summary).
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
    pub waited_ms: AtomicU64,
}

/// The Graph client of one run.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    limiter: RateLimiter,
    policy: RetryPolicy,
    budget_left: Arc<AtomicU32>,
    pub counters: Arc<Counters>,
    jitter: Arc<std::sync::Mutex<Rng>>,
}

impl GraphClient {
    pub(crate) fn new(
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
        limiter: RateLimiter,
        policy: RetryPolicy,
    ) -> Self {
        let budget = policy.budget;
        let seed = std::process::id() as u64 ^ chrono::Utc::now().timestamp_micros() as u64;
        Self {
            http,
            tokens,
            limiter,
            policy,
            budget_left: Arc::new(AtomicU32::new(budget)),
            counters: Arc::new(Counters::default()),
            jitter: Arc::new(std::sync::Mutex::new(Rng::new(seed))),
        }
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// Fetches one page (a `nextLink` is followed verbatim).
    pub async fn get_page(&self, url: &str) -> Result<(Page, FetchStats), FetchError> {
        let mut stats = FetchStats::default();
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            // The token first: fetching one is not a Graph request, and must not hold a place.
            let token = self.tokens.token().await?;
            let (waited, slot) = self.limiter.acquire().await;
            self.counters.waited_ms.fetch_add(waited.as_millis() as u64, Ordering::Relaxed);
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let failure = match self.once(url, token.expose(), slot).await {
                Ok(page) => return Ok((page, stats)),
                Err(Attempt::Unauthorized) if !refreshed => {
                    // The token expired or was revoked mid-run: get a new one, once.
                    refreshed = true;
                    stats.token_refreshes += 1;
                    self.tokens.invalidate().await;
                    continue;
                }
                Err(Attempt::Unauthorized) => {
                    return Err(FetchError::Refused {
                        url: url.into(),
                        status: 401,
                        code: "Unauthorized".into(),
                        message: "a fresh token was refused too".into(),
                    });
                }
                Err(Attempt::Fatal(status, code, message)) => {
                    return Err(FetchError::Refused { url: url.into(), status, code, message });
                }
                Err(Attempt::Retry(f)) => f,
            };
            if failure.is_throttle() {
                stats.throttled += 1;
                self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            attempt += 1;
            if attempt > self.policy.max_retries {
                return Err(FetchError::GaveUp {
                    url: url.into(),
                    attempts: attempt,
                    last: describe(&failure),
                });
            }
            if self
                .budget_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                .is_err()
            {
                return Err(FetchError::BudgetSpent {
                    url: url.into(),
                    budget: self.policy.budget,
                    last: describe(&failure),
                });
            }
            stats.retries += 1;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            let jitter = self.jitter.lock().map(|mut r| r.f64()).unwrap_or(0.5);
            let delay = self.policy.delay(attempt, &failure, jitter, chrono::Utc::now());
            tracing::debug!(url, attempt, ?delay, failure = %describe(&failure), "Retrying a Graph request.");
            tokio::time::sleep(delay).await;
        }
    }

    /// One GET under the limiter place `slot`, which counts from when the response's headers
    /// arrive (Graph has counted the request by then; the body can take a while longer), or
    /// from a transport failure; a 429 gives it back when the policy says so.
    async fn once(&self, url: &str, token: &str, slot: Slot) -> Result<Page, Attempt> {
        let sent = self.http.get(url).bearer_auth(token).header("Accept", "application/json").send().await;
        let resp = match sent {
            Ok(resp) if resp.status().as_u16() == 429 && self.policy.refund_throttled => {
                slot.refund();
                resp
            }
            Ok(resp) => {
                drop(slot);
                resp
            }
            Err(e) => return Err(Attempt::Retry(Failure::Transport(e.without_url().to_string()))),
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp
            .bytes()
            .await
            .map_err(|e| Attempt::Retry(Failure::Transport(format!("body: {}", e.without_url()))))?;
        match status {
            200 => {
                let head: PageHead = serde_json::from_slice(&body).map_err(|e| {
                    Attempt::Retry(Failure::Transport(format!("page is not complete JSON ({e})")))
                })?;
                Ok(Page { items: head.value.map(|v| v.len()).unwrap_or(0), next_link: head.next_link, body })
            }
            401 => Err(Attempt::Unauthorized),
            s if Failure::Status(s, None).is_retryable() => {
                Err(Attempt::Retry(Failure::Status(s, retry_after)))
            }
            s => {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let e = &v["error"];
                Err(Attempt::Fatal(
                    s,
                    e["code"].as_str().unwrap_or("").to_string(),
                    e["message"].as_str().unwrap_or("").chars().take(300).collect(),
                ))
            }
        }
    }
}

enum Attempt {
    Retry(Failure),
    Unauthorized,
    Fatal(u16, String, String),
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Status(s, Some(ra)) => format!("HTTP {s} (Retry-After {ra})"),
        Failure::Status(s, None) => format!("HTTP {s}"),
        Failure::Transport(m) => m.clone(),
    }
}

/// A reqwest client with the collector's timeouts.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(20))
        .user_agent(concat!("sspr-analytics/", env!("CARGO_PKG_VERSION")))
        .build()
}
