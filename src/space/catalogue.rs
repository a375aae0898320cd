//! Op catalogues: which candidate ops exist and what they cost (parameters, multiply-adds): DARTS's
//! 2-D image ops and AdaRec's causal 1-D sequence ops.

use serde::{Deserialize, Serialize};

/// The op catalogues kdnas knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Catalogue {
    /// DARTS's 2-D image ops on `[batch, channels, h, w]` features.
    Conv2d,
    /// AdaRec's causal 1-D ops on `[batch, channels, time]` sequence features (no reductions).
    Causal1d,
    /// No ops: a space of plain choice groups over existing features (DFA's weighting of a
    /// teacher's block outputs); such a space declares no cells.
    Features,
}

/// The 2-D ops of DARTS (operations.py), in DARTS's PRIMITIVES order.
pub const CONV2D_OPS: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// AdaRec's 1-D ops (operators.py), in AdaRec's order, all made causal (see docs/search-spaces.md).
pub const CAUSAL1D_OPS: [&str; 10] = [
    "std_cnn_3",
    "dil_cnn_3",
    "cau_cnn_3",
    "std_cnn_5",
    "dil_cnn_5",
    "cau_cnn_5",
    "max_pool",
    "avg_pool",
    "skip_connect",
    "none",
];

/// The shape of one convolution op of the `causal1d` catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CausalConvSpec {
    /// Taps of the window.
    pub kernel: usize,
    /// Distance between taps.
    pub dilation: usize,
    /// Whether a BatchNorm follows the conv.
    pub batch_norm: bool,
}

/// The convolution behind a `causal1d` op name; `None` for the ops that are not convolutions.
pub fn causal1d_conv(op: &str) -> Option<CausalConvSpec> {
    let (kernel, dilation, batch_norm) = match op {
        "std_cnn_3" => (3, 1, false),
        "dil_cnn_3" => (3, 2, false),
        "cau_cnn_3" => (3, 2, true),
        "std_cnn_5" => (5, 1, false),
        "dil_cnn_5" => (5, 2, false),
        "cau_cnn_5" => (5, 2, true),
        _ => return None,
    };
    Some(CausalConvSpec { kernel, dilation, batch_norm })
}

/// The name of the op that outputs zeros; it is never kept at derivation.
pub const ZERO_OP: &str = "none";

impl Catalogue {
    /// Parses a catalogue name as written in a space file.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "conv2d" => Some(Catalogue::Conv2d),
            "causal1d" => Some(Catalogue::Causal1d),
            "features" => Some(Catalogue::Features),
            _ => None,
        }
    }

    /// Names of the catalogues, for error messages.
    pub fn known_names() -> &'static [&'static str] {
        &["conv2d", "causal1d", "features"]
    }

    /// The catalogue's op names.
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Catalogue::Conv2d => &CONV2D_OPS,
            Catalogue::Causal1d => &CAUSAL1D_OPS,
            Catalogue::Features => &[],
        }
    }

    /// Whether `op` belongs to this catalogue.
    pub fn contains(self, op: &str) -> bool {
        self.ops().contains(&op)
    }

    /// Trainable parameters of `op` on `channels` features (`stride` 2 on conv2d reduction edges;
    /// causal1d ops have no stride; `affine` adds BatchNorm scale and shift, as in derived networks);
    /// `None` on overflow. BatchNorm running statistics are not counted.
    pub fn param_count(self, op: &str, channels: usize, stride: usize, affine: bool) -> Option<usize> {
        let vectors = self.channel_vectors(op, stride, affine).checked_mul(channels)?;
        self.kernel_weights(op, channels, stride)?.checked_add(vectors)
    }

    /// Multiply-adds of `op` for one sample with `positions` output positions (time steps for
    /// causal1d, `h*w` of the output map for conv2d; `stride` as in [`Catalogue::param_count`]):
    /// every convolution weight counts once per output position. Biases, normalisation, pooling and
    /// identity are elementwise work and count 0. `None` on overflow.
    pub fn flops(self, op: &str, channels: usize, stride: usize, positions: usize) -> Option<usize> {
        self.kernel_weights(op, channels, stride)?.checked_mul(positions)
    }

    /// Convolution kernel weights of `op` (no biases, no normalisation); `None` on overflow.
    fn kernel_weights(self, op: &str, channels: usize, stride: usize) -> Option<usize> {
        let c = channels;
        let square = c.checked_mul(c)?;
        // A depthwise k x k conv followed by a pointwise conv.
        let dw_pw = |k: usize| c.checked_mul(k * k)?.checked_add(square);
        match (self, op) {
            (Catalogue::Conv2d, "skip_connect") if stride > 1 => Some(square),
            (Catalogue::Conv2d, "sep_conv_3x3") => dw_pw(3)?.checked_mul(2),
            (Catalogue::Conv2d, "sep_conv_5x5") => dw_pw(5)?.checked_mul(2),
            (Catalogue::Conv2d, "dil_conv_3x3") => dw_pw(3),
            (Catalogue::Conv2d, "dil_conv_5x5") => dw_pw(5),
            (Catalogue::Causal1d, _) => causal1d_conv(op).map_or(Some(0), |spec| square.checked_mul(spec.kernel)),
            _ => Some(0),
        }
    }

    /// Trainable per-channel vectors of `op`: conv biases, and BatchNorm scale and shift when `affine`.
    fn channel_vectors(self, op: &str, stride: usize, affine: bool) -> usize {
        let (biases, batch_norms) = match (self, op) {
            (Catalogue::Conv2d, "skip_connect") if stride > 1 => (0, 1),
            (Catalogue::Conv2d, "sep_conv_3x3" | "sep_conv_5x5") => (0, 2),
            (Catalogue::Conv2d, "dil_conv_3x3" | "dil_conv_5x5") => (0, 1),
            (Catalogue::Causal1d, _) => causal1d_conv(op).map_or((0, 0), |spec| (1, usize::from(spec.batch_norm))),
            _ => (0, 0),
        };
        biases + if affine { 2 * batch_norms } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_every_catalogue_op_is_known() {
        for name in Catalogue::known_names() {
            let catalogue = Catalogue::from_name(name).unwrap();
            assert_eq!(serde_json::to_string(&catalogue).unwrap(), format!("\"{name}\""));
        }
        assert!(Catalogue::Causal1d.ops().iter().all(|op| Catalogue::Causal1d.contains(op)));
        assert!(!Catalogue::Causal1d.contains("sep_conv_3x3") && Catalogue::Causal1d.contains(ZERO_OP));
        let convs: Vec<&str> = CAUSAL1D_OPS.iter().copied().filter(|op| causal1d_conv(op).is_some()).collect();
        assert_eq!(convs, ["std_cnn_3", "dil_cnn_3", "cau_cnn_3", "std_cnn_5", "dil_cnn_5", "cau_cnn_5"]);
    }

    #[test]
    fn conv2d_counts_match_the_darts_formulas() {
        let count = |op, stride, affine| Catalogue::Conv2d.param_count(op, 16, stride, affine).unwrap();
        // sep_conv_3x3: 2 x (9*16 + 16*16) = 800, + 2 BNs x 32 when affine.
        assert_eq!((count("sep_conv_3x3", 1, false), count("sep_conv_3x3", 1, true)), (800, 864));
        assert_eq!((count("dil_conv_5x5", 1, false), count("dil_conv_5x5", 2, true)), (656, 688));
        assert_eq!((count("skip_connect", 1, true), count("skip_connect", 2, true)), (0, 288));
        assert_eq!((count("max_pool_3x3", 2, true), count("none", 1, true)), (0, 0));
        let flops = |op, stride| Catalogue::Conv2d.flops(op, 16, stride, 64).unwrap();
        assert_eq!((flops("sep_conv_3x3", 1), flops("skip_connect", 2), flops("skip_connect", 1)), (51_200, 16_384, 0));
    }

    #[test]
    fn causal1d_counts_match_a_hand_count() {
        let count = |op, affine| Catalogue::Causal1d.param_count(op, 8, 1, affine).unwrap();
        // k C^2 weights + C biases (+ 2C BatchNorm scale and shift when affine).
        assert_eq!((count("std_cnn_3", true), count("dil_cnn_5", true)), (3 * 64 + 8, 5 * 64 + 8));
        assert_eq!((count("cau_cnn_3", false), count("cau_cnn_3", true)), (200, 216));
        assert_eq!((count("max_pool", true), count("skip_connect", true), count("none", true)), (0, 0, 0));
        let flops = |op| Catalogue::Causal1d.flops(op, 8, 1, 50).unwrap();
        assert_eq!((flops("cau_cnn_5"), flops("std_cnn_3"), flops("avg_pool")), (5 * 64 * 50, 3 * 64 * 50, 0));
        assert_eq!(Catalogue::Causal1d.flops("std_cnn_5", usize::MAX, 1, 1), None);
    }
}
