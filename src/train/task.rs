//! The contract between the one training loop and a task (image classification, distillation, ...):
//! the task owns data, losses and evaluation; the loop owns optimisation, schedules, progress and
//! checkpoints.

use crate::run::TaskLoss;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::StdRng;

/// A training problem: data, the loss of a batch and an evaluation after every epoch.
pub trait TrainTask<AB: AutodiffBackend> {
    /// The module the loop trains (everything with trainable parameters; frozen parts such as a teacher live in the task).
    type Net: AutodiffModule<AB> + Clone;
    /// One batch.
    type Batch;
    /// Examples in the training set.
    fn train_len(&self) -> usize;
    /// Assembles a training batch (augmentation draws from `rng`).
    fn batch(&self, indices: &[usize], rng: &mut StdRng) -> Self::Batch;
    /// The loss of one batch with its named terms (crate::run::TaskLoss: total, terms, correct, count).
    fn loss(&self, net: &Self::Net, batch: &Self::Batch, at: EpochAt) -> TaskLoss<AB>;
    /// Evaluation after every epoch (evaluation mode): named metrics such as ("test_acc", 0.91), ("test_top5", 0.99).
    fn evaluate(&self, net: &<Self::Net as AutodiffModule<AB>>::InnerModule) -> Vec<(String, f64)>;
}

/// Where in training a step is (for schedules such as drop path).
#[derive(Debug, Clone, Copy)]
pub struct EpochAt {
    /// 0-based epoch.
    pub epoch: usize,
    /// Epochs of the whole run.
    pub epochs: usize,
}
