//! SGD with momentum and weight decay whose velocity is readable (DARTS's virtual step needs it) and
//! checkpointable. Semantics are PyTorch's (dampening 0): g' = g + wd*w; v = mu*v + g'; w -= lr*v.

use super::param_update::updated_param;
use super::state_file::{ParamState, param_sizes, read_state, write_state};
use crate::error::Result;
use burn::module::{AutodiffModule, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, backend::AutodiffBackend};
use std::collections::HashMap;
use std::path::Path;

/// What the state file holds (for its error messages).
const WHAT: &str = "SGD velocity";

/// Momentum SGD state: the velocity of every parameter that has been stepped, flattened.
pub struct Sgd<AB: AutodiffBackend> {
    /// Momentum mu (DARTS 0.9).
    pub momentum: f64,
    /// L2 weight decay (DARTS 3e-4).
    pub weight_decay: f64,
    velocity: HashMap<ParamId, Tensor<AB::InnerBackend, 1>>,
}

/// What a mapper does with each parameter.
enum Update {
    /// Apply the step and remember the new velocity.
    Step,
    /// Compute w - lr*(mu*v + g + wd*w) as a fresh tracked leaf, leaving the velocity alone.
    Virtual,
}

struct SgdMapper<'a, AB: AutodiffBackend> {
    sgd: &'a mut Sgd<AB>,
    grads: &'a GradientsParams,
    lr: f64,
    update: Update,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for SgdMapper<'_, AB> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let (lr, sgd, update) = (self.lr, &mut *self.sgd, &self.update);
        updated_param(param, self.grads, |id, w, g| {
            let g = g + w.clone().mul_scalar(sgd.weight_decay);
            let v = match sgd.velocity.get(&id) {
                Some(prev) => prev.clone().mul_scalar(sgd.momentum) + g,
                None => g,
            }; // [n]
            let new_w = w - v.clone().mul_scalar(lr);
            if let Update::Step = update {
                sgd.velocity.insert(id, v);
            }
            new_w
        })
    }
}

impl<AB: AutodiffBackend> Sgd<AB> {
    /// A fresh optimiser with zero velocity.
    pub fn new(momentum: f64, weight_decay: f64) -> Self {
        Self { momentum, weight_decay, velocity: HashMap::new() }
    }

    /// One SGD step on `module` with learning rate `lr`.
    pub fn step<M: AutodiffModule<AB>>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        module.map(&mut SgdMapper { sgd: self, grads, lr, update: Update::Step })
    }

    /// DARTS's virtual step w' = w - lr*(mu*v + g + wd*w), with w' as new tracked leaves (same ids).
    pub fn virtual_step<M: AutodiffModule<AB>>(&mut self, module: &M, grads: &GradientsParams, lr: f64) -> M {
        module.clone().map(&mut SgdMapper { sgd: self, grads, lr, update: Update::Virtual })
    }

    /// Writes the velocity to `path` (id, length, little-endian f32 values per entry).
    pub fn save(&self, path: &Path) -> Result<()> {
        let entries: Vec<ParamState<AB::InnerBackend, 0, 1>> =
            self.velocity.iter().map(|(&id, v)| ParamState { id, counters: [], slots: [v.clone()] }).collect();
        write_state(path, &entries)
    }

    /// Restores the velocity written by [`Sgd::save`] for the parameters of `module`; an entry for a
    /// parameter `module` lacks, or of another length, is a checkpoint error naming the file.
    pub fn load<M: AutodiffModule<AB>>(&mut self, path: &Path, module: &M, device: &AB::Device) -> Result<()> {
        let entries = read_state::<AB::InnerBackend, 0, 1>(path, WHAT, &param_sizes(module), device)?;
        self.velocity = entries.into_iter().map(|ParamState { id, slots: [v], .. }| (id, v)).collect();
        Ok(())
    }
}
