//! Relaxations: how a choice turns its logits into weights (softmax, Gumbel-softmax soft or hard
//! straight-through), with the temperature schedules of GDAS and AdaRec.

use super::arch_params::ArchParams;
use crate::space::ChoiceSlot;
use burn::tensor::activation::softmax;
use burn::tensor::{Distribution, Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

/// How architecture logits become mixing weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Relaxation {
    /// softmax(alpha) (DARTS).
    Softmax,
    /// softmax((alpha + g) / tau) with Gumbel noise g; `hard` makes the forward pass one-hot with the
    /// soft gradient (straight-through; GDAS, AdaRec).
    Gumbel {
        /// Straight-through one-hot sampling.
        #[serde(default)]
        hard: bool,
        /// Temperature over epochs.
        temperature: TemperatureSchedule,
        /// With `hard`: which candidates a mixed op computes. Left out of written configs when
        /// `"sampled"` (the default, so configs written before the setting keep their meaning).
        #[serde(default, skip_serializing_if = "OpEvaluation::is_sampled")]
        evaluate: OpEvaluation,
    },
}

/// Which candidates of a mixed op a hard (straight-through) relaxation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpEvaluation {
    /// Only the sampled candidate, times its relaxed weight: the task loss's gradient reaches the
    /// sampled op's logit (and the others only through the softmax's normalisation). Cheapest.
    #[default]
    Sampled,
    /// Every candidate, summed with the one-hot straight-through weights (AdaRec's `SearchEdge`): the
    /// forward value is the sampled op's, and every op's weight gets the gradient `<dL/dy, op(x)>`, so
    /// the ops are compared on the task loss. Costs the forward and backward of every op.
    All,
}

impl OpEvaluation {
    /// Whether this is the default, [`OpEvaluation::Sampled`].
    pub fn is_sampled(&self) -> bool {
        *self == OpEvaluation::Sampled
    }
}

impl Default for Relaxation {
    fn default() -> Self {
        Relaxation::Softmax
    }
}

/// A temperature per epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemperatureSchedule {
    /// Linear from `start` at epoch 0 to `end` at the last epoch (GDAS: 10 -> 0.1).
    Linear {
        /// First temperature.
        start: f64,
        /// Last temperature.
        end: f64,
    },
    /// `start * factor^floor(epoch / every)` (AdaRec: 1, 0.8, 5).
    Step {
        /// First temperature.
        start: f64,
        /// Multiplier per step.
        factor: f64,
        /// Epochs per step.
        every: usize,
    },
}

impl TemperatureSchedule {
    /// Rejects schedules whose temperature is not positive at every epoch; `field` names the section.
    pub fn validate(&self, field: &str) -> crate::error::Result<()> {
        use crate::validate::{at_least_one, positive};
        match *self {
            TemperatureSchedule::Linear { start, end } => {
                positive(&format!("{field}.start"), start)?;
                positive(&format!("{field}.end"), end)
            }
            TemperatureSchedule::Step { start, factor, every } => {
                positive(&format!("{field}.start"), start)?;
                positive(&format!("{field}.factor"), factor)?;
                at_least_one(&format!("{field}.every"), every)
            }
        }
    }

    /// The temperature at `epoch` of `epochs`.
    pub fn at(&self, epoch: usize, epochs: usize) -> f64 {
        match *self {
            TemperatureSchedule::Linear { start, end } => {
                let t = if epochs > 1 { epoch as f64 / (epochs - 1) as f64 } else { 0.0 };
                start + (end - start) * t
            }
            TemperatureSchedule::Step { start, factor, every } => start * factor.powi((epoch / every.max(1)) as i32),
        }
    }
}

/// Relaxed weights for every choice group, shared by all forward passes of one step.
#[derive(Debug, Clone)]
pub struct ArchWeights<B: Backend> {
    /// `[rows, candidates]` weights per group.
    pub groups: Vec<Tensor<B, 2>>,
    /// For hard sampling: the selected candidate of every row of every group (host side), so that
    /// only the selected op is evaluated.
    pub selected: Option<Vec<Vec<usize>>>,
}

impl<B: Backend> ArchWeights<B> {
    /// The weights of one choice: row `slot.row` of group `slot.group`, `[candidates]`.
    pub fn row(&self, slot: ChoiceSlot) -> Tensor<B, 1> {
        let g = &self.groups[slot.group];
        let cols = g.dims()[1];
        g.clone().slice([slot.row..slot.row + 1, 0..cols]).reshape([cols])
    }
}

impl<B: Backend> ArchWeights<B> {
    /// The derived architecture as weights: one-hot rows at each row's largest weight (constants, the
    /// first on ties), with the selection recorded so that only the selected ops run.
    pub fn argmax(&self) -> ArchWeights<B> {
        let (groups, selected) = one_hot_rows(&self.groups);
        ArchWeights { groups, selected: Some(selected) }
    }
}

/// One-hot rows `[rows, candidates]` at each row's largest value, and the picked column per row.
fn one_hot_rows<B: Backend>(groups: &[Tensor<B, 2>]) -> (Vec<Tensor<B, 2>>, Vec<Vec<usize>>) {
    groups
        .iter()
        .map(|y| {
            let picks: Vec<usize> = y
                .clone()
                .argmax(1) // [rows, 1]
                .into_data()
                .convert::<i64>()
                .into_vec::<i64>()
                .unwrap_or_default()
                .into_iter()
                .map(|i| i as usize)
                .collect();
            let [rows, candidates] = y.dims();
            let mut values = vec![0.0f32; rows * candidates];
            for (row, &pick) in picks.iter().enumerate() {
                values[row * candidates + pick] = 1.0;
            }
            let one_hot = Tensor::<B, 2>::from_data(TensorData::new(values, [rows, candidates]), &y.device());
            (one_hot, picks)
        })
        .unzip()
}

/// Gumbel noise drawn once per step, reused by every forward pass of that step.
#[derive(Debug, Clone)]
pub struct GumbelNoise<B: Backend> {
    /// `[rows, candidates]` noise per group.
    pub groups: Vec<Tensor<B, 2>>,
}

impl<B: Backend> GumbelNoise<B> {
    /// Draws g = -log(-log(U)) for every logit of `arch`.
    pub fn sample(arch: &ArchParams<B>) -> Self {
        let groups = arch
            .logits
            .iter()
            .map(|p| {
                let u = Tensor::<B, 2>::random(p.dims(), Distribution::Uniform(0.0, 1.0), &p.device())
                    .clamp(1e-10, 1.0 - 1e-7);
                u.log().neg().log().neg()
            })
            .collect();
        Self { groups }
    }
}

impl Relaxation {
    /// Rejects a Gumbel temperature schedule that is not positive; `field` names the section.
    pub fn validate(&self, field: &str) -> crate::error::Result<()> {
        match self {
            Relaxation::Softmax => Ok(()),
            Relaxation::Gumbel { temperature, .. } => temperature.validate(&format!("{field}.temperature")),
        }
    }

    /// Whether a step needs Gumbel noise.
    pub fn needs_noise(&self) -> bool {
        matches!(self, Relaxation::Gumbel { .. })
    }

    /// The weights of every group at `epoch` of `epochs`. `noise` is required for Gumbel relaxations.
    pub fn weights<B: Backend>(
        &self,
        arch: &ArchParams<B>,
        noise: Option<&GumbelNoise<B>>,
        epoch: usize,
        epochs: usize,
    ) -> ArchWeights<B> {
        match self {
            Relaxation::Softmax => {
                ArchWeights { groups: arch.logits.iter().map(|p| softmax(p.val(), 1)).collect(), selected: None }
            }
            Relaxation::Gumbel { hard, temperature, evaluate } => {
                let tau = temperature.at(epoch, epochs);
                let noise = noise.expect("Gumbel relaxation needs noise sampled for the step");
                let soft: Vec<Tensor<B, 2>> = arch
                    .logits
                    .iter()
                    .zip(&noise.groups)
                    .map(|(p, g)| softmax((p.val() + g.clone()).div_scalar(tau), 1))
                    .collect();
                if !hard {
                    return ArchWeights { groups: soft, selected: None };
                }
                let (hard, selected) = one_hot_rows(&soft);
                let groups = hard.into_iter().zip(soft).map(|(y_hard, y)| y_hard - y.clone().detach() + y).collect();
                let selected = evaluate.is_sampled().then_some(selected);
                ArchWeights { groups, selected }
            }
        }
    }
}
