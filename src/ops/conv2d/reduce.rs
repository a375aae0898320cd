//! Channel and resolution adapters: ReLU-Conv1x1-BN and DARTS's FactorizedReduce.

use super::batch_norm::BatchNorm2d;
use super::conv::Pointwise;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

/// ReLU -> 1x1 conv -> BN (DARTS ReLUConvBN with kernel 1), used to preprocess cell inputs.
#[derive(Module, Debug)]
pub struct ReluConvBn<B: Backend> {
    conv: Pointwise<B>,
    bn: BatchNorm2d<B>,
}

impl<B: Backend> ReluConvBn<B> {
    /// A new block from `c_in` to `c_out` channels.
    pub fn new(c_in: usize, c_out: usize, affine: bool, device: &B::Device) -> Self {
        Self { conv: Pointwise::new(c_in, c_out, device), bn: BatchNorm2d::new(c_out, affine, device) }
    }

    /// `[n, c_in, h, w] -> [n, c_out, h, w]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.bn.forward(self.conv.forward(relu(x)))
    }
}

/// ReLU -> two stride-2 1x1 convs on x and on x shifted by one pixel, concatenated -> BN.
#[derive(Module, Debug)]
pub struct FactorizedReduce<B: Backend> {
    even: Pointwise<B>,
    odd: Pointwise<B>,
    bn: BatchNorm2d<B>,
}

impl<B: Backend> FactorizedReduce<B> {
    /// A new reduction from `c_in` to `c_out` (even) channels.
    pub fn new(c_in: usize, c_out: usize, affine: bool, device: &B::Device) -> Self {
        Self {
            even: Pointwise::new(c_in, c_out / 2, device),
            odd: Pointwise::new(c_in, c_out - c_out / 2, device),
            bn: BatchNorm2d::new(c_out, affine, device),
        }
    }

    /// `[n, c_in, h, w] -> [n, c_out, ceil(h/2), ceil(w/2)]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = relu(x);
        let [_, _, h, w] = x.dims();
        let stride2 = || ConvOptions::new([2, 2], [0, 0], [1, 1], 1);
        // The shifted view drops the first row and column; zero-padding it back at the end keeps both
        // halves the same size for odd inputs and samples exactly PyTorch's pixels for even ones.
        let shifted = x
            .clone()
            .slice([0..x.dims()[0], 0..x.dims()[1], 1..h, 1..w])
            .pad([(0, 1), (0, 1)], burn::tensor::ops::PadMode::Constant(0.0));
        let a = conv2d(x, self.even.kernel(), None, stride2()); // [n, c_out/2, h', w']
        let b = conv2d(shifted, self.odd.kernel(), None, stride2());
        self.bn.forward(Tensor::cat(vec![a, b], 1))
    }
}
