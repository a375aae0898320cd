//! The family's invariant as a check: change a sequence after position t and measure how much a map's
//! outputs move at positions up to t (must be 0) and after t. Used by the tests of the ops, the cells,
//! the student and the teacher.

use burn::tensor::backend::Backend;
use burn::tensor::{BasicOps, ElementConversion, Tensor, TensorKind};

/// The largest absolute output change at positions `..=t` and at positions after `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CausalChange {
    /// Up to and including `t`: 0 for a causal map.
    pub past: f32,
    /// After `t`: above 0 when the map depends on the changed inputs at all.
    pub future: f32,
}

/// `x` with the positions after `t` along `time_axis` taken from `other` (same shape); at least one
/// position must follow `t`.
pub fn splice_after<B: Backend, const D: usize, K>(
    x: Tensor<B, D, K>,
    other: Tensor<B, D, K>,
    time_axis: usize,
    t: usize,
) -> Tensor<B, D, K>
where
    K: TensorKind<B> + BasicOps<B>,
{
    let time = x.dims()[time_axis];
    Tensor::cat(vec![x.narrow(time_axis, 0, t + 1), other.narrow(time_axis, t + 1, time - t - 1)], time_axis)
}

/// How outputs `after` differ from `before` (same shape) on each side of position `t` of `time_axis`.
pub fn change_around<B: Backend, const D: usize>(
    before: Tensor<B, D>,
    after: Tensor<B, D>,
    time_axis: usize,
    t: usize,
) -> CausalChange {
    let time = before.dims()[time_axis];
    let diff = (before - after).abs();
    let max = |part: Tensor<B, D>| -> f32 { part.max().into_scalar().elem() };
    let future = if t + 1 < time { max(diff.clone().narrow(time_axis, t + 1, time - t - 1)) } else { 0.0 };
    CausalChange { past: max(diff.narrow(time_axis, 0, t + 1)), future }
}
