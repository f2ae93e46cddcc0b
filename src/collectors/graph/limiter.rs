//! The client-side rate limiter Graph's reporting APIs require: at most `requests` per sliding
//! `window` for one app in one tenant (default 5 per 10 s, reference/entra-audit.md §1.5). One
//! limiter is shared by every concurrent slice of a run, so concurrency never exceeds the budget.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One request's place in the window: in flight until its response (or failure) arrives, then
/// counted from that moment.
#[derive(Debug, Clone, Copy)]
struct Place {
    id: u64,
    answered: Option<Instant>,
}

/// The pure sliding-window logic.
///
/// Graph counts a request when it arrives, which is somewhere between when we send it and when
/// its answer comes back, later by a latency that varies from request to request. Counting from
/// the send, a sixth request sent a window after a first can arrive inside the window of a first
/// that arrived late: Graph answers 429. So a request holds its place while in flight (however
/// long that is) and from its answer (the response's headers) on for a whole window; then no
/// latency can put more than `requests` arrivals in any window. The cost: each place is held
/// longer by the time the server takes to answer.
#[derive(Debug)]
struct Window {
    requests: usize,
    window: Duration,
    places: Vec<Place>,
    next_id: u64,
}

impl Window {
    fn new(requests: usize, window: Duration) -> Self {
        Self { requests: requests.max(1), window, places: Vec::new(), next_id: 0 }
    }

    /// Takes a place at `now` and returns its id, or returns how long to wait before asking
    /// again: until the earliest answered place leaves the window, or `None` when every place is
    /// in flight (wait for an answer).
    fn try_take(&mut self, now: Instant) -> Result<u64, Option<Duration>> {
        let window = self.window;
        self.places.retain(|p| p.answered.is_none_or(|t| now.duration_since(t) < window));
        if self.places.len() < self.requests {
            let id = self.next_id;
            self.next_id += 1;
            self.places.push(Place { id, answered: None });
            return Ok(id);
        }
        let earliest = self.places.iter().filter_map(|p| p.answered).min();
        Err(earliest.map(|t| window - now.duration_since(t)))
    }

    /// The request of place `id` was answered (or failed) at `at`.
    fn answered(&mut self, id: u64, at: Instant) {
        if let Some(p) = self.places.iter_mut().find(|p| p.id == id) {
            p.answered = Some(at);
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
/// request answered at that moment, whichever way the request ended (an answer, an error, the
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
    pub(crate) fn new(requests: usize, window: Duration) -> Self {
        Self { inner: Arc::new((Mutex::new(Window::new(requests, window)), Notify::new())) }
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
                Err(Some(d)) => tokio::time::sleep(d).await,
                Err(None) => changed.await,
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
        // Ask every 100 ms for 60 s of simulated time; each request is answered at once.
        for step in 0..600u64 {
            let now = t0 + Duration::from_millis(step * 100);
            if let Ok(id) = w.try_take(now) {
                w.answered(id, now);
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
    fn the_wait_is_until_the_earliest_answer_leaves_the_window() {
        let t0 = Instant::now();
        let s = |secs| t0 + Duration::from_secs(secs);
        let mut w = Window::new(2, Duration::from_secs(10));
        let a = w.try_take(t0).unwrap();
        let b = w.try_take(s(3)).unwrap();
        // Both in flight: no time to wait for, only an answer.
        assert_eq!(w.try_take(s(4)), Err(None));
        // Sent at 0 but answered at 2: it counts from 2, not from 0.
        w.answered(a, s(2));
        w.answered(b, s(5));
        assert_eq!(w.try_take(s(4)), Err(Some(Duration::from_secs(8))));
        assert_eq!(w.try_take(s(11)), Err(Some(Duration::from_secs(1))));
        let c = w.try_take(s(12)).unwrap();
        // A refunded place frees at once.
        assert!(w.try_take(s(13)).is_err());
        w.refund(c);
        assert!(w.try_take(s(13)).is_ok());
    }

    #[test]
    fn a_request_in_flight_longer_than_the_window_keeps_its_place() {
        let t0 = Instant::now();
        let mut w = Window::new(1, Duration::from_secs(10));
        let a = w.try_take(t0).unwrap();
        assert_eq!(w.try_take(t0 + Duration::from_secs(30)), Err(None));
        w.answered(a, t0 + Duration::from_secs(31));
        assert!(w.try_take(t0 + Duration::from_secs(40)).is_err());
        assert!(w.try_take(t0 + Duration::from_secs(41)).is_ok());
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_a_place_is_answered() {
        let l = RateLimiter::new(1, Duration::from_millis(50));
        let (_, first) = l.acquire().await;
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.acquire().await.0 }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished(), "no place while the first request is in flight");
        drop(first);
        let waited = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert!(waited >= Duration::from_millis(80), "in flight 30 ms, then a window: {waited:?}");
    }
}
