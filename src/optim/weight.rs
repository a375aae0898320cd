//! The weight optimiser of the training loop and the search loop: SGD with momentum (DARTS, the
//! default), Adam or AdamW (AdaRec, NextItNet teachers), chosen by a config section's flat keys
//! (`optimizer`, `momentum`, `betas`, `eps`, `weight_decay` in `[train]`; `w_`-prefixed in `[search]`).

use super::adamw::{AdamDecay, AdamW};
use super::sgd::Sgd;
use crate::error::{KdnasError, Result};
use crate::validate::{field_error, positive, unit_interval};
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// PyTorch's Adam betas.
pub const DEFAULT_BETAS: [f64; 2] = [0.9, 0.999];
/// PyTorch's Adam epsilon (burn's default is 1e-5).
pub const DEFAULT_EPS: f64 = 1e-8;

/// Which weight optimiser a config section names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// Momentum SGD (PyTorch semantics, dampening 0).
    #[default]
    #[serde(rename = "sgd")]
    Sgd,
    /// `torch.optim.Adam`: weight decay added to the gradient.
    #[serde(rename = "adam")]
    Adam,
    /// `torch.optim.AdamW`: decoupled weight decay.
    #[serde(rename = "adamw")]
    AdamW,
}

impl OptimizerKind {
    /// Whether this is SGD (the default, left out of written configs so that the fingerprints of runs
    /// checkpointed before the optimiser could be chosen stay the same).
    pub fn is_sgd(&self) -> bool {
        *self == OptimizerKind::Sgd
    }

    /// Whether this is Adam (the architecture optimiser's default, left out of written configs).
    pub fn is_adam(&self) -> bool {
        *self == OptimizerKind::Adam
    }

    /// The optimiser this kind makes of a section's values; unset `betas` / `eps` are PyTorch's.
    pub fn config(
        self,
        momentum: f64,
        weight_decay: f64,
        betas: Option<[f64; 2]>,
        eps: Option<f64>,
    ) -> WeightOptimizerConfig {
        let (betas, eps) = (betas.unwrap_or(DEFAULT_BETAS), eps.unwrap_or(DEFAULT_EPS));
        match self {
            OptimizerKind::Sgd => WeightOptimizerConfig::Sgd { momentum, weight_decay },
            OptimizerKind::Adam => WeightOptimizerConfig::Adam { betas, eps, weight_decay },
            OptimizerKind::AdamW => WeightOptimizerConfig::AdamW { betas, eps, weight_decay },
        }
    }

    /// Checks the Adam keys of a section: `keys` names the kind, betas and eps fields. Betas must be in
    /// [0, 1) and eps positive; either given with SGD is refused (it would be silently ignored).
    pub fn validate(self, keys: [&str; 3], betas: Option<[f64; 2]>, eps: Option<f64>) -> Result<()> {
        let [kind, betas_key, eps_key] = keys;
        if self.is_sgd() {
            let unused = [(betas_key, betas.is_some()), (eps_key, eps.is_some())];
            if let Some((key, _)) = unused.iter().find(|(_, set)| *set) {
                return Err(field_error(key, format!("only adam and adamw use it ({kind} is sgd)")));
            }
        }
        if let Some([b1, b2]) = betas {
            unit_interval(&format!("{betas_key}[0]"), b1)?;
            unit_interval(&format!("{betas_key}[1]"), b2)?;
        }
        eps.map_or(Ok(()), |eps| positive(eps_key, eps))
    }
}

/// A weight optimiser with all its hyper-parameters (the learning rate comes from the schedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum WeightOptimizerConfig {
    /// Momentum SGD: g' = g + wd*w; v = mu*v + g'; w -= lr*v.
    #[serde(rename = "sgd")]
    Sgd {
        /// Momentum mu.
        momentum: f64,
        /// L2 weight decay.
        weight_decay: f64,
    },
    /// Adam with L2 weight decay (added to the gradient).
    #[serde(rename = "adam")]
    Adam {
        /// Moment decay rates (b1, b2).
        betas: [f64; 2],
        /// Added to the bias-corrected sqrt(v).
        eps: f64,
        /// L2 weight decay.
        weight_decay: f64,
    },
    /// AdamW: decoupled weight decay.
    #[serde(rename = "adamw")]
    AdamW {
        /// Moment decay rates (b1, b2).
        betas: [f64; 2],
        /// Added to the bias-corrected sqrt(v).
        eps: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
}

impl WeightOptimizerConfig {
    /// A fresh optimiser (no state).
    pub fn init<AB: AutodiffBackend>(&self) -> WeightOptimizer<AB> {
        match *self {
            Self::Sgd { momentum, weight_decay } => WeightOptimizer::Sgd(Sgd::new(momentum, weight_decay)),
            Self::Adam { betas, eps, weight_decay } => {
                WeightOptimizer::Adam(AdamW::new(betas, eps, weight_decay, AdamDecay::L2))
            }
            Self::AdamW { betas, eps, weight_decay } => {
                WeightOptimizer::Adam(AdamW::new(betas, eps, weight_decay, AdamDecay::Decoupled))
            }
        }
    }
}

/// File of a checkpoint holding the SGD velocity (the name of checkpoints before Adam existed).
pub const SGD_STATE_FILE: &str = "sgd_velocity.bin";
/// File of a checkpoint holding the Adam / AdamW moments.
pub const ADAM_STATE_FILE: &str = "adam_moments.bin";

/// A weight optimiser and its state.
pub enum WeightOptimizer<AB: AutodiffBackend> {
    /// Momentum SGD.
    Sgd(Sgd<AB>),
    /// Adam or AdamW.
    Adam(AdamW<AB>),
}

impl<AB: AutodiffBackend> WeightOptimizer<AB> {
    /// One step on `module` with learning rate `lr`; parameters without a gradient are left untouched.
    pub fn step<M: AutodiffModule<AB>>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        match self {
            Self::Sgd(sgd) => sgd.step(module, grads, lr),
            Self::Adam(adam) => adam.step(module, grads, lr),
        }
    }

    /// The SGD inside (DARTS's virtual step needs it), or `None` for Adam.
    pub fn sgd_mut(&mut self) -> Option<&mut Sgd<AB>> {
        match self {
            Self::Sgd(sgd) => Some(sgd),
            Self::Adam(_) => None,
        }
    }

    /// Name of the file holding this optimiser's state inside a checkpoint directory.
    pub fn state_file(&self) -> &'static str {
        match self {
            Self::Sgd(_) => SGD_STATE_FILE,
            Self::Adam(_) => ADAM_STATE_FILE,
        }
    }

    /// Writes the state to [`Self::state_file`] in the checkpoint directory `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(self.state_file());
        match self {
            Self::Sgd(sgd) => sgd.save(&path),
            Self::Adam(adam) => adam.save(&path),
        }
    }

    /// Restores the state [`Self::save`] wrote to the checkpoint directory `dir`, for the parameters of
    /// `module`. A checkpoint holding another optimiser's state is an error saying so.
    pub fn load<M: AutodiffModule<AB>>(&mut self, dir: &Path, module: &M, device: &AB::Device) -> Result<()> {
        let path = dir.join(self.state_file());
        if !path.exists()
            && let Some(other) = [SGD_STATE_FILE, ADAM_STATE_FILE].into_iter().find(|f| dir.join(f).exists())
        {
            return Err(KdnasError::Checkpoint {
                path: path.clone(),
                message: format!(
                    "missing: the checkpoint holds {other}, the state of another weight optimiser; resume with the \
                     optimiser the run was started with"
                ),
            });
        }
        match self {
            Self::Sgd(sgd) => sgd.load(&path, module, device),
            Self::Adam(adam) => adam.load(&path, module, device),
        }
    }
}
