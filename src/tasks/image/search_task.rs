//! Image classification search (DARTS on CIFAR-10, Fashion-MNIST): cross-entropy on both levels.

use crate::data::{Augment, ImageSet, image_batch};
use crate::models::CellNetwork;
use crate::run::TaskLoss;
use crate::search::task::Evaluation;
use crate::search::{SearchTask, Split};
use crate::supernet::ArchWeights;
use crate::train::classify::{ClassifierScores, score_classifier};
use crate::train::image_task::{EVAL_BATCH, ImageClassifier};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use rand::rngs::StdRng;

/// DARTS's image-classification search: the train split trains weights, the val split alphas.
pub struct ImageSearchTask<AB: AutodiffBackend> {
    /// Weight-training images.
    pub train: ImageSet,
    /// Architecture-training images.
    pub val: ImageSet,
    /// Augmentation applied to both splits (DARTS augments its search data), if any.
    pub augment: Option<Augment>,
    /// Device batches are built on.
    pub device: AB::Device,
}

impl<AB: AutodiffBackend> SearchTask<AB> for ImageSearchTask<AB> {
    type Net = CellNetwork<AB>;
    type Batch = (Tensor<AB, 4>, Tensor<AB, 1, Int>);

    fn train_len(&self) -> usize {
        self.train.len()
    }

    fn val_len(&self) -> usize {
        self.val.len()
    }

    fn batch(&self, split: Split, indices: &[usize], rng: &mut StdRng) -> Self::Batch {
        image_batch::<AB>(
            split_set(&self.train, &self.val, split),
            indices,
            self.augment.as_ref().map(|a| (a, rng)),
            &self.device,
        )
    }

    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB> {
        let (images, labels) = batch;
        let logits = net.forward(images.clone(), Some(weights)); // [n, classes]
        TaskLoss::classification(logits, labels.clone())
    }

    fn evaluate_val(
        &self,
        net: &CellNetwork<AB::InnerBackend>,
        weights: &ArchWeights<AB::InnerBackend>,
    ) -> Option<Evaluation> {
        Some(evaluation_of(score_classifier(&WithWeights { net, weights }, &self.val, EVAL_BATCH, &self.device)))
    }
}

/// The set a search split reads from.
pub fn split_set<'a>(train: &'a ImageSet, val: &'a ImageSet, split: Split) -> &'a ImageSet {
    match split {
        Split::Train => train,
        Split::Val => val,
    }
}

/// A search network evaluated with fixed architecture weights.
struct WithWeights<'a, B: Backend> {
    net: &'a CellNetwork<B>,
    weights: &'a ArchWeights<B>,
}

impl<B: Backend> ImageClassifier<B> for WithWeights<'_, B> {
    fn train_logits(&self, images: Tensor<B, 4>, _drop_path: f64) -> Tensor<B, 2> {
        self.logits(images)
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.net.forward(images, Some(self.weights))
    }
}

/// The loss and top-1 accuracy of a classifier's scores.
pub fn evaluation_of(scores: ClassifierScores) -> Evaluation {
    Evaluation { loss: Some(scores.loss), accuracy: Some(scores.top1), metrics: Default::default() }
}
