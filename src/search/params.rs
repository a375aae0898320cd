//! Whole-module parameter arithmetic for the bi-level loop: perturbing weights along a direction and
//! listing parameter ids. All work stays on the device (gradient norms: [`crate::optim::grad_norm`]).

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, backend::AutodiffBackend};

/// `module` with every parameter that has a direction moved to `w + scale * direction`; the result
/// is not tracked by autodiff. Parameters without a direction (e.g. running statistics) are kept.
pub fn perturbed<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    module: &M,
    direction: &GradientsParams,
    scale: Tensor<AB::InnerBackend, 1>,
) -> M {
    struct Perturb<'a, AB: AutodiffBackend> {
        direction: &'a GradientsParams,
        scale: Tensor<AB::InnerBackend, 1>,
    }
    impl<AB: AutodiffBackend> ModuleMapper<AB> for Perturb<'_, AB> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
            let (id, tensor, mapper) = param.consume();
            let out = match self.direction.get::<AB::InnerBackend, D>(id) {
                Some(v) => Tensor::from_inner(tensor.inner() + v * self.scale.clone().reshape([1; D])),
                None => tensor,
            };
            Param::from_mapped_value(id, out, mapper)
        }
    }
    module.clone().map(&mut Perturb::<AB> { direction, scale })
}

/// Ids of the parameters of `module` that train (require gradients).
pub fn trainable_ids<AB: AutodiffBackend, M: AutodiffModule<AB>>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl<AB: AutodiffBackend> ModuleVisitor<AB> for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            if param.is_require_grad() {
                self.0.push(param.id);
            }
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}
