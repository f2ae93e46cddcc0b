//! The client-side rate limiter Graph's reporting APIs require: at most `requests` per sliding
//! `window` for one app in one tenant (default 5 per 10 s, reference/entra-audit.md §1.5). One
//! limiter is shared by every concurrent slice of a run, so concurrency never exceeds the budget.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// The pure sliding-window logic: request instants of the last window.
#[derive(Debug, Clone)]
struct Window {
    requests: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl Window {
    fn new(requests: usize, window: Duration) -> Self {
        Self { requests: requests.max(1), window, sent: VecDeque::new() }
    }

    /// Takes a slot at `now` and returns `None`, or returns how long to wait before asking again.
    fn try_take(&mut self, now: Instant) -> Option<Duration> {
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.requests {
            self.sent.push_back(now);
            return None;
        }
        let oldest = *self.sent.front().expect("full window");
        Some(self.window - now.duration_since(oldest))
    }

    /// Gives back the slot taken at `at`: the server answered 429, i.e. it did not serve the
    /// request, so it does not count against the budget the server enforces.
    fn refund(&mut self, at: Instant) {
        if let Some(i) = self.sent.iter().position(|t| *t == at) {
            self.sent.remove(i);
        }
    }
}

/// A shared limiter; clones share one window.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    inner: Arc<Mutex<Window>>,
}

impl RateLimiter {
    pub(crate) fn new(requests: usize, window: Duration) -> Self {
        Self { inner: Arc::new(Mutex::new(Window::new(requests, window))) }
    }

    /// See [`Window::refund`].
    pub(crate) async fn refund(&self, slot: Instant) {
        self.inner.lock().await.refund(slot);
    }

    /// Waits for a slot; returns how long it waited and the slot (for [`RateLimiter::refund`]).
    pub(crate) async fn acquire(&self) -> (Duration, Instant) {
        let start = Instant::now();
        loop {
            let now = Instant::now();
            let wait = self.inner.lock().await.try_take(now);
            match wait {
                None => return (start.elapsed(), now),
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_budget_in_any_window() {
        let t0 = Instant::now();
        let mut w = Window::new(5, Duration::from_secs(10));
        let mut granted = Vec::new();
        // Ask every 100 ms for 60 s of simulated time.
        for step in 0..600u64 {
            let now = t0 + Duration::from_millis(step * 100);
            if w.try_take(now).is_none() {
                granted.push(now);
            }
        }
        for (i, a) in granted.iter().enumerate() {
            let in_window =
                granted[i..].iter().take_while(|b| b.duration_since(*a) < Duration::from_secs(10)).count();
            assert!(in_window <= 5, "{in_window} requests within 10 s of request {i}");
        }
        assert_eq!(granted.len(), 30, "the budget is used fully: 5 per 10 s over 60 s");
    }

    #[test]
    fn the_wait_is_until_the_oldest_request_leaves_the_window() {
        let t0 = Instant::now();
        let mut w = Window::new(2, Duration::from_secs(10));
        assert!(w.try_take(t0).is_none());
        assert!(w.try_take(t0 + Duration::from_secs(3)).is_none());
        assert_eq!(w.try_take(t0 + Duration::from_secs(4)), Some(Duration::from_secs(6)));
        assert!(w.try_take(t0 + Duration::from_secs(10)).is_none());
        // A refunded slot frees its place at once.
        let t1 = t0 + Duration::from_secs(11);
        assert!(w.try_take(t1).is_some());
        w.refund(t0 + Duration::from_secs(10));
        assert!(w.try_take(t1).is_none());
    }
}
