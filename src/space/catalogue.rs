//! Op catalogues: which candidate ops exist and what they cost. The 2-D DARTS catalogue lives here;
//! other catalogues (AdaRec's 1-D causal ops) are added as further variants without touching the loop.

use serde::{Deserialize, Serialize};

/// The op catalogues kdnas knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Catalogue {
    /// DARTS's 2-D image ops on `[batch, channels, h, w]` features.
    Conv2d,
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

/// The name of the op that outputs zeros; it is never kept at derivation.
pub const ZERO_OP: &str = "none";

impl Catalogue {
    /// Parses a catalogue name as written in a space file.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "conv2d" => Some(Catalogue::Conv2d),
            "features" => Some(Catalogue::Features),
            _ => None,
        }
    }

    /// Names of the catalogues, for error messages.
    pub fn known_names() -> &'static [&'static str] {
        &["conv2d", "features"]
    }

    /// The catalogue's op names.
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Catalogue::Conv2d => &CONV2D_OPS,
            Catalogue::Features => &[],
        }
    }

    /// Whether `op` belongs to this catalogue.
    pub fn contains(self, op: &str) -> bool {
        self.ops().contains(&op)
    }

    /// Trainable parameters of `op` on `channels` features (`stride` 2 on reduction edges;
    /// `affine` adds BatchNorm scale and shift, as in derived networks); `None` on overflow.
    pub fn param_count(self, op: &str, channels: usize, stride: usize, affine: bool) -> Option<usize> {
        let c = channels;
        let bn = if affine { c.checked_mul(2)? } else { 0 };
        let square = c.checked_mul(c)?;
        // A depthwise k x k conv followed by a pointwise conv and a BatchNorm.
        let dw_pw_bn = |k: usize| c.checked_mul(k * k)?.checked_add(square)?.checked_add(bn);
        match (self, op) {
            (Catalogue::Conv2d, "none" | "max_pool_3x3" | "avg_pool_3x3") => Some(0),
            (Catalogue::Conv2d, "skip_connect") if stride == 1 => Some(0),
            (Catalogue::Conv2d, "skip_connect") => square.checked_add(bn),
            (Catalogue::Conv2d, "sep_conv_3x3") => dw_pw_bn(3)?.checked_mul(2),
            (Catalogue::Conv2d, "sep_conv_5x5") => dw_pw_bn(5)?.checked_mul(2),
            (Catalogue::Conv2d, "dil_conv_3x3") => dw_pw_bn(3),
            (Catalogue::Conv2d, "dil_conv_5x5") => dw_pw_bn(5),
            _ => Some(0),
        }
    }
}
