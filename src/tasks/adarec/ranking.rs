//! Leave-one-out ranking of a recommender on the validation or test targets: every user's held-out
//! item among its sampled candidates (or all items), summarised as MRR, HR@k and NDCG@k.

use super::data::SequenceData;
use super::recommender::SequenceRecommender;
use crate::data::sequence::{EvalSplit, IndexBatch, eval_batch};
use crate::metrics::ranking::{RankingMetrics, full_ranks, sampled_ranks};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Users scored per forward pass.
const EVAL_USERS_PER_BATCH: usize = 256;

/// Ranks the held-out item of `split` for every user of `data` (evaluation mode: call with a
/// non-autodiff model).
pub fn rank_users<B: Backend, M: SequenceRecommender<B>>(
    model: &M,
    data: &SequenceData,
    split: EvalSplit,
    device: &B::Device,
) -> RankingMetrics {
    let users: Vec<usize> = (0..data.set.len()).collect();
    let mut metrics = RankingMetrics::default();
    for chunk in users.chunks(EVAL_USERS_PER_BATCH) {
        let batch = eval_batch(&data.set, chunk, split, data.max_len);
        let scores = model.next_item_scores(batch.histories.to_tensor::<B>(device)); // [users, items + 1]
        let ranks = match &data.candidates {
            Some(candidates) => {
                let columns = candidates[split_index(split)].batch(chunk).to_tensor::<B>(device); // [users, 1 + negatives]
                sampled_ranks(scores.gather(1, columns))
            }
            None => {
                let targets =
                    Tensor::<B, 1, Int>::from_data(TensorData::new(batch.targets.clone(), [chunk.len()]), device);
                let histories =
                    data.exclude_history.then(|| whole_histories(data, chunk, split).to_tensor::<B>(device));
                full_ranks(scores, targets, histories)
            }
        };
        metrics.add_all(&ranks);
    }
    metrics
}

/// The metrics of `split` named with its prefix: `valid_ndcg@10`, `test_mrr`, ...
pub fn named_metrics(split: EvalSplit, metrics: &RankingMetrics) -> Vec<(String, f64)> {
    let prefix = match split {
        EvalSplit::Valid => "valid",
        EvalSplit::Test => "test",
    };
    metrics.mean().into_iter().map(|(name, value)| (format!("{prefix}_{name}"), value)).collect()
}

fn split_index(split: EvalSplit) -> usize {
    match split {
        EvalSplit::Valid => 0,
        EvalSplit::Test => 1,
    }
}

/// Every item a user saw before the target of `split` (not truncated), for masking in full ranking.
fn whole_histories(data: &SequenceData, users: &[usize], split: EvalSplit) -> IndexBatch {
    let rows: Vec<&[usize]> = users.iter().map(|&u| data.set.split(u).history(split)).collect();
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
    IndexBatch::left_padded(rows, width)
}
