//! SIGTERM and SIGINT during a run (a scheduler stopping the job, a systemd stop, Ctrl-C): the
//! step under way finishes (a source's import publishes whole partitions, so it is never cut in
//! the middle of one), no further step starts, the manifest says where the run stopped, and the
//! exit code is the partial one. A second signal stops at once (exit 130); the lake stays whole
//! then too, because every partition is published atomically, and the next run goes on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Listens for the stop signals while a run goes on; stops listening when dropped.
pub(crate) struct Stop {
    requested: Arc<AtomicBool>,
    signal: Arc<Mutex<Option<&'static str>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Stop {
    /// Starts listening (on the current Tokio runtime).
    pub(crate) fn listen() -> Self {
        let requested = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(Mutex::new(None));
        let (r, s) = (requested.clone(), signal.clone());
        let mut signals = Signals::register();
        let task = tokio::spawn(async move {
            let mut first = true;
            while let Some(name) = signals.next().await {
                if first {
                    first = false;
                    if let Ok(mut g) = s.lock() {
                        *g = Some(name);
                    }
                    r.store(true, Ordering::SeqCst);
                    tracing::warn!(
                        "{name}: finishing the step under way, then writing the run manifest (a second signal stops at once)"
                    );
                } else {
                    eprintln!("{name} again: stopping at once; the lake keeps every published partition");
                    std::process::exit(130);
                }
            }
        });
        Self { requested, signal, task: Some(task) }
    }

    /// The signal that asked the run to stop, if one did.
    pub(crate) fn requested(&self) -> Option<&'static str> {
        if self.requested.load(Ordering::SeqCst) { self.signal.lock().ok().and_then(|g| *g) } else { None }
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The stop signals, registered once for the listener's life.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // A signal that cannot be registered keeps its default behaviour.
            Self { term: signal(SignalKind::terminate()).ok(), int: signal(SignalKind::interrupt()).ok() }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// The next stop signal's name.
    async fn next(&mut self) -> Option<&'static str> {
        #[cfg(unix)]
        {
            let term = async {
                match &mut self.term {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let int = async {
                match &mut self.int {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = term => r.map(|_| "SIGTERM"),
                r = int => r.map(|_| "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.ok().map(|_| "Ctrl-C")
        }
    }
}
