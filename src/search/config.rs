//! Search hyper-parameters (DARTS's defaults, spec/darts.md).

use super::history::{EVAL_ACC, EpochRecord};
use crate::error::Result;
use crate::metrics::ranking::BEST_RANKING_METRIC;
use crate::optim::weight::DEFAULT_EPS;
use crate::optim::{AdamDecay, AdamW, LrSchedule, OptimizerKind, WeightOptimizerConfig};
use crate::run::best_epoch;
use crate::supernet::Relaxation;
use serde::{Deserialize, Serialize};

/// How the architecture and the weights are optimised against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Alpha step on L_val at the current weights, then a weight step (DARTS first order).
    #[default]
    FirstOrder,
    /// Alpha step through one unrolled weight step with a finite-difference Hessian-vector product.
    SecondOrder,
    /// One objective on the training batch updates weights and alphas together (AdaRec).
    SingleLevel,
}

/// Hyper-parameters of one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Epochs (DARTS 50).
    pub epochs: usize,
    /// Batch size (DARTS 64).
    pub batch_size: usize,
    /// Bi-level mode.
    pub mode: SearchMode,
    /// Fraction of the training data that trains weights; the rest trains alphas (DARTS 0.5).
    pub train_fraction: f64,
    /// Cap on steps per epoch (default: one pass over the training split).
    pub steps_per_epoch: Option<usize>,
    /// How logits become weights.
    pub relaxation: Relaxation,
    /// Initial weight learning rate (0.025).
    pub w_lr: f64,
    /// Final weight learning rate of the cosine schedule (0.001).
    pub w_lr_min: f64,
    /// How the weight learning rate moves over the epochs: cosine annealing from `w_lr` to `w_lr_min`
    /// (DARTS, the default; left out of written configs) or step decay at milestones, the schedules
    /// `[train] schedule` offers.
    #[serde(skip_serializing_if = "LrSchedule::is_cosine")]
    pub w_schedule: LrSchedule,
    /// Weight optimiser: `"sgd"` (the default; `w_momentum`, `w_weight_decay`), `"adam"` (`w_betas`,
    /// `w_eps`, `w_weight_decay` added to the gradient) or `"adamw"` (the same, decoupled weight decay;
    /// AdaRec). Second order needs `"sgd"`. Left out of written configs when `"sgd"`.
    #[serde(skip_serializing_if = "OptimizerKind::is_sgd")]
    pub w_optimizer: OptimizerKind,
    /// SGD momentum (0.9; SGD only).
    pub w_momentum: f64,
    /// Weight decay of every weight optimiser (DARTS's SGD 3e-4; AdaRec's AdamW 5e-4).
    pub w_weight_decay: f64,
    /// Adam / AdamW moment decay rates of the weights (b1, b2); default PyTorch's [0.9, 0.999].
    pub w_betas: Option<[f64; 2]>,
    /// Adam / AdamW epsilon of the weights; default PyTorch's 1e-8.
    pub w_eps: Option<f64>,
    /// Global gradient-norm clip for the weights (5).
    pub grad_clip: f64,
    /// Architecture optimiser: `"adam"` (the default; weight decay added to the gradient, DARTS) or
    /// `"adamw"` (decoupled weight decay, AdaRec). Left out of written configs when `"adam"`.
    #[serde(skip_serializing_if = "OptimizerKind::is_adam")]
    pub arch_optimizer: OptimizerKind,
    /// Adam learning rate for alphas (3e-4).
    pub arch_lr: f64,
    /// Adam betas (0.5, 0.999).
    pub arch_betas: [f64; 2],
    /// Weight decay of the architecture optimiser (DARTS 1e-3; AdaRec 1e-4).
    pub arch_weight_decay: f64,
    /// Weight-only epochs before the architecture moves (default 0); left out of written configs when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub warmup_epochs: usize,
    /// Steps per epoch at which the architecture gradient of each part of the task's architecture loss
    /// is measured and recorded (`arch_grads.jsonl`); default 4, 0 turns it off. Tasks without parts
    /// record nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch_grad_probes: Option<usize>,
    /// Which epoch's architecture weights the derivation reads: the last (the default; left out of
    /// written configs) or the one with the best end-of-epoch validation figure (AdaRec).
    #[serde(skip_serializing_if = "DeriveEpoch::is_last")]
    pub derive_from: DeriveEpoch,
    /// Early stopping: end the search once this many epochs have passed without a new best
    /// [`validation_figure`] (as `train.patience`); default off, left out of written configs then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
}

/// The epoch whose architecture weights are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeriveEpoch {
    /// The last finished epoch.
    #[default]
    Last,
    /// Among the epochs that moved the architecture (after warm-up), the one with the best
    /// end-of-epoch validation figure: NDCG@10 of the argmax architecture for ranking tasks, else the
    /// evaluation pass's accuracy (AdaRec keeps its best-validation epoch). The last epoch when no
    /// epoch has a figure.
    BestValidation,
}

impl DeriveEpoch {
    /// Whether this is the default, [`DeriveEpoch::Last`].
    pub fn is_last(&self) -> bool {
        *self == DeriveEpoch::Last
    }

    /// The record to derive from among `history` (`None` when it is empty).
    pub fn pick(self, history: &[EpochRecord]) -> Option<&EpochRecord> {
        match self {
            DeriveEpoch::Last => history.last(),
            DeriveEpoch::BestValidation => best_epoch(history, validation_figure).or(history.last()),
        }
    }
}

/// The end-of-epoch validation figure of an epoch that moved the architecture (`None` for warm-up
/// epochs): NDCG@10 of the argmax architecture for ranking tasks, else the evaluation pass's
/// accuracy. [`DeriveEpoch::BestValidation`] and `search.patience` rank epochs by it.
pub fn validation_figure(r: &EpochRecord) -> Option<f64> {
    r.extras.arch_moved.then(|| r.metric(BEST_RANKING_METRIC).or(r.metric(EVAL_ACC))).flatten()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Architecture-gradient probes per epoch when `search.arch_grad_probes` is not set.
pub const DEFAULT_ARCH_GRAD_PROBES: usize = 4;

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            epochs: 50,
            batch_size: 64,
            mode: SearchMode::FirstOrder,
            train_fraction: 0.5,
            steps_per_epoch: None,
            relaxation: Relaxation::Softmax,
            w_lr: 0.025,
            w_lr_min: 0.001,
            w_schedule: LrSchedule::Cosine,
            w_optimizer: OptimizerKind::Sgd,
            w_momentum: 0.9,
            w_weight_decay: 3e-4,
            w_betas: None,
            w_eps: None,
            grad_clip: 5.0,
            arch_optimizer: OptimizerKind::Adam,
            arch_lr: 3e-4,
            arch_betas: [0.5, 0.999],
            arch_weight_decay: 1e-3,
            warmup_epochs: 0,
            arch_grad_probes: None,
            derive_from: DeriveEpoch::Last,
            patience: None,
        }
    }
}

/// Why second-order search refuses a weight optimiser other than SGD.
pub const SECOND_ORDER_NEEDS_SGD: &str = "second order needs sgd (DARTS's virtual step is an SGD step)";

impl SearchConfig {
    /// The weight optimiser these values describe.
    pub fn weight_optimizer(&self) -> WeightOptimizerConfig {
        self.w_optimizer.config(self.w_momentum, self.w_weight_decay, self.w_betas, self.w_eps)
    }

    /// The architecture optimiser these values describe (epsilon 1e-8, PyTorch's).
    pub fn arch_optimizer<AB: burn::tensor::backend::AutodiffBackend>(&self) -> AdamW<AB> {
        let decay = match self.arch_optimizer {
            OptimizerKind::AdamW => AdamDecay::Decoupled,
            _ => AdamDecay::L2,
        };
        AdamW::new(self.arch_betas, DEFAULT_EPS, self.arch_weight_decay, decay)
    }

    /// Architecture-gradient probes per epoch.
    pub fn arch_grad_probes(&self) -> usize {
        self.arch_grad_probes.unwrap_or(DEFAULT_ARCH_GRAD_PROBES)
    }

    /// Rejects values that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::{at_least_one, cosine_range, field_error, non_negative, positive, unit_interval};
        at_least_one("search.epochs", self.epochs)?;
        at_least_one("search.batch_size", self.batch_size)?;
        if let Some(patience) = self.patience {
            at_least_one("search.patience", patience)?;
        }
        if let Some(steps) = self.steps_per_epoch {
            at_least_one("search.steps_per_epoch", steps)?;
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(field_error("search.train_fraction", "must be strictly between 0 and 1"));
        }
        cosine_range("search.w_lr", self.w_lr, "search.w_lr_min", self.w_lr_min)?;
        self.w_schedule.validate("search.w_schedule")?;
        unit_interval("search.w_momentum", self.w_momentum)?;
        non_negative("search.w_weight_decay", self.w_weight_decay)?;
        self.w_optimizer.validate(
            ["search.w_optimizer", "search.w_betas", "search.w_eps"],
            self.w_betas,
            self.w_eps,
        )?;
        if self.mode == SearchMode::SecondOrder && !self.w_optimizer.is_sgd() {
            return Err(field_error("search.w_optimizer", SECOND_ORDER_NEEDS_SGD));
        }
        positive("search.grad_clip", self.grad_clip)?;
        if self.arch_optimizer.is_sgd() {
            return Err(field_error("search.arch_optimizer", "the architecture is optimised by \"adam\" or \"adamw\""));
        }
        positive("search.arch_lr", self.arch_lr)?;
        unit_interval("search.arch_betas[0]", self.arch_betas[0])?;
        unit_interval("search.arch_betas[1]", self.arch_betas[1])?;
        non_negative("search.arch_weight_decay", self.arch_weight_decay)?;
        if self.warmup_epochs >= self.epochs {
            return Err(field_error(
                "search.warmup_epochs",
                format!("{} leaves none of the {} epochs to move the architecture", self.warmup_epochs, self.epochs),
            ));
        }
        self.relaxation.validate("search.relaxation")
    }
}

pub use crate::optim::schedule::cosine_lr;

#[cfg(test)]
mod tests {
    use super::DeriveEpoch;
    use crate::search::EpochRecord;
    use crate::search::history::SearchExtras;
    use std::collections::BTreeMap;

    fn record(epoch: usize, ndcg: f64, arch_moved: bool) -> EpochRecord {
        EpochRecord {
            epoch,
            lr: 0.0,
            train_loss: 0.0,
            train_acc: None,
            train_terms: BTreeMap::new(),
            metrics: BTreeMap::from([("valid_ndcg@10".to_string(), ndcg)]),
            seconds: 0.0,
            extras: SearchExtras {
                temperature: None,
                val_loss: 0.0,
                val_acc: None,
                val_terms: BTreeMap::new(),
                arch_weights: Vec::new(),
                task_state: None,
                arch_moved,
                arch_grads: None,
            },
        }
    }

    #[test]
    fn best_validation_picks_the_best_epoch_after_warm_up() {
        let history = [record(0, 0.9, false), record(1, 0.3, true), record(2, 0.5, true), record(3, 0.4, true)];
        assert_eq!(DeriveEpoch::Last.pick(&history).map(|r| r.epoch), Some(3));
        assert_eq!(
            DeriveEpoch::BestValidation.pick(&history).map(|r| r.epoch),
            Some(2),
            "warm-up epoch 0 is not a candidate"
        );
        assert!(DeriveEpoch::BestValidation.pick(&[]).is_none());
    }
}
