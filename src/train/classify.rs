//! Scores of an image classifier on a labelled set in evaluation mode: mean cross-entropy, top-1 and
//! top-5 accuracy and the confusion matrix (shared by the per-epoch evaluation and `kdnas eval`).

use super::image_task::ImageClassifier;
use crate::data::{ImageSet, image_batch};
use crate::metrics::cross_entropy;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor};

/// How a classifier did on a labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierScores {
    /// Images scored.
    pub count: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction whose highest logit is the true class.
    pub top1: f64,
    /// Fraction whose true class is among the 5 highest logits (1 with 5 classes or fewer).
    pub top5: f64,
    /// `confusion[true][predicted]`: image counts, `[classes][classes]`.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassifierScores {
    /// Accuracy of every class (its diagonal count over its images), `None` for a class without images.
    pub fn per_class_accuracy(&self) -> Vec<Option<f64>> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let n: usize = row.iter().sum();
                (n > 0).then(|| row[c] as f64 / n as f64)
            })
            .collect()
    }

    /// The confusion matrix with every row divided by its sum (rows without images stay 0).
    pub fn normalised_confusion(&self) -> Vec<Vec<f64>> {
        self.confusion
            .iter()
            .map(|row| {
                let n = row.iter().sum::<usize>().max(1) as f64;
                row.iter().map(|&v| v as f64 / n).collect()
            })
            .collect()
    }
}

/// Number of rows of `logits: [n, classes]` whose target is among the `k` highest logits (fewer than
/// `k` classes score strictly higher), as `[1]`.
pub fn topk_correct<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>, k: usize) -> Tensor<B, 1, Int> {
    let [n, classes] = logits.dims();
    let target = logits.clone().gather(1, targets.reshape([n, 1])); // [n, 1]
    let above = logits.greater(target.expand([n, classes])).int().sum_dim(1); // [n, 1]
    above.lower_elem(k as i64).int().sum()
}

/// Scores `net` (evaluation mode: call it on the inner backend) on every image of `set`, `batch`
/// images per forward pass.
pub fn score_classifier<B: Backend, N: ImageClassifier<B>>(
    net: &N,
    set: &ImageSet,
    batch: usize,
    device: &B::Device,
) -> ClassifierScores {
    let mut confusion = vec![vec![0usize; set.classes]; set.classes];
    let (mut loss_sum, mut top5) = (0.0f64, 0usize);
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let (images, labels) = image_batch::<B>(set, chunk, None, device);
        let logits = net.logits(images); // [n, classes]
        let ce: f32 = cross_entropy(logits.clone(), labels.clone()).into_scalar().elem();
        loss_sum += ce as f64 * chunk.len() as f64;
        top5 += topk_correct(logits.clone(), labels, 5).into_scalar().elem::<i64>() as usize;
        let predicted: Vec<i64> = logits.argmax(1).into_data().convert::<i64>().to_vec().unwrap_or_default();
        for (&i, &p) in chunk.iter().zip(&predicted) {
            if let Some(cell) = confusion[usize::from(set.labels[i])].get_mut(p as usize) {
                *cell += 1;
            }
        }
    }
    let count = set.len();
    let n = count.max(1) as f64;
    let correct: usize = (0..set.classes).map(|c| confusion[c][c]).sum();
    ClassifierScores { count, loss: loss_sum / n, top1: correct as f64 / n, top5: top5 as f64 / n, confusion }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn topk_counts_targets_among_the_highest_logits() {
        let device = Default::default();
        let logits = Tensor::<Flex, 2>::from_floats([[0.1, 0.9, 0.5], [0.8, 0.1, 0.3], [0.2, 0.3, 0.1]], &device);
        let targets = Tensor::<Flex, 1, Int>::from_ints([1, 2, 2], &device);
        let count = |k| topk_correct(logits.clone(), targets.clone(), k).into_scalar().elem::<i64>();
        assert_eq!((count(1), count(2), count(3)), (1, 2, 3));
    }

    #[test]
    fn per_class_accuracy_and_normalised_rows() {
        let scores = ClassifierScores {
            count: 4,
            loss: 0.0,
            top1: 0.5,
            top5: 1.0,
            confusion: vec![vec![1, 1, 0], vec![0, 1, 1], vec![0, 0, 0]],
        };
        assert_eq!(scores.per_class_accuracy(), vec![Some(0.5), Some(0.5), None]);
        assert_eq!(scores.normalised_confusion()[0], vec![0.5, 0.5, 0.0]);
        assert_eq!(scores.normalised_confusion()[2], vec![0.0, 0.0, 0.0]);
    }
}
