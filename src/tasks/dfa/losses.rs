//! DFA's loss settings (the `[dfa]` section) and the feature distance they choose.

pub use crate::distill::Distance;
use crate::error::Result;
use crate::models::TapPoint;
use serde::{Deserialize, Serialize};

/// The feature distances DFA compares taps with ([`Distance`], task-free in `distill`), and which taps
/// each reads.
impl Distance {
    /// Which features of both networks this distance compares.
    pub fn taps(self) -> TapPoint {
        match self {
            Distance::L2 | Distance::MarginL2 => TapPoint::Block,
            Distance::Overhaul => TapPoint::PreActivation,
        }
    }
}

/// What the bridge loss's student-to-teacher path measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StudentToTeacher {
    /// Cross-entropy of the teacher's remaining stages run on the connected student feature. It
    /// reaches beta only through the student's weights, i.e. in second-order search.
    #[default]
    CrossEntropy,
    /// The feature distance between the connected student feature and the aggregation (a direct
    /// beta gradient in every mode).
    Distance,
}

/// The `[dfa]` section: weights of DFA's loss terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DfaLosses {
    /// Weight of the feature term in L_train = CE + lambda * sum_i d(conn_i(S_i), A_i). The default
    /// (100) matches the FitNet baseline's hint weight, so the Last ablation equals FitNet on every stage;
    /// with `distance = "overhaul"` the reference's weight is 1e-3.
    pub lambda: f64,
    /// Weight of the teacher-to-student bridge path.
    pub gamma_ts: f64,
    /// Weight of the student-to-teacher bridge path.
    pub gamma_st: f64,
    /// Feature distance.
    pub distance: Distance,
    /// What the student-to-teacher path measures.
    pub student_to_teacher: StudentToTeacher,
    /// Also train the bridges (connectors and the networks' later stages) on the training split, with
    /// the same gammas, so the hybrid paths the architecture is judged by are learned ones rather than
    /// random projections.
    pub bridges_in_weight_loss: bool,
}

impl Default for DfaLosses {
    fn default() -> Self {
        Self {
            lambda: 100.0,
            gamma_ts: 1.0,
            gamma_st: 1.0,
            distance: Distance::L2,
            student_to_teacher: StudentToTeacher::CrossEntropy,
            bridges_in_weight_loss: true,
        }
    }
}

impl DfaLosses {
    /// Rejects negative weights and a bridge loss with both paths off.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::{field_error, non_negative};
        non_negative("dfa.lambda", self.lambda)?;
        non_negative("dfa.gamma_ts", self.gamma_ts)?;
        non_negative("dfa.gamma_st", self.gamma_st)?;
        if self.gamma_ts == 0.0 && self.gamma_st == 0.0 {
            return Err(field_error(
                "dfa.gamma_ts",
                "gamma_ts and gamma_st are both 0: the architecture would not learn",
            ));
        }
        Ok(())
    }
}
