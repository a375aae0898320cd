//! Genotypes: the discrete architecture kept from trained choices. A genotype file is self-contained:
//! it rebuilds the derived network without the search space or the search code.

use super::genotype_check::check_genotype;
use crate::error::{KdnasError, Result};
use crate::space::{ArchGraph, Catalogue, CellGraph, ChoiceKind, EdgeSpec, NodeRole, NodeSpec, ZERO_OP, cell_kind};
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
    /// DARTS notation (`Genotype(normal=[...], ...)`), when the derived cells have DARTS's shape.
    pub darts: Option<String>,
    /// Why there is no DARTS notation, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub darts_unavailable: Option<String>,
    /// The search epoch (0-based) whose weights it was derived from, when not the last one
    /// (`search.derive_from = "best_validation"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<usize>,
}

/// A derived cell as one line of sums: `cell: n0 = skip_connect(c_k-1); n1 = ...` (`0` for a node
/// whose every edge was `none`).
fn cell_formula(cell: &DerivedCell) -> String {
    let nodes: Vec<String> = cell
        .nodes
        .iter()
        .map(|node| {
            let terms: Vec<String> = node.inputs.iter().map(|e| format!("{}({})", e.op, e.from)).collect();
            let sum = if terms.is_empty() { "0".to_string() } else { terms.join(" + ") };
            format!("{} = {sum}", node.name)
        })
        .collect();
    format!("{}: {}", cell.name, nodes.join("; "))
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
        let mut genotype = Genotype {
            space: arch.name.clone(),
            catalogue: arch.catalogue,
            rule,
            cells,
            choices,
            darts: None,
            darts_unavailable: None,
            epoch: None,
        };
        match genotype.darts_notation() {
            Ok(text) => genotype.darts = Some(text),
            Err(why) => genotype.darts_unavailable = Some(why),
        }
        genotype
    }

    /// DARTS's genotype string, or why the cells cannot be written in it: DARTS's code reads one
    /// normal and one reduction cell of two inputs whose every node has exactly two input edges.
    pub fn darts_notation(&self) -> std::result::Result<String, String> {
        let part = |reduction: bool| -> std::result::Result<(String, String), String> {
            let kind = cell_kind(reduction);
            let mut of_kind = self.cells.iter().filter(|c| c.reduction == reduction);
            let cell = of_kind.next().ok_or_else(|| format!("there is no {kind} cell"))?;
            if of_kind.next().is_some() {
                return Err(format!("there is more than one {kind} cell"));
            }
            if cell.inputs.len() != 2 {
                return Err(format!("cell `{}` has {} inputs, DARTS's cells have 2", cell.name, cell.inputs.len()));
            }
            let index = |name: &str| -> std::result::Result<usize, String> {
                cell.inputs
                    .iter()
                    .chain(cell.nodes.iter().map(|n| &n.name))
                    .position(|n| n == name)
                    .ok_or_else(|| format!("cell `{}` names unknown node `{name}`", cell.name))
            };
            let mut edges = Vec::new();
            for node in &cell.nodes {
                if node.inputs.len() != 2 {
                    return Err(format!(
                        "node `{}` of cell `{}` keeps {} inputs; DARTS's notation reads exactly 2 per node",
                        node.name,
                        cell.name,
                        node.inputs.len()
                    ));
                }
                for e in &node.inputs {
                    edges.push(format!("('{}', {})", e.op, index(&e.from)?));
                }
            }
            let concat = cell
                .concat
                .iter()
                .map(|n| index(n).map(|i| i.to_string()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((edges.join(", "), concat.join(", ")))
        };
        let (normal, normal_concat) = part(false)?;
        let (reduce, reduce_concat) = part(true)?;
        Ok(format!(
            "Genotype(normal=[{normal}], normal_concat=[{normal_concat}], reduce=[{reduce}], reduce_concat=[{reduce_concat}])"
        ))
    }

    /// The derived architecture as an [`ArchGraph`] with one op per edge and no choices.
    ///
    /// # Errors
    /// [`KdnasError::Usage`] naming the field when the genotype breaks a rule of
    /// [`check_genotype`](super::genotype_check::check_genotype).
    pub fn to_arch_graph(&self) -> Result<ArchGraph> {
        check_genotype(self).map_err(|f| KdnasError::Usage(format!("genotype `{}`: {}", f.field, f.message)))?;
        let cells = self.cells.iter().map(|c| derived_cell_graph(c, self.catalogue)).collect::<Result<_>>()?;
        Ok(ArchGraph { name: format!("{}-derived", self.space), catalogue: self.catalogue, cells, groups: vec![] })
    }

    /// Writes the genotype as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| KdnasError::Usage(e.to_string()))?;
        crate::files::write_file_atomically(path, json.as_bytes())
    }

    /// One line per result: the DARTS notation when there is one; for a genotype of plain choices
    /// (DFA's aggregation weights) one line per choice with its candidates' weights; otherwise why
    /// there is no DARTS notation.
    pub fn summary(&self) -> String {
        if let Some(text) = &self.darts {
            return text.clone();
        }
        if self.cells.is_empty() && !self.choices.is_empty() {
            let line = |c: &ChoiceRecord| {
                let weights: Vec<String> =
                    c.candidates.iter().zip(&c.weights).map(|(name, w)| format!("{name} {w:.3}")).collect();
                format!("{}: {}", c.label, weights.join(", "))
            };
            return self.choices.iter().map(line).collect::<Vec<_>>().join("\n");
        }
        if !self.cells.is_empty() {
            return self.cells.iter().map(cell_formula).collect::<Vec<_>>().join("\n");
        }
        format!("(no DARTS notation: {})", self.darts_unavailable.as_deref().unwrap_or("not a DARTS-shaped genotype"))
    }

    /// Reads and validates a genotype JSON file; errors name the file and the offending field.
    pub fn load(path: &Path) -> Result<Genotype> {
        let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
        let genotype: Genotype = serde_json::from_str(&text).map_err(|e| KdnasError::Invalid {
            path: path.to_path_buf(),
            line: e.line(),
            field: "genotype".into(),
            message: e.to_string(),
        })?;
        check_genotype(&genotype).map_err(|f| KdnasError::Invalid {
            path: path.to_path_buf(),
            line: 0,
            field: f.field,
            message: f.message,
        })?;
        Ok(genotype)
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

/// Builds the cell graph of a derived cell (one fixed op per edge); the genotype has passed
/// [`check_genotype`], the lookups below still fail softly.
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
                return Err(bad(format!("node `{}`: `{}` is not a buildable {catalogue} op", node.name, e.op)));
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
    let inputs = cell
        .inputs
        .iter()
        .map(|n| index.get(n).copied().ok_or_else(|| bad(format!("unknown input `{n}`"))))
        .collect::<Result<_>>()?;
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
