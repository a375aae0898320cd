//! `kdnas bench darts`: one DARTS search step (architecture step + weight step) at DARTS's shapes on
//! random data; compare with bench/torch_reference/darts.py.

use super::{Samples, check_counts, order_name, random_images, rayon_threads, step_settings, timed};
use crate::error::Result;
use crate::models::{CellNetwork, NetworkConfig};
use crate::ops::conv2d::OpMode;
use crate::search::bilevel::search_step;
use crate::search::run::optimisers;
use crate::search::{SearchConfig, SearchMode, SearchTask, Split};
use crate::space::parse_space;
use crate::supernet::ArchParams;
use crate::tasks::image::ImageSearchTask;
use burn::tensor::backend::AutodiffBackend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;

/// The DARTS space compiled in for benchmarks.
const DARTS_SPACE: &str = include_str!("../../../search_spaces/darts_cifar.toml");

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

/// Runs the benchmark and returns one report line per mode.
pub fn bench_darts<AB: AutodiffBackend>(args: &BenchArgs, device: &AB::Device) -> Result<Vec<String>> {
    check_counts(args.iters, args.batch)?;
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
        let mut samples = Samples::new(args.warmup);
        for i in 0..args.warmup + args.iters {
            let settings = step_settings::<AB>(&config, i);
            let ((n, a, _), ms) =
                timed::<AB, _>(device, || search_step(&task, net, arch, &mut opt, &train, Some(&val), &settings))?;
            (net, arch) = (n, a);
            samples.add(ms);
        }
        lines.push(format!(
            "darts-step order={} device={} threads={} batch={} channels={} layers={} image={} {}",
            order_name(mode),
            args.device_label,
            rayon_threads(),
            args.batch,
            args.channels,
            args.layers,
            args.image,
            samples.fields()
        ));
    }
    Ok(lines)
}
