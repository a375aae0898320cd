//! Turning lists of users into left-padded index arrays (0 = padding) for training and evaluation.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::set::SequenceSet;
use super::split::{EvalSplit, TrainWindow, most_recent};

/// A row-major `[rows, cols]` array of item ids on the host (0 = padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexBatch {
    /// Row-major values, `dims[0] * dims[1]` of them.
    pub values: Vec<i64>,
    /// `[rows, cols]`.
    pub dims: [usize; 2],
}

impl IndexBatch {
    /// `rows` left-padded with 0 to `width` columns; rows longer than `width` keep their last
    /// `width` items.
    pub fn left_padded<'a>(rows: impl IntoIterator<Item = &'a [usize]>, width: usize) -> IndexBatch {
        let mut values = Vec::new();
        let mut count = 0;
        for row in rows {
            let row = most_recent(row, width);
            values.extend(std::iter::repeat_n(0, width - row.len()));
            values.extend(row.iter().map(|&id| id as i64));
            count += 1;
        }
        IndexBatch { values, dims: [count, width] }
    }

    /// The array as an Int tensor `[rows, cols]` on `device` (one upload).
    pub fn to_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2, Int> {
        Tensor::from_data(TensorData::new(self.values.clone(), self.dims), device)
    }
}

/// A training batch in the NextItNet style: at every position the input item predicts the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainBatch {
    /// `[batch, max_len]`: `x_1..x_{m-1}` of each user's (truncated) training sequence, left-padded.
    pub inputs: IndexBatch,
    /// `[batch, max_len]`: `x_2..x_m`, aligned with `inputs`; 0 where there is no target (ignored by the loss).
    pub targets: IndexBatch,
}

/// An evaluation batch: each user's history and the held-out item to rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalBatch {
    /// `[batch, max_len]`: the most recent history items, left-padded.
    pub histories: IndexBatch,
    /// `[batch]`: the held-out item of each user.
    pub targets: Vec<i64>,
}

/// The training batch of `windows`: the training items `x_1..x_end` of each window's user, truncated to
/// the last `max_len + 1`, become inputs `x_1..x_{end-1}` and targets `x_2..x_end`.
///
/// Panics if a window's user or end is out of range (windows come from [`SequenceSet::train_windows`]).
pub fn train_batch(set: &SequenceSet, windows: &[TrainWindow], max_len: usize) -> TrainBatch {
    let windows: Vec<&[usize]> =
        windows.iter().map(|w| most_recent(&set.split(w.user).train()[..w.end], max_len + 1)).collect();
    let inputs = windows.iter().map(|w| &w[..w.len().saturating_sub(1)]);
    let targets = windows.iter().map(|w| w.get(1..).unwrap_or_default());
    TrainBatch { inputs: IndexBatch::left_padded(inputs, max_len), targets: IndexBatch::left_padded(targets, max_len) }
}

/// The evaluation batch of `users` for `split`: histories truncated to `max_len` and left-padded,
/// and the held-out targets. Panics if a user is out of range.
pub fn eval_batch(set: &SequenceSet, users: &[usize], split: EvalSplit, max_len: usize) -> EvalBatch {
    let histories = IndexBatch::left_padded(users.iter().map(|&u| set.split(u).history(split)), max_len);
    let targets = users.iter().map(|&u| set.split(u).target(split) as i64).collect();
    EvalBatch { histories, targets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn left_padding_and_tensor_upload() {
        let batch = IndexBatch::left_padded([&[4, 5][..], &[1, 2, 3, 6][..], &[][..]], 3);
        assert_eq!(batch.dims, [3, 3]);
        assert_eq!(batch.values, vec![0, 4, 5, 2, 3, 6, 0, 0, 0]);
        let tensor = batch.to_tensor::<Flex>(&Default::default());
        assert_eq!(tensor.dims(), [3, 3]);
        assert_eq!(tensor.into_data().convert::<i64>().to_vec::<i64>().unwrap(), batch.values);
    }
}
