//! A cell module built from a [`CellGraph`]: take the N (already preprocessed) inputs, evaluate the
//! intermediate nodes in topological order, concatenate. Generic over the op family; the network owns
//! input preprocessing. The same module serves the search network (mixed edges) and derived networks
//! (one op per edge).

use super::mixed_op::MixedOp;
use super::relaxation::ArchWeights;
use super::weighted_sum::weighted_sum;
use crate::error::{KdnasError, Result};
use crate::ops::{AdoptTrained, CandidateOp, OpMode};
use crate::space::{CellGraph, ChoiceSlot};
use burn::module::Module;
use burn::tensor::{Distribution, Tensor, activation, backend::Backend};

/// One incoming edge of a node: which module, from which state, with which choice.
#[derive(Debug, Clone)]
struct EdgePlan {
    module: usize,
    source: usize,
    choice: Option<ChoiceSlot>,
}

/// How to evaluate one intermediate node.
#[derive(Debug, Clone)]
struct NodePlan {
    edges: Vec<EdgePlan>,
    input_choice: Option<ChoiceSlot>,
}

/// The evaluation order of a cell, derived from its graph.
#[derive(Debug, Clone)]
pub struct CellPlan {
    nodes: Vec<NodePlan>,
    /// State positions (inputs first) concatenated into the output.
    concat: Vec<usize>,
}

impl CellPlan {
    /// The plan and the edge list (in module order) of `cell`.
    fn from_graph(cell: &CellGraph) -> (Self, Vec<petgraph::graph::EdgeIndex>) {
        let mut modules = Vec::new();
        let nodes = cell
            .order
            .iter()
            .map(|&node| {
                let edges = cell
                    .in_edges(node)
                    .into_iter()
                    .map(|e| {
                        let (src, _) = cell.graph.edge_endpoints(e).expect("edge of this graph");
                        modules.push(e);
                        EdgePlan {
                            module: modules.len() - 1,
                            source: cell.darts_index(src),
                            choice: cell.graph[e].choice,
                        }
                    })
                    .collect();
                NodePlan { edges, input_choice: cell.graph[node].input_choice }
            })
            .collect();
        let concat = cell.concat.iter().map(|&n| cell.darts_index(n)).collect();
        (Self { nodes, concat }, modules)
    }

    /// Number of concatenated nodes (the channel multiplier of the output).
    pub fn multiplier(&self) -> usize {
        self.concat.len()
    }
}

/// A cell of op family `O` (features of rank `D`): one [`MixedOp`] per edge and its evaluation plan.
#[derive(Module, Debug)]
pub struct Cell<B: Backend, O, const D: usize> {
    edges: Vec<MixedOp<B, O, D>>,
    #[module(skip)]
    plan: CellPlan,
    /// Apply ReLU to every state before an edge reads it (AdaRec's edges start with a ReLU; DARTS's
    /// ops carry their own).
    #[module(skip)]
    relu_edge_inputs: bool,
}

impl<B: Backend, O: CandidateOp<B, D>, const D: usize> Cell<B, O, D> {
    /// Builds a cell from its graph with `channels` per node.
    pub fn new(cell: &CellGraph, channels: usize, mode: OpMode, device: &B::Device) -> Result<Self> {
        let (plan, order) = CellPlan::from_graph(cell);
        let edges =
            order.into_iter().map(|e| MixedOp::new(&cell.graph[e], channels, mode, device)).collect::<Result<_>>()?;
        Ok(Self { edges, plan, relu_edge_inputs: false })
    }

    /// The same cell with a ReLU on every state an edge reads (the node sums stay un-activated).
    pub fn with_relu_edge_inputs(self) -> Self {
        Self { relu_edge_inputs: true, ..self }
    }

    /// Output channel multiplier (number of concatenated nodes).
    pub fn multiplier(&self) -> usize {
        self.plan.multiplier()
    }

    /// This derived cell with the weights `trained` (the search supernet's cell it was derived from)
    /// trained for each kept edge's op; edges are matched by node and source state, so dropped and
    /// reordered edges are fine.
    pub fn adopt_trained(self, trained: &Self) -> Result<Self>
    where
        O: AdoptTrained,
    {
        if self.plan.nodes.len() != trained.plan.nodes.len() {
            return Err(KdnasError::Usage(format!(
                "a derived cell of {} nodes cannot adopt the weights of a search cell of {}",
                self.plan.nodes.len(),
                trained.plan.nodes.len()
            )));
        }
        // Module index of each derived edge -> module index of its search edge.
        let mut sources = vec![0; self.edges.len()];
        for (node, (own, searched)) in self.plan.nodes.iter().zip(&trained.plan.nodes).enumerate() {
            for edge in &own.edges {
                let found = searched.edges.iter().find(|e| e.source == edge.source).ok_or_else(|| {
                    KdnasError::Usage(format!("node {node}: the search cell has no edge from state {}", edge.source))
                })?;
                sources[edge.module] = found.module;
            }
        }
        let edges = self
            .edges
            .into_iter()
            .zip(sources)
            .map(|(edge, source)| edge.adopt_trained(&trained.edges[source]))
            .collect::<Result<_>>()?;
        Ok(Self { edges, ..self })
    }

    /// `inputs`: the cell's input states in the graph's input order, each `[n, c, ...]` -> the
    /// concatenated nodes `[n, multiplier*c, ...']`. `drop_path` > 0 applies DARTS's drop path to every
    /// fixed, non-identity edge (derived networks in training).
    pub fn forward(&self, inputs: Vec<Tensor<B, D>>, weights: Option<&ArchWeights<B>>, drop_path: f64) -> Tensor<B, D> {
        Tensor::cat(self.forward_nodes(inputs, weights, drop_path), 1)
    }

    /// [`Self::forward`] without the concatenation: the output nodes' states, each `[n, c, ...']`, in
    /// the cell's concat order (for networks that combine them otherwise, as AdaRec's weighted sum).
    pub fn forward_nodes(
        &self,
        inputs: Vec<Tensor<B, D>>,
        weights: Option<&ArchWeights<B>>,
        drop_path: f64,
    ) -> Vec<Tensor<B, D>> {
        let mut states = inputs;
        // What edges read: the states themselves, or their ReLU computed once per state.
        let mut edge_inputs: Vec<Tensor<B, D>> = Vec::new();
        for node in &self.plan.nodes {
            if self.relu_edge_inputs {
                edge_inputs.extend(states[edge_inputs.len()..].iter().map(|s| activation::relu(s.clone())));
            }
            let read = if self.relu_edge_inputs { &edge_inputs } else { &states };
            let input_weights = node.input_choice.zip(weights).map(|(slot, w)| w.row(slot));
            let mut outs = Vec::with_capacity(node.edges.len());
            for edge in &node.edges {
                let (row, selected) = match (edge.choice, weights) {
                    (Some(slot), Some(w)) => (Some(w.row(slot)), w.selected.as_ref().map(|s| s[slot.group][slot.row])),
                    _ => (None, None),
                };
                let (op, fixed) = (&self.edges[edge.module], row.is_none());
                let mut out = op.forward(read[edge.source].clone(), row, selected);
                if drop_path > 0.0 && fixed && !op.is_identity() {
                    out = drop_samples(out, drop_path);
                }
                outs.push(out);
            }
            let sum = match input_weights {
                Some(iw) => Some(weighted_sum(outs, iw)),
                None => outs.into_iter().reduce(|acc, out| acc + out),
            };
            states.push(sum.expect("validated nodes have incoming edges"));
        }
        self.plan.concat.iter().map(|&i| states[i].clone()).collect()
    }
}

/// DARTS's drop path: every sample of `x` (`[n, c, ...]`) is zeroed with probability `p` and
/// scaled by `1 / (1 - p)` otherwise, with burn's seeded RNG.
fn drop_samples<B: Backend, const D: usize>(x: Tensor<B, D>, p: f64) -> Tensor<B, D> {
    let keep = 1.0 - p;
    let mut shape = [1; D];
    shape[0] = x.dims()[0];
    let mask = Tensor::<B, D>::random(shape, Distribution::Bernoulli(keep), &x.device()); // [n, 1, ...]
    x * mask.div_scalar(keep)
}

#[cfg(test)]
mod tests {
    use super::drop_samples;
    use burn::backend::Flex;
    use burn::tensor::Tensor;

    #[test]
    fn drop_path_zeroes_whole_samples_and_keeps_the_mean() {
        let x = Tensor::<Flex, 4>::ones([2000, 2, 1, 1], &Default::default());
        let values: Vec<f32> = drop_samples(x, 0.25).into_data().into_vec().unwrap();
        let samples: Vec<&[f32]> = values.chunks(2).collect();
        assert!(samples.iter().all(|s| s[0] == s[1]), "a sample is kept or dropped as a whole");
        assert!(values.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6), "kept samples scale by 1/0.75");
        let dropped = samples.iter().filter(|s| s[0] == 0.0).count() as f64 / samples.len() as f64;
        assert!((dropped - 0.25).abs() < 0.04, "drop rate {dropped}");
    }
}
