//! Causal 3-wide max and average pooling over time: the output at t pools the inputs at t-2, t-1, t
//! that exist (the average excludes the missing ones, as DARTS's `count_include_pad=False`).

use crate::ops::conv2d::pool::PoolKind;
use burn::tensor::module::avg_pool1d;
use burn::tensor::{Tensor, backend::Backend};

/// Width of the pooling window.
const WINDOW: usize = 3;

/// Pools `[batch, channels, time] -> [batch, channels, time]` over the window ending at each position.
pub fn causal_pool<B: Backend>(kind: PoolKind, x: Tensor<B, 3>) -> Tensor<B, 3> {
    match kind {
        PoolKind::Max => causal_max(x),
        PoolKind::Avg => {
            let [batch, channels, time] = x.dims();
            // Padding WINDOW-1 on both sides gives time + WINDOW - 1 outputs; output t covers inputs
            // t-2..=t, so the first `time` outputs are the causal ones.
            let pooled = avg_pool1d(x, WINDOW, 1, WINDOW - 1, false, false); // [batch, channels, time + 2]
            pooled.slice([0..batch, 0..channels, 0..time])
        }
    }
}

/// The causal max as the elementwise maximum of the input and its copies delayed by 1 and 2 positions,
/// each delayed copy starting with repeats of position 0 (which is inside every window it reaches), so
/// only existing positions count. Elementwise maxima cost a fraction of flex's generic 1-D max pool.
fn causal_max<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let time = x.dims()[2];
    let delayed = |by: usize| {
        let first = x.clone().narrow(2, 0, 1).repeat_dim(2, by); // [batch, channels, by]
        Tensor::cat(vec![first, x.clone().narrow(2, 0, time - by)], 2) // [batch, channels, time]
    };
    (1..WINDOW.min(time)).fold(x.clone(), |acc, by| acc.max_pair(delayed(by)))
}
