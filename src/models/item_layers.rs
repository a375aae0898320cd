//! The two item-vocabulary layers every sequential recommender here shares: the item embedding (row 0
//! is padding) and the output layer scoring every item (column 0 belongs to padding).

use crate::ops::init::constant;
use burn::module::{Module, Param};
use burn::tensor::module::embedding;
use burn::tensor::{Distribution, Int, Tensor, backend::Backend};

/// Item embeddings `[items + 1, dim]`; id 0 is padding and embeds to zeros (PyTorch's `padding_idx`).
#[derive(Module, Debug)]
pub struct ItemEmbedding<B: Backend> {
    weight: Param<Tensor<B, 2>>,
}

impl<B: Backend> ItemEmbedding<B> {
    /// Embeddings for ids `0..=items`, initialised U(±1/sqrt(items+1)) as AdaRec's.
    pub fn new(items: usize, dim: usize, device: &B::Device) -> Self {
        let rows = items + 1;
        let bound = 1.0 / (rows as f64).sqrt();
        Self { weight: Param::from_tensor(Tensor::random([rows, dim], Distribution::Uniform(-bound, bound), device)) }
    }

    /// `[batch, time]` ids -> `[batch, time, dim]`, zero at padding positions.
    pub fn forward(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let mask = items.clone().not_equal_elem(0).float().unsqueeze_dim::<3>(2); // [batch, time, 1]
        embedding(self.weight.val(), items) * mask
    }
}

/// The output layer: hidden states -> a score for every item id (`items + 1` columns).
#[derive(Module, Debug)]
pub struct ItemScores<B: Backend> {
    /// `[dim, items + 1]`.
    weight: Param<Tensor<B, 2>>,
    /// `[items + 1]`.
    bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> ItemScores<B> {
    /// A layer from `dim` features to `items + 1` scores: weight N(0, 0.01²), bias 0.1 (AdaRec's init).
    pub fn new(dim: usize, items: usize, device: &B::Device) -> Self {
        let rows = items + 1;
        Self {
            weight: Param::from_tensor(Tensor::random([dim, rows], Distribution::Normal(0.0, 0.01), device)),
            bias: constant([rows], 0.1, device),
        }
    }

    /// `[batch, time, dim] -> [batch, time, items + 1]`.
    pub fn forward(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, time, dim] = hidden.dims();
        let rows = self.bias.dims()[0];
        self.forward_rows(hidden.reshape([batch * time, dim])).reshape([batch, time, rows])
    }

    /// Scores of the last position only: `[batch, time, dim] -> [batch, items + 1]` (sequences are
    /// left-padded, so the last position is the newest item).
    pub fn forward_last(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, time, dim] = hidden.dims();
        self.forward_rows(hidden.narrow(1, time - 1, 1).reshape([batch, dim]))
    }

    /// `[rows, dim] -> [rows, items + 1]`.
    fn forward_rows(&self, rows: Tensor<B, 2>) -> Tensor<B, 2> {
        rows.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>()
    }
}
