//! The objective language of every distillation run (`[[objective]]` in DFA distillation and AdaRec
//! fine-tuning configs): a weighted list of task-free losses, each named, weighted and checked here.
//! A task computes the terms it can from its tensors (logits for all; stage features for image
//! distillation) and refuses, naming `objective[i]`, the ones it cannot.
//!
//! Adding a loss: its function in a file of its own under `src/distill/`, a variant here (its fields,
//! name and checks), and one arm where each task that supports it computes its terms
//! (`tasks/dfa/distill_task.rs`, `tasks/adarec/train_task.rs`); a task that does not support it refuses
//! it by name ([`Objective::reads_features`] for the feature terms).

use super::Distance;
use crate::error::Result;
use crate::validate::{field_error, non_negative, positive};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the aggregation objective's per-stage weights come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregationWeights {
    /// All weight on the last block of each stage (classic per-stage feature distillation).
    Last,
    /// Uniform over the blocks of each stage.
    Average,
    /// Random positive weights summing to 1 per stage, drawn from the objective's `seed`.
    Random,
    /// softmax(beta) of a DFA search run: the `genotype.json` of the run directory `search`.
    Searched,
}

/// One weighted term of the stage-2 loss (`[[objective]]` in a distillation config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Objective {
    /// Cross-entropy with the labels.
    CrossEntropy {
        /// Weight of the term (default 1).
        #[serde(default = "unit_weight")]
        weight: f64,
    },
    /// Hinton KD: KL(softmax(t/T) || softmax(s/T)) * T^2.
    Kd {
        /// Weight of the term.
        weight: f64,
        /// Temperature T (Hinton; CRD uses 4).
        temperature: f64,
    },
    /// FitNet hints: a connector maps every student stage output to the teacher's stage output.
    Fitnet {
        /// Weight of the term (summed over stages).
        weight: f64,
        /// Distance between the connected student feature and the hint.
        #[serde(default)]
        distance: Distance,
    },
    /// Attention transfer on every stage output (Zagoruyko & Komodakis; torchdistill's form).
    Attention {
        /// Weight of the term (summed over stages).
        weight: f64,
        /// Power of the attention map.
        #[serde(default = "default_power")]
        p: f64,
    },
    /// Heo et al. 2019's overhaul distillation as PkuDavidGuan/Distillation's `margin_ReLU`: the
    /// connected pre-activation taps of the student's stem and stage ends against the teacher's, with the
    /// teacher BatchNorms' margins ([`Distance::Overhaul`]; the stem tap included, as in the reference).
    Overhaul {
        /// Weight of the term (the reference's 1e-3).
        #[serde(default = "default_overhaul_weight")]
        weight: f64,
    },
    /// Park et al. 2019's relational KD ([`super::rkd_loss`]) between the logits of the batch's
    /// examples (images; each sequence's last position). mdistiller and RepDistiller apply it to the
    /// pooled penultimate feature; kdnas to the logits, which every task has.
    Rkd {
        /// Weight of the term.
        #[serde(default = "unit_weight")]
        weight: f64,
        /// Weight of the distance part (RKD-D; 25, mdistiller's and RepDistiller's).
        #[serde(default = "default_rkd_distance_weight")]
        distance_weight: f64,
        /// Weight of the angle part (RKD-A; 50).
        #[serde(default = "default_rkd_angle_weight")]
        angle_weight: f64,
    },
    /// The aggregation target A_i = sum_j w_ij T_i^j of every stage, with fixed weights. With
    /// `distance = "overhaul"` the taps are pre-activation ones, A_i's margin is the same mix of its
    /// candidates' margins, and the stem tap is a fixed position as in [`Objective::Overhaul`]: `Last` is
    /// then the overhaul objective itself.
    Aggregation {
        /// Weight of the term (summed over stages).
        weight: f64,
        /// Where the weights come from.
        weights: AggregationWeights,
        /// Distance between the connected student feature and A_i.
        #[serde(default)]
        distance: Distance,
        /// The DFA search run directory, for `weights = "searched"` (relative to the config file).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<PathBuf>,
        /// Seed of `weights = "random"`.
        #[serde(default)]
        seed: u64,
    },
}

fn unit_weight() -> f64 {
    1.0
}

fn default_rkd_distance_weight() -> f64 {
    25.0
}

fn default_rkd_angle_weight() -> f64 {
    50.0
}

fn default_power() -> f64 {
    2.0
}

fn default_overhaul_weight() -> f64 {
    1e-3
}

impl Objective {
    /// The term's name in records and plots.
    pub fn name(&self) -> &'static str {
        match self {
            Objective::CrossEntropy { .. } => "cross_entropy",
            Objective::Kd { .. } => "kd",
            Objective::Fitnet { .. } => "fitnet",
            Objective::Attention { .. } => "attention",
            Objective::Overhaul { .. } => "overhaul",
            Objective::Rkd { .. } => "rkd",
            Objective::Aggregation { .. } => "aggregation",
        }
    }

    /// The term's weight.
    pub fn weight(&self) -> f64 {
        match *self {
            Objective::CrossEntropy { weight }
            | Objective::Kd { weight, .. }
            | Objective::Fitnet { weight, .. }
            | Objective::Attention { weight, .. }
            | Objective::Overhaul { weight }
            | Objective::Rkd { weight, .. }
            | Objective::Aggregation { weight, .. } => weight,
        }
    }

    /// Whether the term reads stage features (tasks without them, such as AdaRec fine-tuning, refuse it).
    pub fn reads_features(&self) -> bool {
        !matches!(self, Objective::CrossEntropy { .. } | Objective::Kd { .. } | Objective::Rkd { .. })
    }

    /// Whether the term reads the teacher.
    pub fn reads_teacher(&self) -> bool {
        !matches!(self, Objective::CrossEntropy { .. })
    }

    /// Whether the term compares connected student features with teacher features.
    pub fn needs_connectors(&self) -> bool {
        matches!(self, Objective::Fitnet { .. } | Objective::Overhaul { .. } | Objective::Aggregation { .. })
    }

    /// Checks the fields; `field` is `objective[i]`.
    pub fn validate(&self, field: &str) -> Result<()> {
        non_negative(&format!("{field}.weight"), self.weight())?;
        match self {
            Objective::Kd { temperature, .. } => positive(&format!("{field}.temperature"), *temperature),
            Objective::Attention { p, .. } => positive(&format!("{field}.p"), *p),
            Objective::Rkd { distance_weight, angle_weight, .. } => {
                non_negative(&format!("{field}.distance_weight"), *distance_weight)?;
                non_negative(&format!("{field}.angle_weight"), *angle_weight)
            }
            Objective::Fitnet { distance: Distance::Overhaul, .. } => Err(field_error(
                &format!("{field}.distance"),
                "the overhaul distance is its own objective: use `kind = \"overhaul\"`",
            )),
            Objective::Aggregation { weights: AggregationWeights::Searched, search: None, .. } => Err(field_error(
                &format!("{field}.search"),
                "`weights = \"searched\"` needs `search = \"RUN_DIR\"` (a `kdnas dfa search` run directory)",
            )),
            _ => Ok(()),
        }
    }

    /// Makes the `search` path absolute against `base` (the config file's folder).
    pub fn resolve(&mut self, base: &Path) {
        if let Objective::Aggregation { search: Some(dir), .. } = self {
            *dir = crate::files::absolute_from(base, dir);
        }
    }
}

/// Checks an `[[objective]]` list: every entry's fields (`objective[i].…`) and no kind listed twice.
pub fn validate_objectives(objectives: &[Objective]) -> Result<()> {
    for (i, objective) in objectives.iter().enumerate() {
        objective.validate(&format!("objective[{i}]"))?;
        if objectives[..i].iter().any(|o| o.name() == objective.name()) {
            return Err(field_error(
                &format!("objective[{i}].kind"),
                format!("`{}` is listed twice", objective.name()),
            ));
        }
    }
    Ok(())
}
