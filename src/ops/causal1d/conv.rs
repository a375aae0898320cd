//! A causal 1-D convolution: the output at time t sees the input at t, t-d, ..., t-(k-1)d only.

use crate::ops::init::uniform_fan_in;
use burn::module::{Module, Param};
use burn::tensor::module::conv1d;
use burn::tensor::ops::PaddedConvOptions;
use burn::tensor::{Tensor, backend::Backend};

/// A dilated 1-D convolution with bias and `(k-1)*dilation` zeros of padding on the left only, so no
/// output position sees a later input position (PyTorch `F.pad` then `nn.Conv1d`, as NextItNet does).
#[derive(Module, Debug)]
pub struct CausalConv1d<B: Backend> {
    /// Weight `[c_out, c_in, kernel]`; tap `kernel - 1` is applied to the current position.
    pub weight: Param<Tensor<B, 3>>,
    /// Bias `[c_out]`.
    pub bias: Param<Tensor<B, 1>>,
    /// Distance between taps.
    pub dilation: usize,
}

impl<B: Backend> CausalConv1d<B> {
    /// A new causal conv from `c_in` to `c_out` channels (PyTorch's default U(±1/sqrt(c_in*kernel))
    /// initialisation of weight and bias).
    pub fn new(c_in: usize, c_out: usize, kernel: usize, dilation: usize, device: &B::Device) -> Self {
        let fan_in = c_in * kernel;
        Self {
            weight: uniform_fan_in([c_out, c_in, kernel], fan_in, device),
            bias: uniform_fan_in([c_out], fan_in, device),
            dilation,
        }
    }

    /// `[batch, c_in, time] -> [batch, c_out, time]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let kernel = self.weight.dims()[2];
        let left = (kernel - 1) * self.dilation;
        let options = PaddedConvOptions::asymmetric([1], [left], [0], [self.dilation], 1);
        conv1d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}
