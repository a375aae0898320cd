//! Training networks with one epoch loop ([`epochs::train_loop`]) behind the [`TrainTask`] trait:
//! derived cell networks and teachers (image classification, [`image_task`]) today, distillation next.
//! The loop owns the weight optimiser, the learning-rate schedule, gradient clipping, progress, the
//! per-epoch records ([`records`]) and the checkpoints ([`checkpoint`]) from which a stopped run
//! resumes exactly.

pub mod checkpoint;
pub mod classify;
pub mod epochs;
pub mod figures;
pub mod image_task;
#[cfg(test)]
mod loop_tests;
pub mod records;
pub mod task;

pub use epochs::{BestEpoch, StepSize, TrainOutcome, TrainRun, train_loop, train_step};
pub use image_task::{ImageClassifier, ImageTrainTask};
pub use records::{TrainEpoch, write_train_metrics};
pub use task::{EpochAt, TrainTask};

use crate::error::Result;
use crate::optim::{LrSchedule, OptimizerKind, WeightOptimizerConfig};
use serde::{Deserialize, Serialize};

/// Hyper-parameters of a training run (the `[train]` section of run and teacher configs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Epochs (DARTS 600).
    pub epochs: usize,
    /// Batch size (DARTS 96).
    pub batch_size: usize,
    /// Initial learning rate (DARTS 0.025).
    pub lr: f64,
    /// Final learning rate of the cosine schedule (DARTS 0).
    pub lr_min: f64,
    /// Weight optimiser: `"sgd"` (the default; `momentum`, `weight_decay`), `"adam"` (`betas`, `eps`,
    /// `weight_decay` added to the gradient) or `"adamw"` (the same, decoupled weight decay). Left out of
    /// written configs when `"sgd"`.
    #[serde(skip_serializing_if = "OptimizerKind::is_sgd")]
    pub optimizer: OptimizerKind,
    /// SGD momentum (SGD only).
    pub momentum: f64,
    /// Weight decay of every optimiser (AdaRec's AdamW: 5e-4).
    pub weight_decay: f64,
    /// Adam / AdamW moment decay rates (b1, b2); default PyTorch's [0.9, 0.999].
    pub betas: Option<[f64; 2]>,
    /// Adam / AdamW epsilon; default PyTorch's 1e-8.
    pub eps: Option<f64>,
    /// Global gradient-norm clip (DARTS 5); 0 disables clipping.
    pub grad_clip: f64,
    /// How the learning rate moves over the epochs (default: cosine from `lr` to `lr_min`).
    pub schedule: LrSchedule,
    /// Keep the weights every this many epochs as `snapshots/epoch_NNNN.mpk` (NNNN: epochs trained);
    /// none by default.
    pub snapshot_every: Option<usize>,
    /// Node channels of the derived network (DARTS 36); default: the search network's.
    pub channels: Option<usize>,
    /// Cells of the derived network (DARTS 20); default: the search network's.
    pub layers: Option<usize>,
    /// Random crop + flip on training images.
    pub augment: bool,
    /// Cutout square side on training images (DARTS's evaluation: 16), none by default.
    pub cutout: Option<usize>,
    /// Final drop-path probability, reached linearly from 0 over the epochs (DARTS's evaluation:
    /// 0.2); 0 (the default) disables it.
    pub drop_path: f64,
    /// Early stopping: end the run once this many epochs have passed without a new best value of the
    /// metric the command keeps its best weights by (validation NDCG@10 for sequence models, test
    /// accuracy for image teachers); none by default (every epoch is trained). It changes no epoch's
    /// computation, so it is not part of the checkpoint's fingerprint and may be set or changed in a
    /// run's config before a resume. `kdnas train` and `kdnas distill` keep no best epoch and refuse it.
    pub patience: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 600,
            batch_size: 96,
            lr: 0.025,
            lr_min: 0.0,
            optimizer: OptimizerKind::Sgd,
            momentum: 0.9,
            weight_decay: 3e-4,
            betas: None,
            eps: None,
            grad_clip: 5.0,
            schedule: LrSchedule::Cosine,
            snapshot_every: None,
            channels: None,
            layers: None,
            augment: true,
            cutout: None,
            drop_path: 0.0,
            patience: None,
        }
    }
}

impl TrainConfig {
    /// Rejects values that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::{at_least_one, cosine_range, field_error, non_negative, unit_interval};
        at_least_one("train.epochs", self.epochs)?;
        at_least_one("train.batch_size", self.batch_size)?;
        cosine_range("train.lr", self.lr, "train.lr_min", self.lr_min)?;
        unit_interval("train.momentum", self.momentum)?;
        non_negative("train.weight_decay", self.weight_decay)?;
        self.optimizer.validate(["train.optimizer", "train.betas", "train.eps"], self.betas, self.eps)?;
        non_negative("train.grad_clip", self.grad_clip)?;
        self.schedule.validate("train.schedule")?;
        unit_interval("train.drop_path", self.drop_path)?;
        if self.cutout == Some(0) {
            return Err(field_error("train.cutout", "the square side must be at least 1 (leave it out for none)"));
        }
        for (field, value) in [
            ("train.channels", self.channels),
            ("train.layers", self.layers),
            ("train.snapshot_every", self.snapshot_every),
            ("train.patience", self.patience),
        ] {
            if let Some(v) = value {
                at_least_one(field, v)?;
            }
        }
        Ok(())
    }

    /// Fails when `patience` is set for a command that keeps no best epoch (`kdnas train`, `kdnas
    /// distill`): early stopping would have no metric to watch. `command` names it.
    pub fn refuse_patience(&self, command: &str) -> Result<()> {
        match self.patience {
            Some(_) => Err(crate::validate::field_error(
                "train.patience",
                format!("`{command}` keeps no best epoch, so early stopping has no metric to watch; leave it out"),
            )),
            None => Ok(()),
        }
    }

    /// Fails when a field that only image networks read is set (a sequence model's config): `sized_by`
    /// says what sizes the model instead.
    pub fn refuse_image_fields(&self, sized_by: &str) -> Result<()> {
        for (field, set) in [
            ("train.channels", self.channels.is_some()),
            ("train.layers", self.layers.is_some()),
            ("train.cutout", self.cutout.is_some()),
            ("train.drop_path", self.drop_path != 0.0),
        ] {
            if set {
                let why = format!("only applies to image networks; {sized_by}");
                return Err(crate::validate::field_error(field, why));
            }
        }
        Ok(())
    }

    /// The weight optimiser these values describe.
    pub fn weight_optimizer(&self) -> WeightOptimizerConfig {
        self.optimizer.config(self.momentum, self.weight_decay, self.betas, self.eps)
    }

    /// The augmentation of training images the `augment` and `cutout` fields ask for (crop with
    /// padding 4 and flip, then cutout), matched to the data's normalisation; `None` when neither is set.
    pub fn augmenter(&self, data: &crate::data::DataConfig) -> Option<crate::data::Augment> {
        (self.augment || self.cutout.is_some()).then(|| {
            let pad = if self.augment { 4 } else { 0 };
            crate::data::Augment::new(pad, self.augment, &data.normalization()).with_cutout(self.cutout)
        })
    }
}
