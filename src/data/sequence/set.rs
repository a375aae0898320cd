//! [`SequenceSet`]: every user's chronological item sequence, with item ids remapped to `1..=n_items`.

use std::collections::HashMap;

use crate::error::{KdnasError, Result};

/// The fewest interactions a user may have: leave-one-out needs a training item, a validation
/// target and a test target.
pub const MIN_SEQUENCE_LEN: usize = 3;

/// Users' chronological item sequences, item ids remapped to `1..=n_items` (id 0 is padding).
///
/// The original user and item tokens of the source file are kept for reporting. Every sequence has
/// at least [`MIN_SEQUENCE_LEN`] items.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceSet {
    /// Per user, item ids in chronological order.
    sequences: Vec<Vec<usize>>,
    /// Per user, the token the source named it by.
    user_tokens: Vec<String>,
    /// `item_tokens[id - 1]` is the source token of item `id`.
    item_tokens: Vec<String>,
}

impl SequenceSet {
    /// Builds a set from `(user token, item tokens in chronological order)`, dropping users with
    /// fewer than `min_len` interactions.
    ///
    /// Item ids are given to the items of the kept users in token order: numeric order when every
    /// token is an unsigned integer (so files whose items are already `1..=N` keep their ids),
    /// text order otherwise. Fails when `min_len < MIN_SEQUENCE_LEN` or no user is left.
    pub fn from_token_sequences(users: Vec<(String, Vec<String>)>, min_len: usize) -> Result<SequenceSet> {
        check_min_len(min_len)?;
        let total = users.len();
        let kept: Vec<(String, Vec<String>)> = users.into_iter().filter(|(_, items)| items.len() >= min_len).collect();
        if kept.is_empty() {
            return Err(KdnasError::Usage(format!("none of the {total} users has at least {min_len} interactions")));
        }
        let item_tokens = sorted_tokens(kept.iter().flat_map(|(_, items)| items.iter().map(String::as_str)));
        let ids: HashMap<&str, usize> = item_tokens.iter().enumerate().map(|(i, &t)| (t, i + 1)).collect();
        let sequences = kept.iter().map(|(_, items)| items.iter().map(|t| ids[t.as_str()]).collect()).collect();
        let item_tokens = item_tokens.iter().map(|t| t.to_string()).collect();
        let user_tokens = kept.into_iter().map(|(user, _)| user).collect();
        Ok(SequenceSet { sequences, user_tokens, item_tokens })
    }

    /// Builds a set from sequences that already use ids `1..=item_tokens.len()`.
    ///
    /// The caller guarantees every id is in range and every sequence has at least
    /// [`MIN_SEQUENCE_LEN`] items.
    pub(super) fn from_ids(sequences: Vec<Vec<usize>>, user_tokens: Vec<String>, item_tokens: Vec<String>) -> Self {
        debug_assert_eq!(sequences.len(), user_tokens.len());
        debug_assert!(sequences.iter().flatten().all(|&id| (1..=item_tokens.len()).contains(&id)));
        debug_assert!(sequences.iter().all(|s| s.len() >= MIN_SEQUENCE_LEN));
        SequenceSet { sequences, user_tokens, item_tokens }
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    /// Whether the set holds no user (never true for a set built by this module).
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Number of distinct items; ids run from 1 to this value.
    pub fn n_items(&self) -> usize {
        self.item_tokens.len()
    }

    /// Total number of interactions over all users.
    pub fn interactions(&self) -> usize {
        self.sequences.iter().map(Vec::len).sum()
    }

    /// The item ids of `user` in chronological order. Panics if `user >= len()`.
    pub fn sequence(&self, user: usize) -> &[usize] {
        &self.sequences[user]
    }

    /// The source token of `user`. Panics if `user >= len()`.
    pub fn user_token(&self, user: usize) -> &str {
        &self.user_tokens[user]
    }

    /// The source token of item `id` (`1..=n_items()`). Panics on 0 or an id above `n_items()`.
    pub fn item_token(&self, id: usize) -> &str {
        &self.item_tokens[id - 1]
    }
}

/// Fails unless `min_len >= MIN_SEQUENCE_LEN`.
pub(super) fn check_min_len(min_len: usize) -> Result<()> {
    if min_len >= MIN_SEQUENCE_LEN {
        return Ok(());
    }
    Err(KdnasError::Usage(format!(
        "min_len: {min_len} is below {MIN_SEQUENCE_LEN} (leave-one-out needs a training, a validation and a test \
         item per user)"
    )))
}

/// The distinct tokens, numerically sorted when all are unsigned integers, else in text order.
fn sorted_tokens<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut distinct: Vec<&str> = tokens.collect();
    distinct.sort_unstable();
    distinct.dedup();
    let numeric: Option<Vec<u64>> = distinct.iter().map(|t| t.parse::<u64>().ok()).collect();
    if let Some(values) = numeric {
        let mut pairs: Vec<(u64, &str)> = values.into_iter().zip(distinct).collect();
        pairs.sort_unstable(); // ties ("7", "07") broken by the text
        distinct = pairs.into_iter().map(|(_, t)| t).collect();
    }
    distinct
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, items: &[&str]) -> (String, Vec<String>) {
        (name.to_string(), items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn numeric_tokens_keep_their_order_and_short_users_are_dropped() {
        let set = SequenceSet::from_token_sequences(
            vec![user("a", &["10", "2", "9"]), user("b", &["2", "100"]), user("c", &["9", "9", "2"])],
            3,
        )
        .unwrap();
        // Item 100 belonged only to the dropped user b.
        assert_eq!((set.len(), set.n_items()), (2, 3));
        assert_eq!((set.item_token(1), set.item_token(2), set.item_token(3)), ("2", "9", "10"));
        assert_eq!(set.sequence(0), &[3, 1, 2]);
        assert_eq!(set.sequence(1), &[2, 2, 1]);
        assert_eq!((set.user_token(1), set.interactions()), ("c", 6));
    }

    #[test]
    fn text_tokens_sort_as_text() {
        let set = SequenceSet::from_token_sequences(vec![user("u", &["b", "10", "a"])], 3).unwrap();
        assert_eq!(set.sequence(0), &[3, 1, 2]);
        assert_eq!(set.item_token(1), "10");
    }

    #[test]
    fn too_small_min_len_and_no_user_left_are_errors() {
        let err = SequenceSet::from_token_sequences(vec![user("u", &["1", "2", "3"])], 2).unwrap_err();
        assert!(err.to_string().contains("min_len: 2"), "{err}");
        let err = SequenceSet::from_token_sequences(vec![user("u", &["1", "2", "3"])], 4).unwrap_err();
        assert!(err.to_string().contains("none of the 1 users has at least 4"), "{err}");
    }
}
