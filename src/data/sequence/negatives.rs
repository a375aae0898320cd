//! Evaluation candidates: the held-out item among seeded, uniformly drawn negative items, or full
//! ranking over every item.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::index;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::batch::IndexBatch;
use super::set::SequenceSet;
use super::split::EvalSplit;
use crate::error::{KdnasError, Result};
use crate::validate::at_least_one;

/// Negatives per evaluated user in AdaRec's protocol.
pub const DEFAULT_NEGATIVES: usize = 100;

/// How the held-out item is ranked.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EvalMode {
    /// Among itself and `negatives` sampled items (candidates `[positive, negatives...]`).
    Sampled {
        /// Negatives per user.
        negatives: usize,
    },
    /// Among every item `1..=n_items`.
    Full,
}

impl Default for EvalMode {
    fn default() -> Self {
        EvalMode::Sampled { negatives: DEFAULT_NEGATIVES }
    }
}

/// Draws distinct negative items uniformly from `1..=n_items`, never the positive and, when
/// `exclude_history` is set, never an item of the given history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegativeSampler {
    /// Items are `1..=n_items`.
    n_items: usize,
    /// Negatives per draw.
    count: usize,
    /// Whether history items are excluded.
    exclude_history: bool,
}

impl NegativeSampler {
    /// A sampler of `count` negatives over items `1..=n_items`; fails when `count` is 0.
    pub fn new(n_items: usize, count: usize, exclude_history: bool) -> Result<NegativeSampler> {
        at_least_one("negatives", count)?;
        Ok(NegativeSampler { n_items, count, exclude_history })
    }

    /// Negatives per draw.
    pub fn count(&self) -> usize {
        self.count
    }

    /// `count` distinct items, none equal to `positive` nor (if configured) in `history`.
    ///
    /// Fails when fewer than `count` items are allowed.
    pub fn sample(&self, positive: usize, history: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let mut excluded: HashSet<usize> = HashSet::from([positive]);
        if self.exclude_history {
            excluded.extend(history.iter().copied());
        }
        let in_range = excluded.iter().filter(|&&id| (1..=self.n_items).contains(&id)).count();
        let allowed = self.n_items - in_range;
        if allowed < self.count {
            let history = if self.exclude_history { " nor in the history" } else { "" };
            return Err(KdnasError::Usage(format!(
                "only {allowed} of {} items are neither the positive{history}; cannot draw {} distinct negatives",
                self.n_items, self.count
            )));
        }
        if 2 * self.count <= allowed {
            // Rejection sampling: at least half of the allowed items are still free at every draw.
            let mut drawn = Vec::with_capacity(self.count);
            while drawn.len() < self.count {
                let id = rng.random_range(1..=self.n_items);
                if excluded.insert(id) {
                    drawn.push(id);
                }
            }
            Ok(drawn)
        } else {
            let pool: Vec<usize> = (1..=self.n_items).filter(|id| !excluded.contains(id)).collect();
            Ok(index::sample(rng, pool.len(), self.count).into_iter().map(|i| pool[i]).collect())
        }
    }

    /// Evaluation candidates `[positive, negatives...]` (see [`NegativeSampler::sample`]).
    pub fn candidates(&self, positive: usize, history: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let mut candidates = vec![positive];
        candidates.extend(self.sample(positive, history, rng)?);
        Ok(candidates)
    }
}

/// Every user's evaluation candidates for one split, drawn once so every epoch ranks the same items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalCandidates {
    /// Per user, `[positive, negatives...]`.
    per_user: Vec<Vec<usize>>,
}

impl EvalCandidates {
    /// Draws the candidates of every user of `set` for `split` with one generator seeded by `seed`,
    /// users in order. The history a sampler excludes is the user's whole sequence (every item the
    /// user interacted with, as SASRec and S3Rec do); the positive is the held-out target.
    pub fn draw(set: &SequenceSet, split: EvalSplit, sampler: &NegativeSampler, seed: u64) -> Result<EvalCandidates> {
        let mut rng = StdRng::seed_from_u64(seed);
        let per_user = (0..set.len())
            .map(|u| {
                sampler
                    .candidates(set.split(u).target(split), set.sequence(u), &mut rng)
                    .map_err(|e| KdnasError::Usage(format!("user `{}`: {e}", set.user_token(u))))
            })
            .collect::<Result<_>>()?;
        Ok(EvalCandidates { per_user })
    }

    /// The candidates of `user`, positive first. Panics if `user` is out of range.
    pub fn of(&self, user: usize) -> &[usize] {
        &self.per_user[user]
    }

    /// The candidates of `users` as `[batch, 1 + negatives]`, the positive in column 0.
    pub fn batch(&self, users: &[usize]) -> IndexBatch {
        let width = self.per_user.first().map_or(0, Vec::len);
        IndexBatch::left_padded(users.iter().map(|&u| self.of(u)), width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sampling_paths_respect_the_exclusions() {
        // 10 allowed items: 4 negatives use rejection sampling, 8 the explicit pool.
        let history = [2, 4, 6];
        for count in [4, 8, 10] {
            let sampler = NegativeSampler::new(14, count, true).unwrap();
            let mut rng = StdRng::seed_from_u64(count as u64);
            let drawn = sampler.sample(1, &history, &mut rng).unwrap();
            let distinct: HashSet<usize> = drawn.iter().copied().collect();
            assert_eq!((drawn.len(), distinct.len()), (count, count));
            assert!(drawn.iter().all(|&id| (3..=14).contains(&id) && !history.contains(&id)), "{drawn:?}");
        }
        let err = NegativeSampler::new(14, 11, true).unwrap().sample(1, &history, &mut StdRng::seed_from_u64(0));
        assert!(err.unwrap_err().to_string().contains("only 10 of 14 items"));
    }

    #[test]
    fn eval_mode_reads_from_toml() {
        #[derive(Deserialize)]
        struct Wrap {
            eval: EvalMode,
        }
        let full: Wrap = toml::from_str("eval = \"full\"").unwrap();
        let sampled: Wrap = toml::from_str("eval = { sampled = { negatives = 50 } }").unwrap();
        assert_eq!((full.eval, sampled.eval), (EvalMode::Full, EvalMode::Sampled { negatives: 50 }));
    }
}
