//! DFA's loss settings (the `[dfa]` section) and the feature distance they choose.

use crate::distill::{feature_l2, margin_l2, overhaul_loss};
use crate::error::Result;
use crate::models::TapPoint;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// How a student feature is compared with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// Mean squared error (FitNet's hint loss) on block outputs.
    #[default]
    L2,
    /// The overhaul paper's partial L2 with a zero margin, as a mean, on block outputs: the ResNet taps
    /// are post-ReLU, so positions where the target is 0 and the student is below it are not penalised.
    MarginL2,
    /// Heo et al. 2019's overhaul loss on pre-activation taps ([`crate::models::preact`]): the partial L2
    /// with the teacher BatchNorms' margins, summed over elements, position `i` of `n` weighted
    /// `1 / 2^(n - i - 1)`, divided by the batch ([`overhaul_loss`]). The margin of an aggregation
    /// target is the same weighted mix of its candidates' margins.
    Overhaul,
}

impl Distance {
    /// Which features of both networks this distance compares.
    pub fn taps(self) -> TapPoint {
        match self {
            Distance::L2 | Distance::MarginL2 => TapPoint::Block,
            Distance::Overhaul => TapPoint::PreActivation,
        }
    }

    /// `d` over positions, `[n, c_i, h_i, w_i]` student and target per position, as `[1]`: the sum of the
    /// per-position distances for L2 and MarginL2 (`margins` unused), [`overhaul_loss`] with `margins[i]`
    /// (`[c_i]`) for Overhaul.
    ///
    /// # Panics
    /// For Overhaul without one margin per position (a programming error).
    pub fn over_positions<B: Backend>(
        self,
        students: &[Tensor<B, 4>],
        targets: &[Tensor<B, 4>],
        margins: &[Tensor<B, 1>],
    ) -> Tensor<B, 1> {
        let pairs = students.iter().cloned().zip(targets.iter().cloned());
        let sum = |terms: Vec<Tensor<B, 1>>| terms.into_iter().reduce(|a, b| a + b).expect("at least one position");
        match self {
            Distance::L2 => sum(pairs.map(|(s, t)| feature_l2(s, t)).collect()),
            Distance::MarginL2 => sum(pairs
                .map(|(s, t)| {
                    let margin = Tensor::zeros([t.dims()[1]], &t.device());
                    margin_l2(s, t, margin)
                })
                .collect()),
            Distance::Overhaul => overhaul_loss(students, targets, margins),
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
