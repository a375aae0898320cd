//! Global gradient norms and clipping over a whole module (PyTorch `clip_grad_norm_`), shared by the
//! search loop and the training loop. All work stays on the device.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, backend::AutodiffBackend};

/// The global L2 norm of `grads` over the parameters of `module`, as a `[1]` tensor (no host sync).
pub fn global_norm<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    module: &M,
    grads: &GradientsParams,
) -> Tensor<AB::InnerBackend, 1> {
    struct SumSquares<'a, AB: AutodiffBackend> {
        grads: &'a GradientsParams,
        total: Option<Tensor<AB::InnerBackend, 1>>,
    }
    impl<AB: AutodiffBackend> ModuleVisitor<AB> for SumSquares<'_, AB> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            if let Some(g) = self.grads.get::<AB::InnerBackend, D>(param.id) {
                let s = g.square().sum();
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    let mut visitor = SumSquares::<AB> { grads, total: None };
    module.visit(&mut visitor);
    visitor.total.map(|t| t.sqrt()).unwrap_or_else(|| Tensor::zeros([1], &Default::default()))
}

/// Scales every gradient of `module` by the `[1]` tensor `factor`.
pub fn scale_grads<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    module: &M,
    grads: &mut GradientsParams,
    factor: &Tensor<AB::InnerBackend, 1>,
) {
    struct Scale<'a, AB: AutodiffBackend> {
        grads: &'a mut GradientsParams,
        factor: &'a Tensor<AB::InnerBackend, 1>,
    }
    impl<AB: AutodiffBackend> ModuleVisitor<AB> for Scale<'_, AB> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            if let Some(g) = self.grads.remove::<AB::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g * self.factor.clone().reshape([1; D]));
            }
        }
    }
    module.visit(&mut Scale::<AB> { grads, factor });
}

/// Clips `grads` to a global L2 norm of at most `max_norm` (PyTorch `clip_grad_norm_`).
pub fn clip_global_norm<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) {
    let norm = global_norm::<AB, M>(module, grads);
    let factor = norm.add_scalar(1e-6).recip().mul_scalar(max_norm).clamp_max(1.0);
    scale_grads::<AB, M>(module, grads, &factor);
}
