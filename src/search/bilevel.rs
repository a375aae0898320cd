//! One search step: the architecture update (first order, second order, or single level) followed by
//! the weight update, exactly as spec/darts.md describes.

use super::config::{SECOND_ORDER_NEEDS_SGD, SearchMode};
use super::params::perturbed;
use super::task::SearchTask;
use crate::error::Result;
use crate::optim::grad_norm::{clip_global_norm, global_norm};
use crate::optim::{AdamW, WeightOptimizer};
use crate::run::{LossReading, TaskLoss, read_loss};
use crate::supernet::{ArchParams, ArchWeights, GumbelNoise, Relaxation};
use crate::validate::field_error;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

/// The two optimisers of a search: SGD (or Adam / AdamW) for the weights, Adam (or AdamW) for the
/// architecture.
pub struct Optimisers<AB: AutodiffBackend> {
    /// Weight optimiser (second order needs SGD, whose velocity the virtual step reads).
    pub weights: WeightOptimizer<AB>,
    /// Architecture optimiser.
    pub arch: AdamW<AB>,
}

/// Everything a step needs besides the modules and batches.
pub struct StepSettings<'a, AB: AutodiffBackend> {
    /// Bi-level mode.
    pub mode: SearchMode,
    /// Relaxation of the logits.
    pub relaxation: &'a Relaxation,
    /// Gumbel noise for this step (when the relaxation samples).
    pub noise: Option<GumbelNoise<AB>>,
    /// Current weight learning rate (also the virtual-step eta).
    pub w_lr: f64,
    /// Architecture learning rate.
    pub arch_lr: f64,
    /// Global clip norm for the weight gradients.
    pub grad_clip: f64,
    /// Epoch (for temperature schedules and error messages).
    pub epoch: usize,
    /// Total epochs.
    pub epochs: usize,
    /// Step inside the epoch (for error messages).
    pub step: usize,
    /// Whether the architecture steps (false in warm-up epochs: the weights train alone).
    pub arch_moves: bool,
}

impl<AB: AutodiffBackend> StepSettings<'_, AB> {
    /// The relaxed weights of `arch` for this step.
    pub fn weights(&self, arch: &ArchParams<AB>) -> ArchWeights<AB> {
        self.relaxation.weights(arch, self.noise.as_ref(), self.epoch, self.epochs)
    }

    /// Reads a loss to the host, failing with the name of the first non-finite term.
    pub fn checked(&self, loss: &TaskLoss<AB>) -> Result<LossReading> {
        read_loss(loss, self.epoch, self.step)
    }
}

/// What one step measured.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    /// Loss of the weight update (training batch).
    pub train: LossReading,
    /// Loss of the architecture update (validation batch; training batch in single-level mode).
    pub val: LossReading,
}

/// Runs one search step and returns the updated network and architecture. `val` is the architecture
/// batch of the bi-level modes; single-level search reads `train` only (and ignores `val`).
pub fn search_step<AB: AutodiffBackend, T: SearchTask<AB>>(
    task: &T,
    net: T::Net,
    arch: ArchParams<AB>,
    opt: &mut Optimisers<AB>,
    train: &T::Batch,
    val: Option<&T::Batch>,
    s: &StepSettings<AB>,
) -> Result<(T::Net, ArchParams<AB>, StepReport)> {
    let val = match (s.mode, val) {
        (SearchMode::SingleLevel, _) => None,
        (_, Some(val)) => Some(val),
        (mode, None) => panic!("{mode:?} search needs a validation batch"),
    };
    let Some(val) = val else {
        let frozen_arch = if s.arch_moves { arch.clone() } else { arch.clone().no_grad() };
        let loss = task.arch_loss(&net, &s.weights(&frozen_arch), train);
        let reading = s.checked(&loss)?;
        let mut grads = loss.total.backward();
        let g_arch = GradientsParams::from_module(&mut grads, &arch);
        let mut g_net = GradientsParams::from_module(&mut grads, &net);
        clip_global_norm::<AB, T::Net>(&net, &mut g_net, s.grad_clip);
        let arch = if s.arch_moves { opt.arch.step(arch, &g_arch, s.arch_lr) } else { arch };
        let net = opt.weights.step(net, &g_net, s.w_lr);
        return Ok((net, arch, StepReport { train: reading.clone(), val: reading }));
    };
    let (arch, val_reading) = if s.arch_moves {
        let (g_arch, val_reading) = match s.mode {
            SearchMode::SecondOrder => unrolled_arch_grad(task, &net, &arch, opt, train, val, s)?,
            _ => first_order_arch_grad(task, &net, &arch, val, s)?,
        };
        (opt.arch.step(arch, &g_arch, s.arch_lr), val_reading)
    } else {
        // Warm-up: the validation loss is still read (the record's curves), without a backward pass.
        let frozen = net.clone().no_grad();
        let loss = task.arch_loss(&frozen, &s.weights(&arch.clone().no_grad()), val);
        (arch, s.checked(&loss)?)
    };
    let loss = task.weight_loss(&net, &s.weights(&arch.clone().no_grad()), train);
    let train_reading = s.checked(&loss)?;
    let mut grads = loss.total.backward();
    let mut g_net = GradientsParams::from_module(&mut grads, &net);
    clip_global_norm::<AB, T::Net>(&net, &mut g_net, s.grad_clip);
    let net = opt.weights.step(net, &g_net, s.w_lr);
    Ok((net, arch, StepReport { train: train_reading, val: val_reading }))
}

/// dL_val(w, alpha)/dalpha at the current weights.
fn first_order_arch_grad<AB: AutodiffBackend, T: SearchTask<AB>>(
    task: &T,
    net: &T::Net,
    arch: &ArchParams<AB>,
    val: &T::Batch,
    s: &StepSettings<AB>,
) -> Result<(GradientsParams, LossReading)> {
    let frozen = net.clone().no_grad();
    let loss = task.arch_loss(&frozen, &s.weights(arch), val);
    let reading = s.checked(&loss)?;
    let mut grads = loss.total.backward();
    Ok((GradientsParams::from_module(&mut grads, arch), reading))
}

/// DARTS's second-order architecture gradient of the task's architecture loss:
/// g = dL_val(w', a)/da - eta * (dL_train(w+, a)/da - dL_train(w-, a)/da) / (2 eps),
/// with w' = w - eta (mu v + dL_train/dw + wd w), w± = w ± eps dL_val(w')/dw', eps = 0.01 / ||dL_val(w')/dw'||.
/// The weight optimiser must be SGD (a usage error otherwise).
pub fn unrolled_arch_grad<AB: AutodiffBackend, T: SearchTask<AB>>(
    task: &T,
    net: &T::Net,
    arch: &ArchParams<AB>,
    opt: &mut Optimisers<AB>,
    train: &T::Batch,
    val: &T::Batch,
    s: &StepSettings<AB>,
) -> Result<(GradientsParams, LossReading)> {
    let val_loss = |net: &T::Net, weights: &ArchWeights<AB>| -> Result<(Tensor<AB, 1>, LossReading)> {
        let loss = task.arch_loss(net, weights, val);
        let reading = s.checked(&loss)?;
        Ok((loss.total, reading))
    };
    unrolled_grad_of(task, net, arch, opt, train, &val_loss, s)
}

/// The second-order architecture gradient of `val_loss` (the architecture loss or one of its parts,
/// on the validation batch) through one unrolled weight step on `train`; see [`unrolled_arch_grad`].
pub fn unrolled_grad_of<AB: AutodiffBackend, T: SearchTask<AB>, R>(
    task: &T,
    net: &T::Net,
    arch: &ArchParams<AB>,
    opt: &mut Optimisers<AB>,
    train: &T::Batch,
    val_loss: &dyn Fn(&T::Net, &ArchWeights<AB>) -> Result<(Tensor<AB, 1>, R)>,
    s: &StepSettings<AB>,
) -> Result<(GradientsParams, R)> {
    let sgd = opt.weights.sgd_mut().ok_or_else(|| field_error("search.w_optimizer", SECOND_ORDER_NEEDS_SGD))?;
    let eta = s.w_lr;
    let loss = task.weight_loss(net, &s.weights(&arch.clone().no_grad()), train);
    s.checked(&loss)?;
    let mut grads = loss.total.backward();
    let g_w = GradientsParams::from_module(&mut grads, net);
    let unrolled = sgd.virtual_step(net, &g_w, eta);

    let (loss, reading) = val_loss(&unrolled, &s.weights(arch))?;
    let mut grads = loss.backward();
    let g_alpha = GradientsParams::from_module(&mut grads, arch);
    let v = GradientsParams::from_module(&mut grads, &unrolled);
    let eps = global_norm::<AB, T::Net>(&unrolled, &v).recip().mul_scalar(0.01); // [1]

    let alpha_grad_at = |sign: f64| -> Result<GradientsParams> {
        let moved = perturbed::<AB, T::Net>(net, &v, eps.clone().mul_scalar(sign));
        let loss = task.weight_loss(&moved, &s.weights(arch), train);
        s.checked(&loss)?;
        let mut grads = loss.total.backward();
        Ok(GradientsParams::from_module(&mut grads, arch))
    };
    let g_plus = alpha_grad_at(1.0)?;
    let g_minus = alpha_grad_at(-1.0)?;

    let coef = eps.recip().mul_scalar(eta / 2.0).reshape([1, 1]); // eta / (2 eps)
    let mut combined = GradientsParams::new();
    for p in &arch.logits {
        let (Some(plus), Some(minus)) =
            (g_plus.get::<AB::InnerBackend, 2>(p.id), g_minus.get::<AB::InnerBackend, 2>(p.id))
        else {
            continue;
        };
        // A part of the loss that does not read a group gives it no direct gradient: only the
        // Hessian term.
        let direct = g_alpha.get::<AB::InnerBackend, 2>(p.id).unwrap_or_else(|| plus.zeros_like());
        combined.register(p.id, direct - (plus - minus) * coef.clone());
    }
    Ok((combined, reading))
}
