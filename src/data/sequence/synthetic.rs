//! A SYNTHETIC sequence set with planted sequential structure, for the quickstart and the tests
//! (generated in code: the real sets may not be shipped).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::set::{MIN_SEQUENCE_LEN, SequenceSet};
use crate::error::{KdnasError, Result};

/// Probability that a synthetic user's next item is the planted successor of the current one.
pub const SYNTHETIC_FOLLOW_PROBABILITY: f64 = 0.8;

/// The planted successor map of [`synthetic_sequences`] for `items` items and `seed`:
/// `successor[id]` is the successor of item `id` (`successor[0]` is 0, padding).
///
/// The items are shuffled into one cycle and each item's successor is the next item on the cycle:
/// no item is its own successor and every item is exactly one item's successor. Fails when
/// `items < 2`.
pub fn synthetic_successors(items: usize, seed: u64) -> Result<Vec<usize>> {
    if items < 2 {
        return Err(KdnasError::Usage(format!("synthetic items: {items} must be at least 2")));
    }
    let mut cycle: Vec<usize> = (1..=items).collect();
    cycle.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut successor = vec![0; items + 1];
    for (k, &id) in cycle.iter().enumerate() {
        successor[id] = cycle[(k + 1) % items];
    }
    Ok(successor)
}

/// A SYNTHETIC set of `users` sequences over `items` items with lengths drawn uniformly from
/// `min_len..=max_len`, fully determined by `seed`: [`lagged_synthetic_sequences`] with lag 1 (each
/// next item follows from the current one).
pub fn synthetic_sequences(
    users: usize,
    items: usize,
    min_len: usize,
    max_len: usize,
    seed: u64,
) -> Result<SequenceSet> {
    lagged_synthetic_sequences(users, items, min_len, max_len, 1, seed)
}

/// A SYNTHETIC set of `users` sequences over `items` items with lengths drawn uniformly from
/// `min_len..=max_len`, fully determined by `seed`.
///
/// Planted structure: a sequence starts with `lag` uniformly random items; each next item is, with
/// probability [`SYNTHETIC_FOLLOW_PROBABILITY`], the successor in [`synthetic_successors`]`(items,
/// seed)` of the item `lag` positions back (the current item for lag 1), otherwise a uniformly random
/// item. A causal sequence model that sees `lag` items back can learn it; a popularity baseline cannot,
/// because the successor map is a permutation, so every item is (in expectation) equally frequent. With
/// lag 2, a model that reads only the current item cannot either.
///
/// Users are named `synthetic-user-<k>` (k from 1) and items by their id. Fails when `users` or `lag`
/// is 0, `items < 2`, `min_len < 3`, `min_len <= lag` or `max_len < min_len`.
pub fn lagged_synthetic_sequences(
    users: usize,
    items: usize,
    min_len: usize,
    max_len: usize,
    lag: usize,
    seed: u64,
) -> Result<SequenceSet> {
    if users == 0 || lag == 0 || min_len < MIN_SEQUENCE_LEN.max(lag + 1) || max_len < min_len {
        return Err(KdnasError::Usage(format!(
            "synthetic sequences: need users >= 1, lag >= 1 and max({MIN_SEQUENCE_LEN}, lag + 1) <= min_len <= max_len, \
             got users {users}, lag {lag}, min_len {min_len}, max_len {max_len}"
        )));
    }
    let successor = synthetic_successors(items, seed)?;
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(1));
    let sequences = (0..users)
        .map(|_| {
            let len = rng.random_range(min_len..=max_len);
            let mut sequence: Vec<usize> = (0..lag).map(|_| rng.random_range(1..=items)).collect();
            while sequence.len() < len {
                let back = sequence[sequence.len() - lag];
                let follow = rng.random_bool(SYNTHETIC_FOLLOW_PROBABILITY);
                sequence.push(if follow { successor[back] } else { rng.random_range(1..=items) });
            }
            sequence
        })
        .collect();
    let user_tokens = (1..=users).map(|k| format!("synthetic-user-{k}")).collect();
    let item_tokens = (1..=items).map(|id| id.to_string()).collect();
    Ok(SequenceSet::from_ids(sequences, user_tokens, item_tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_form_one_cycle_without_fixed_points() {
        let successor = synthetic_successors(9, 4).unwrap();
        let (mut id, mut seen) = (1, 0);
        loop {
            assert_ne!(successor[id], id);
            id = successor[id];
            seen += 1;
            if id == 1 {
                break;
            }
        }
        assert_eq!(seen, 9);
    }

    #[test]
    fn sequences_are_seeded_and_follow_the_map_about_as_often_as_planted() {
        let set = synthetic_sequences(200, 50, 5, 12, 3).unwrap();
        assert_eq!(set, synthetic_sequences(200, 50, 5, 12, 3).unwrap());
        assert_ne!(set, synthetic_sequences(200, 50, 5, 12, 4).unwrap());
        let successor = synthetic_successors(50, 3).unwrap();
        let (mut steps, mut followed) = (0, 0);
        for u in 0..set.len() {
            let s = set.sequence(u);
            assert!((5..=12).contains(&s.len()));
            steps += s.len() - 1;
            followed += s.windows(2).filter(|w| successor[w[0]] == w[1]).count();
        }
        // 0.8 planted + 0.2 * 1/50 by chance.
        let rate = followed as f64 / steps as f64;
        assert!((0.76..0.85).contains(&rate), "{rate}");
        assert!(synthetic_sequences(1, 50, 2, 4, 0).is_err() && synthetic_sequences(1, 1, 3, 4, 0).is_err());
    }

    #[test]
    fn a_lag_of_two_plants_the_successor_of_the_item_before_the_last() {
        let set = lagged_synthetic_sequences(200, 50, 6, 12, 2, 3).unwrap();
        assert_eq!(set, lagged_synthetic_sequences(200, 50, 6, 12, 2, 3).unwrap());
        let successor = synthetic_successors(50, 3).unwrap();
        let (mut steps, mut two_back, mut one_back) = (0, 0, 0);
        for u in 0..set.len() {
            let s = set.sequence(u);
            steps += s.len() - 2;
            two_back += s.windows(3).filter(|w| successor[w[0]] == w[2]).count();
            one_back += s.windows(3).filter(|w| successor[w[1]] == w[2]).count();
        }
        let (planted, other) = (two_back as f64 / steps as f64, one_back as f64 / steps as f64);
        assert!((0.76..0.85).contains(&planted), "{planted}");
        assert!(other < 0.05, "the previous item says little about the next: {other}");
        assert!(
            lagged_synthetic_sequences(10, 50, 3, 4, 3, 0).is_err()
                && lagged_synthetic_sequences(10, 50, 5, 6, 0, 0).is_err()
        );
    }
}
