//! When and how long to retry a Graph request: 429 and 503/504 (and other 5xx) honour
//! `Retry-After` when present and back off exponentially with full jitter when not; connection
//! resets, timeouts and truncated bodies are retried too. Every retry spends from a per-run
//! budget so a broken tenant cannot keep a nightly job busy for ever.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Retry settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request after the first.
    pub max_retries: u32,
    /// Retries per run, all requests together.
    pub budget: u32,
    pub base: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; longer values are capped.
    pub max_retry_after: Duration,
    /// Give a 429's limiter slot back (Graph did not serve the request). See README.
    pub refund_throttled: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 8,
            budget: 500,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            refund_throttled: true,
        }
    }
}

/// Why a request failed, for retry decisions and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// HTTP status with an optional `Retry-After` value.
    Status(u16, Option<String>),
    /// Connection reset, timeout, truncated or unparseable body.
    Transport(String),
}

impl Failure {
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Failure::Status(s, _) => matches!(s, 408 | 429 | 500 | 502 | 503 | 504),
            Failure::Transport(_) => true,
        }
    }

    pub(crate) fn is_throttle(&self) -> bool {
        matches!(self, Failure::Status(429, _))
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date.
fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    if let Ok(s) = v.parse::<f64>()
        && s.is_finite()
        && s >= 0.0
    {
        return Some(Duration::from_secs_f64(s));
    }
    let t = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((t - now).to_std().unwrap_or(Duration::ZERO))
}

impl RetryPolicy {
    /// How long to wait before retry number `attempt` (1-based) after `failure`. `jitter` is a
    /// uniform value in [0, 1) supplied by the caller (deterministic in tests).
    pub(crate) fn delay(&self, attempt: u32, failure: &Failure, jitter: f64, now: DateTime<Utc>) -> Duration {
        if let Failure::Status(_, Some(ra)) = failure
            && let Some(d) = parse_retry_after(ra, now)
        {
            return d.min(self.max_retry_after);
        }
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        // Full jitter, but never below a tenth of the base so a retry is not immediate.
        cap.mul_f64(jitter.clamp(0.0, 1.0)).max(self.base / 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_and_backoff_grows_with_jitter() {
        let p = RetryPolicy::default();
        let now = Utc::now();
        assert_eq!(p.delay(1, &Failure::Status(429, Some("7".into())), 0.5, now), Duration::from_secs(7));
        assert_eq!(p.delay(1, &Failure::Status(503, Some("100000".into())), 0.5, now), p.max_retry_after);
        let date = (now + chrono::Duration::seconds(30)).to_rfc2822();
        let d = p.delay(1, &Failure::Status(429, Some(date)), 0.5, now);
        assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(29), "{d:?}");
        assert_eq!(p.delay(1, &Failure::Status(429, None), 1.0, now), Duration::from_millis(500));
        assert_eq!(p.delay(4, &Failure::Status(429, None), 1.0, now), Duration::from_secs(4));
        assert_eq!(p.delay(30, &Failure::Transport("reset".into()), 1.0, now), p.max_backoff);
        assert_eq!(p.delay(3, &Failure::Status(504, None), 0.0, now), Duration::from_millis(50));
        assert!(Failure::Status(429, None).is_retryable() && Failure::Status(429, None).is_throttle());
        assert!(!Failure::Status(403, None).is_retryable());
        assert!(!Failure::Status(401, None).is_retryable(), "401 is handled by a token refresh, not a retry");
        assert_eq!(parse_retry_after("garbage", now), None);
    }
}
