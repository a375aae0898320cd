//! DARTS's separable and dilated convolutions (operations.py SepConv / DilConv).

use super::batch_norm::BatchNorm2d;
use super::conv::{Depthwise, Pointwise};
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Tensor, backend::Backend};

/// ReLU -> depthwise k x k (stride, dilation) -> 1x1 -> BN.
#[derive(Module, Debug)]
pub struct DilConv<B: Backend> {
    depthwise: Depthwise<B>,
    pointwise: Pointwise<B>,
    bn: BatchNorm2d<B>,
}

impl<B: Backend> DilConv<B> {
    /// A new dilated conv block over `channels`.
    pub fn new(
        channels: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        affine: bool,
        device: &B::Device,
    ) -> Self {
        Self {
            depthwise: Depthwise::new(channels, kernel, stride, dilation, device),
            pointwise: Pointwise::new(channels, channels, device),
            bn: BatchNorm2d::new(channels, affine, device),
        }
    }

    /// `[n, c, h, w] -> [n, c, h/stride, w/stride]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.bn.forward(self.pointwise.forward(self.depthwise.forward(relu(x))))
    }
}

/// Two dilation-1 [`DilConv`] blocks, the first with the stride (DARTS SepConv).
#[derive(Module, Debug)]
pub struct SepConv<B: Backend> {
    first: DilConv<B>,
    second: DilConv<B>,
}

impl<B: Backend> SepConv<B> {
    /// A new separable conv over `channels`.
    pub fn new(channels: usize, kernel: usize, stride: usize, affine: bool, device: &B::Device) -> Self {
        Self {
            first: DilConv::new(channels, kernel, stride, 1, affine, device),
            second: DilConv::new(channels, kernel, 1, 1, affine, device),
        }
    }

    /// `[n, c, h, w] -> [n, c, h/stride, w/stride]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.second.forward(self.first.forward(x))
    }
}
