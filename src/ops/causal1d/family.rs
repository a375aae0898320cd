//! The `causal1d` family's table: AdaRec's 1-D ops (operators.py) in AdaRec's order, all made causal
//! (see docs/search-spaces.md), each with the shape that builds it ([`super::Op1d`]) and fixes its
//! cost. A new causal convolution variant (kernel, dilation, BatchNorm) is one entry in
//! [`CAUSAL1D_OPS`].

use crate::ops::conv2d::pool::PoolKind;
use crate::ops::family::{CellRule, OpFamily};

/// The shape of one convolution op of the `causal1d` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CausalConvSpec {
    /// Taps of the window.
    pub kernel: usize,
    /// Distance between taps.
    pub dilation: usize,
    /// Whether a BatchNorm follows the conv.
    pub batch_norm: bool,
}

/// What a `causal1d` op computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causal1dShape {
    /// Zeros (`none`), never built.
    Zero,
    /// The identity.
    Skip,
    /// A causal pool over the current and previous positions.
    Pool(PoolKind),
    /// A causal convolution (ReLU after it, as AdaRec).
    Conv(CausalConvSpec),
}

/// One op of the `causal1d` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Causal1dOp {
    /// The name space files and genotypes use.
    pub name: &'static str,
    /// What it computes.
    pub shape: Causal1dShape,
}

const fn conv(name: &'static str, kernel: usize, dilation: usize, batch_norm: bool) -> Causal1dOp {
    Causal1dOp { name, shape: Causal1dShape::Conv(CausalConvSpec { kernel, dilation, batch_norm }) }
}

const fn other(name: &'static str, shape: Causal1dShape) -> Causal1dOp {
    Causal1dOp { name, shape }
}

/// The family's ops: AdaRec's ten in AdaRec's order, and `dil_cnn_7` (kdnas's, a wider window for long
/// sequences; not in AdaRec's op set or cost table) after its convolutions.
pub const CAUSAL1D_OPS: [Causal1dOp; 11] = [
    conv("std_cnn_3", 3, 1, false),
    conv("dil_cnn_3", 3, 2, false),
    conv("cau_cnn_3", 3, 2, true),
    conv("std_cnn_5", 5, 1, false),
    conv("dil_cnn_5", 5, 2, false),
    conv("cau_cnn_5", 5, 2, true),
    conv("dil_cnn_7", 7, 2, false),
    other("max_pool", Causal1dShape::Pool(PoolKind::Max)),
    other("avg_pool", Causal1dShape::Pool(PoolKind::Avg)),
    other("skip_connect", Causal1dShape::Skip),
    other("none", Causal1dShape::Zero),
];

/// The shape of the `causal1d` op `name`; `None` for a name outside the family.
pub fn causal1d_shape(name: &str) -> Option<Causal1dShape> {
    CAUSAL1D_OPS.iter().find(|op| op.name == name).map(|op| op.shape)
}

/// The convolution behind a `causal1d` op name; `None` for the ops that are not convolutions.
pub fn causal1d_conv(name: &str) -> Option<CausalConvSpec> {
    match causal1d_shape(name)? {
        Causal1dShape::Conv(spec) => Some(spec),
        _ => None,
    }
}

/// AdaRec's causal 1-D ops on `[batch, channels, time]` sequence features (no reductions).
pub struct Causal1dFamily;

impl OpFamily for Causal1dFamily {
    fn name(&self) -> &'static str {
        "causal1d"
    }

    fn op_names(&self) -> Vec<&'static str> {
        CAUSAL1D_OPS.iter().map(|op| op.name).collect()
    }

    fn kernel_weights(&self, op: &str, channels: usize, _stride: usize) -> Option<usize> {
        causal1d_conv(op).map_or(Some(0), |spec| channels.checked_mul(channels)?.checked_mul(spec.kernel))
    }

    fn channel_vectors(&self, op: &str, _stride: usize, affine: bool) -> usize {
        causal1d_conv(op).map_or(0, |spec| 1 + if affine && spec.batch_norm { 2 } else { 0 })
    }

    fn cells(&self) -> Option<CellRule> {
        Some(CellRule { reductions: false, inputs: 1, input_sources: "the previous cell's output" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::catalogue::Catalogue;

    #[test]
    fn causal1d_counts_match_a_hand_count() {
        let count = |op, affine| Catalogue::CAUSAL1D.param_count(op, 8, 1, affine).unwrap();
        // k C^2 weights + C biases (+ 2C BatchNorm scale and shift when affine).
        assert_eq!((count("std_cnn_3", true), count("dil_cnn_5", true)), (3 * 64 + 8, 5 * 64 + 8));
        assert_eq!((count("cau_cnn_3", false), count("cau_cnn_3", true)), (200, 216));
        assert_eq!((count("max_pool", true), count("skip_connect", true), count("none", true)), (0, 0, 0));
        let flops = |op| Catalogue::CAUSAL1D.flops(op, 8, 1, 50).unwrap();
        assert_eq!((flops("cau_cnn_5"), flops("std_cnn_3"), flops("avg_pool")), (5 * 64 * 50, 3 * 64 * 50, 0));
        assert_eq!(Catalogue::CAUSAL1D.flops("std_cnn_5", usize::MAX, 1, 1), None);
    }

    #[test]
    fn the_convolutions_come_before_the_parameter_free_ops() {
        let convs: Vec<&str> = CAUSAL1D_OPS.iter().map(|op| op.name).filter(|op| causal1d_conv(op).is_some()).collect();
        assert_eq!(convs, ["std_cnn_3", "dil_cnn_3", "cau_cnn_3", "std_cnn_5", "dil_cnn_5", "cau_cnn_5", "dil_cnn_7"]);
        assert_eq!(causal1d_shape("none"), Some(Causal1dShape::Zero));
    }
}
