//! Causal 3-wide max and average pooling over time: the output at t pools the inputs at t-2, t-1, t
//! that exist (the average excludes the missing ones, as DARTS's `count_include_pad=False`).

use crate::ops::conv2d::pool::PoolKind;
use burn::tensor::{Tensor, backend::Backend};

/// Width of the pooling window.
const WINDOW: usize = 3;

/// Pools `[batch, channels, time] -> [batch, channels, time]` over the window ending at each position.
pub fn causal_pool<B: Backend>(kind: PoolKind, x: Tensor<B, 3>) -> Tensor<B, 3> {
    match kind {
        PoolKind::Max => causal_max(x),
        PoolKind::Avg => causal_mean(x),
    }
}

/// `x` `[batch, channels, time]` delayed by `by` (< time) positions along time, the first `by`
/// positions filled with `fill(x)` `[batch, channels, by]`.
fn delayed<B: Backend>(
    x: &Tensor<B, 3>,
    by: usize,
    fill: impl Fn(&Tensor<B, 3>, usize) -> Tensor<B, 3>,
) -> Tensor<B, 3> {
    let time = x.dims()[2];
    Tensor::cat(vec![fill(x, by), x.clone().narrow(2, 0, time - by)], 2)
}

/// The causal max as the elementwise maximum of the input and its copies delayed by 1 and 2 positions,
/// each delayed copy starting with repeats of position 0 (which is inside every window it reaches), so
/// only existing positions count. Elementwise maxima cost a fraction of flex's generic 1-D max pool.
fn causal_max<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let first = |x: &Tensor<B, 3>, by: usize| x.clone().narrow(2, 0, 1).repeat_dim(2, by); // [batch, channels, by]
    let time = x.dims()[2];
    (1..WINDOW.min(time)).fold(x.clone(), |acc, by| acc.max_pair(delayed(&x, by, first)))
}

/// The causal mean as the sum of the input and its copies delayed by 1 and 2 positions with zeros
/// shifted in, times the reciprocal of the number of existing positions in each window (1, 2, then 3:
/// one `[time]` row broadcast over the rows, which flex does fast). A derived cell of average pools
/// infers 3x faster this way than through flex's 1-D average pool (results/bench/README.md).
fn causal_mean<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [.., time] = x.dims();
    let zeros = |x: &Tensor<B, 3>, by: usize| {
        let [batch, channels, _] = x.dims();
        Tensor::zeros([batch, channels, by], &x.device())
    };
    let sum = (1..WINDOW.min(time)).fold(x.clone(), |acc, by| acc + delayed(&x, by, zeros)); // [batch, channels, time]
    let counts: Vec<f32> = (0..time).map(|t| 1.0 / (t + 1).min(WINDOW) as f32).collect();
    let inverse_counts = Tensor::<B, 1>::from_floats(counts.as_slice(), &x.device()); // [time]
    sum * inverse_counts.unsqueeze::<3>()
}
