//! `kdnas bench darts`: time of one DARTS search step (architecture step + weight step) at DARTS's
//! shapes on random data, after warm-up; median, min, max and peak memory. Prints the same line as
//! bench/torch_reference/darts.py so the two compare side by side.

use crate::data::ImageSet;
use crate::error::{KdnasError, Result};
use crate::ops::conv2d::OpMode;
use crate::search::bilevel::{StepSettings, search_step};
use crate::search::run::optimisers;
use crate::search::{SearchConfig, SearchMode, SearchTask, Split};
use crate::space::parse_space;
use crate::supernet::{ArchParams, CellNetwork, NetworkConfig};
use crate::tasks::image::ImageSearchTask;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;
use std::time::Instant;

/// The DARTS space compiled in for benchmarks.
const DARTS_SPACE: &str = include_str!("../../search_spaces/darts_cifar.toml");

/// Benchmark shape and repetitions.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    /// Batch size (64).
    pub batch: usize,
    /// Node channels (16).
    pub channels: usize,
    /// Cells (8).
    pub layers: usize,
    /// Image side (32).
    pub image: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub iters: usize,
    /// Orders to run.
    pub modes: Vec<SearchMode>,
    /// Device label for the report line.
    pub device_label: String,
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if readable.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A random image set of `n` 3-channel images (the bench needs shapes, not data).
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

/// Runs the benchmark and returns one report line per mode.
pub fn bench_darts<AB: AutodiffBackend>(args: &BenchArgs, device: &AB::Device) -> Result<Vec<String>> {
    if args.iters == 0 || args.batch == 0 {
        return Err(KdnasError::Usage("bench: --iters and --batch must be at least 1".into()));
    }
    let space = parse_space(DARTS_SPACE, Path::new("search_spaces/darts_cifar.toml"))?;
    let network =
        NetworkConfig { channels: args.channels, layers: args.layers, stem_multiplier: 3, reduction_layers: None };
    let task = ImageSearchTask::<AB> {
        train: random_images(args.batch, args.image, 1),
        val: random_images(args.batch, args.image, 2),
        augment: None,
        device: device.clone(),
    };
    let indices: Vec<usize> = (0..args.batch).collect();
    let mut rng = StdRng::seed_from_u64(0);
    let train = task.batch(Split::Train, &indices, &mut rng);
    let val = task.batch(Split::Val, &indices, &mut rng);
    let mut lines = Vec::new();
    for &mode in &args.modes {
        AB::seed(device, 0);
        let mut net = CellNetwork::<AB>::new(&space, &network, 3, 10, OpMode::Search, device)?;
        let mut arch = ArchParams::<AB>::new(&space, device);
        let config = SearchConfig { mode, ..SearchConfig::default() };
        let mut opt = optimisers::<AB>(&config);
        let mut times = Vec::new();
        for i in 0..args.warmup + args.iters {
            let settings = StepSettings {
                mode,
                relaxation: &config.relaxation,
                noise: None,
                w_lr: config.w_lr,
                arch_lr: config.arch_lr,
                grad_clip: config.grad_clip,
                epoch: 0,
                epochs: 1,
                step: i,
            };
            let started = Instant::now();
            let (n, a, _) = search_step(&task, net, arch, &mut opt, &train, &val, &settings)?;
            AB::sync(device).map_err(|e| KdnasError::Usage(format!("device sync failed: {e:?}")))?;
            (net, arch) = (n, a);
            if i >= args.warmup {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let median = median(&mut times);
        let order = match mode {
            SearchMode::FirstOrder => "first",
            SearchMode::SecondOrder => "second",
            SearchMode::SingleLevel => "single",
        };
        lines.push(format!(
            "darts-step order={order} device={} threads={} batch={} channels={} layers={} image={} median_ms={median:.1} min_ms={:.1} max_ms={:.1} iters={} peak_mem_mb={:.0}",
            args.device_label,
            rayon_threads(),
            args.batch,
            args.channels,
            args.layers,
            args.image,
            times[0],
            times[times.len() - 1],
            args.iters,
            peak_rss_mib().unwrap_or(f64::NAN)
        ));
    }
    Ok(lines)
}

/// Worker threads available to the CPU backend.
fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_averages_the_middle_pair_of_an_even_count() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0]), 2.5);
    }
}
