//! The contract between the one search loop and a task (image classification, DFA, AdaRec...): the task
//! owns data and losses, the loop owns optimisation.

use crate::error::{KdnasError, Result};
use crate::supernet::ArchWeights;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor};
use rand::rngs::StdRng;

/// Which part of the search data a batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Trains the network weights.
    Train,
    /// Trains the architecture weights.
    Val,
}

/// A task's loss on one batch: the total, its named terms (checked for NaN), and accuracy counts.
pub struct TaskLoss<B: burn::tensor::backend::Backend> {
    /// The scalar to minimise, `[1]`.
    pub total: Tensor<B, 1>,
    /// Named parts of the total, each `[1]`, reported when the loss stops being finite.
    pub terms: Vec<(&'static str, Tensor<B, 1>)>,
    /// Number of correct predictions in the batch, `[1]` (tasks without accuracy leave it `None`).
    pub correct: Option<Tensor<B, 1, Int>>,
    /// Number of examples in the batch.
    pub count: usize,
}

impl<B: burn::tensor::backend::Backend> TaskLoss<B> {
    /// The plain classification loss of `logits: [n, classes]` against `labels: [n]`: mean
    /// cross-entropy as the total and its one term, with the batch's correct count.
    pub fn classification(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Self {
        let ce = crate::metrics::cross_entropy(logits.clone(), labels.clone());
        let count = labels.dims()[0];
        Self {
            total: ce.clone(),
            terms: vec![("cross_entropy", ce)],
            correct: Some(crate::metrics::correct_count(logits, labels)),
            count,
        }
    }
}

/// A search problem: data, a network with mixed choices, and the losses of the bi-level problem.
pub trait SearchTask<AB: AutodiffBackend> {
    /// The network whose weights the loop trains (the supernet).
    type Net: AutodiffModule<AB> + Clone;
    /// One batch of examples.
    type Batch;

    /// Number of examples in the training split.
    fn train_len(&self) -> usize;
    /// Number of examples in the validation split (architecture step).
    fn val_len(&self) -> usize;
    /// Assembles a batch from example indices of `split` (augmentation draws from `rng`).
    fn batch(&self, split: Split, indices: &[usize], rng: &mut StdRng) -> Self::Batch;
    /// The loss that trains the weights (L_train).
    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB>;
    /// The loss that trains the architecture (L_val); defaults to the weight loss. Tasks add
    /// architecture-only terms (cost, bridge losses) here. Single-level search minimises it for both.
    fn arch_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB> {
        self.weight_loss(net, weights, batch)
    }
    /// Names of the parts of the architecture loss whose architecture gradients the loop records one by
    /// one (each as it enters the total, weight included; e.g. DFA's two bridge paths, AdaRec's task
    /// and cost terms). Empty (the default): nothing is recorded.
    fn arch_loss_parts(&self) -> &'static [&'static str] {
        &[]
    }
    /// Part `part` (an index into [`SearchTask::arch_loss_parts`]) of the architecture loss on
    /// `batch`, `[1]`, without changing any task state (the probes must not alter the run); `None` for
    /// an unknown part.
    fn arch_loss_part(
        &self,
        _part: usize,
        _net: &Self::Net,
        _weights: &ArchWeights<AB>,
        _batch: &Self::Batch,
    ) -> Option<Tensor<AB, 1>> {
        None
    }
    /// An evaluation-mode pass over the whole validation split at the end of an epoch (DARTS's
    /// reported validation figure), with `weights` the current architecture; `None` when the task
    /// has no such evaluation.
    fn evaluate_val(
        &self,
        _net: &<Self::Net as AutodiffModule<AB>>::InnerModule,
        _weights: &ArchWeights<AB::InnerBackend>,
    ) -> Option<Evaluation> {
        None
    }
    /// What the task carries from step to step besides the modules (AdaRec's EMD layer masses): saved
    /// in every checkpoint and in every epoch's record; `None` for tasks without such state.
    fn task_state(&self) -> Option<serde_json::Value> {
        None
    }
    /// Restores what [`SearchTask::task_state`] returned, on resume; a state of another shape is a
    /// checkpoint error naming `file`.
    fn restore_task_state(&self, _state: &serde_json::Value, _file: &std::path::Path) -> Result<()> {
        Ok(())
    }
}

/// Loss and accuracy (or the task's own metrics) of an evaluation pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// Mean loss per example, when the task computes one.
    pub loss: Option<f64>,
    /// Fraction of correct predictions, when the task has accuracy.
    pub accuracy: Option<f64>,
    /// Further named figures (ranking tasks: `valid_ndcg@10`, ...).
    pub metrics: std::collections::BTreeMap<String, f64>,
}

/// A loss as read back to the host.
#[derive(Debug, Clone, Default)]
pub struct LossReading {
    /// Loss value.
    pub loss: f32,
    /// Correct predictions, for tasks with accuracy.
    pub correct: Option<usize>,
    /// Batch size.
    pub count: usize,
    /// The loss's named terms.
    pub terms: Vec<(&'static str, f32)>,
}

/// Reads a step's loss to the host (total, every term, correct count), failing with the name of the
/// first non-finite term (or `total`) when the loss is not finite; `epoch` and `step` (0-based) locate
/// the failure.
pub fn read_loss<B: Backend>(loss: &TaskLoss<B>, epoch: usize, step: usize) -> Result<LossReading> {
    let total: f32 = loss.total.clone().into_scalar().elem();
    let terms: Vec<(&'static str, f32)> = match loss.terms.as_slice() {
        // A single term is the total itself: no second read-back.
        [(name, _)] => vec![(*name, total)],
        terms => terms.iter().map(|(name, t)| (*name, t.clone().into_scalar().elem::<f32>())).collect(),
    };
    if !total.is_finite() {
        let (term, value) = terms.iter().copied().find(|(_, v)| !v.is_finite()).unwrap_or(("total", total));
        return Err(KdnasError::NonFinite { epoch, step, term: term.to_string(), value });
    }
    let correct = loss.correct.clone().map(|c| c.into_scalar().elem::<i64>() as usize);
    Ok(LossReading { loss: total, correct, count: loss.count, terms })
}
