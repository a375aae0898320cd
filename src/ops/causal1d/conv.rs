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

    /// The same convolution on time-major features, `[batch, time, c_in] -> [batch, time, c_out]`, as
    /// one matrix product: the `kernel` delayed copies of the input side by side (`[batch * time,
    /// kernel * c_in]`) times the weight laid out `[kernel * c_in, c_out]`. No transposes of the
    /// activations, which the channels-first conv needs around every call on time-major features.
    pub fn forward_time_major(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, time, c_in] = x.dims();
        let [c_out, _, kernel] = self.weight.dims();
        // Tap j multiplies the input (kernel - 1 - j) * dilation positions back.
        let taps: Vec<Tensor<B, 3>> =
            (0..kernel).map(|j| delayed(x.clone(), (kernel - 1 - j) * self.dilation)).collect();
        let stacked = Tensor::cat(taps, 2).reshape([batch * time, kernel * c_in]); // [batch*time, kernel*c_in]
        let weight = self.weight.val().permute([2, 1, 0]).reshape([kernel * c_in, c_out]); // [kernel*c_in, c_out]
        let out = stacked.matmul(weight) + self.bias.val().unsqueeze::<2>(); // [batch*time, c_out]
        out.reshape([batch, time, c_out])
    }
}

/// `x` `[batch, time, channels]` delayed by `by` positions along time, zeros shifted in.
fn delayed<B: Backend>(x: Tensor<B, 3>, by: usize) -> Tensor<B, 3> {
    let [batch, time, channels] = x.dims();
    if by == 0 {
        return x;
    }
    let zeros = Tensor::zeros([batch, by.min(time), channels], &x.device());
    if by >= time {
        return zeros;
    }
    Tensor::cat(vec![zeros, x.narrow(1, 0, time - by)], 1)
}
