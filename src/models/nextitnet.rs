//! NextItNet (Yuan et al., 2019), AdaRec's teacher: an item embedding, residual blocks of two dilated
//! causal 1-D convolutions (conv -> LayerNorm(eps 1e-8) -> ReLU, twice) with a ReZero residual
//! `x + alpha * F(x)` (alpha learnable, initially 0), and a linear layer to the logits of every item.
//!
//! As in AdaRec's code (models/nextitnet), the second conv of a block has twice the dilation of the
//! first and the first convs' dilations cycle through `dilations` (default `[1, 4]`), so the convs of
//! consecutive blocks are dilated 1, 2, 4, 8, 1, 2, ... Item 0 is padding: its embedding is zero and
//! receives no gradient (PyTorch's `padding_idx = 0`), and logit column 0 belongs to it. Hidden states
//! are `[batch, time, dim]`; no position sees a later one.

use super::blocks::{product, sum};
use super::item_layers::{ItemEmbedding, ItemScores};
use crate::error::Result;
use crate::ops::causal1d::conv::CausalConv1d;
use crate::ops::init::constant;
use crate::validate::{at_least_one, field_error};
use burn::module::{Module, Param};
use burn::nn::{DropoutConfig, LayerNorm, LayerNormConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// LayerNorm epsilon of NextItNet's blocks.
const LAYER_NORM_EPSILON: f64 = 1e-8;

/// The sizes of a NextItNet (`[teacher.model]` of an AdaRec run); every field has a default.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NextItNetConfig {
    /// Width of the item embeddings and hidden states (default 256).
    pub dim: usize,
    /// Residual blocks (default 16).
    pub blocks: usize,
    /// Dilation of each block's first conv, cycled over the blocks; the second conv uses twice it
    /// (default `[1, 4]`).
    pub dilations: Vec<usize>,
    /// Taps of every conv (default 3).
    pub kernel: usize,
    /// Dropout in training on the embedding output and on every block's residual branch (default 0,
    /// AdaRec's teacher has none); left out of written configs when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropout: f64,
}

fn is_zero(p: &f64) -> bool {
    *p == 0.0
}

impl Default for NextItNetConfig {
    fn default() -> Self {
        Self { dim: 256, blocks: 16, dilations: vec![1, 4], kernel: 3, dropout: 0.0 }
    }
}

impl NextItNetConfig {
    /// Rejects zero sizes, an empty dilation list and a receptive field that overflows; `field` names
    /// the section, e.g. `teacher.model` gives `teacher.model.dilations[1]: must be at least 1`.
    pub fn validate(&self, field: &str) -> Result<()> {
        at_least_one(&format!("{field}.dim"), self.dim)?;
        at_least_one(&format!("{field}.blocks"), self.blocks)?;
        at_least_one(&format!("{field}.kernel"), self.kernel)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(field_error(&format!("{field}.dropout"), format!("{} is not in [0, 1)", self.dropout)));
        }
        if self.dilations.is_empty() {
            return Err(field_error(&format!("{field}.dilations"), "must list at least one dilation"));
        }
        for (i, &dilation) in self.dilations.iter().enumerate() {
            let item = format!("{field}.dilations[{i}]");
            at_least_one(&item, dilation)?;
            if dilation.checked_mul(2).and_then(|d| d.checked_mul(self.kernel - 1)).is_none() {
                return Err(field_error(&item, format!("{dilation} makes the causal padding overflow")));
            }
        }
        Ok(())
    }

    /// Dilation of the first conv of every block, in order.
    pub fn block_dilations(&self) -> Vec<usize> {
        self.dilations.iter().copied().cycle().take(self.blocks).collect()
    }

    /// Trainable parameters of the network [`NextItNetConfig::build`] returns for `items` items
    /// (saturating): embedding `(items+1) dim`, per block two convs `k dim² + dim`, two LayerNorms
    /// `2 dim` and alpha, output layer `dim (items+1) + items+1`.
    pub fn param_count(&self, items: usize) -> u128 {
        let (d, rows) = (self.dim, items.saturating_add(1));
        let conv = sum(&[product(&[self.kernel, d, d]), product(&[d])]);
        let block = sum(&[conv, conv, product(&[4, d]), 1]);
        sum(&[
            product(&[rows, d]),
            product(&[self.blocks]).saturating_mul(block),
            product(&[d, rows]),
            product(&[rows]),
        ])
    }

    /// Builds the network for item ids `1..=items` (0 is padding); fails on an invalid configuration
    /// (fields named `model.*`) or zero items.
    pub fn build<B: Backend>(&self, items: usize, device: &B::Device) -> Result<NextItNet<B>> {
        self.validate("model")?;
        at_least_one("items", items)?;
        Ok(NextItNet::new(self, items, device))
    }
}

/// One residual block: `x + alpha * dropout(relu(ln2(conv2(relu(ln1(conv1(x)))))))`.
#[derive(Module, Debug)]
pub struct NextItNetBlock<B: Backend> {
    conv1: CausalConv1d<B>,
    norm1: LayerNorm<B>,
    conv2: CausalConv1d<B>,
    norm2: LayerNorm<B>,
    /// The ReZero scale `[1]`, initially 0.
    pub alpha: Param<Tensor<B, 1>>,
    /// Dropout probability of the residual branch (not part of the record).
    #[module(skip)]
    dropout: f64,
}

/// Dropout with probability `p` in training (autodiff backends), the identity otherwise.
fn dropout<B: Backend, const D: usize>(x: Tensor<B, D>, p: f64) -> Tensor<B, D> {
    if p == 0.0 { x } else { DropoutConfig::new(p).init().forward(x) }
}

impl<B: Backend> NextItNetBlock<B> {
    /// A new block over `dim` channels whose first conv is dilated `dilation` (the second `2 dilation`).
    pub fn new(dim: usize, kernel: usize, dilation: usize, dropout: f64, device: &B::Device) -> Self {
        let norm = || LayerNormConfig::new(dim).with_epsilon(LAYER_NORM_EPSILON).init(device);
        Self {
            conv1: CausalConv1d::new(dim, dim, kernel, dilation, device),
            norm1: norm(),
            conv2: CausalConv1d::new(dim, dim, kernel, 2 * dilation, device),
            norm2: norm(),
            alpha: constant([1], 0.0, device),
            dropout,
        }
    }

    /// `[batch, time, dim] -> [batch, time, dim]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = relu(self.norm1.forward(self.conv1.forward_time_major(x.clone())));
        let h = relu(self.norm2.forward(self.conv2.forward_time_major(h)));
        x + dropout(h, self.dropout) * self.alpha.val().reshape([1, 1, 1])
    }
}

/// The embedding output, every block's output and the logits of one pass.
#[derive(Debug, Clone)]
pub struct SequenceFeatures<B: Backend> {
    /// Item embeddings `[batch, time, dim]` (zero at padding positions).
    pub embedding: Tensor<B, 3>,
    /// `hidden[i]`: output of block `i`, `[batch, time, dim]` (AdaRec's EMD uses every second one).
    pub hidden: Vec<Tensor<B, 3>>,
    /// `[batch, time, items + 1]`: at position t, the scores of the item at t + 1.
    pub logits: Tensor<B, 3>,
}

/// A NextItNet; see the module documentation.
#[derive(Module, Debug)]
pub struct NextItNet<B: Backend> {
    embedding: ItemEmbedding<B>,
    blocks: Vec<NextItNetBlock<B>>,
    scores: ItemScores<B>,
    /// Dropout probability of the embedding output (not part of the record).
    #[module(skip)]
    dropout: f64,
}

impl<B: Backend> NextItNet<B> {
    /// A network as `config` describes (unchecked: use [`NextItNetConfig::build`]) for `items` items.
    /// Initialisation as AdaRec's: embeddings U(±1/sqrt(items+1)), output weight N(0, 0.01²), output
    /// bias 0.1, convs PyTorch's default, LayerNorms scale 1 and shift 0, alphas 0.
    fn new(config: &NextItNetConfig, items: usize, device: &B::Device) -> Self {
        Self {
            embedding: ItemEmbedding::new(items, config.dim, device),
            blocks: config
                .block_dilations()
                .into_iter()
                .map(|dilation| NextItNetBlock::new(config.dim, config.kernel, dilation, config.dropout, device))
                .collect(),
            scores: ItemScores::new(config.dim, items, device),
            dropout: config.dropout,
        }
    }

    /// The residual blocks, in order.
    pub fn blocks(&self) -> &[NextItNetBlock<B>] {
        &self.blocks
    }

    /// Item embeddings of `items` `[batch, time]` with padding (id 0) zeroed, after dropout in
    /// training: `[batch, time, dim]`.
    pub fn embed(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        dropout(self.embedding.forward(items), self.dropout)
    }

    /// The last block's output `[batch, time, dim]` for item sequences `[batch, time]`.
    pub fn encode(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.blocks.iter().fold(self.embed(items), |x, block| block.forward(x))
    }

    /// Logits `[batch, time, items + 1]` of item sequences `[batch, time]`.
    pub fn forward(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.scores.forward(self.encode(items))
    }

    /// The embedding output, every block's output and the logits.
    pub fn forward_features(&self, items: Tensor<B, 2, Int>) -> SequenceFeatures<B> {
        let embedding = self.embed(items);
        let mut hidden: Vec<Tensor<B, 3>> = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let input = hidden.last().unwrap_or(&embedding).clone();
            hidden.push(block.forward(input));
        }
        let last = hidden.last().unwrap_or(&embedding).clone();
        SequenceFeatures { logits: self.scores.forward(last), embedding, hidden }
    }

    /// Scores `[batch, items + 1]` of the item following each sequence (the logits of the last
    /// position; sequences are padded on the left, `time` >= 1), with the output layer applied to that
    /// position only.
    pub fn forward_last(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        self.scores.forward_last(self.encode(items))
    }
}
