//! Progress bars on stderr (hidden with --quiet or when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) fn bar(quiet: bool, len: u64, prefix: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(
        Some(len),
        if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() },
    );
    b.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_prefix(prefix.to_string());
    b
}

/// A counter without a known total (events collected so far).
pub(crate) fn spinner(prefix: &str) -> ProgressBar {
    let b = ProgressBar::no_length();
    b.set_style(
        ProgressStyle::with_template("{prefix:>10} {spinner} {human_pos} events {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    b.set_prefix(prefix.to_string());
    b
}
