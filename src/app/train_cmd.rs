//! `kdnas train`: build the derived network of a genotype and train it from scratch.

use super::run_config::RunConfig;
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::ops::conv2d::OpMode;
use crate::search::checkpoint::write_file_atomically;
use crate::supernet::{CellNetwork, NetworkConfig, trainable_params};
use crate::train::{TrainEpoch, train_classifier};
use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Inputs of `kdnas train`.
pub struct TrainArgs {
    /// Genotype JSON.
    pub genotype: PathBuf,
    /// Run config (data, network, train sections); default: `config.toml` beside the genotype.
    pub config: Option<PathBuf>,
    /// Output directory.
    pub out: PathBuf,
    /// Override of `train.epochs`.
    pub epochs: Option<usize>,
    /// Override of the seed.
    pub seed: Option<u64>,
    /// Show progress.
    pub progress: bool,
}

/// What `kdnas train` reports (also written to `result.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    /// DARTS notation of the genotype, when available.
    pub genotype: Option<String>,
    /// Trainable parameters of the derived network.
    pub params: usize,
    /// Node channels and cells of the derived network.
    pub channels: usize,
    /// Number of cells.
    pub layers: usize,
    /// Test accuracy after the last epoch.
    pub test_acc: f64,
    /// Best test accuracy over epochs (reported for information; the final one is the result).
    pub best_test_acc: f64,
    /// Training epochs.
    pub epochs: usize,
    /// Wall-clock seconds of training.
    pub seconds: f64,
}

/// Trains the derived network of `args.genotype` and writes metrics, weights and a summary to `args.out`.
pub fn train_command<AB: AutodiffBackend>(args: &TrainArgs, device: &AB::Device) -> Result<TrainSummary> {
    let genotype = Genotype::load(&args.genotype)?;
    let config_path = match &args.config {
        Some(p) => p.clone(),
        None => args.genotype.parent().unwrap_or(Path::new(".")).join(super::search_cmd::RUN_CONFIG),
    };
    let mut config = RunConfig::load(&config_path)?;
    if let Some(e) = args.epochs {
        config.train.epochs = e;
    }
    let seed = args.seed.unwrap_or(config.seed);
    let base = config_path.parent().unwrap_or(Path::new("."));
    let (train, test) = config.data.load(base)?;
    let network = NetworkConfig {
        channels: config.train.channels.unwrap_or(config.network.channels),
        layers: config.train.layers.unwrap_or(config.network.layers),
        ..config.network.clone()
    };
    let derived = genotype.to_arch_graph()?;
    AB::seed(device, seed);
    let net = CellNetwork::<AB>::new(&derived, &network, train.channels, train.classes, OpMode::Derived, device)?;
    let params = trainable_params(&net);
    std::fs::create_dir_all(&args.out).map_err(|e| KdnasError::io(&args.out, e))?;
    if args.progress {
        eprintln!(
            "train: derived network, C={} layers={} params={} epochs={} -> {}",
            network.channels,
            network.layers,
            params,
            config.train.epochs,
            args.out.display()
        );
    }
    let started = std::time::Instant::now();
    let mut epochs: Vec<TrainEpoch> = Vec::new();
    let metrics_path = args.out.join("train_metrics.jsonl");
    let augment = config.train.augment.then(|| crate::data::Augment::standard(&config.data.normalization()));
    let net =
        train_classifier(net, &train, &test, augment.as_ref(), &config.train, seed, args.progress, device, |record| {
            epochs.push(record.clone());
            let lines: String = epochs.iter().filter_map(|r| serde_json::to_string(r).ok()).map(|l| l + "\n").collect();
            write_file_atomically(&metrics_path, lines.as_bytes())
        })?;
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    net.valid()
        .save_file(args.out.join("derived_net"), &recorder)
        .map_err(|e| KdnasError::Checkpoint { path: args.out.clone(), message: e.to_string() })?;
    let last = epochs.last().map_or(0.0, |r| r.test_acc);
    let best = epochs.iter().map(|r| r.test_acc).fold(0.0, f64::max);
    let summary = TrainSummary {
        genotype: genotype.darts.clone(),
        params,
        channels: network.channels,
        layers: network.layers,
        test_acc: last,
        best_test_acc: best,
        epochs: config.train.epochs,
        seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| KdnasError::Usage(e.to_string()))?;
    write_file_atomically(&args.out.join("result.json"), json.as_bytes())?;
    Ok(summary)
}
