//! AdaRec's search objective (spec/adarec.md):
//! `L = (1 - gamma) L_CE + gamma (L_emb + L_hidden_EMD + L_logit) + beta L_E`. The cross-entropy and the
//! embedding MSE are means over the real (non-padding) positions; the two KL terms are that mean too, or
//! (`reduction = "sequence_sum"`, AdaRec's `KLDivLoss(reduction="batchmean")` on `[batch, time, ...]`)
//! summed over each sequence's positions and averaged over the sequences.

use crate::distill::emd::GroundDistance;
use crate::distill::kd_rows;
use crate::error::Result;
use crate::validate::{at_least_one, field_error, non_negative, positive};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// The `[adarec]` section: the weights of the loss terms and how the EMD layer mapping compares layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdarecLosses {
    /// Weight of the distillation terms against the cross-entropy (AdaRec 0.5).
    pub gamma: f64,
    /// Weight of the cost term (AdaRec 8).
    pub beta: f64,
    /// Ground distance of the EMD layer mapping (AdaRec: KL with the student first).
    pub distance: GroundDistance,
    /// Every how many teacher blocks one is a teacher layer of the mapping (AdaRec 2: 8 of 16 blocks,
    /// the 2nd, 4th, ...).
    pub teacher_layer_stride: usize,
    /// Temperature of the logit KL (AdaRec 1).
    pub logit_temperature: f64,
    /// What an op costs in the cost term: its parameter count (the default) or its measured latency.
    pub cost: CostKind,
    /// How the KL terms reduce over positions. Left out of written configs when `"per_position"` (the
    /// default, so configs written before the setting keep their meaning); AdaRec's example configs
    /// set `"sequence_sum"`.
    #[serde(skip_serializing_if = "KlReduction::is_per_position")]
    pub reduction: KlReduction,
    /// A budget for the derived student's trainable parameters: the search adds a multiplier times the
    /// expected size over the target, the multiplier rising while the expected size is over it (dual
    /// ascent, as constrained NAS); absent: no budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_params: Option<usize>,
    /// Step of the budget multiplier per search step, per unit of relative excess (default 0.01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_rate: Option<f64>,
}

/// How the hidden-EMD and logit-KL terms reduce over a batch's real positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlReduction {
    /// The mean over real positions (a per-position KL).
    #[default]
    PerPosition,
    /// The sum over each sequence's real positions, averaged over the batch's sequences: AdaRec's
    /// `batchmean` (which also sums the padding positions; kdnas leaves them out, they have no target).
    /// The per-position mean times the mean number of real positions per sequence.
    SequenceSum,
}

impl KlReduction {
    /// Whether this is the default, [`KlReduction::PerPosition`].
    pub fn is_per_position(&self) -> bool {
        *self == KlReduction::PerPosition
    }

    /// The factor that turns a mean over `count` real positions of `sequences` sequences into this
    /// reduction.
    pub fn scale(self, count: usize, sequences: usize) -> f64 {
        match self {
            KlReduction::PerPosition => 1.0,
            KlReduction::SequenceSum => count as f64 / sequences.max(1) as f64,
        }
    }
}

/// The quantity behind the cost table, each normalised by the costliest candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// Trainable parameters of the op.
    #[default]
    Params,
    /// Forward time of the op at the search's batch and sequence length, measured on this machine when
    /// the run starts (kept in the run's `costs.json`).
    Latency,
    /// AdaRec's fixed table (`OPERATOR_COST` of the authors' models/nas/modules/operators.py), not
    /// normalised: k3 convs 0.565, k5 convs 2.127, pools, skip and `none` 0.481, so AdaRec's beta = 8
    /// means the same here.
    Adarec,
}

impl Default for AdarecLosses {
    fn default() -> Self {
        Self {
            gamma: 0.5,
            beta: 8.0,
            distance: GroundDistance::KlStudentTeacher,
            teacher_layer_stride: 2,
            logit_temperature: 1.0,
            cost: CostKind::Params,
            reduction: KlReduction::PerPosition,
            target_params: None,
            budget_rate: None,
        }
    }
}

impl AdarecLosses {
    /// Checks the values, naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.gamma) {
            return Err(field_error("adarec.gamma", format!("{} is not in [0, 1]", self.gamma)));
        }
        non_negative("adarec.beta", self.beta)?;
        at_least_one("adarec.teacher_layer_stride", self.teacher_layer_stride)?;
        if let Some(target) = self.target_params {
            at_least_one("adarec.target_params", target)?;
        }
        if let Some(rate) = self.budget_rate {
            positive("adarec.budget_rate", rate)?;
        }
        positive("adarec.logit_temperature", self.logit_temperature)
    }

    /// The budget multiplier's step per search step (default 0.01).
    pub fn budget_rate(&self) -> f64 {
        self.budget_rate.unwrap_or(0.01)
    }

    /// The teacher blocks (0-based) that are layers of the mapping: every `stride`-th, ending with the
    /// last (`stride - 1, 2 stride - 1, ...`).
    pub fn teacher_layers(&self, blocks: usize) -> Vec<usize> {
        (self.teacher_layer_stride - 1..blocks).step_by(self.teacher_layer_stride).collect()
    }
}

/// `mean_c (s - t)^2` averaged over the positions where `mask` `[batch, time]` is 1 (`count` of them):
/// `student, teacher: [batch, time, channels]` -> `[1]`.
pub fn masked_mse<B: Backend>(
    student: Tensor<B, 3>,
    teacher: Tensor<B, 3>,
    mask: Tensor<B, 2>,
    count: usize,
) -> Tensor<B, 1> {
    let channels = student.dims()[2];
    let per_position = (student - teacher).powi_scalar(2).sum_dim(2).squeeze_dim::<2>(2); // [batch, time]
    (per_position * mask).sum().div_scalar((count.max(1) * channels) as f64)
}

/// `T^2 KL(softmax(t/T) || softmax(s/T))` over the items, averaged over the positions where `mask` is
/// 1: logits `[batch, time, items + 1]`, `mask` `[batch, time]` -> `[1]`.
pub fn masked_logit_kl<B: Backend>(
    student: Tensor<B, 3>,
    teacher: Tensor<B, 3>,
    mask: Tensor<B, 2>,
    count: usize,
    temperature: f64,
) -> Tensor<B, 1> {
    let [batch, time, items] = student.dims();
    let rows = kd_rows(student.reshape([batch * time, items]), teacher.reshape([batch * time, items]), temperature); // [batch*time]
    (rows * mask.reshape([batch * time])).sum().div_scalar(count.max(1) as f64)
}
