//! What the terminal allows: colour only on a terminal and never with `NO_COLOR`
//! (<https://no-color.org>), and the width tables are fitted to when stdout is a terminal.
//! Piped or redirected output (cron logs, files, `| less`) is always plain and unfitted.

use std::io::IsTerminal;

/// Whether `NO_COLOR` is set to a non-empty value.
pub(crate) fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether log lines on stderr may carry colour codes.
pub fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && !no_color()
}

/// Whether stdout is a terminal a person reads (tables fitted, charts drawn under them).
fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// The width to fit tables to: `None` when stdout is not a terminal (the plain table is kept for
/// pipes and files); else `COLUMNS` when set, else the terminal's own width, else 100.
pub(crate) fn stdout_width() -> Option<usize> {
    if !stdout_is_terminal() {
        return None;
    }
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok());
    let measured = terminal_size::terminal_size().map(|(w, _)| w.0 as usize);
    Some(from_env.or(measured).unwrap_or(100).max(MIN_WIDTH))
}

/// Narrower than this, no table layout is readable; fitting stops here.
const MIN_WIDTH: usize = 40;
