//! Eager parameter initialisation matching PyTorch's defaults (burn's `Config::init` is lazy, which
//! breaks seeded reproducibility and clones; see the burn notes).

use burn::module::Param;
use burn::tensor::{Distribution, Tensor, backend::Backend};

/// A parameter drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for conv and linear layers.
pub fn uniform_fan_in<B: Backend, const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Param::from_tensor(Tensor::random(shape, Distribution::Uniform(-bound, bound), device))
}

/// A parameter filled with `value`.
pub fn constant<B: Backend, const D: usize>(shape: [usize; D], value: f32, device: &B::Device) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::full(shape, value, device))
}
