//! Adam and AdamW over a module's float parameters, with PyTorch's semantics (`torch.optim.Adam` /
//! `torch.optim.AdamW`, no amsgrad) and checkpointable moments. Per parameter with a gradient g:
//! AdamW first decays the weight, w -= lr*wd*w (Adam instead adds wd*w to g); then t += 1,
//! m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g^2 and w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
//! A parameter without a gradient in a step is left untouched and its step count t stays.

use super::param_update::updated_param;
use super::state_file::{ParamState, param_sizes, read_state, state_error, write_state};
use crate::error::Result;
use burn::module::{AutodiffModule, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::collections::HashMap;
use std::path::Path;

/// What the state file holds (for its error messages); per entry the step count, then m and v.
const WHAT: &str = "Adam moments";

/// How weight decay enters the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdamDecay {
    /// `torch.optim.Adam`: wd*w is added to the gradient (it then passes through the moments).
    L2,
    /// `torch.optim.AdamW`: w -= lr*wd*w before the Adam update.
    Decoupled,
}

/// Moments of one parameter, flattened.
struct Moments<B: Backend> {
    /// Steps taken by this parameter.
    step: u64,
    /// First moment m, `[n]`.
    m: Tensor<B, 1>,
    /// Second moment v, `[n]`.
    v: Tensor<B, 1>,
}

/// Adam / AdamW state: the moments and step count of every parameter that has been stepped.
pub struct AdamW<AB: AutodiffBackend> {
    /// Decay rates (b1, b2) of the moments (PyTorch (0.9, 0.999)).
    pub betas: [f64; 2],
    /// Added to the bias-corrected sqrt(v) (PyTorch 1e-8).
    pub eps: f64,
    /// Weight decay (AdaRec's network: 5e-4).
    pub weight_decay: f64,
    /// Adam (L2) or AdamW (decoupled) weight decay.
    pub decay: AdamDecay,
    moments: HashMap<ParamId, Moments<AB::InnerBackend>>,
}

struct AdamMapper<'a, AB: AutodiffBackend> {
    adam: &'a mut AdamW<AB>,
    grads: &'a GradientsParams,
    lr: f64,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for AdamMapper<'_, AB> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let lr = self.lr;
        let adam = &mut *self.adam;
        updated_param(param, self.grads, |id, w, g| {
            let AdamW { betas: [b1, b2], eps, weight_decay: wd, decay, .. } = *adam;
            let (w, g) = match decay {
                AdamDecay::L2 => (w.clone(), g + w.mul_scalar(wd)),
                AdamDecay::Decoupled => (w.mul_scalar(1.0 - lr * wd), g),
            };
            let moments = match adam.moments.remove(&id) {
                Some(Moments { step, m, v }) => Moments {
                    step: step + 1,
                    m: m.mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1),
                    v: v.mul_scalar(b2) + g.powi_scalar(2).mul_scalar(1.0 - b2),
                },
                None => {
                    Moments { step: 1, m: g.clone().mul_scalar(1.0 - b1), v: g.powi_scalar(2).mul_scalar(1.0 - b2) }
                }
            };
            let t = moments.step as i32;
            let step_size = lr / (1.0 - b1.powi(t));
            let denom = moments.v.clone().sqrt().div_scalar((1.0 - b2.powi(t)).sqrt()).add_scalar(eps);
            let new_w = w - (moments.m.clone() / denom).mul_scalar(step_size); // [n]
            adam.moments.insert(id, moments);
            new_w
        })
    }
}

impl<AB: AutodiffBackend> AdamW<AB> {
    /// A fresh optimiser: no moments, every step count at 0.
    pub fn new(betas: [f64; 2], eps: f64, weight_decay: f64, decay: AdamDecay) -> Self {
        Self { betas, eps, weight_decay, decay, moments: HashMap::new() }
    }

    /// One Adam(W) step on `module` with learning rate `lr`.
    pub fn step<M: AutodiffModule<AB>>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        module.map(&mut AdamMapper { adam: self, grads, lr })
    }

    /// Writes the step counts and moments to `path` (id, step, length, m values, v values per entry).
    pub fn save(&self, path: &Path) -> Result<()> {
        let entries: Vec<ParamState<AB::InnerBackend, 1, 2>> = self
            .moments
            .iter()
            .map(|(&id, s)| ParamState { id, counters: [s.step], slots: [s.m.clone(), s.v.clone()] })
            .collect();
        write_state(path, &entries)
    }

    /// Restores the state written by [`AdamW::save`] for the parameters of `module`; an entry for a
    /// parameter `module` lacks, of another length or with a step count of 0 is a checkpoint error
    /// naming the file.
    pub fn load<M: AutodiffModule<AB>>(&mut self, path: &Path, module: &M, device: &AB::Device) -> Result<()> {
        let entries = read_state::<AB::InnerBackend, 1, 2>(path, WHAT, &param_sizes(module), device)?;
        let mut moments = HashMap::new();
        for (i, ParamState { id, counters: [step], slots: [m, v] }) in entries.into_iter().enumerate() {
            if step == 0 {
                return Err(state_error(path, WHAT, format!("entry {i} has taken 0 steps")));
            }
            moments.insert(id, Moments { step, m, v });
        }
        self.moments = moments;
        Ok(())
    }
}
