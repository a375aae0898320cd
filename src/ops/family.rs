//! Op families: the candidate ops of one catalogue over one feature rank. `MixedOp` and `Cell` are
//! generic over the family, so DARTS's 2-D image ops (`conv2d`, `[batch, channels, h, w]`) and
//! AdaRec's causal 1-D sequence ops (`causal1d`, `[batch, channels, time]`) share one supernet.

use crate::error::Result;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

/// Where an op is used: the search network (non-affine BN, BN after pools) or a derived network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpMode {
    /// Inside a mixed op during search.
    Search,
    /// In a derived (discrete) network.
    Derived,
}

impl OpMode {
    /// Whether normalisation layers have scale and shift.
    pub fn affine(self) -> bool {
        self == OpMode::Derived
    }
}

/// One built candidate op of a family whose features have rank `D` (`none` is never built: the
/// mixed op adds nothing for it).
pub trait CandidateOp<B: Backend, const D: usize>: Module<B> + Sized {
    /// Builds the family's op `name` over `channels` features; `stride` > 1 on reduction edges
    /// (a family without reductions rejects it with a usage error).
    fn build(name: &str, channels: usize, stride: usize, mode: OpMode, device: &B::Device) -> Result<Self>;

    /// Applies the op: `[batch, channels, ...]` -> `[batch, channels, ...]`, the trailing sizes
    /// divided by the edge's stride.
    fn forward(&self, x: Tensor<B, D>) -> Tensor<B, D>;

    /// Whether the op passes its input through unchanged (drop path leaves it alone).
    fn is_identity(&self) -> bool;

    /// The zero op's output for input `x` on an edge with `stride`.
    fn zeros(x: &Tensor<B, D>, stride: usize) -> Tensor<B, D>;
}

/// An op that can start from the trained weights of the same op in a search supernet (AdaRec's
/// student_finetune: the derived student starts from what the search trained).
pub trait AdoptTrained: Sized {
    /// This op, built for a derived network, with the weights of `trained`, the op of the same name
    /// trained in search mode. A search-mode BatchNorm has no scale or shift: this op's stay 1 and 0,
    /// so in evaluation the adopted op computes what the trained one did.
    fn adopt_trained(self, trained: &Self) -> Result<Self>;
}
