//! Convolution primitives: 1x1 convs as batched matmuls (fast on flex) and depthwise convs.

use crate::ops::init::uniform_fan_in;
use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

/// A bias-free 1x1 convolution with stride 1, computed as `[1, co, ci] x [n, ci, h*w]`.
#[derive(Module, Debug)]
pub struct Pointwise<B: Backend> {
    /// Weight `[c_out, c_in]`.
    pub weight: Param<Tensor<B, 2>>,
}

impl<B: Backend> Pointwise<B> {
    /// A new 1x1 conv from `c_in` to `c_out` channels.
    pub fn new(c_in: usize, c_out: usize, device: &B::Device) -> Self {
        Self { weight: uniform_fan_in([c_out, c_in], c_in, device) }
    }

    /// `[n, c_in, h, w] -> [n, c_out, h, w]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, ci, h, w] = x.dims();
        let co = self.weight.dims()[0];
        let y = self.weight.val().reshape([1, co, ci]).matmul(x.reshape([n, ci, h * w])); // [n, co, hw]
        y.reshape([n, co, h, w])
    }

    /// The weight as a `[c_out, c_in, 1, 1]` conv kernel (for strided use).
    pub fn kernel(&self) -> Tensor<B, 4> {
        let [co, ci] = self.weight.dims();
        self.weight.val().reshape([co, ci, 1, 1])
    }
}

/// A bias-free depthwise k x k convolution (groups = channels) with stride and dilation.
#[derive(Module, Debug)]
pub struct Depthwise<B: Backend> {
    /// Weight `[channels, 1, k, k]`.
    pub weight: Param<Tensor<B, 4>>,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
}

impl<B: Backend> Depthwise<B> {
    /// A new depthwise conv over `channels` with a `kernel` x `kernel` window.
    pub fn new(channels: usize, kernel: usize, stride: usize, dilation: usize, device: &B::Device) -> Self {
        Self { weight: uniform_fan_in([channels, 1, kernel, kernel], kernel * kernel, device), stride, dilation }
    }

    /// `[n, c, h, w] -> [n, c, h/stride, w/stride]` with "same" padding.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [c, _, k, _] = self.weight.dims();
        let pad = self.dilation * (k - 1) / 2;
        let options = ConvOptions::new([self.stride; 2], [pad; 2], [self.dilation; 2], c);
        conv2d(x, self.weight.val(), None, options)
    }
}
