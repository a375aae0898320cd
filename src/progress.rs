//! The progress bar of every long loop (search, training, distillation).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `steps` steps headed `prefix` (e.g. `epoch 3/50`), hidden unless `visible`.
pub fn progress_bar(visible: bool, steps: u64, prefix: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
}
