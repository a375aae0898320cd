//! Connectors: a 1x1 convolution and a BatchNorm that map one network's stage feature to another's
//! channel count (FitNet's regressor, DFA's bridges).

use crate::ops::conv2d::batch_norm::BatchNorm2d;
use crate::ops::conv2d::conv::Pointwise;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

/// `[n, c_in, h, w] -> [n, c_out, h, w]`: 1x1 conv (no bias) then BatchNorm.
#[derive(Module, Debug)]
pub struct Connector<B: Backend> {
    /// The 1x1 convolution, `[c_out, c_in]`.
    pub conv: Pointwise<B>,
    /// The BatchNorm over `c_out` channels (batch statistics in training).
    pub bn: BatchNorm2d<B>,
}

impl<B: Backend> Connector<B> {
    /// A connector from `c_in` to `c_out` channels.
    pub fn new(c_in: usize, c_out: usize, device: &B::Device) -> Self {
        Self { conv: Pointwise::new(c_in, c_out, device), bn: BatchNorm2d::new(c_out, true, device) }
    }

    /// Maps a feature, `[n, c_in, h, w] -> [n, c_out, h, w]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// One connector per stage, from `from[i]` to `to[i]` channels.
pub fn stage_connectors<B: Backend>(from: &[usize], to: &[usize], device: &B::Device) -> Vec<Connector<B>> {
    from.iter().zip(to).map(|(&a, &b)| Connector::new(a, b, device)).collect()
}
