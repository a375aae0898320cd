//! `kdnas teacher train`: train a teacher network (CIFAR ResNet / WRN of [`crate::models`]) with the
//! one training loop, checkpointing every epoch, keeping the best epoch's weights and, on request,
//! periodic snapshots; `--resume DIR` continues a stopped run exactly.

use crate::data::DataConfig;
use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::{Model, ModelConfig};
use crate::run::folder::write_final_outputs;
use crate::run::{RunProgress, RunStart, RunSummary, open_run};
use crate::tasks::image::TeacherConfig;
use crate::train::epochs::{BEST_DIR, BEST_WEIGHTS};
use crate::train::figures::write_training_figures;
use crate::train::records::best_train_epoch;
use crate::train::{ImageTrainTask, TrainEpoch, TrainOutcome, TrainRun, train_loop};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the network of a teacher run directory is built for (architecture, input channels, classes).
pub const MODEL_INFO: &str = "model.json";

/// `model.json`: what the network of a teacher run is, so that its weights can be loaded without the
/// training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Short name (`resnet20`).
    pub name: String,
    /// Architecture.
    pub model: ModelConfig,
    /// Channels of the input images.
    pub in_channels: usize,
    /// Classes of the output.
    pub classes: usize,
    /// Trainable parameters.
    pub params: usize,
}

impl ModelInfo {
    /// Reads `run_dir/model.json`.
    pub fn load(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(MODEL_INFO);
        let text = std::fs::read(&path).map_err(|e| KdnasError::io(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| KdnasError::Checkpoint { path, message: e.to_string() })
    }
}

/// Inputs of `kdnas teacher train`.
pub struct TeacherArgs {
    /// New run or resume.
    pub start: RunStart,
    /// Run directory.
    pub out: PathBuf,
    /// Show progress.
    pub progress: bool,
    /// Stop once this many epochs are finished (resume later with `--resume`).
    pub stop_after: Option<usize>,
}

/// What `kdnas teacher train` reports (also `result.json` once every epoch is done or the run stopped early).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeacherSummary {
    /// Short name of the network (`resnet20`).
    pub model: String,
    /// Trainable parameters.
    pub params: usize,
    /// Test accuracy after the last finished epoch.
    pub test_acc: f64,
    /// Top-5 test accuracy after the last finished epoch.
    pub test_top5: f64,
    /// Best test accuracy over the epochs (its weights are in `best/model.mpk`).
    pub best_test_acc: f64,
    /// 0-based epoch of the best test accuracy.
    pub best_epoch: usize,
    /// Finished epochs.
    pub epochs: usize,
    /// Epochs the run is configured for.
    pub planned_epochs: usize,
    /// Whether `train.patience` ended the run before `planned_epochs`.
    #[serde(default)]
    pub stopped_early: bool,
    /// Wall-clock seconds of training, summed over epochs (resumed runs included).
    pub seconds: f64,
    /// Epochs run by this call; not part of `result.json`.
    #[serde(skip)]
    pub epochs_run: usize,
}

impl RunSummary for TeacherSummary {
    fn progress(&self) -> RunProgress {
        RunProgress { epochs: self.epochs, planned_epochs: self.planned_epochs, stopped_early: self.stopped_early }
    }

    fn headline(&self) -> String {
        format!(
            "{}: {} parameters, test accuracy {:.2}% (best {:.2}% at epoch {}) {}",
            self.model,
            self.params,
            100.0 * self.test_acc,
            100.0 * self.best_test_acc,
            self.best_epoch + 1,
            self.progress().text()
        )
    }
}

impl TeacherSummary {
    /// The summary of `history`.
    pub fn of<N>(info: &ModelInfo, outcome: &TrainOutcome<N>, planned_epochs: usize) -> Self {
        let history = &outcome.history;
        let metric = |r: &TrainEpoch, name: &str| r.metric(name).unwrap_or(0.0);
        let best = best_train_epoch(history, "test_acc");
        Self {
            model: info.name.clone(),
            params: info.params,
            test_acc: history.last().map_or(0.0, |r| metric(r, "test_acc")),
            test_top5: history.last().map_or(0.0, |r| metric(r, "test_top5")),
            best_test_acc: best.map_or(0.0, |r| metric(r, "test_acc")),
            best_epoch: best.map_or(0, |r| r.epoch),
            epochs: history.len(),
            planned_epochs,
            stopped_early: outcome.stopped_early,
            seconds: history.iter().map(|r| r.seconds).sum(),
            epochs_run: outcome.epochs_run,
        }
    }
}

/// `data` with a relative `dir` made absolute against the folder of the file `config_path`, so the
/// section can be copied elsewhere and still find its data.
pub fn data_relative_to(mut data: DataConfig, config_path: &Path) -> DataConfig {
    let base = config_path.parent().unwrap_or(Path::new("."));
    data.dir = data.dir.map(|dir| crate::files::absolute_from(base, &dir));
    data
}

/// Trains (or resumes training) a teacher and writes metrics, checkpoints, the best and final weights,
/// a summary and the training curves to `args.out`.
pub fn teacher_command<AB: AutodiffBackend>(args: &TeacherArgs, device: &AB::Device) -> Result<TeacherSummary> {
    let out = &args.out;
    let config: TeacherConfig = open_run(&args.start, out, |_, _| Ok(()))?;
    let (train, test) = config.data.load(Path::new("."))?;
    AB::seed(device, config.seed);
    let net: Model<AB> = config.model.build(train.channels, train.classes, device)?;
    let info = ModelInfo {
        name: config.model.name(),
        model: config.model.clone(),
        in_channels: train.channels,
        classes: train.classes,
        params: trainable_params(&net),
    };
    if !args.start.resumes() || !out.join(MODEL_INFO).exists() {
        let json = serde_json::to_vec_pretty(&info).map_err(|e| KdnasError::Usage(e.to_string()))?;
        write_file_atomically(&out.join(MODEL_INFO), &json)?;
    }
    let fingerprint = Fingerprint::new(&config, &[], &net)?;
    if args.progress {
        eprintln!(
            "teacher: {} ({} parameters), {} training / {} test images, {} epochs -> {}",
            info.name,
            info.params,
            train.len(),
            test.len(),
            config.train.epochs,
            out.display()
        );
    }
    let augment = config.train.augmenter(&config.data);
    let task = ImageTrainTask::<AB, Model<AB>>::new(train, test, augment, 0.0, device.clone());
    let run = TrainRun {
        config: &config.train,
        seed: config.seed,
        run_dir: out,
        resume: args.start.resumes(),
        progress: args.progress,
        stop_after: args.stop_after,
        device,
        fingerprint: &fingerprint,
        keep_best: Some("test_acc"),
        label: "teacher",
    };
    let outcome = train_loop(&task, net, &run, |_, _| Ok(()))?;
    let summary = TeacherSummary::of(&info, &outcome, config.train.epochs);
    write_training_figures(out, &outcome.history, &format!("teacher {}", info.name))?;
    write_final_outputs(out, &outcome.net.valid(), &summary, outcome.epochs_run)?;
    Ok(summary)
}

/// The config file a teacher run reads: the given file of a new run, or the run directory's copy when
/// resuming (failing when that directory does not exist).
pub fn teacher_config_file(args: &TeacherArgs) -> Result<PathBuf> {
    args.start.config_file(&args.out, "teacher run")
}

/// The weights of the best epoch of the run in `run_dir`.
pub fn best_weights(run_dir: &Path) -> PathBuf {
    run_dir.join(BEST_DIR).join(BEST_WEIGHTS)
}
