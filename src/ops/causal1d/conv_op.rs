//! The convolution candidates of the `causal1d` catalogue: a causal conv over C -> C channels,
//! optionally followed by a BatchNorm over channels (AdaRec's `CausalDilConv1D`: conv, then BN).

use super::conv::CausalConv1d;
use crate::ops::conv2d::batch_norm::BatchNorm2d;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

/// A causal conv (with bias), then an optional BatchNorm.
#[derive(Module, Debug)]
pub struct ConvOp<B: Backend> {
    conv: CausalConv1d<B>,
    bn: Option<BatchNorm2d<B>>,
}

impl<B: Backend> ConvOp<B> {
    /// A new op over `channels` with a `kernel`-tap window spaced `dilation` apart; `bn` adds a
    /// BatchNorm, `affine` gives it scale and shift.
    pub fn new(channels: usize, kernel: usize, dilation: usize, bn: bool, affine: bool, device: &B::Device) -> Self {
        Self {
            conv: CausalConv1d::new(channels, channels, kernel, dilation, device),
            bn: bn.then(|| BatchNorm2d::new(channels, affine, device)),
        }
    }

    /// This op with `trained`'s convolution and BatchNorm statistics (see [`BatchNorm2d::adopt_trained`]);
    /// `None` when the two differ in shape or in having a BatchNorm.
    pub fn adopt_trained(self, trained: &Self) -> Option<Self> {
        let same_conv =
            self.conv.weight.dims() == trained.conv.weight.dims() && self.conv.dilation == trained.conv.dilation;
        let bn = match (self.bn, &trained.bn) {
            (Some(own), Some(bn)) => Some(own.adopt_trained(bn)),
            (None, None) => None,
            _ => return None,
        };
        same_conv.then(|| Self { conv: trained.conv.clone(), bn })
    }

    /// `[batch, channels, time] -> [batch, channels, time]`. The BatchNorm uses batch statistics on an
    /// autodiff backend, which mix all positions of the batch: causal in evaluation only.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let y = self.conv.forward(x); // [batch, channels, time]
        match &self.bn {
            Some(bn) => {
                let [batch, channels, time] = y.dims();
                bn.forward(y.reshape([batch, channels, time, 1])).reshape([batch, channels, time])
            }
            None => y,
        }
    }
}
