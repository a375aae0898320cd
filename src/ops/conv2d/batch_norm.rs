//! BatchNorm for `[batch, channels, h, w]` features computed on a `[batch*channels, h*w]` view.
//! On flex a `[1, C, 1, 1]` broadcast costs ~100x a same-shape op; per-row broadcasts are fast.

use crate::ops::init::constant;
use burn::module::{Module, Param, RunningState};
use burn::tensor::{Tensor, backend::Backend};
use std::cell::Cell;

thread_local! {
    /// How many [`HeldRunningStatistics`] guards are alive on this thread.
    static HOLDS: Cell<usize> = const { Cell::new(0) };
}

/// While alive, training-mode BatchNorms on this thread still normalise with batch statistics but
/// leave their running statistics as they are: for passes of a network on inputs that are not its
/// own (DFA's teacher-to-student bridge feeds teacher features to the student's later stages), whose
/// statistics would otherwise become the ones the network is evaluated with.
pub struct HeldRunningStatistics(());

/// Holds the running statistics of every BatchNorm2d on this thread until the guard is dropped.
pub fn hold_running_statistics() -> HeldRunningStatistics {
    HOLDS.with(|h| h.set(h.get() + 1));
    HeldRunningStatistics(())
}

impl Drop for HeldRunningStatistics {
    fn drop(&mut self) {
        HOLDS.with(|h| h.set(h.get() - 1));
    }
}

/// BatchNorm2d with optional affine parameters and PyTorch's running-statistics rule.
#[derive(Module, Debug)]
pub struct BatchNorm2d<B: Backend> {
    /// Scale, when affine.
    pub gamma: Option<Param<Tensor<B, 1>>>,
    /// Shift, when affine.
    pub beta: Option<Param<Tensor<B, 1>>>,
    /// Running mean, used in evaluation.
    pub running_mean: RunningState<Tensor<B, 1>>,
    /// Running (unbiased) variance, used in evaluation.
    pub running_var: RunningState<Tensor<B, 1>>,
    /// Running-statistics momentum (PyTorch 0.1).
    pub momentum: f64,
    /// Variance epsilon (PyTorch 1e-5).
    pub epsilon: f64,
    /// Always normalise with the running statistics and never update them, even on an autodiff
    /// backend: a frozen network (a distillation teacher) that gradients still flow through.
    pub frozen: bool,
}

impl<B: Backend> BatchNorm2d<B> {
    /// A new BatchNorm over `channels` (scale 1, shift 0 when `affine`).
    pub fn new(channels: usize, affine: bool, device: &B::Device) -> Self {
        Self {
            gamma: affine.then(|| constant([channels], 1.0, device)),
            beta: affine.then(|| constant([channels], 0.0, device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            momentum: 0.1,
            epsilon: 1e-5,
            frozen: false,
        }
    }

    /// This BatchNorm with `trained`'s running statistics, and `trained`'s scale and shift where it has
    /// them (a non-affine `trained` leaves this one's own, at their initial 1 and 0: the same function).
    pub fn adopt_trained(self, trained: &Self) -> Self {
        Self {
            gamma: trained.gamma.clone().or(self.gamma),
            beta: trained.beta.clone().or(self.beta),
            running_mean: RunningState::new(trained.running_mean.value()),
            running_var: RunningState::new(trained.running_var.value()),
            ..self
        }
    }

    /// The same BatchNorm in evaluation behaviour on every backend (see [`BatchNorm2d::frozen`]).
    pub fn into_frozen(self) -> Self {
        Self { frozen: true, ..self }
    }

    /// Normalises with batch statistics on an autodiff backend (training) unless frozen, running
    /// statistics otherwise.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let rows = x.reshape([n * c, h * w]); // [n*c, hw]
        let (mean, var) = if !self.frozen && B::ad_enabled(&rows.device()) {
            self.batch_stats(rows.clone(), n, c)
        } else {
            (self.running_mean.value(), self.running_var.value())
        };
        let inv_std = var.add_scalar(self.epsilon).sqrt().recip(); // [c]
        let scale = match &self.gamma {
            Some(g) => g.val() * inv_std,
            None => inv_std,
        };
        let shift = match &self.beta {
            Some(b) => b.val() - mean * scale.clone(),
            None => mean.neg() * scale.clone(),
        };
        let per_row = |t: Tensor<B, 1>| t.reshape([1, c]).expand([n, c]).reshape([n * c, 1]); // [n*c, 1]
        (rows * per_row(scale) + per_row(shift)).reshape([n, c, h, w])
    }

    /// Batch mean and biased variance per channel (two-pass), updating the running statistics unless
    /// they are held ([`hold_running_statistics`]).
    fn batch_stats(&self, rows: Tensor<B, 2>, n: usize, c: usize) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let hw = rows.dims()[1];
        let row_mean = rows.clone().mean_dim(1); // [n*c, 1]
        let mean = row_mean.clone().reshape([n, c]).mean_dim(0).reshape([c]);
        let mean_rows = mean.clone().reshape([1, c]).expand([n, c]).reshape([n * c, 1]);
        let var = (rows - mean_rows).square().mean_dim(1).reshape([n, c]).mean_dim(0).reshape([c]);
        if HOLDS.with(Cell::get) > 0 {
            return (mean, var);
        }
        let count = (n * hw) as f64;
        let unbiased = var.clone().detach().mul_scalar(count / (count - 1.0).max(1.0));
        let m = self.momentum;
        let running_mean = self.running_mean.value_sync().mul_scalar(1.0 - m) + mean.clone().detach().mul_scalar(m);
        let running_var = self.running_var.value_sync().mul_scalar(1.0 - m) + unbiased.mul_scalar(m);
        self.running_mean.update(running_mean);
        self.running_var.update(running_var);
        (mean, var)
    }
}
