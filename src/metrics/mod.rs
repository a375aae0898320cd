//! Classification metrics and losses shared by search and training.

pub mod ranking;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor, backend::Backend};

/// Mean cross-entropy of `logits: [n, classes]` against `targets: [n]`, as `[1]`.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    CrossEntropyLossConfig::new().init(&logits.device()).forward(logits, targets)
}

/// Number of rows of `logits: [n, classes]` whose argmax equals the target, as `[1]`.
pub fn correct_count<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1, Int> {
    let n = targets.dims()[0];
    logits.argmax(1).reshape([n]).equal(targets).int().sum()
}
