//! The one ordered-parallel helper and its one panic policy, for every reader that parses on
//! several threads (Graph/archive files, event XML and JSON, EVTX chunks, runs of small files).
//!
//! Policy: work is cut into units (a record, a chunk, a file); each unit runs under [`guard`], so
//! a panic while parsing one unit becomes that unit's `Err(Panicked)`, reported by the caller with
//! the unit's file and position, and every other unit keeps its own result. Results always come
//! back in input order, one per unit, so nothing is ever paired with another unit's input, and a
//! panic can neither lose the rest of the file nor leave the reader waiting for a result that
//! will never come.
//!
//! Fault injection for tests: when `SSPR_FAULT_PANIC_MARKER` is set, [`inject`] panics on any unit
//! whose raw bytes contain that text. Readers call it on each unit they parse, so a test can make
//! one record of one file panic in a real run (`tests/it/hardening.rs`). Unset, it costs one
//! load of a static.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

/// A unit whose work panicked, with the panic's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "internal error: the parser panicked on this input ({}); it was not imported", self.0)
    }
}

/// Runs `f`, turning a panic into `Err(Panicked)`.
pub(crate) fn guard<R>(f: impl FnOnce() -> R) -> Result<R, Panicked> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let message = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Panicked(message)
    })
}

/// Maps `f` over the units `input` yields on up to `threads` worker threads, with at most
/// `ahead` units in flight past the one `on` waits for (memory stays bounded), and calls `on`
/// with every result in input order on the calling thread. Each unit runs under [`guard`].
pub(crate) fn ordered<J: Send, R: Send>(
    input: impl Iterator<Item = J>,
    threads: usize,
    ahead: usize,
    f: impl Fn(J) -> R + Sync,
    mut on: impl FnMut(Result<R, Panicked>),
) {
    let run = |job: J| guard(|| f(job));
    if threads <= 1 {
        input.for_each(|job| on(run(job)));
        return;
    }
    let (job_tx, job_rx) = mpsc::channel::<(u64, J)>();
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel::<(u64, Result<R, Panicked>)>();
        for _ in 0..threads {
            let (job_rx, done_tx, run) = (&job_rx, done_tx.clone(), &run);
            s.spawn(move || {
                // A poisoned receiver cannot happen (the lock guards only `recv`), but a worker
                // ends cleanly either way.
                while let Ok(Ok((seq, job))) = job_rx.lock().map(|rx| rx.recv()) {
                    if done_tx.send((seq, run(job))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut input = input.fuse();
        let (mut sent, mut next) = (0u64, 0u64);
        let mut ready = BTreeMap::new();
        loop {
            while sent < next + ahead.max(1) as u64 {
                let Some(job) = input.next() else { break };
                if job_tx.send((sent, job)).is_err() {
                    break;
                }
                sent += 1;
            }
            if next == sent {
                break;
            }
            // Every unit sent comes back exactly once (its panic included), so this ends.
            while !ready.contains_key(&next) {
                match done_rx.recv() {
                    Ok((seq, r)) => {
                        ready.insert(seq, r);
                    }
                    Err(_) => break,
                }
            }
            match ready.remove(&next) {
                Some(r) => on(r),
                None => on(Err(Panicked("a worker thread ended without an answer".into()))),
            }
            next += 1;
        }
        drop(job_tx);
    });
}

/// [`ordered`] over a slice, collected: one result per item, in order.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<Result<R, Panicked>> {
    let mut out = Vec::with_capacity(items.len());
    ordered(items.iter(), threads.clamp(1, items.len().max(1)), items.len(), f, |r| out.push(r));
    out
}

/// The items cut into at most `parts` contiguous runs (for readers that fill one set of column
/// builders per run rather than one per item).
pub(crate) fn runs<T>(items: &[T], parts: usize) -> std::slice::Chunks<'_, T> {
    let size = items.len().div_ceil(parts.clamp(1, items.len().max(1))).max(1);
    items.chunks(size)
}

/// Panics when fault injection is on and `raw` contains the marker (see the module docs).
pub(crate) fn inject(raw: &[u8]) {
    static MARKER: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    let marker = MARKER.get_or_init(|| {
        std::env::var("SSPR_FAULT_PANIC_MARKER").ok().filter(|m| !m.is_empty()).map(String::into_bytes)
    });
    if let Some(m) = marker
        && memchr::memmem::find(raw, m).is_some()
    {
        panic!("fault injected by SSPR_FAULT_PANIC_MARKER");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_and_a_panic_is_that_items_error_alone() {
        let items: Vec<u64> = (0..500).collect();
        for threads in [1, 2, 7] {
            let out = map(&items, threads, |&i| {
                if i % 97 == 3 {
                    panic!("boom {i}");
                }
                i * 2
            });
            assert_eq!(out.len(), items.len());
            for (i, r) in out.iter().enumerate() {
                if i % 97 == 3 {
                    assert_eq!(r, &Err(Panicked(format!("boom {i}"))), "{threads}");
                } else {
                    assert_eq!(r, &Ok(i as u64 * 2), "{threads}");
                }
            }
        }
    }

    #[test]
    fn a_stream_stays_within_its_lookahead_and_survives_every_unit_panicking() {
        let in_flight = std::sync::atomic::AtomicUsize::new(0);
        let mut seen = 0;
        ordered(
            0..100u32,
            3,
            4,
            |_| {
                let n = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                assert!(n < 5, "at most `ahead` units are past the one awaited");
                std::thread::sleep(std::time::Duration::from_millis(1));
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                panic!("every one")
            },
            |r: Result<(), Panicked>| {
                assert!(r.is_err());
                seen += 1;
            },
        );
        assert_eq!(seen, 100, "no hang, every unit answered");
    }

    #[test]
    fn runs_cover_every_item_once() {
        let items: Vec<u32> = (0..10).collect();
        let runs: Vec<&[u32]> = runs(&items, 3).collect();
        assert_eq!(runs.concat(), items);
        assert!(runs.len() <= 3);
        assert_eq!(super::runs::<u32>(&[], 4).count(), 0);
    }
}
