//! Search hyper-parameters (DARTS's defaults, spec/darts.md).

use crate::error::{KdnasError, Result};
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
    /// Weight learning rate, cosine-annealed (0.025).
    pub w_lr: f64,
    /// Final weight learning rate (0.001).
    pub w_lr_min: f64,
    /// SGD momentum (0.9).
    pub w_momentum: f64,
    /// SGD weight decay (3e-4).
    pub w_weight_decay: f64,
    /// Global gradient-norm clip for the weights (5).
    pub grad_clip: f64,
    /// Adam learning rate for alphas (3e-4).
    pub arch_lr: f64,
    /// Adam betas (0.5, 0.999).
    pub arch_betas: [f64; 2],
    /// Adam weight decay for alphas (1e-3).
    pub arch_weight_decay: f64,
}

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
            w_momentum: 0.9,
            w_weight_decay: 3e-4,
            grad_clip: 5.0,
            arch_lr: 3e-4,
            arch_betas: [0.5, 0.999],
            arch_weight_decay: 1e-3,
        }
    }
}

impl SearchConfig {
    /// Rejects values that cannot work, naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str| Err(KdnasError::Usage(format!("search.{field}: {why}")));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return bad("train_fraction", "must be strictly between 0 and 1");
        }
        for (field, v) in [("w_lr", self.w_lr), ("arch_lr", self.arch_lr), ("grad_clip", self.grad_clip)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, "must be a positive number");
            }
        }
        Ok(())
    }
}

/// Cosine annealing from `max` at epoch 0 to `min` at epoch `epochs` (PyTorch CosineAnnealingLR).
pub fn cosine_lr(max: f64, min: f64, epoch: usize, epochs: usize) -> f64 {
    let t = epoch as f64 / epochs.max(1) as f64;
    min + 0.5 * (max - min) * (1.0 + (std::f64::consts::PI * t).cos())
}
