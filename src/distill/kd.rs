//! Knowledge distillation on logits (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network").

use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, backend::Backend};

/// `T^2 * KL(softmax(t/T) || softmax(s/T))`, summed over classes and averaged over the batch, as `[1]`.
///
/// The torchdistill / CRD formulation (`KLDivLoss(reduction="batchmean")` times `T^2`): with
/// `p = softmax(t/T)`, the loss is `sum(p * (log p - log_softmax(s/T))) / n * T^2`. Both log-probabilities
/// come from `log_softmax`, so large logits do not overflow. The gradient with respect to the student
/// logits is `(softmax(s/T) - p) * T / n`.
///
/// The teacher's logits are normally detached by the caller (`teacher_logits.detach()`); a tracked teacher
/// receives gradients too.
///
/// # Panics
/// If the two logit tensors differ in shape (a programming error of the caller).
pub fn kd_loss<B: Backend>(
    student_logits: Tensor<B, 2>,
    teacher_logits: Tensor<B, 2>,
    temperature: f64,
) -> Tensor<B, 1> {
    let n = student_logits.dims()[0];
    kd_rows(student_logits, teacher_logits, temperature).sum().div_scalar(n as f64)
}

/// Per row, `T^2 * KL(softmax(t/T) || softmax(s/T))` of logits `[n, classes]`: `[n]` (the terms
/// [`kd_loss`] averages; ranking tasks average them over real positions only).
///
/// # Panics
/// If the two logit tensors differ in shape (a programming error of the caller).
pub fn kd_rows<B: Backend>(
    student_logits: Tensor<B, 2>,
    teacher_logits: Tensor<B, 2>,
    temperature: f64,
) -> Tensor<B, 1> {
    assert_eq!(student_logits.dims(), teacher_logits.dims(), "kd_loss: student and teacher logits differ in shape");
    let n = student_logits.dims()[0];
    let log_q = log_softmax(student_logits.div_scalar(temperature), 1); // [n, classes]
    let log_p = log_softmax(teacher_logits.div_scalar(temperature), 1); // [n, classes]
    let p = log_p.clone().exp(); // [n, classes]
    (p * (log_p - log_q)).sum_dim(1).reshape([n]).mul_scalar(temperature * temperature)
}
