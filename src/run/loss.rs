//! A task's loss on one batch ([`TaskLoss`]) and its reading on the host ([`LossReading`]), the
//! currency between tasks and both loops (search and training).

use crate::error::{KdnasError, Result};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor};

/// A task's loss on one batch: the total, its named terms (checked for NaN), and accuracy counts.
pub struct TaskLoss<B: Backend> {
    /// The scalar to minimise, `[1]`.
    pub total: Tensor<B, 1>,
    /// Named parts of the total, each `[1]`, reported when the loss stops being finite.
    pub terms: Vec<(&'static str, Tensor<B, 1>)>,
    /// Number of correct predictions in the batch, `[1]` (tasks without accuracy leave it `None`).
    pub correct: Option<Tensor<B, 1, Int>>,
    /// Number of examples in the batch.
    pub count: usize,
}

impl<B: Backend> TaskLoss<B> {
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
