//! The op catalogue: a table of op families ([`OpFamily`]), each described in its own folder under
//! `ops/` (DARTS's 2-D image ops in `conv2d/`, AdaRec's causal 1-D sequence ops in `causal1d/`) plus
//! `features`, the family of spaces that only weigh existing features. A new family is a folder and one
//! line in [`FAMILIES`].

use crate::ops::causal1d::family::Causal1dFamily;
use crate::ops::conv2d::family::Conv2dFamily;
use crate::ops::family::{CellRule, OpFamily};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The name of the op that outputs zeros in every family; it is never kept at derivation.
pub const ZERO_OP: &str = "none";

/// One op family of the catalogue, named in space files and genotypes by [`Catalogue::name`].
#[derive(Clone, Copy)]
pub struct Catalogue(&'static dyn OpFamily);

/// Every family kdnas knows, in the order error messages list them.
pub const FAMILIES: [Catalogue; 3] = [Catalogue::CONV2D, Catalogue::CAUSAL1D, Catalogue::FEATURES];

/// The family of spaces without cells: plain choice groups over existing features (DFA's weighting
/// of a teacher's block outputs). It has no ops.
struct FeatureChoices;

impl OpFamily for FeatureChoices {
    fn name(&self) -> &'static str {
        "features"
    }

    fn op_names(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn kernel_weights(&self, _op: &str, _channels: usize, _stride: usize) -> Option<usize> {
        Some(0)
    }

    fn channel_vectors(&self, _op: &str, _stride: usize, _affine: bool) -> usize {
        0
    }

    fn cells(&self) -> Option<CellRule> {
        None
    }
}

impl Catalogue {
    /// DARTS's 2-D image ops on `[batch, channels, h, w]` features.
    pub const CONV2D: Catalogue = Catalogue(&Conv2dFamily);
    /// AdaRec's causal 1-D ops on `[batch, channels, time]` sequence features (no reductions).
    pub const CAUSAL1D: Catalogue = Catalogue(&Causal1dFamily);
    /// No ops: a space of plain choice groups over existing features; such a space declares no cells.
    pub const FEATURES: Catalogue = Catalogue(&FeatureChoices);

    /// The family named `name` in a space file or genotype.
    pub fn from_name(name: &str) -> Option<Self> {
        FAMILIES.into_iter().find(|family| family.name() == name)
    }

    /// Names of the families, for error messages.
    pub fn known_names() -> Vec<&'static str> {
        FAMILIES.iter().map(|family| family.name()).collect()
    }

    /// The family's name (`conv2d`, `causal1d`, `features`).
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The family's op names, in catalogue order.
    pub fn ops(self) -> Vec<&'static str> {
        self.0.op_names()
    }

    /// Whether `op` belongs to this family.
    pub fn contains(self, op: &str) -> bool {
        self.ops().contains(&op)
    }

    /// How the family's cells are wired; `None` for a family without cells.
    pub fn cells(self) -> Option<CellRule> {
        self.0.cells()
    }

    /// Trainable parameters of `op` on `channels` features (`stride` 2 on conv2d reduction edges;
    /// causal1d ops have no stride; `affine` adds BatchNorm scale and shift, as in derived networks);
    /// `None` on overflow. BatchNorm running statistics are not counted.
    pub fn param_count(self, op: &str, channels: usize, stride: usize, affine: bool) -> Option<usize> {
        let vectors = self.0.channel_vectors(op, stride, affine).checked_mul(channels)?;
        self.0.kernel_weights(op, channels, stride)?.checked_add(vectors)
    }

    /// Multiply-adds of `op` for one sample with `positions` output positions (time steps for
    /// causal1d, `h*w` of the output map for conv2d; `stride` as in [`Catalogue::param_count`]):
    /// every convolution weight counts once per output position. Biases, normalisation, pooling and
    /// identity are elementwise work and count 0. `None` on overflow.
    pub fn flops(self, op: &str, channels: usize, stride: usize, positions: usize) -> Option<usize> {
        self.0.kernel_weights(op, channels, stride)?.checked_mul(positions)
    }
}

impl PartialEq for Catalogue {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Catalogue {}

impl fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Catalogue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Catalogue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Catalogue::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown catalogue `{name}` (known: {})",
                Catalogue::known_names().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_unknown_names_are_refused() {
        for name in Catalogue::known_names() {
            let catalogue = Catalogue::from_name(name).unwrap();
            let json = serde_json::to_string(&catalogue).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Catalogue>(&json).unwrap(), catalogue);
        }
        let err = serde_json::from_str::<Catalogue>("\"conv3d\"").unwrap_err().to_string();
        assert!(err.contains("unknown catalogue `conv3d` (known: conv2d, causal1d, features)"), "{err}");
        assert!(Catalogue::CAUSAL1D.contains(ZERO_OP) && Catalogue::CONV2D.contains(ZERO_OP));
        assert!(!Catalogue::CAUSAL1D.contains("sep_conv_3x3") && Catalogue::FEATURES.ops().is_empty());
        assert_ne!(Catalogue::CONV2D, Catalogue::CAUSAL1D);
    }

    #[test]
    fn each_family_states_its_cell_wiring() {
        let conv2d = Catalogue::CONV2D.cells().unwrap();
        assert_eq!((conv2d.reductions, conv2d.inputs), (true, 2));
        let causal1d = Catalogue::CAUSAL1D.cells().unwrap();
        assert_eq!((causal1d.reductions, causal1d.inputs), (false, 1));
        assert_eq!(Catalogue::FEATURES.cells(), None);
    }
}
