//! What the AdaRec task needs of a sequential recommender (the NextItNet teacher, a derived student):
//! next-item logits at every position for training, and the scores after the last position for
//! ranking.

use crate::models::nextitnet::NextItNet;
use crate::models::sequence_cell_network::SequenceCellNetwork;
use burn::tensor::{Int, Tensor, backend::Backend};

/// A model that scores the next item of left-padded item sequences.
pub trait SequenceRecommender<B: Backend> {
    /// `[batch, time]` ids -> `[batch, time, items + 1]`: at position t, the scores of the item at t + 1.
    fn sequence_logits(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3>;
    /// `[batch, time]` ids -> `[batch, items + 1]`: the scores of the item after the last position.
    fn next_item_scores(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 2>;
}

impl<B: Backend> SequenceRecommender<B> for NextItNet<B> {
    fn sequence_logits(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.forward(items)
    }

    fn next_item_scores(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        self.forward_last(items)
    }
}

/// A derived student (one op per edge: no architecture weights).
impl<B: Backend> SequenceRecommender<B> for SequenceCellNetwork<B> {
    fn sequence_logits(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.forward_features(items, None).logits
    }

    fn next_item_scores(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        self.forward_last(items, None)
    }
}
