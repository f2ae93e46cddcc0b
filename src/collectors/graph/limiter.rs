//! The client-side rate limiter Graph's reporting APIs require: at most `requests` per sliding
//! `window` for one app in one tenant (default 5 per 10 s, reference/entra-audit.md §1.5). One
//! limiter is shared by every concurrent slice of a run, so concurrency never exceeds the budget.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One request's place in the window.
#[derive(Debug, Clone, Copy)]
struct Place {
    id: u64,
    /// When Graph counted it at the latest: the send plus the arrival margin, or its answer if
    /// that came first.
    counted: Instant,
}

/// The pure sliding-window logic.
///
/// Graph counts a request when it arrives, after a network latency that varies from request to
/// request. Counting from the send, a sixth request sent a window after a first can arrive inside
/// the window of a first that arrived late: Graph answers 429. So a place counts from the latest
/// moment the request can have arrived: its send plus `margin` (how late a request may reach
/// Graph), or the moment its answer's headers came back if that is sooner (Graph had it by then).
/// Latencies within the margin then never put more than `requests` arrivals in any of Graph's
/// windows; the price is a window longer by at most the margin.
#[derive(Debug)]
struct Window {
    requests: usize,
    window: Duration,
    margin: Duration,
    places: Vec<Place>,
    next_id: u64,
}

impl Window {
    fn new(requests: usize, window: Duration, margin: Duration) -> Self {
        Self { requests: requests.max(1), window, margin, places: Vec::new(), next_id: 0 }
    }

    /// Takes a place at `now` and returns its id, or returns how long to wait before asking
    /// again (until the earliest-counted place leaves the window; an answer may free one sooner).
    fn try_take(&mut self, now: Instant) -> Result<u64, Duration> {
        let window = self.window;
        self.places.retain(|p| now.saturating_duration_since(p.counted) < window);
        if self.places.len() < self.requests {
            let id = self.next_id;
            self.next_id += 1;
            self.places.push(Place { id, counted: now + self.margin });
            return Ok(id);
        }
        let earliest = self.places.iter().map(|p| p.counted).min().expect("full window");
        Err((earliest + window).saturating_duration_since(now))
    }

    /// The request of place `id` was answered (or failed) at `at`: Graph has counted it.
    fn answered(&mut self, id: u64, at: Instant) {
        if let Some(p) = self.places.iter_mut().find(|p| p.id == id) {
            p.counted = p.counted.min(at);
        }
    }

    /// Gives back place `id`: the server answered 429, i.e. it did not serve the request, so it
    /// does not count against the budget the server enforces.
    fn refund(&mut self, id: u64) {
        self.places.retain(|p| p.id != id);
    }
}

/// A shared limiter; clones share one window.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    inner: Arc<(Mutex<Window>, Notify)>,
}

/// A request's place in the window, taken by [`RateLimiter::acquire`]. Dropping it marks the
/// request answered at that moment (the caller drops it when the response's headers arrive), whichever way the request ended (an answer, an error, the
/// caller giving up); [`Slot::refund`] gives it back instead.
#[derive(Debug)]
pub(crate) struct Slot {
    limiter: RateLimiter,
    id: u64,
    refunded: bool,
}

impl Slot {
    /// See [`Window::refund`].
    pub(crate) fn refund(mut self) {
        self.refunded = true;
        self.limiter.with(|w| w.refund(self.id));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.refunded {
            let now = Instant::now();
            self.limiter.with(|w| w.answered(self.id, now));
        }
    }
}

impl RateLimiter {
    /// At most `requests` per `window` as Graph counts them, for requests that reach Graph
    /// within `margin` of their send.
    pub(crate) fn new(requests: usize, window: Duration, margin: Duration) -> Self {
        Self { inner: Arc::new((Mutex::new(Window::new(requests, window, margin)), Notify::new())) }
    }

    /// Runs `f` on the window (never across an await) and wakes the waiters: a place may have
    /// been answered or freed.
    fn with<T>(&self, f: impl FnOnce(&mut Window) -> T) -> T {
        let out = f(&mut self.inner.0.lock().unwrap_or_else(PoisonError::into_inner));
        self.inner.1.notify_waiters();
        out
    }

    /// Waits for a place; returns how long it waited and the place, to hold while the request is
    /// in flight.
    pub(crate) async fn acquire(&self) -> (Duration, Slot) {
        let start = Instant::now();
        loop {
            // Registered before looking, so an answer between the look and the wait wakes us.
            let changed = self.inner.1.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let taken = self.inner.0.lock().unwrap_or_else(PoisonError::into_inner).try_take(Instant::now());
            match taken {
                Ok(id) => return (start.elapsed(), Slot { limiter: self.clone(), id, refunded: false }),
                Err(wait) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed => {}
                    }
                }
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
        let mut w = Window::new(5, Duration::from_secs(10), Duration::ZERO);
        let mut granted = Vec::new();
        // Ask every 100 ms for 60 s of simulated time.
        for step in 0..600u64 {
            let now = t0 + Duration::from_millis(step * 100);
            if w.try_take(now).is_ok() {
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
    fn a_place_counts_from_the_send_plus_the_margin_or_the_answer_if_sooner() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut w = Window::new(2, Duration::from_secs(10), Duration::from_secs(1));
        let a = w.try_take(t0).unwrap();
        w.try_take(ms(3000)).unwrap();
        // Unanswered, they count from 1 s and 4 s: the first leaves the window at 11 s.
        assert_eq!(w.try_take(ms(4000)), Err(Duration::from_secs(7)));
        // Answered at 0.5 s: Graph had it by then, so it leaves at 10.5 s.
        w.answered(a, ms(500));
        assert_eq!(w.try_take(ms(4000)), Err(Duration::from_millis(6500)));
        // An answer later than the margin changes nothing.
        let mut late = Window::new(1, Duration::from_secs(10), Duration::from_secs(1));
        let b = late.try_take(t0).unwrap();
        late.answered(b, ms(5000));
        assert_eq!(late.try_take(ms(10_900)), Err(Duration::from_millis(100)));
        assert!(late.try_take(ms(11_000)).is_ok());
        // A refunded place frees at once.
        let c = w.try_take(ms(10_500)).unwrap();
        assert!(w.try_take(ms(10_600)).is_err());
        w.refund(c);
        assert!(w.try_take(ms(10_600)).is_ok());
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_an_answer_frees_a_place_early() {
        // A margin far beyond the test: only the answer can free the place in time.
        let l = RateLimiter::new(1, Duration::from_millis(50), Duration::from_secs(60));
        let (_, first) = l.acquire().await;
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.acquire().await.0 }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished(), "no place while the first request is in flight");
        drop(first);
        let waited = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert!(waited >= Duration::from_millis(75), "in flight 30 ms, then a window: {waited:?}");
    }
}
