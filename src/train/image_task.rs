//! Image classification as a [`TrainTask`]: cross-entropy on (augmented) training batches, top-1,
//! top-5 and loss on the test set after every epoch. Trains any [`ImageClassifier`]: the derived cell
//! network (with DARTS's linearly growing drop path) and the teachers of [`crate::models`].

use super::classify::score_classifier;
use super::task::{EpochAt, TrainTask};
use crate::data::{Augment, ImageSet, image_batch};
use crate::models::CellNetwork;
use crate::models::{Model, StagedClassifier};
use crate::run::TaskLoss;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use rand::rngs::StdRng;
use std::marker::PhantomData;

/// A network that classifies images, as the image task drives it.
pub trait ImageClassifier<B: Backend> {
    /// Logits of a training batch, `[batch, channels, h, w] -> [batch, classes]`, with drop-path
    /// probability `drop_path` on networks that have drop path (others ignore it).
    fn train_logits(&self, images: Tensor<B, 4>, drop_path: f64) -> Tensor<B, 2>;
    /// Logits without drop path, `[batch, channels, h, w] -> [batch, classes]` (evaluation when the
    /// network is on a non-autodiff backend: BatchNorm then uses its running statistics).
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2>;
}

impl<B: Backend> ImageClassifier<B> for CellNetwork<B> {
    fn train_logits(&self, images: Tensor<B, 4>, drop_path: f64) -> Tensor<B, 2> {
        self.forward_with_drop_path(images, None, drop_path)
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward(images, None)
    }
}

impl<B: Backend> ImageClassifier<B> for Model<B> {
    fn train_logits(&self, images: Tensor<B, 4>, _drop_path: f64) -> Tensor<B, 2> {
        StagedClassifier::forward(self, images)
    }

    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        StagedClassifier::forward(self, images)
    }
}

/// Images per forward pass of the evaluation (no gradients are kept).
pub const EVAL_BATCH: usize = 256;

/// Supervised image classification of the network `N`.
pub struct ImageTrainTask<AB: AutodiffBackend, N> {
    /// Training images.
    pub train: ImageSet,
    /// Test images (evaluated after every epoch).
    pub test: ImageSet,
    /// Augmentation of training images, if any.
    pub augment: Option<Augment>,
    /// Final drop-path probability, reached linearly from 0 over the epochs (DARTS); 0 disables it.
    pub drop_path: f64,
    /// Device batches are built on.
    pub device: AB::Device,
    network: PhantomData<fn() -> N>,
}

impl<AB: AutodiffBackend, N> ImageTrainTask<AB, N> {
    /// The task of training on `train` and testing on `test`.
    pub fn new(train: ImageSet, test: ImageSet, augment: Option<Augment>, drop_path: f64, device: AB::Device) -> Self {
        Self { train, test, augment, drop_path, device, network: PhantomData }
    }
}

impl<AB, N> TrainTask<AB> for ImageTrainTask<AB, N>
where
    AB: AutodiffBackend,
    N: AutodiffModule<AB> + Clone + ImageClassifier<AB>,
    N::InnerModule: ImageClassifier<AB::InnerBackend>,
{
    type Net = N;
    type Batch = (Tensor<AB, 4>, Tensor<AB, 1, Int>);

    fn train_len(&self) -> usize {
        self.train.len()
    }

    fn batch(&self, indices: &[usize], rng: &mut StdRng) -> Self::Batch {
        image_batch::<AB>(&self.train, indices, self.augment.as_ref().map(|a| (a, rng)), &self.device)
    }

    fn loss(&self, net: &N, batch: &Self::Batch, at: EpochAt) -> TaskLoss<AB> {
        let (images, labels) = batch;
        let drop_path = self.drop_path * at.epoch as f64 / at.epochs as f64; // DARTS's linear schedule
        let logits = net.train_logits(images.clone(), drop_path); // [n, classes]
        TaskLoss::classification(logits, labels.clone())
    }

    fn evaluate(&self, net: &N::InnerModule) -> Vec<(String, f64)> {
        let scores = score_classifier(net, &self.test, EVAL_BATCH, &self.device);
        vec![
            ("test_acc".to_string(), scores.top1),
            ("test_top5".to_string(), scores.top5),
            ("test_loss".to_string(), scores.loss),
        ]
    }
}
