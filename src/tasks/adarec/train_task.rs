//! Training a sequential recommender (the NextItNet teacher, a derived student trained from scratch)
//! with the one training loop: next-item cross-entropy at every non-padding position, validation and
//! test ranking metrics after every epoch.

use super::data::SequenceData;
use super::losses::{KlReduction, masked_logit_kl};
use super::ranking::{named_metrics, rank_users};
use super::recommender::SequenceRecommender;
use super::teacher::FrozenSequenceTeacher;
use crate::data::sequence::{EvalSplit, TrainWindow, train_batch};
use crate::run::TaskLoss;
use crate::train::{EpochAt, TrainTask};
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

/// Continued distillation while training a derived student (AdaRec's stage 2 option):
/// `(1 - gamma) CE + gamma * T^2 KL(teacher || student)` on the logits of every real position.
pub struct LogitDistillation<AB: AutodiffBackend> {
    /// The frozen teacher.
    pub teacher: FrozenSequenceTeacher<AB>,
    /// Weight of the KL term.
    pub gamma: f64,
    /// Softmax temperature of both sides.
    pub temperature: f64,
    /// How the KL reduces over positions.
    pub reduction: KlReduction,
}

/// The training task of a sequential recommender `N`: next-item cross-entropy, optionally with
/// [`LogitDistillation`].
pub struct SequenceTrainTask<AB: AutodiffBackend, N> {
    data: Arc<SequenceData>,
    distillation: Option<LogitDistillation<AB>>,
    device: AB::Device,
    net: PhantomData<N>,
}

impl<AB: AutodiffBackend, N> SequenceTrainTask<AB, N> {
    /// A task over `data` on `device`.
    pub fn new(data: Arc<SequenceData>, device: AB::Device) -> Self {
        Self { data, distillation: None, device, net: PhantomData }
    }

    /// The same task, distilling from a frozen teacher.
    pub fn with_distillation(self, distillation: LogitDistillation<AB>) -> Self {
        Self { distillation: Some(distillation), ..self }
    }
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
        let logits = net.sequence_logits(batch.inputs.clone());
        let ce = next_item_cross_entropy(logits.clone(), batch.targets.clone(), batch.count);
        let Some(kd) = &self.distillation else {
            return TaskLoss {
                total: ce.clone(),
                terms: vec![("cross_entropy", ce)],
                correct: None,
                count: batch.count,
            };
        };
        let teacher = Tensor::from_inner(kd.teacher.net.forward(batch.inputs.clone().inner())); // [batch, time, items + 1]
        let mask = batch.targets.clone().not_equal_elem(0).float(); // [batch, time]
        let sequences = mask.dims()[0];
        let kl = masked_logit_kl(logits, teacher, mask, batch.count, kd.temperature)
            .mul_scalar(kd.reduction.scale(batch.count, sequences));
        TaskLoss {
            total: ce.clone().mul_scalar(1.0 - kd.gamma) + kl.clone().mul_scalar(kd.gamma),
            terms: vec![("cross_entropy", ce), ("logit_kl", kl)],
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
