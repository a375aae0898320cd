//! Validation of genotype files: the same rules a search space obeys (known buildable ops, inputs read
//! before use, no duplicate nodes or edges, a non-empty concatenation of intermediate nodes), checked
//! before any network is built so a hand-edited or corrupted file gets an error naming the field.

use super::genotype::{DerivedCell, Genotype};
use crate::ops::CellRule;
use crate::space::{Catalogue, ZERO_OP, cell_kind};
use std::collections::HashSet;

/// What is wrong with a genotype: the dotted field (`cells[0].nodes[1].inputs[0].from`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenotypeFault {
    /// Dotted path of the offending field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn fault(field: String, message: String) -> GenotypeFault {
    GenotypeFault { field, message }
}

/// Checks every cell of `genotype` and that the network can find one normal and one reduction cell
/// (a `causal1d` network: exactly one normal cell);
/// a `features` genotype (plain choices, e.g. DFA's aggregation weights) must have no cells.
pub fn check_genotype(genotype: &Genotype) -> Result<(), GenotypeFault> {
    let Some(rule) = genotype.catalogue.cells() else {
        return match genotype.cells.is_empty() {
            true => Ok(()),
            false => Err(fault("cells".into(), format!("a `{}` genotype has no cells", genotype.catalogue))),
        };
    };
    // A DARTS network needs one normal and one reduction cell; a sequence student one (normal) cell.
    let kinds: &[bool] = if rule.reductions { &[false, true] } else { &[false] };
    if let Some((i, cell)) = genotype.cells.iter().enumerate().find(|(_, c)| !kinds.contains(&c.reduction)) {
        return Err(fault(
            format!("cells[{i}]"),
            format!("`{}` is a reduction cell; {} networks have none", cell.name, genotype.catalogue),
        ));
    }
    for &reduction in kinds {
        let mut of_kind = genotype.cells.iter().enumerate().filter(|(_, c)| c.reduction == reduction);
        let kind = cell_kind(reduction);
        if of_kind.next().is_none() {
            return Err(fault("cells".into(), format!("no {kind} cell (a cell network needs one of each)")));
        }
        if let Some((i, cell)) = of_kind.next() {
            return Err(fault(
                format!("cells[{i}]"),
                format!("`{}` is a second {kind} cell; a cell network uses exactly one of each", cell.name),
            ));
        }
    }
    for (i, cell) in genotype.cells.iter().enumerate() {
        check_cell(cell, genotype.catalogue, rule, &format!("cells[{i}]"))?;
    }
    Ok(())
}

/// Checks one derived cell.
fn check_cell(cell: &DerivedCell, catalogue: Catalogue, rule: CellRule, field: &str) -> Result<(), GenotypeFault> {
    let (expected_inputs, sources) = (rule.inputs, rule.input_sources);
    if cell.inputs.len() != expected_inputs {
        return Err(fault(
            format!("{field}.inputs"),
            format!("{catalogue} cells take {sources}: expected {expected_inputs} inputs, found {}", cell.inputs.len()),
        ));
    }
    let mut known: HashSet<&str> = HashSet::new();
    for (i, name) in cell.inputs.iter().enumerate() {
        if !known.insert(name) {
            return Err(fault(format!("{field}.inputs[{i}]"), format!("duplicate node `{name}`")));
        }
    }
    if cell.nodes.is_empty() {
        return Err(fault(format!("{field}.nodes"), format!("cell `{}` has no intermediate nodes", cell.name)));
    }
    for (n, node) in cell.nodes.iter().enumerate() {
        let node_field = format!("{field}.nodes[{n}]");
        if known.contains(node.name.as_str()) {
            return Err(fault(format!("{node_field}.name"), format!("duplicate node `{}`", node.name)));
        }
        if node.inputs.is_empty() {
            return Err(fault(format!("{node_field}.inputs"), format!("node `{}` has no inputs", node.name)));
        }
        for (e, edge) in node.inputs.iter().enumerate() {
            let edge_field = format!("{node_field}.inputs[{e}]");
            if edge.op == ZERO_OP || !catalogue.contains(&edge.op) {
                return Err(fault(
                    format!("{edge_field}.op"),
                    format!(
                        "`{}` is not a buildable {catalogue} op (known: {})",
                        edge.op,
                        catalogue.ops().iter().filter(|o| **o != ZERO_OP).copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if !known.contains(edge.from.as_str()) {
                let why = if cell.nodes[n..].iter().any(|later| later.name == edge.from) {
                    "a node may only read the cell inputs and nodes listed before it"
                } else {
                    "no such node in this cell"
                };
                return Err(fault(format!("{edge_field}.from"), format!("`{}`: {why}", edge.from)));
            }
            if node.inputs[..e].iter().any(|earlier| earlier.from == edge.from) {
                return Err(fault(format!("{edge_field}.from"), format!("duplicate edge from `{}`", edge.from)));
            }
        }
        known.insert(&node.name);
    }
    if cell.concat.is_empty() {
        return Err(fault(format!("{field}.concat"), "the cell output concatenates no node".into()));
    }
    for (i, name) in cell.concat.iter().enumerate() {
        let concat_field = format!("{field}.concat[{i}]");
        if !cell.nodes.iter().any(|n| n.name == *name) {
            return Err(fault(concat_field, format!("`{name}` is not an intermediate node of cell `{}`", cell.name)));
        }
        if cell.concat[..i].contains(name) {
            return Err(fault(concat_field, format!("`{name}` is listed twice")));
        }
    }
    Ok(())
}
