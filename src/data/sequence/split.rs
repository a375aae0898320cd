//! Leave-one-out: per user, the last item is the test target, the second-to-last the validation
//! target and the rest the training sequence; truncation to the most recent items.

use super::set::SequenceSet;

/// Which held-out item an evaluation predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalSplit {
    /// The second-to-last item, predicted from the training sequence.
    Valid,
    /// The last item, predicted from everything before it (training sequence + validation item).
    Test,
}

/// One user's leave-one-out view of a sequence `x_1..x_n` (`n >= 3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSplit<'a> {
    /// The whole sequence `x_1..x_n`.
    sequence: &'a [usize],
}

impl<'a> UserSplit<'a> {
    /// The training sequence `x_1..x_{n-2}`; the model learns from all its prefixes
    /// (inputs `x_1..x_{n-3}` predict `x_2..x_{n-2}`).
    pub fn train(&self) -> &'a [usize] {
        &self.sequence[..self.sequence.len() - 2]
    }

    /// The items an evaluation sees: `x_1..x_{n-2}` for validation, `x_1..x_{n-1}` for test.
    pub fn history(&self, split: EvalSplit) -> &'a [usize] {
        &self.sequence[..self.held_out_at(split)]
    }

    /// The held-out target: `x_{n-1}` for validation, `x_n` for test.
    pub fn target(&self, split: EvalSplit) -> usize {
        self.sequence[self.held_out_at(split)]
    }

    /// 0-based position of the held-out item.
    fn held_out_at(&self, split: EvalSplit) -> usize {
        match split {
            EvalSplit::Valid => self.sequence.len() - 2,
            EvalSplit::Test => self.sequence.len() - 1,
        }
    }
}

impl SequenceSet {
    /// The leave-one-out view of `user`. Panics if `user >= len()`.
    pub fn split(&self, user: usize) -> UserSplit<'_> {
        UserSplit { sequence: self.sequence(user) }
    }

    /// The users whose training sequence has at least two items, i.e. at least one
    /// (input prefix, next item) pair to train on.
    pub fn train_users(&self) -> Vec<usize> {
        (0..self.len()).filter(|&u| self.split(u).train().len() >= 2).collect()
    }

    /// Training windows that together predict every training item after the first exactly once, each
    /// from up to `max_len` items before it: per user the window ending with its last training item,
    /// then the one ending `max_len` items earlier, and so on (user by user, latest window first).
    pub fn train_windows(&self, max_len: usize) -> Vec<TrainWindow> {
        let step = max_len.max(1);
        let mut windows = Vec::new();
        for user in self.train_users() {
            let mut end = self.split(user).train().len();
            while end >= 2 {
                windows.push(TrainWindow { user, end });
                end = end.saturating_sub(step);
            }
        }
        windows
    }
}

/// A training example: the items of `user`'s training sequence before position `end` (exclusive),
/// of which the last `max_len + 1` make the window (inputs and next-item targets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainWindow {
    /// The user.
    pub user: usize,
    /// One past the window's last item in the user's training sequence (at least 2).
    pub end: usize,
}

/// The last `max_len` items of `items` (all of them when shorter).
pub fn most_recent(items: &[usize], max_len: usize) -> &[usize] {
    &items[items.len().saturating_sub(max_len)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_recent_keeps_the_tail() {
        assert_eq!(most_recent(&[1, 2, 3, 4], 2), &[3, 4]);
        assert_eq!(most_recent(&[1, 2], 5), &[1, 2]);
        assert!(most_recent(&[1, 2], 0).is_empty());
    }
}
