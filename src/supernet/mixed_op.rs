//! `MixedOp`: an edge's candidate ops, combined by the edge's row of architecture weights. Generic over
//! the op family: `O` is the family's op type, `D` the rank of its features.

use crate::error::{KdnasError, Result};
use crate::ops::{AdoptTrained, CandidateOp, OpMode};
use crate::space::{EdgeSpec, ZERO_OP};
use crate::supernet::weighted_sum;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use std::marker::PhantomData;

/// The candidate ops of one edge (without `none`, which contributes zeros and is never built). The
/// family bound `O: CandidateOp<B, D>` lives on the impl (burn's derive cannot carry it).
#[derive(Module, Debug)]
pub struct MixedOp<B: Backend, O, const D: usize> {
    ops: Vec<O>,
    /// Column of each built op in the edge's weight row.
    #[module(skip)]
    columns: Vec<usize>,
    /// Name of each built op.
    #[module(skip)]
    names: Vec<String>,
    /// Stride of every op on this edge.
    stride: usize,
    backend: PhantomData<B>,
}

impl<B: Backend, O: CandidateOp<B, D>, const D: usize> MixedOp<B, O, D> {
    /// Builds the candidate ops of `edge` over `channels`.
    pub fn new(edge: &EdgeSpec, channels: usize, mode: OpMode, device: &B::Device) -> Result<Self> {
        let mut ops = Vec::new();
        let (mut columns, mut names) = (Vec::new(), Vec::new());
        for (col, name) in edge.ops.iter().enumerate().filter(|(_, n)| n.as_str() != ZERO_OP) {
            ops.push(O::build(name, channels, edge.stride, mode, device)?);
            columns.push(col);
            names.push(name.clone());
        }
        Ok(Self { ops, columns, names, stride: edge.stride, backend: PhantomData })
    }

    /// Applies the edge. `weights` is the edge's `[candidates]` row (absent for a fixed edge);
    /// `selected` evaluates only that candidate (hard sampling).
    pub fn forward(&self, x: Tensor<B, D>, weights: Option<Tensor<B, 1>>, selected: Option<usize>) -> Tensor<B, D> {
        let Some(w) = weights else {
            return self.ops[0].forward(x);
        };
        if let Some(col) = selected {
            return match self.columns.iter().position(|&c| c == col) {
                Some(i) => self.ops[i].forward(x) * w.slice([col..col + 1]).reshape([1; D]),
                None => O::zeros(&x, self.stride),
            };
        }
        // The weights of the built ops (`none` contributes zeros and is skipped).
        let built = match self.columns.as_slice() {
            [first, .., last] if last - first + 1 == self.columns.len() => w.slice([*first..last + 1]),
            _ => Tensor::cat(self.columns.iter().map(|&c| w.clone().slice([c..c + 1])).collect(), 0),
        };
        weighted_sum(self.ops.iter().map(|op| op.forward(x.clone())), built)
    }

    /// This fixed (derived) edge with the trained weights of its op on `trained`, the same edge of a
    /// search supernet (see [`AdoptTrained`]).
    pub fn adopt_trained(mut self, trained: &Self) -> Result<Self>
    where
        O: AdoptTrained,
    {
        let name = match self.names.as_slice() {
            [name] => name.clone(),
            names => {
                return Err(KdnasError::Usage(format!(
                    "only a derived edge (one op) adopts trained weights; this one has {names:?}"
                )));
            }
        };
        let index = trained.names.iter().position(|n| *n == name).ok_or_else(|| {
            KdnasError::Usage(format!("the search edge has no `{name}` to adopt (it has {:?})", trained.names))
        })?;
        let op = self.ops.pop().expect("one op, checked above");
        self.ops.push(op.adopt_trained(&trained.ops[index])?);
        Ok(self)
    }

    /// Whether the edge is a fixed identity (a stride-1 skip), which drop path leaves alone.
    pub fn is_identity(&self) -> bool {
        matches!(self.ops.as_slice(), [op] if op.is_identity())
    }
}

#[cfg(test)]
mod tests {
    use super::MixedOp;
    use crate::ops::OpMode;
    use crate::ops::conv2d::Op2d;
    use crate::space::EdgeSpec;
    use burn::backend::Flex;

    fn edge(ops: &[&str], stride: usize) -> MixedOp<Flex, Op2d<Flex>, 4> {
        let spec = EdgeSpec { ops: ops.iter().map(|o| o.to_string()).collect(), choice: None, stride };
        MixedOp::new(&spec, 4, OpMode::Derived, &Default::default()).unwrap()
    }

    #[test]
    fn only_a_fixed_stride_one_skip_is_an_identity() {
        assert!(edge(&["skip_connect"], 1).is_identity());
        assert!(!edge(&["skip_connect"], 2).is_identity(), "stride 2 is a factorized reduce");
        assert!(!edge(&["sep_conv_3x3"], 1).is_identity());
        assert!(!edge(&["skip_connect", "max_pool_3x3"], 1).is_identity(), "a mixed edge");
    }
}
