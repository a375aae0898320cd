//! 3x3 max and average pooling (average excludes padding, as DARTS's count_include_pad=False).

use super::batch_norm::BatchNorm2d;
use burn::module::Module;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::{Tensor, backend::Backend};

/// Which pooling a [`Pool`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// Max over the window.
    Max,
    /// Mean over the in-bounds part of the window.
    Avg,
}

/// A 3x3 pool with padding 1, optionally followed by a BatchNorm (the search network's pools).
#[derive(Module, Debug)]
pub struct Pool<B: Backend> {
    #[module(skip)]
    kind: PoolKind,
    stride: usize,
    bn: Option<BatchNorm2d<B>>,
}

impl<B: Backend> Pool<B> {
    /// A new pool over `channels`; `bn` adds a non-affine BatchNorm after it.
    pub fn new(kind: PoolKind, channels: usize, stride: usize, bn: bool, device: &B::Device) -> Self {
        Self { kind, stride, bn: bn.then(|| BatchNorm2d::new(channels, false, device)) }
    }

    /// `[n, c, h, w] -> [n, c, h/stride, w/stride]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let s = [self.stride; 2];
        let y = match self.kind {
            PoolKind::Max => max_pool2d(x, [3, 3], s, [1, 1], [1, 1], false),
            PoolKind::Avg => avg_pool2d(x, [3, 3], s, [1, 1], false, false),
        };
        match &self.bn {
            Some(bn) => bn.forward(y),
            None => y,
        }
    }
}
