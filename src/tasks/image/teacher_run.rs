//! What an image-classifier training run (a teacher of `kdnas teacher train`, a student of `kdnas
//! distill`) leaves to be read back: `model.json` (the network, so its weights load without the
//! training data) and the run's summary (`result.json`).

use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::models::ModelConfig;
use crate::run::{RunProgress, RunSummary};
use crate::train::records::best_train_epoch;
use crate::train::{TrainEpoch, TrainOutcome};
use serde::{Deserialize, Serialize};
use std::path::Path;

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

    /// Writes `run_dir/model.json` atomically.
    pub fn save(&self, run_dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| KdnasError::Usage(e.to_string()))?;
        write_file_atomically(&run_dir.join(MODEL_INFO), &json)
    }
}

/// What `kdnas teacher train` and `kdnas distill` report (also `result.json` once every epoch is done or the run stopped early).
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
