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

/// How cells built from a family's ops are wired (checked when a space file is read and when a
/// genotype is loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRule {
    /// Whether a space may declare a reduction cell (edges of stride 2 on the cell's inputs).
    pub reductions: bool,
    /// How many inputs each cell reads.
    pub inputs: usize,
    /// What those inputs are, for error messages ("the previous cell's output").
    pub input_sources: &'static str,
}

/// The description of one op family, free of any backend: its op names in catalogue order, what each
/// op costs, and how its cells are wired. Build and forward live in the family's `CandidateOp` type
/// beside it (`ops/<family>/`); [`crate::ops::catalogue::Catalogue`] is the table of families.
pub trait OpFamily: Sync {
    /// The family's name as a space file writes it (`catalogue = "..."`).
    fn name(&self) -> &'static str;

    /// The op names, in catalogue order (the order of the architecture weights' columns).
    fn op_names(&self) -> Vec<&'static str>;

    /// Convolution kernel weights of `op` on `channels` features (`stride` > 1 on reduction edges;
    /// no biases, no normalisation); 0 for a parameter-free or unknown op, `None` on overflow.
    fn kernel_weights(&self, op: &str, channels: usize, stride: usize) -> Option<usize>;

    /// Trainable per-channel vectors of `op`: conv biases, and BatchNorm scale and shift when `affine`.
    fn channel_vectors(&self, op: &str, stride: usize, affine: bool) -> usize;

    /// How the family's cells are wired; `None` for a family without cells (plain choice groups).
    fn cells(&self) -> Option<CellRule>;
}
