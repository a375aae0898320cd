//! Image classification search (DARTS on CIFAR-10, Fashion-MNIST): cross-entropy on both levels.

use crate::data::{Augment, ImageSet, image_batch};
use crate::metrics::{correct_count, cross_entropy};
use crate::search::task::Evaluation;
use crate::search::{SearchTask, Split, TaskLoss};
use crate::supernet::{ArchWeights, CellNetwork};
use burn::tensor::{ElementConversion, Int, Tensor, backend::AutodiffBackend};
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
        let set = match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
        };
        image_batch::<AB>(set, indices, self.augment.as_ref().map(|a| (a, rng)), &self.device)
    }

    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB> {
        let (images, labels) = batch;
        let logits = net.forward(images.clone(), Some(weights)); // [n, classes]
        let ce = cross_entropy(logits.clone(), labels.clone());
        TaskLoss {
            total: ce.clone(),
            terms: vec![("cross_entropy", ce)],
            correct: Some(correct_count(logits, labels.clone())),
            count: labels.dims()[0],
        }
    }

    fn evaluate_val(
        &self,
        net: &CellNetwork<AB::InnerBackend>,
        weights: &ArchWeights<AB::InnerBackend>,
    ) -> Option<Evaluation> {
        let (mut loss_sum, mut correct) = (0.0f64, 0i64);
        let indices: Vec<usize> = (0..self.val.len()).collect();
        for chunk in indices.chunks(EVAL_BATCH) {
            let (images, labels) = image_batch::<AB::InnerBackend>(&self.val, chunk, None, &self.device);
            let logits = net.forward(images, Some(weights)); // [n, classes]
            let ce: f32 = cross_entropy(logits.clone(), labels.clone()).into_scalar().elem();
            loss_sum += ce as f64 * chunk.len() as f64;
            correct += correct_count(logits, labels).into_scalar().elem::<i64>();
        }
        let n = self.val.len().max(1) as f64;
        Some(Evaluation { loss: loss_sum / n, accuracy: Some(correct as f64 / n) })
    }
}

/// Examples per forward pass of the evaluation (no gradients are kept).
const EVAL_BATCH: usize = 256;
