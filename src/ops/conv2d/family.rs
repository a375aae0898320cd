//! The `conv2d` family's table: DARTS's 2-D ops (operations.py) in DARTS's PRIMITIVES order, each with
//! the shape that builds it ([`super::Op2d`]) and fixes its cost. Adding an op of an existing shape
//! (say a 7x7 separable convolution) is one entry in [`CONV2D_OPS`].

use super::pool::PoolKind;
use crate::ops::family::{CellRule, OpFamily};

/// What a `conv2d` op computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv2dShape {
    /// Zeros (`none`), never built.
    Zero,
    /// The identity at stride 1, a factorized reduce (two 1x1 convs of C/2 outputs + BN) at stride 2.
    Skip,
    /// A 3x3 pool (with a non-affine BatchNorm in search networks).
    Pool(PoolKind),
    /// DARTS's separable convolution: twice ReLU, depthwise k x k, pointwise, BN.
    Separable {
        /// Window side.
        kernel: usize,
    },
    /// DARTS's dilated convolution: ReLU, depthwise k x k with this dilation, pointwise, BN.
    Dilated {
        /// Window side.
        kernel: usize,
        /// Distance between taps.
        dilation: usize,
    },
}

/// One op of the `conv2d` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dOp {
    /// The name space files and genotypes use.
    pub name: &'static str,
    /// What it computes.
    pub shape: Conv2dShape,
}

const fn op(name: &'static str, shape: Conv2dShape) -> Conv2dOp {
    Conv2dOp { name, shape }
}

/// The family's ops in DARTS's PRIMITIVES order.
pub const CONV2D_OPS: [Conv2dOp; 8] = [
    op("none", Conv2dShape::Zero),
    op("max_pool_3x3", Conv2dShape::Pool(PoolKind::Max)),
    op("avg_pool_3x3", Conv2dShape::Pool(PoolKind::Avg)),
    op("skip_connect", Conv2dShape::Skip),
    op("sep_conv_3x3", Conv2dShape::Separable { kernel: 3 }),
    op("sep_conv_5x5", Conv2dShape::Separable { kernel: 5 }),
    op("dil_conv_3x3", Conv2dShape::Dilated { kernel: 3, dilation: 2 }),
    op("dil_conv_5x5", Conv2dShape::Dilated { kernel: 5, dilation: 2 }),
];

/// The shape of the `conv2d` op `name`; `None` for a name outside the family.
pub fn conv2d_shape(name: &str) -> Option<Conv2dShape> {
    CONV2D_OPS.iter().find(|op| op.name == name).map(|op| op.shape)
}

/// DARTS's 2-D image ops on `[batch, channels, h, w]` features.
pub struct Conv2dFamily;

impl OpFamily for Conv2dFamily {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn op_names(&self) -> Vec<&'static str> {
        CONV2D_OPS.iter().map(|op| op.name).collect()
    }

    fn kernel_weights(&self, op: &str, channels: usize, stride: usize) -> Option<usize> {
        let c = channels;
        let square = c.checked_mul(c)?;
        // A depthwise k x k conv followed by a pointwise conv.
        let dw_pw = |k: usize| c.checked_mul(k * k)?.checked_add(square);
        match conv2d_shape(op) {
            Some(Conv2dShape::Skip) if stride > 1 => Some(square),
            Some(Conv2dShape::Separable { kernel }) => dw_pw(kernel)?.checked_mul(2),
            Some(Conv2dShape::Dilated { kernel, .. }) => dw_pw(kernel),
            _ => Some(0),
        }
    }

    fn channel_vectors(&self, op: &str, stride: usize, affine: bool) -> usize {
        let batch_norms = match conv2d_shape(op) {
            Some(Conv2dShape::Skip) if stride > 1 => 1,
            Some(Conv2dShape::Separable { .. }) => 2,
            Some(Conv2dShape::Dilated { .. }) => 1,
            _ => 0,
        };
        if affine { 2 * batch_norms } else { 0 }
    }

    fn cells(&self) -> Option<CellRule> {
        Some(CellRule { reductions: true, inputs: 2, input_sources: "the outputs of the two previous cells" })
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::catalogue::Catalogue;

    #[test]
    fn conv2d_counts_match_the_darts_formulas() {
        let count = |op, stride, affine| Catalogue::CONV2D.param_count(op, 16, stride, affine).unwrap();
        // sep_conv_3x3: 2 x (9*16 + 16*16) = 800, + 2 BNs x 32 when affine.
        assert_eq!((count("sep_conv_3x3", 1, false), count("sep_conv_3x3", 1, true)), (800, 864));
        assert_eq!((count("dil_conv_5x5", 1, false), count("dil_conv_5x5", 2, true)), (656, 688));
        assert_eq!((count("skip_connect", 1, true), count("skip_connect", 2, true)), (0, 288));
        assert_eq!((count("max_pool_3x3", 2, true), count("none", 1, true)), (0, 0));
        let flops = |op, stride| Catalogue::CONV2D.flops(op, 16, stride, 64).unwrap();
        assert_eq!((flops("sep_conv_3x3", 1), flops("skip_connect", 2), flops("skip_connect", 1)), (51_200, 16_384, 0));
    }

    #[test]
    fn the_table_keeps_darts_primitives_order() {
        let darts = [
            "none",
            "max_pool_3x3",
            "avg_pool_3x3",
            "skip_connect",
            "sep_conv_3x3",
            "sep_conv_5x5",
            "dil_conv_3x3",
            "dil_conv_5x5",
        ];
        assert_eq!(Catalogue::CONV2D.ops(), darts);
    }
}
