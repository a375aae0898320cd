//! `kdnas bench`: the wall time of one step of a search or a training at a paper's shapes on random
//! data, after warm-up: median, min, max and peak memory. Every line has the format of its PyTorch
//! twin in bench/torch_reference, so the two compare side by side.

pub mod adarec;
pub mod darts;
pub mod dfa;

pub use adarec::{AdarecBenchArgs, AdarecStep, bench_adarec};
pub use darts::{BenchArgs, bench_darts};
pub use dfa::{DfaBenchArgs, DfaStep, bench_dfa};

use crate::data::ImageSet;
use crate::error::{KdnasError, Result};
use crate::search::SearchConfig;
use crate::search::SearchMode;
use crate::search::bilevel::StepSettings;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if readable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A random set of `n` 3-channel `side x side` images over 10 classes (a bench needs shapes, not data).
fn random_images(n: usize, side: usize, seed: u64) -> ImageSet {
    use rand::RngExt;
    let mut rng = StdRng::seed_from_u64(seed);
    let images = (0..n * 3 * side * side).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let labels = (0..n).map(|_| rng.random_range(0u8..10)).collect();
    ImageSet { images, labels, channels: 3, height: side, width: side, classes: 10 }
}

/// The median of `times` (the mean of the two middle values for an even count, as numpy's).
fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    if times.len().is_multiple_of(2) { (times[mid - 1] + times[mid]) / 2.0 } else { times[mid] }
}

/// Runs `f`, waits for the device to finish its work, and returns `f`'s result with the wall time in ms.
fn timed<AB: AutodiffBackend, T>(device: &AB::Device, f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let started = Instant::now();
    let out = f()?;
    AB::sync(device).map_err(|e| KdnasError::Usage(format!("device sync failed: {e:?}")))?;
    Ok((out, started.elapsed().as_secs_f64() * 1000.0))
}

/// Wall times in ms of the steps after the warm-up.
struct Samples {
    warmup: usize,
    seen: usize,
    times: Vec<f64>,
}

impl Samples {
    /// Samples that ignore the first `warmup` steps.
    fn new(warmup: usize) -> Self {
        Self { warmup, seen: 0, times: Vec::new() }
    }

    /// Records the time of the next step (dropped while warming up).
    fn add(&mut self, ms: f64) {
        if self.seen >= self.warmup {
            self.times.push(ms);
        }
        self.seen += 1;
    }

    /// The median of the recorded times.
    fn median(&self) -> f64 {
        median(&mut self.times.clone())
    }

    /// `median_ms=.. min_ms=.. max_ms=.. iters=.. peak_mem_mb=..`, the tail of every bench line.
    fn fields(&self) -> String {
        let mut sorted = self.times.clone();
        let median = median(&mut sorted);
        format!(
            "median_ms={median:.1} min_ms={:.1} max_ms={:.1} iters={} peak_mem_mb={:.0}",
            sorted.first().copied().unwrap_or(f64::NAN),
            sorted.last().copied().unwrap_or(f64::NAN),
            sorted.len(),
            peak_rss_mib().unwrap_or(f64::NAN)
        )
    }
}

/// Refuses a bench with nothing to time.
fn check_counts(iters: usize, batch: usize) -> Result<()> {
    if iters == 0 || batch == 0 {
        return Err(KdnasError::Usage("bench: --iters and --batch must be at least 1".into()));
    }
    Ok(())
}

/// The settings of step `step` of a one-epoch search with `config`'s mode and rates.
fn step_settings<AB: AutodiffBackend>(config: &SearchConfig, step: usize) -> StepSettings<'_, AB> {
    StepSettings {
        mode: config.mode,
        relaxation: &config.relaxation,
        noise: None,
        w_lr: config.w_lr,
        arch_lr: config.arch_lr,
        grad_clip: config.grad_clip,
        epoch: 0,
        epochs: 1,
        step,
        arch_moves: true,
    }
}

/// The `order=` value of a search mode.
fn order_name(mode: SearchMode) -> &'static str {
    match mode {
        SearchMode::FirstOrder => "first",
        SearchMode::SecondOrder => "second",
        SearchMode::SingleLevel => "single",
    }
}

/// Worker threads of the CPU backend (rayon's global pool; `RAYON_NUM_THREADS` sets it).
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::{Samples, median};

    #[test]
    fn median_averages_the_middle_pair_of_an_even_count() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0]), 2.5);
    }

    #[test]
    fn samples_drop_the_warm_up_steps() {
        let mut samples = Samples::new(2);
        for ms in [100.0, 50.0, 3.0, 1.0, 2.0] {
            samples.add(ms);
        }
        assert_eq!(samples.median(), 2.0);
        assert!(samples.fields().starts_with("median_ms=2.0 min_ms=1.0 max_ms=3.0 iters=3 peak_mem_mb="));
    }
}
