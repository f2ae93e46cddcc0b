//! One file per subcommand; each exposes one entry function taking resolved settings.

pub mod build;
pub mod collect;
pub mod demo;
pub mod doctor;
pub mod explain;
pub mod export;
pub mod import;
pub mod lake;
pub mod nightly;
pub mod query;
pub mod report;
pub mod sample;

use std::io::Write;

/// Writes bytes to stdout; a closed pipe (`| head`) is not an error.
fn stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
