//! Classification metrics and losses shared by search and training, and parameter counts.

pub mod ranking;

use burn::module::{Module, ModuleVisitor, Param};
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

/// Number of trainable parameters (excludes BatchNorm running statistics).
pub fn trainable_params<B: Backend, M: Module<B>>(module: &M) -> usize {
    struct Count(usize);
    impl<B: Backend> ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if param.is_require_grad() {
                self.0 += param.shape().num_elements();
            }
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}
