//! The contract between the one search loop and a task (image classification, DFA, AdaRec...): the task
//! owns data and losses, the loop owns optimisation.

use crate::error::Result;
use crate::run::TaskLoss;
use crate::supernet::ArchWeights;
use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::StdRng;

/// Which part of the search data a batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Trains the network weights.
    Train,
    /// Trains the architecture weights.
    Val,
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
