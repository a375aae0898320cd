//! DARTS's use of a cell: the network brings the two previous cells' outputs to the cell's width
//! (ReLU-1x1 conv-BN, or FactorizedReduce after a reduction) before the generic [`Cell`] runs.

use super::cell::Cell;
use super::mixed_op::MixedOp;
use super::relaxation::ArchWeights;
use crate::error::Result;
use crate::ops::OpMode;
use crate::ops::conv2d::Op2d;
use crate::ops::conv2d::reduce::{FactorizedReduce, ReluConvBn};
use crate::space::CellGraph;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

/// A mixed edge of DARTS's 2-D op family.
pub type MixedOp2d<B> = MixedOp<B, Op2d<B>, 4>;

/// How a cell input is brought to the cell's channel count.
#[derive(Module, Debug)]
pub enum Preprocess<B: Backend> {
    /// ReLU-1x1 conv-BN.
    Conv(ReluConvBn<B>),
    /// FactorizedReduce, when the previous cell reduced the resolution.
    Reduce(FactorizedReduce<B>),
}

impl<B: Backend> Preprocess<B> {
    /// `[n, c_in, h, w] -> [n, c, h', w']`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Preprocess::Conv(m) => m.forward(x),
            Preprocess::Reduce(m) => m.forward(x),
        }
    }
}

/// Channel sizes around a cell.
#[derive(Debug, Clone, Copy)]
pub struct CellChannels {
    /// Channels of the cell two back.
    pub prev_prev: usize,
    /// Channels of the previous cell.
    pub prev: usize,
    /// Channels of every node of this cell.
    pub node: usize,
}

/// A DARTS cell: the preprocessing of its two inputs and a `conv2d` [`Cell`].
#[derive(Module, Debug)]
pub struct DartsCell<B: Backend> {
    pre0: Preprocess<B>,
    pre1: ReluConvBn<B>,
    cell: Cell<B, Op2d<B>, 4>,
}

impl<B: Backend> DartsCell<B> {
    /// Builds a cell from its graph. `reduction_prev` selects FactorizedReduce for the first input.
    pub fn new(
        cell: &CellGraph,
        ch: CellChannels,
        reduction_prev: bool,
        mode: OpMode,
        device: &B::Device,
    ) -> Result<Self> {
        let affine = mode.affine();
        let pre0 = if reduction_prev {
            Preprocess::Reduce(FactorizedReduce::new(ch.prev_prev, ch.node, affine, device))
        } else {
            Preprocess::Conv(ReluConvBn::new(ch.prev_prev, ch.node, affine, device))
        };
        let pre1 = ReluConvBn::new(ch.prev, ch.node, affine, device);
        Ok(Self { pre0, pre1, cell: Cell::new(cell, ch.node, mode, device)? })
    }

    /// Output channel multiplier (number of concatenated nodes).
    pub fn multiplier(&self) -> usize {
        self.cell.multiplier()
    }

    /// `s0: [n, c_pp, h0, w0]`, `s1: [n, c_p, h, w]` -> `[n, multiplier*c, h', w']`; `drop_path` as in
    /// [`Cell::forward`].
    pub fn forward(
        &self,
        s0: Tensor<B, 4>,
        s1: Tensor<B, 4>,
        weights: Option<&ArchWeights<B>>,
        drop_path: f64,
    ) -> Tensor<B, 4> {
        self.cell.forward(vec![self.pre0.forward(s0), self.pre1.forward(s1)], weights, drop_path)
    }
}
