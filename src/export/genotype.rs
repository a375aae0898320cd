//! Genotypes: the discrete architecture kept from trained choices. A genotype file is self-contained:
//! it rebuilds the derived network without the search space or the search code.

use crate::error::{KdnasError, Result};
use crate::space::{ArchGraph, Catalogue, CellGraph, ChoiceKind, EdgeSpec, NodeRole, NodeSpec, ZERO_OP};
use petgraph::graph::DiGraph;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How choices become a discrete architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeriveRule {
    /// DARTS: per node keep the `keep` strongest inputs (strength = best non-`none` weight), each with
    /// its best non-`none` op.
    #[default]
    Darts,
    /// Per choice argmax: an edge whose best op is `none` is dropped; input choices keep their top `keep`.
    Argmax,
}

/// One kept edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptEdge {
    /// Source node name.
    pub from: String,
    /// Kept op.
    pub op: String,
    /// Edge strength used for ranking.
    pub strength: f32,
}

/// One node of a derived cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivedNode {
    /// Node name.
    pub name: String,
    /// Kept incoming edges, strongest first.
    pub inputs: Vec<KeptEdge>,
}

/// One derived cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivedCell {
    /// Template name.
    pub name: String,
    /// Whether it reduces the resolution.
    pub reduction: bool,
    /// Input node names.
    pub inputs: Vec<String>,
    /// Intermediate nodes in evaluation order.
    pub nodes: Vec<DerivedNode>,
    /// Concatenated node names.
    pub concat: Vec<String>,
}

/// A choice's trained weights and what was picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceRecord {
    /// Sharing key.
    pub key: String,
    /// Op or input choice.
    pub kind: ChoiceKind,
    /// Row label, e.g. `n1<-c_k-1`.
    pub label: String,
    /// Candidate names.
    pub candidates: Vec<String>,
    /// softmax weights, one per candidate.
    pub weights: Vec<f32>,
    /// Argmax candidate.
    pub argmax: String,
}

/// A derived architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Genotype {
    /// Space it came from.
    pub space: String,
    /// Catalogue of its ops.
    pub catalogue: Catalogue,
    /// Rule used.
    pub rule: DeriveRule,
    /// Derived cells.
    pub cells: Vec<DerivedCell>,
    /// Every choice with its weights.
    pub choices: Vec<ChoiceRecord>,
    /// DARTS notation (`Genotype(normal=[...], ...)`), when the space has DARTS's shape.
    pub darts: Option<String>,
}

/// Index of the largest value among `cols` of `row` (first on ties).
fn best(row: &[f32], cols: impl Iterator<Item = usize>) -> Option<usize> {
    cols.fold(None, |acc: Option<usize>, c| match acc {
        Some(a) if row[a] >= row[c] => Some(a),
        _ => Some(c),
    })
}

impl Genotype {
    /// Derives the genotype of `arch` from per-group softmax weights `probs[group][row][candidate]`.
    pub fn derive(arch: &ArchGraph, probs: &[Vec<Vec<f32>>], rule: DeriveRule) -> Genotype {
        let cells = arch.cells.iter().map(|cell| derive_cell(cell, probs, rule)).collect();
        let choices = arch
            .groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group.row_labels.iter().enumerate().map(move |(r, label)| {
                    let weights = probs[g][r].clone();
                    let argmax =
                        best(&weights, 0..weights.len()).map(|i| group.candidates[i].clone()).unwrap_or_default();
                    ChoiceRecord {
                        key: group.key.clone(),
                        kind: group.kind,
                        label: label.clone(),
                        candidates: group.candidates.clone(),
                        weights,
                        argmax,
                    }
                })
            })
            .collect();
        let mut genotype =
            Genotype { space: arch.name.clone(), catalogue: arch.catalogue, rule, cells, choices, darts: None };
        genotype.darts = genotype.darts_notation();
        genotype
    }

    /// DARTS's genotype string, for spaces with one normal and one reduction cell of two inputs.
    pub fn darts_notation(&self) -> Option<String> {
        let part = |reduction: bool| -> Option<(String, String)> {
            let cell = self.cells.iter().find(|c| c.reduction == reduction)?;
            let index = |name: &str| -> Option<usize> {
                cell.inputs.iter().chain(cell.nodes.iter().map(|n| &n.name)).position(|n| n == name)
            };
            let mut edges = Vec::new();
            for node in &cell.nodes {
                for e in &node.inputs {
                    edges.push(format!("('{}', {})", e.op, index(&e.from)?));
                }
            }
            let concat: Option<Vec<String>> = cell.concat.iter().map(|n| index(n).map(|i| i.to_string())).collect();
            Some((edges.join(", "), concat?.join(", ")))
        };
        let (normal, normal_concat) = part(false)?;
        let (reduce, reduce_concat) = part(true)?;
        Some(format!(
            "Genotype(normal=[{normal}], normal_concat=[{normal_concat}], reduce=[{reduce}], reduce_concat=[{reduce_concat}])"
        ))
    }

    /// The derived architecture as an [`ArchGraph`] with one op per edge and no choices.
    pub fn to_arch_graph(&self) -> Result<ArchGraph> {
        let cells = self.cells.iter().map(|c| derived_cell_graph(c, self.catalogue)).collect::<Result<_>>()?;
        Ok(ArchGraph { name: format!("{}-derived", self.space), catalogue: self.catalogue, cells, groups: vec![] })
    }

    /// Writes the genotype as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| KdnasError::Usage(e.to_string()))?;
        crate::search::checkpoint::write_file_atomically(path, json.as_bytes())
    }

    /// Reads a genotype JSON file.
    pub fn load(path: &Path) -> Result<Genotype> {
        let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| KdnasError::Invalid {
            path: path.to_path_buf(),
            line: e.line(),
            field: "genotype".into(),
            message: e.to_string(),
        })
    }
}

/// Applies the derivation rule to one cell.
fn derive_cell(cell: &CellGraph, probs: &[Vec<Vec<f32>>], rule: DeriveRule) -> DerivedCell {
    let nodes = cell
        .order
        .iter()
        .map(|&node| {
            let input_weights = cell.graph[node].input_choice.map(|s| probs[s.group][s.row].clone());
            // (edge, whether its overall argmax is `none`), strongest first.
            let mut ranked: Vec<(KeptEdge, bool)> = cell
                .in_edges(node)
                .into_iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let (src, _) = cell.graph.edge_endpoints(e)?;
                    let spec = &cell.graph[e];
                    let row: Vec<f32> = match spec.choice {
                        Some(slot) => probs[slot.group][slot.row].clone(),
                        None => vec![1.0; spec.ops.len()],
                    };
                    let op = best(&row, (0..spec.ops.len()).filter(|&c| spec.ops[c] != ZERO_OP))?;
                    let zero_wins = best(&row, 0..row.len()).is_some_and(|c| spec.ops[c] == ZERO_OP);
                    let scale = input_weights.as_ref().map_or(1.0, |w| w[i]);
                    Some((
                        KeptEdge {
                            from: cell.graph[src].name.clone(),
                            op: spec.ops[op].clone(),
                            strength: row[op] * scale,
                        },
                        zero_wins,
                    ))
                })
                .collect();
            ranked.sort_by(|a, b| b.0.strength.total_cmp(&a.0.strength));
            // Argmax drops edges whose best op is `none`, unless that would leave the node without inputs.
            if rule == DeriveRule::Argmax && ranked.iter().any(|(_, zero)| !zero) {
                ranked.retain(|(_, zero)| !zero);
            }
            let mut candidates: Vec<KeptEdge> = ranked.into_iter().map(|(e, _)| e).collect();
            candidates.truncate(cell.graph[node].keep.unwrap_or(usize::MAX).max(1));
            DerivedNode { name: cell.graph[node].name.clone(), inputs: candidates }
        })
        .collect();
    DerivedCell {
        name: cell.name.clone(),
        reduction: cell.reduction,
        inputs: cell.inputs.iter().map(|&n| cell.graph[n].name.clone()).collect(),
        nodes,
        concat: cell.concat.iter().map(|&n| cell.graph[n].name.clone()).collect(),
    }
}

/// Builds the cell graph of a derived cell (one fixed op per edge).
fn derived_cell_graph(cell: &DerivedCell, catalogue: Catalogue) -> Result<CellGraph> {
    let mut graph: DiGraph<NodeSpec, EdgeSpec> = DiGraph::new();
    let mut index = std::collections::HashMap::new();
    let bad = |msg: String| KdnasError::Usage(format!("genotype cell `{}`: {msg}", cell.name));
    for name in &cell.inputs {
        index.insert(
            name.clone(),
            graph.add_node(NodeSpec { name: name.clone(), role: NodeRole::Input, keep: None, input_choice: None }),
        );
    }
    let mut order = Vec::new();
    for node in &cell.nodes {
        let idx = graph.add_node(NodeSpec {
            name: node.name.clone(),
            role: NodeRole::Intermediate,
            keep: None,
            input_choice: None,
        });
        for e in &node.inputs {
            if e.op == ZERO_OP || !catalogue.contains(&e.op) {
                return Err(bad(format!("node `{}`: `{}` is not a buildable {catalogue:?} op", node.name, e.op)));
            }
            let &src = index
                .get(&e.from)
                .ok_or_else(|| bad(format!("node `{}` reads unknown node `{}`", node.name, e.from)))?;
            let stride = if cell.reduction && graph[src].role == NodeRole::Input { 2 } else { 1 };
            graph.add_edge(src, idx, EdgeSpec { ops: vec![e.op.clone()], choice: None, stride });
        }
        if node.inputs.is_empty() {
            return Err(bad(format!("node `{}` has no inputs", node.name)));
        }
        index.insert(node.name.clone(), idx);
        order.push(idx);
    }
    let concat = cell
        .concat
        .iter()
        .map(|n| index.get(n).copied().ok_or_else(|| bad(format!("concat names unknown node `{n}`"))))
        .collect::<Result<_>>()?;
    let inputs = cell.inputs.iter().map(|n| index[n]).collect();
    Ok(CellGraph {
        name: cell.name.clone(),
        share: cell.name.clone(),
        reduction: cell.reduction,
        graph,
        inputs,
        order,
        concat,
    })
}
