//! Sequential-recommendation data: per-user item sequences from one-user-per-line files, user-item
//! pair files and RecBole `.inter` files; item id remapping; leave-one-out splits; left-padded
//! batches; seeded negative sampling; and a synthetic generator with planted sequential structure.

mod batch;
mod format;
mod inter;
mod lines;
mod negatives;
mod pairs;
mod set;
mod split;
mod synthetic;

pub use batch::{EvalBatch, IndexBatch, TrainBatch, eval_batch, train_batch};
pub use format::{DEFAULT_MIN_LEN, SequenceFormat, load_sequences};
pub use negatives::{DEFAULT_NEGATIVES, EvalCandidates, EvalMode, NegativeSampler};
pub use set::{MIN_SEQUENCE_LEN, SequenceSet};
pub use split::{EvalSplit, TrainWindow, UserSplit, most_recent};
pub use synthetic::{
    SYNTHETIC_FOLLOW_PROBABILITY, lagged_synthetic_sequences, synthetic_sequences, synthetic_successors,
};
