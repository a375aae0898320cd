//! `ArchGraph`: a validated search space as petgraph DAGs (one per cell template) plus its choice groups.

use crate::ops::catalogue::Catalogue;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use serde::{Deserialize, Serialize};

/// Where a choice's architecture weights live: row `row` of group `group`'s `[rows, candidates]` logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceSlot {
    /// Index into [`ArchGraph::groups`].
    pub group: usize,
    /// Row inside that group.
    pub row: usize,
}

/// What a choice group decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceKind {
    /// Which op an edge applies.
    Op,
    /// How a node weighs its incoming edges.
    Input,
}

/// One softmax group of architecture weights: `rows` choices over the same candidates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChoiceGroup {
    /// Sharing key of the cells that use the group (e.g. `normal`, `reduce`).
    pub key: String,
    /// What the group decides.
    pub kind: ChoiceKind,
    /// Candidate names (ops, or input node names), one column each.
    pub candidates: Vec<String>,
    /// A readable label per row (e.g. `n2<-in1`).
    pub row_labels: Vec<String>,
}

impl ChoiceGroup {
    /// Number of choices (rows) in the group.
    pub fn rows(&self) -> usize {
        self.row_labels.len()
    }
}

/// Whether a node is a cell input or an intermediate (computed) node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Fed from outside the cell.
    Input,
    /// Sum of incoming edges.
    Intermediate,
}

/// A node of a cell graph: a feature tensor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Name from the space file.
    pub name: String,
    /// Input or intermediate.
    pub role: NodeRole,
    /// How many incoming edges the derived network keeps (`None`: all).
    pub keep: Option<usize>,
    /// The node's own input weights, for weighted mixing.
    pub input_choice: Option<ChoiceSlot>,
}

/// An edge of a cell graph: a candidate connection with its candidate ops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeSpec {
    /// Candidate op names (one: a fixed op).
    pub ops: Vec<String>,
    /// The op choice, when there is more than one candidate.
    pub choice: Option<ChoiceSlot>,
    /// Stride of the edge's ops (2 on edges leaving the inputs of a reduction cell).
    pub stride: usize,
}

/// One cell template as a DAG.
#[derive(Debug, Clone)]
pub struct CellGraph {
    /// Template name, e.g. `normal`.
    pub name: String,
    /// Sharing key of its choices.
    pub share: String,
    /// Whether the cell halves the resolution.
    pub reduction: bool,
    /// The DAG: nodes are features, edges candidate connections.
    pub graph: DiGraph<NodeSpec, EdgeSpec>,
    /// Input nodes, in declaration order.
    pub inputs: Vec<NodeIndex>,
    /// Intermediate nodes in a topological order (inputs of each come earlier).
    pub order: Vec<NodeIndex>,
    /// Intermediate nodes concatenated into the output.
    pub concat: Vec<NodeIndex>,
}

impl CellGraph {
    /// Incoming edges of `node`, in creation order (the order of the space file).
    pub fn in_edges(&self, node: NodeIndex) -> Vec<EdgeIndex> {
        let mut edges: Vec<EdgeIndex> = self
            .graph
            .edges_directed(node, petgraph::Direction::Incoming)
            .map(|e| petgraph::visit::EdgeRef::id(&e))
            .collect();
        edges.sort();
        edges
    }

    /// All edges in creation order.
    pub fn edges_in_order(&self) -> Vec<EdgeIndex> {
        self.graph.edge_indices().collect()
    }

    /// Position of a node in DARTS numbering: inputs first, then intermediates in order.
    pub fn darts_index(&self, node: NodeIndex) -> usize {
        self.inputs.iter().chain(self.order.iter()).position(|&n| n == node).unwrap_or(usize::MAX)
    }
}

/// How a cell is named by its kind in messages and drawings: `reduction` or `normal`.
pub fn cell_kind(reduction: bool) -> &'static str {
    if reduction { "reduction" } else { "normal" }
}

/// A validated search space.
#[derive(Debug, Clone)]
pub struct ArchGraph {
    /// Space name.
    pub name: String,
    /// Op catalogue the op names refer to.
    pub catalogue: Catalogue,
    /// Cell templates in file order.
    pub cells: Vec<CellGraph>,
    /// Choice groups (one architecture-weight tensor each).
    pub groups: Vec<ChoiceGroup>,
}

impl ArchGraph {
    /// The cell template called `name`.
    pub fn cell(&self, name: &str) -> Option<&CellGraph> {
        self.cells.iter().find(|c| c.name == name)
    }

    /// The first reduction (or non-reduction) cell template.
    pub fn cell_by_reduction(&self, reduction: bool) -> Option<&CellGraph> {
        self.cells.iter().find(|c| c.reduction == reduction)
    }

    /// Total number of searchable choices.
    pub fn choice_count(&self) -> usize {
        self.groups.iter().map(ChoiceGroup::rows).sum()
    }
}
