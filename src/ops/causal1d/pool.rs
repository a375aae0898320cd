//! Causal 3-wide max and average pooling over time: the output at t pools the inputs at t-2, t-1, t
//! that exist (the average excludes the missing ones, as DARTS's `count_include_pad=False`).

use crate::ops::conv2d::pool::PoolKind;
use burn::tensor::module::{avg_pool1d, max_pool1d};
use burn::tensor::{Tensor, backend::Backend};

/// Width of the pooling window.
const WINDOW: usize = 3;

/// Pools `[batch, channels, time] -> [batch, channels, time]` over the window ending at each position.
pub fn causal_pool<B: Backend>(kind: PoolKind, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, channels, time] = x.dims();
    // Padding WINDOW-1 on both sides gives time + WINDOW - 1 outputs; output t covers inputs
    // t-2..=t, so the first `time` outputs are the causal ones.
    let pad = WINDOW - 1;
    let pooled = match kind {
        PoolKind::Max => max_pool1d(x, WINDOW, 1, pad, 1, false),
        PoolKind::Avg => avg_pool1d(x, WINDOW, 1, pad, false, false),
    }; // [batch, channels, time + 2]
    pooled.slice([0..batch, 0..channels, 0..time])
}
