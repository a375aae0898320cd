//! The part every weight optimiser's module mapper shares: find a parameter's gradient, hand both
//! flattened to the update rule, and put the result back as a fresh tracked leaf with the same id.

use burn::module::{Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

/// `param` replaced by `update(id, w, g)`, where `w` and `g` are its value and its gradient in `grads`
/// flattened to `[n]`; the result (`[n]`) takes the parameter's shape again and becomes a fresh tracked
/// leaf with the same id. A parameter without a gradient is returned unchanged.
pub fn updated_param<AB: AutodiffBackend, const D: usize>(
    param: Param<Tensor<AB, D>>,
    grads: &GradientsParams,
    update: impl FnOnce(ParamId, Tensor<AB::InnerBackend, 1>, Tensor<AB::InnerBackend, 1>) -> Tensor<AB::InnerBackend, 1>,
) -> Param<Tensor<AB, D>> {
    let (id, tensor, mapper) = param.consume();
    let Some(g) = grads.get::<AB::InnerBackend, D>(id) else {
        return Param::from_mapped_value(id, tensor, mapper);
    };
    let w = tensor.inner(); // [param shape]
    let dims = w.dims();
    let n = dims.iter().product::<usize>();
    let new_w = update(id, w.reshape([n]), g.reshape([n])); // [n]
    Param::from_mapped_value(id, Tensor::from_inner(new_w.reshape(dims)).require_grad(), mapper)
}
