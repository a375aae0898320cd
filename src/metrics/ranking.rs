//! Ranking metrics for next-item prediction: the held-out item's rank among candidates, then MRR,
//! HR@k and NDCG@k for k in [`RANKING_CUTOFFS`].
//!
//! Tie rule (pessimistic): every other candidate whose score is not strictly below the positive's
//! (`score >= positive`, and NaN scores) ranks above it, so a constant scorer ranks the positive
//! last, never first. A NaN positive ranks last.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

/// The cut-offs `k` of HR@k and NDCG@k (AdaRec reports 1, 5, 10 and 20).
pub const RANKING_CUTOFFS: [usize; 4] = [1, 5, 10, 20];

/// The figure ranking runs pick their best epoch by and report per epoch.
pub const BEST_RANKING_METRIC: &str = "valid_ndcg@10";

/// 1-based rank of a positive scored `positive` among `negatives` (pessimistic ties).
pub fn rank_of(positive: f32, negatives: &[f32]) -> usize {
    1 + negatives.iter().filter(|&&s| !(s < positive)).count()
}

/// NDCG@k with one relevant item at 1-based `rank`: `1 / log2(rank + 1)` if `rank <= k`, else 0.
pub fn ndcg_at(rank: usize, k: usize) -> f64 {
    if rank <= k { 1.0 / ((rank + 1) as f64).log2() } else { 0.0 }
}

/// Running sums of per-user ranking metrics; [`RankingMetrics::mean`] names the means.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RankingMetrics {
    /// Ranks added.
    users: usize,
    /// Sum of `1 / rank`.
    reciprocal_sum: f64,
    /// Per cut-off, users ranked within it.
    hits: [usize; RANKING_CUTOFFS.len()],
    /// Per cut-off, sum of NDCG@k.
    ndcg_sums: [f64; RANKING_CUTOFFS.len()],
}

impl RankingMetrics {
    /// Adds one user's 1-based rank. Panics on rank 0 (ranks come from the helpers of this module).
    pub fn add(&mut self, rank: usize) {
        assert!(rank >= 1, "ranks are 1-based");
        self.users += 1;
        self.reciprocal_sum += 1.0 / rank as f64;
        for (i, &k) in RANKING_CUTOFFS.iter().enumerate() {
            self.hits[i] += usize::from(rank <= k);
            self.ndcg_sums[i] += ndcg_at(rank, k);
        }
    }

    /// Adds every rank of `ranks`.
    pub fn add_all(&mut self, ranks: &[usize]) {
        ranks.iter().for_each(|&rank| self.add(rank));
    }

    /// Number of ranks added.
    pub fn users(&self) -> usize {
        self.users
    }

    /// The means over the added users, named `mrr`, `hr@k` and `ndcg@k` for k in
    /// [`RANKING_CUTOFFS`]; every value is 0 when nothing was added.
    pub fn mean(&self) -> BTreeMap<String, f64> {
        let n = self.users.max(1) as f64;
        let mut named = BTreeMap::from([("mrr".to_string(), self.reciprocal_sum / n)]);
        for (i, k) in RANKING_CUTOFFS.iter().enumerate() {
            named.insert(format!("hr@{k}"), self.hits[i] as f64 / n);
            named.insert(format!("ndcg@{k}"), self.ndcg_sums[i] / n);
        }
        named
    }
}

/// Ranks of the positives of `scores: [users, candidates]`, the positive in column 0 (as in
/// [`EvalCandidates`](crate::data::sequence::EvalCandidates)), computed on the device with one
/// read-back.
///
/// Agrees with [`rank_of`]: the positive's own column always counts (`!(p < p)`), so the rank is 1
/// plus the negatives not strictly below it.
pub fn sampled_ranks<B: Backend>(scores: Tensor<B, 2>) -> Vec<usize> {
    let [users, candidates] = scores.dims();
    let positive = scores.clone().slice([0..users, 0..1]); // [users, 1]
    let not_below = scores.lower(positive.expand([users, candidates])).bool_not(); // [users, candidates]
    read_ranks(not_below.int().sum_dim(1))
}

/// Ranks of `targets: [users]` (ids `1..=n_items`) under full ranking, `scores: [users, n_items + 1]`
/// with column 0 (padding) excluded, on the device with one read-back.
///
/// With `histories: [users, len]` (item ids, 0 = padding) every item of a user's history except the
/// target itself is excluded from the user's candidates. Panics if a target is out of range.
pub fn full_ranks<B: Backend>(
    scores: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
    histories: Option<Tensor<B, 2, Int>>,
) -> Vec<usize> {
    let [users, columns] = scores.dims();
    let device = scores.device();
    let targets = targets.reshape([users, 1]); // [users, 1]
    let positive = scores.clone().gather(1, targets.clone()); // [users, 1]
    let not_below = scores.lower(positive.expand([users, columns])).bool_not(); // [users, columns]
    let ids = Tensor::<B, 1, Int>::arange(0..columns as i64, &device).reshape([1, columns]).expand([users, columns]);
    let mut counted = ids.clone().greater_elem(0); // [users, columns]: column 0 is padding
    if let Some(histories) = histories {
        let ones = histories.ones_like(); // [users, len]
        let seen = Tensor::<B, 2, Int>::zeros([users, columns], &device)
            .scatter(1, histories, ones, IndexingUpdateOp::Add)
            .greater_elem(0); // [users, columns]
        let is_target = ids.equal(targets.expand([users, columns])); // [users, columns]
        counted = counted.bool_and(seen.bool_and(is_target.bool_not()).bool_not());
    }
    read_ranks(not_below.bool_and(counted).int().sum_dim(1))
}

/// Reads `[users, 1]` rank counts back to the host.
fn read_ranks<B: Backend>(counts: Tensor<B, 2, Int>) -> Vec<usize> {
    let counts = counts.into_data().convert::<i64>().into_vec::<i64>().expect("converted to i64");
    counts.into_iter().map(|c| c as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn ties_rank_pessimistically() {
        assert_eq!(rank_of(0.5, &[0.1, 0.2]), 1);
        assert_eq!(rank_of(0.5, &[0.5, 0.2, 0.9]), 3);
        assert_eq!(rank_of(1.0, &[1.0; 4]), 5);
        assert_eq!(rank_of(f32::NAN, &[0.0, 1.0]), 3);
        assert_eq!(rank_of(1.0, &[f32::NAN, 0.0]), 2);
    }

    #[test]
    fn full_ranking_excludes_padding_and_history_but_not_the_target() {
        let device = Default::default();
        // Items 1..=5; column 0 scores highest but is padding.
        let scores = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![9.0f32, 0.1, 0.8, 0.5, 0.7, 0.5, 9.0, 0.3, 0.2, 0.1, 0.4, 0.0], [2, 6]),
            &device,
        );
        let targets = || Tensor::<Flex, 1, Int>::from_data(TensorData::new(vec![3i64, 2], [2]), &device);
        // User 0: target 3 (0.5), items 2 (0.8), 4 (0.7), 5 (0.5, a tie) rank above: 4.
        // User 1: target 2 (0.2), items 1 (0.3) and 4 (0.4) rank above: 3.
        assert_eq!(full_ranks(scores.clone(), targets(), None), vec![4, 3]);
        // Histories hide items 2 and 4 (0 is padding); user 1's history also holds its target, which stays.
        let histories = Tensor::<Flex, 2, Int>::from_data(TensorData::new(vec![0i64, 2, 4, 0, 2, 4], [2, 3]), &device);
        assert_eq!(full_ranks(scores, targets(), Some(histories)), vec![2, 2]);
    }
}
