//! Training a sequential recommender (the NextItNet teacher, a derived student trained from scratch)
//! with the one training loop: next-item cross-entropy at every non-padding position, validation and
//! test ranking metrics after every epoch; a derived student can also be distilled from a frozen teacher
//! with the `[[objective]]` terms a sequence student has (`cross_entropy`, `kd`, `rkd`).

use super::data::SequenceData;
use super::losses::{KlReduction, masked_logit_kl};
use super::ranking::{named_metrics, rank_users};
use super::recommender::SequenceRecommender;
use super::teacher::FrozenSequenceTeacher;
use crate::data::sequence::{EvalSplit, TrainWindow, train_batch};
use crate::distill::objective::Objective;
use crate::distill::rkd_loss;
use crate::error::Result;
use crate::run::TaskLoss;
use crate::train::{EpochAt, TrainTask};
use crate::validate::field_error;
use burn::module::AutodiffModule;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use rand::rngs::StdRng;
use std::marker::PhantomData;
use std::sync::Arc;

/// A batch of training windows.
pub struct SequenceBatch<B: Backend> {
    /// `[batch, max_len]` input ids (left-padded).
    pub inputs: Tensor<B, 2, Int>,
    /// `[batch, max_len]` next-item targets, 0 where there is none.
    pub targets: Tensor<B, 2, Int>,
    /// Number of non-padding targets.
    pub count: usize,
}

/// Mean next-item cross-entropy over the positions whose target is not padding:
/// `logits: [batch, time, items + 1]`, `targets: [batch, time]` (0 = padding), `count` of them not 0.
pub fn next_item_cross_entropy<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    count: usize,
) -> Tensor<B, 1> {
    let [batch, time, rows] = logits.dims();
    let log_p = log_softmax(logits.reshape([batch * time, rows]), 1); // [batch*time, rows]
    let targets = targets.reshape([batch * time, 1]);
    let mask = targets.clone().not_equal_elem(0).float(); // [batch*time, 1]
    let picked = log_p.gather(1, targets) * mask; // [batch*time, 1]
    picked.sum().neg().div_scalar(count.max(1) as f64)
}

/// One computable term of a sequence student's loss, from an [`Objective`].
#[derive(Debug, Clone, Copy)]
enum SequenceTerm {
    /// Next-item cross-entropy over the real positions.
    CrossEntropy,
    /// `T^2 KL(teacher || student)` over the real positions, reduced as `reduction` says.
    Kd { temperature: f64, reduction: KlReduction },
    /// Relational KD between the logits at the sequences' last positions.
    Rkd { distance_weight: f64, angle_weight: f64 },
}

/// The training task of a sequential recommender `N`: a weighted list of objectives (next-item
/// cross-entropy alone by default; with a frozen teacher, `kd` and `rkd`).
pub struct SequenceTrainTask<AB: AutodiffBackend, N> {
    data: Arc<SequenceData>,
    terms: Vec<(&'static str, f64, SequenceTerm)>,
    teacher: Option<FrozenSequenceTeacher<AB>>,
    device: AB::Device,
    net: PhantomData<N>,
}

impl<AB: AutodiffBackend, N> SequenceTrainTask<AB, N> {
    /// A task over `data` on `device` with next-item cross-entropy as its loss.
    pub fn new(data: Arc<SequenceData>, device: AB::Device) -> Self {
        let terms = vec![("cross_entropy", 1.0, SequenceTerm::CrossEntropy)];
        Self { data, terms, teacher: None, device, net: PhantomData }
    }

    /// The same task with `objectives` as its loss (`reduction`: how `kd` reduces over positions),
    /// reading `teacher`; errors name `objective[i]` for a term a sequence student cannot compute or
    /// that needs the missing teacher.
    pub fn with_objectives(
        self,
        objectives: &[Objective],
        reduction: KlReduction,
        teacher: Option<FrozenSequenceTeacher<AB>>,
    ) -> Result<Self> {
        let mut terms = Vec::with_capacity(objectives.len());
        for (i, objective) in objectives.iter().enumerate() {
            let term = match *objective {
                Objective::CrossEntropy { .. } => SequenceTerm::CrossEntropy,
                Objective::Kd { temperature, .. } => SequenceTerm::Kd { temperature, reduction },
                Objective::Rkd { distance_weight, angle_weight, .. } => {
                    SequenceTerm::Rkd { distance_weight, angle_weight }
                }
                _ => {
                    let why =
                        format!("`{}` reads stage features, which a sequence student does not have", objective.name());
                    return Err(field_error(&format!("objective[{i}].kind"), why));
                }
            };
            if objective.reads_teacher() && teacher.is_none() {
                return Err(field_error(&format!("objective[{i}]"), format!("`{}` needs a teacher", objective.name())));
            }
            terms.push((objective.name(), objective.weight(), term));
        }
        Ok(Self { terms, teacher, ..self })
    }
}

/// The rows of `logits: [batch, time, items + 1]` at the last position: `[batch, items + 1]` (every
/// training window is left-padded, so its last position is real).
fn last_position<B: Backend>(logits: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, time, rows] = logits.dims();
    logits.slice([0..batch, time - 1..time, 0..rows]).reshape([batch, rows])
}

/// The training batch of the examples at `indices` (positions in `data.train_windows`).
pub fn sequence_batch<B: Backend>(data: &SequenceData, indices: &[usize], device: &B::Device) -> SequenceBatch<B> {
    let windows: Vec<TrainWindow> = indices.iter().map(|&i| data.train_windows[i]).collect();
    let batch = train_batch(&data.set, &windows, data.max_len);
    let count = batch.targets.values.iter().filter(|&&t| t != 0).count();
    SequenceBatch { inputs: batch.inputs.to_tensor(device), targets: batch.targets.to_tensor(device), count }
}

impl<AB, N> TrainTask<AB> for SequenceTrainTask<AB, N>
where
    AB: AutodiffBackend,
    N: AutodiffModule<AB> + SequenceRecommender<AB> + Clone,
    N::InnerModule: SequenceRecommender<AB::InnerBackend>,
{
    type Net = N;
    type Batch = SequenceBatch<AB>;

    fn train_len(&self) -> usize {
        self.data.train_windows.len()
    }

    fn batch(&self, indices: &[usize], _rng: &mut StdRng) -> Self::Batch {
        sequence_batch(&self.data, indices, &self.device)
    }

    fn loss(&self, net: &N, batch: &Self::Batch, _at: EpochAt) -> TaskLoss<AB> {
        let logits = net.sequence_logits(batch.inputs.clone()); // [batch, time, items + 1]
        // The teacher runs only when a term reads it (a cross-entropy-only run has none).
        let teacher = self
            .teacher
            .as_ref()
            .filter(|_| self.terms.iter().any(|(_, _, term)| !matches!(term, SequenceTerm::CrossEntropy)))
            .map(|t| Tensor::<AB, 3>::from_inner(t.net.forward(batch.inputs.clone().inner()))); // [batch, time, items + 1]
        let mut total: Option<Tensor<AB, 1>> = None;
        let mut terms = Vec::with_capacity(self.terms.len());
        for &(name, weight, term) in &self.terms {
            let value = match (term, &teacher) {
                (SequenceTerm::CrossEntropy, _) => {
                    next_item_cross_entropy(logits.clone(), batch.targets.clone(), batch.count)
                }
                (SequenceTerm::Kd { temperature, reduction }, Some(teacher)) => {
                    let mask = batch.targets.clone().not_equal_elem(0).float(); // [batch, time]
                    let sequences = mask.dims()[0];
                    masked_logit_kl(logits.clone(), teacher.clone(), mask, batch.count, temperature)
                        .mul_scalar(reduction.scale(batch.count, sequences))
                }
                (SequenceTerm::Rkd { distance_weight, angle_weight }, Some(teacher)) => rkd_loss(
                    last_position(logits.clone()),
                    last_position(teacher.clone()),
                    distance_weight,
                    angle_weight,
                ),
                // `with_objectives` refuses a teacher term without a teacher.
                (_, None) => Tensor::zeros([1], &self.device),
            };
            let weighted = value.clone().mul_scalar(weight);
            total = Some(total.map_or(weighted.clone(), |t| t + weighted));
            terms.push((name, value));
        }
        TaskLoss {
            total: total.unwrap_or_else(|| Tensor::zeros([1], &self.device)),
            terms,
            correct: None,
            count: batch.count,
        }
    }

    fn evaluate(&self, net: &N::InnerModule) -> Vec<(String, f64)> {
        [EvalSplit::Valid, EvalSplit::Test]
            .into_iter()
            .flat_map(|split| named_metrics(split, &rank_users(net, &self.data, split, &self.device)))
            .collect()
    }
}
