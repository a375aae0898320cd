//! `SequenceCellNetwork`: AdaRec's student for sequential recommendation. Item embeddings, a stack of
//! causal 1-D cells built from one cell template (so every cell shares the template's architecture
//! weights), and the item output layer. Each cell combines its nodes by a softmax-weighted sum with
//! its own (non-architecture) weights, then LayerNorm(eps 1e-8), ReLU and a residual connection, as
//! AdaRec's `SearchCell`; every edge reads the ReLU of its source state. With mixed edges it is the
//! search supernet, built from a derived space the student that is fine-tuned.

use super::item_layers::{ItemEmbedding, ItemScores};
use super::nextitnet::SequenceFeatures;
use crate::error::{KdnasError, Result};
use crate::ops::OpMode;
use crate::ops::causal1d::Op1d;
use crate::space::{ArchGraph, Catalogue};
use crate::supernet::ArchWeights;
use crate::supernet::cell::Cell;
use crate::validate::{at_least_one, field_error};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Distribution, Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// LayerNorm epsilon of AdaRec's cells.
const LAYER_NORM_EPSILON: f64 = 1e-8;

/// The skeleton around the cells (`[student]` of an AdaRec run); every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequenceNetworkConfig {
    /// Width of the embeddings, states and every node (AdaRec: 64).
    pub dim: usize,
    /// Number of stacked cells (AdaRec: 4).
    pub cells: usize,
    /// Dropout after the embedding and before the output layer, in training only (AdaRec: 0.1).
    pub dropout: f64,
}

impl Default for SequenceNetworkConfig {
    fn default() -> Self {
        Self { dim: 64, cells: 4, dropout: 0.1 }
    }
}

impl SequenceNetworkConfig {
    /// Checks the values; `field` names the section in errors (e.g. `student`).
    pub fn validate(&self, field: &str) -> Result<()> {
        at_least_one(&format!("{field}.dim"), self.dim)?;
        at_least_one(&format!("{field}.cells"), self.cells)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(field_error(&format!("{field}.dropout"), format!("{} is not in [0, 1)", self.dropout)));
        }
        Ok(())
    }
}

/// One stacked cell with AdaRec's node combination and residual.
#[derive(Module, Debug)]
pub struct SequenceCell<B: Backend> {
    cell: Cell<B, Op1d<B>, 3>,
    /// Node-combination logits `[nodes]` (trained with the weights, not an architecture choice).
    node_logits: Param<Tensor<B, 1>>,
    norm: LayerNorm<B>,
}

impl<B: Backend> SequenceCell<B> {
    /// `[batch, time, dim] -> [batch, time, dim]`: `x + relu(ln(sum_k softmax(node_logits)_k n_k))`.
    pub fn forward(&self, x: Tensor<B, 3>, weights: Option<&ArchWeights<B>>) -> Tensor<B, 3> {
        let [batch, time, dim] = x.dims();
        // Channels-first, materialised once: every edge (and its ops' reshapes) then reads a contiguous
        // tensor instead of copying the transposed view element by element.
        let channels_first = x.clone().swap_dims(1, 2).reshape([batch * dim, time]).reshape([batch, dim, time]);
        let nodes = self.cell.forward_nodes(vec![channels_first], weights, 0.0); // each [batch, dim, time]
        let combined = crate::supernet::weighted_sum(nodes, softmax(self.node_logits.val(), 0)).swap_dims(1, 2); // [batch, time, dim]
        x + relu(self.norm.forward(combined))
    }
}

/// AdaRec's student network; see the module documentation.
#[derive(Module, Debug)]
pub struct SequenceCellNetwork<B: Backend> {
    embedding: ItemEmbedding<B>,
    cells: Vec<SequenceCell<B>>,
    dropout: Dropout,
    output: ItemScores<B>,
}

impl<B: Backend> SequenceCellNetwork<B> {
    /// Builds the network for item ids `1..=items` from the single cell template of `arch` (a
    /// `causal1d` space); `mode` chooses search (mixed, non-affine BN) or derived ops.
    pub fn new(
        arch: &ArchGraph,
        cfg: &SequenceNetworkConfig,
        items: usize,
        mode: OpMode,
        device: &B::Device,
    ) -> Result<Self> {
        cfg.validate("student")?;
        at_least_one("items", items)?;
        let template = sequence_cell_template(arch)?;
        let cells = (0..cfg.cells)
            .map(|_| {
                let cell = Cell::new(template, cfg.dim, mode, device)?.with_relu_edge_inputs();
                let nodes = cell.multiplier();
                Ok(SequenceCell {
                    cell,
                    node_logits: Param::from_tensor(Tensor::random([nodes], Distribution::Normal(0.0, 0.01), device)),
                    norm: LayerNormConfig::new(cfg.dim).with_epsilon(LAYER_NORM_EPSILON).init(device),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            embedding: ItemEmbedding::new(items, cfg.dim, device),
            cells,
            dropout: DropoutConfig::new(cfg.dropout).init(),
            output: ItemScores::new(cfg.dim, items, device),
        })
    }

    /// This derived network with the weights of `trained`, the search supernet it was derived from:
    /// the embedding, the output layer, each cell's node weights and LayerNorm, and on every edge the
    /// derived op's own trained weights (AdaRec's student_finetune start). In evaluation the result
    /// computes what `trained` computes with a one-hot architecture on the derived ops.
    pub fn adopt_trained(self, trained: &Self) -> Result<Self> {
        if self.cells.len() != trained.cells.len() {
            return Err(KdnasError::Usage(format!(
                "a student of {} cells cannot adopt the weights of a search student of {}",
                self.cells.len(),
                trained.cells.len()
            )));
        }
        let cells = self
            .cells
            .into_iter()
            .zip(&trained.cells)
            .map(|(own, searched)| {
                Ok(SequenceCell {
                    cell: own.cell.adopt_trained(&searched.cell)?,
                    node_logits: searched.node_logits.clone(),
                    norm: searched.norm.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { embedding: trained.embedding.clone(), cells, dropout: self.dropout, output: trained.output.clone() })
    }

    /// The embedding output, every cell's output `[batch, time, dim]` and the logits
    /// `[batch, time, items + 1]` of item sequences `[batch, time]`; `weights` drives the mixed edges
    /// (search), derived networks pass `None`.
    pub fn forward_features(&self, items: Tensor<B, 2, Int>, weights: Option<&ArchWeights<B>>) -> SequenceFeatures<B> {
        let embedding = self.embedding.forward(items);
        let mut x = self.dropout.forward(embedding.clone());
        let mut hidden = Vec::with_capacity(self.cells.len());
        for cell in &self.cells {
            x = cell.forward(x, weights);
            hidden.push(x.clone());
        }
        let logits = self.output.forward(self.dropout.forward(x));
        SequenceFeatures { embedding, hidden, logits }
    }

    /// Scores `[batch, items + 1]` of the item following each left-padded sequence `[batch, time]`.
    pub fn forward_last(&self, items: Tensor<B, 2, Int>, weights: Option<&ArchWeights<B>>) -> Tensor<B, 2> {
        let x = self.cells.iter().fold(self.embedding.forward(items), |x, cell| cell.forward(x, weights));
        self.output.forward_last(x)
    }
}

/// The one cell template of a `causal1d` space (reading one input, the previous cell's output, as the
/// space file's rules ensure).
fn sequence_cell_template(arch: &ArchGraph) -> Result<&crate::space::CellGraph> {
    if arch.catalogue != Catalogue::CAUSAL1D {
        return Err(KdnasError::Usage(format!(
            "space `{}` uses the {} catalogue; a sequence student needs a `causal1d` space",
            arch.name, arch.catalogue
        )));
    }
    match arch.cells.as_slice() {
        [cell] => Ok(cell),
        cells => Err(KdnasError::Usage(format!(
            "space `{}` has {} cell templates; a sequence student stacks copies of exactly one",
            arch.name,
            cells.len()
        ))),
    }
}
