//! `kdnas train`: build the derived network of a genotype and train it from scratch, checkpointing
//! every epoch; `--resume DIR` continues a stopped run exactly.

use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::{CellNetwork, NetworkSize, ensure_fits};
use crate::ops::conv2d::OpMode;
use crate::run::checkpoint::refuse_existing_run;
use crate::run::folder::{RUN_CONFIG, load_run_copy, write_final_outputs};
use crate::run::{RunProgress, RunSummary};
use crate::tasks::image::{RunConfig, TRAIN_GENOTYPE};
use crate::train::figures::write_training_figures;
use crate::train::{ImageTrainTask, TrainRun, train_loop};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a training run starts from.
pub enum TrainStart {
    /// A new run of a genotype.
    New {
        /// Genotype JSON.
        genotype: PathBuf,
        /// Run config (data, network, train sections); default: `config.toml` beside the genotype.
        config: Option<PathBuf>,
        /// Override of `train.epochs`.
        epochs: Option<usize>,
        /// Override of the seed.
        seed: Option<u64>,
    },
    /// Continue the run in the output directory from its last checkpoint.
    Resume,
}

/// Inputs of `kdnas train`.
pub struct TrainArgs {
    /// New run or resume.
    pub start: TrainStart,
    /// Output directory (metrics, checkpoint, weights, summary).
    pub out: PathBuf,
    /// Show progress.
    pub progress: bool,
    /// Stop once this many epochs are finished (resume later with `--resume`).
    pub stop_after: Option<usize>,
}

/// What `kdnas train` reports (also written to `result.json` once all epochs are done).
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
    /// Test accuracy after the last finished epoch.
    pub test_acc: f64,
    /// Best test accuracy over epochs (reported for information; the final one is the result).
    pub best_test_acc: f64,
    /// Finished epochs.
    pub epochs: usize,
    /// Epochs the run is configured for.
    pub planned_epochs: usize,
    /// Wall-clock seconds of training, summed over epochs (resumed runs included).
    pub seconds: f64,
    /// Epochs run by this call (after the checkpoint, when resuming); not part of `result.json`.
    #[serde(skip)]
    pub epochs_run: usize,
}

impl RunSummary for TrainSummary {
    fn progress(&self) -> RunProgress {
        RunProgress { epochs: self.epochs, planned_epochs: self.planned_epochs, stopped_early: false }
    }

    fn headline(&self) -> String {
        format!("{} parameters, test accuracy {:.2}% {}", self.params, 100.0 * self.test_acc, self.progress().text())
    }
}

/// Writes the genotype and the resolved config of a new run into `out` (refusing a directory that
/// already holds a training checkpoint) and returns them.
fn prepare_new(
    genotype_path: &Path,
    config: Option<&Path>,
    epochs: Option<usize>,
    seed: Option<u64>,
    out: &Path,
) -> Result<(Genotype, RunConfig)> {
    refuse_existing_run(out, "training run", "kdnas train")?;
    let genotype = Genotype::load(genotype_path)?;
    let config_path = match config {
        Some(p) => p.to_path_buf(),
        None => genotype_path.parent().unwrap_or(Path::new(".")).join(RUN_CONFIG),
    };
    let mut config =
        RunConfig::load(&config_path)?.with_absolute_data_dir(config_path.parent().unwrap_or(Path::new(".")));
    if let Some(e) = epochs {
        config.train.epochs = e;
    }
    if let Some(s) = seed {
        config.seed = s;
    }
    config.validate()?;
    std::fs::create_dir_all(out).map_err(|e| KdnasError::io(out, e))?;
    genotype.save(&out.join(TRAIN_GENOTYPE))?;
    crate::run::folder::write_run_copy(&config, out)?;
    Ok((genotype, config))
}

/// Trains (or resumes training) the derived network and writes metrics, checkpoints, weights and a
/// summary to `args.out`.
pub fn train_command<AB: AutodiffBackend>(args: &TrainArgs, device: &AB::Device) -> Result<TrainSummary> {
    let out = &args.out;
    let (genotype, config) = match &args.start {
        TrainStart::New { genotype, config, epochs, seed } => {
            prepare_new(genotype, config.as_deref(), *epochs, *seed, out)?
        }
        TrainStart::Resume => {
            if !out.is_dir() {
                return Err(KdnasError::Usage(format!("{}: no such training directory", out.display())));
            }
            (
                Genotype::load(&out.join(TRAIN_GENOTYPE))?,
                load_run_copy(out, RunConfig::load, RunConfig::with_absolute_data_dir)?,
            )
        }
    };
    let (train, test) = config.data.load(Path::new("."))?;
    let network = config.derived_network();
    let derived = genotype.to_arch_graph()?;
    let size = NetworkSize::of(&derived, &network, train.channels, train.classes, train.height, OpMode::Derived);
    let what =
        format!("{}: channels = {}, layers = {}", out.join(RUN_CONFIG).display(), network.channels, network.layers);
    ensure_fits(size, config.train.batch_size, &what)?;
    AB::seed(device, config.seed);
    let net = CellNetwork::<AB>::new(&derived, &network, train.channels, train.classes, OpMode::Derived, device)?;
    let params = trainable_params(&net);
    let genotype_path = out.join(TRAIN_GENOTYPE);
    let genotype_bytes = std::fs::read(&genotype_path).map_err(|e| KdnasError::io(&genotype_path, e))?;
    let fingerprint = Fingerprint::new(&config, &[(TRAIN_GENOTYPE, &genotype_bytes)], &net)?;
    let resume = matches!(args.start, TrainStart::Resume);
    if args.progress {
        eprintln!(
            "train: derived network, C={} layers={} params={} epochs {} -> {}",
            network.channels,
            network.layers,
            params,
            config.train.epochs,
            out.display()
        );
    }
    let augment = config.train.augmenter(&config.data);
    let task = ImageTrainTask::<AB, CellNetwork<AB>>::new(train, test, augment, config.train.drop_path, device.clone());
    let run = TrainRun {
        config: &config.train,
        seed: config.seed,
        run_dir: out,
        resume,
        progress: args.progress,
        stop_after: args.stop_after,
        device,
        fingerprint: &fingerprint,
        keep_best: None,
        label: "train",
    };
    let outcome = train_loop(&task, net, &run, |_, _| Ok(()))?;
    let history = &outcome.history;
    let test_acc = |r: &crate::train::TrainEpoch| r.metric("test_acc").unwrap_or(0.0);
    let summary = TrainSummary {
        genotype: genotype.darts.clone(),
        params,
        channels: network.channels,
        layers: network.layers,
        test_acc: history.last().map_or(0.0, test_acc),
        best_test_acc: history.iter().map(test_acc).fold(0.0, f64::max),
        epochs: history.len(),
        planned_epochs: config.train.epochs,
        seconds: history.iter().map(|r| r.seconds).sum(),
        epochs_run: outcome.epochs_run,
    };
    if summary.finished() {
        write_training_figures(out, history, "derived network")?;
    }
    write_final_outputs(out, &outcome.net.valid(), &summary, outcome.epochs_run)?;
    Ok(summary)
}
