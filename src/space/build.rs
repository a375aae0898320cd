//! Validation: turns a parsed space file into an [`ArchGraph`], rejecting anything inconsistent with an
//! error that names the file, line and field.

use super::file::{CellFile, ChoiceFile, MixFile, NodeFile, OpsRef, SpaceFile};
use super::graph::{
    ArchGraph, CellGraph, ChoiceGroup, ChoiceKind, ChoiceSlot, EdgeSpec, NodeRole, NodeSpec, cell_kind,
};
use super::locate::Source;
use crate::error::Result;
use crate::ops::catalogue::{Catalogue, ZERO_OP};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use toml::Spanned;

/// Validates a parsed space file into an [`ArchGraph`].
pub fn build_arch_graph(file: &SpaceFile, src: &Source) -> Result<ArchGraph> {
    let catalogue = resolve_catalogue(file, src)?;
    for (set, ops) in &file.op_sets {
        let located: Vec<(String, Range<usize>)> =
            ops.get_ref().iter().map(|o| (o.get_ref().clone(), o.span())).collect();
        check_ops(&located, ops.span(), catalogue, src, &format!("op_sets.{set}"))?;
    }
    if file.cell.is_empty() && file.choice.is_empty() {
        return Err(src.error(0..0, "cell", "the space defines no `[[cell]]` and no `[[choice]]`"));
    }
    let mut groups = GroupTable::default();
    let mut cells: Vec<CellGraph> = Vec::new();
    for (ci, cell) in file.cell.iter().enumerate() {
        let field = format!("cell[{ci}]");
        if cells.iter().any(|c| c.name == *cell.name.get_ref()) {
            return Err(src.error(
                cell.name.span(),
                format!("{field}.name"),
                format!("duplicate cell `{}`", cell.name.get_ref()),
            ));
        }
        if let Some(same) = cells.iter().find(|c| c.reduction == cell.reduction) {
            let kind = cell_kind(cell.reduction);
            return Err(src.error(
                cell.name.span(),
                format!("{field}.name"),
                format!(
                    "`{}` is a second {kind} cell after `{}`: a {catalogue} cell network uses its one {kind} cell for every {kind} layer",
                    cell.name.get_ref(),
                    same.name
                ),
            ));
        }
        cells.push(build_cell(file, cell, catalogue, src, &field, &mut groups)?);
    }
    for (i, choice) in file.choice.iter().enumerate() {
        add_plain_choice(choice, src, &format!("choice[{i}]"), &mut groups)?;
    }
    Ok(ArchGraph { name: file.name.clone(), catalogue, cells, groups: groups.groups })
}

/// The catalogue a file names; a file without one may only declare plain choices (`features`).
fn resolve_catalogue(file: &SpaceFile, src: &Source) -> Result<Catalogue> {
    let Some(name) = &file.catalogue else {
        return match file.cell.first() {
            Some(cell) => Err(src.error(
                cell.name.span(),
                "catalogue",
                format!(
                    "cells need an op catalogue: add `catalogue = \"conv2d\"` (known: {})",
                    Catalogue::known_names().join(", ")
                ),
            )),
            None => Ok(Catalogue::FEATURES),
        };
    };
    Catalogue::from_name(name.get_ref()).ok_or_else(|| {
        src.error(
            name.span(),
            "catalogue",
            format!("unknown catalogue `{}` (known: {})", name.get_ref(), Catalogue::known_names().join(", ")),
        )
    })
}

/// Adds a plain `[[choice]]` as a one-row input-choice group keyed by its name.
fn add_plain_choice(choice: &ChoiceFile, src: &Source, field: &str, groups: &mut GroupTable) -> Result<()> {
    let name = choice.name.get_ref();
    if groups.groups.iter().any(|g| g.key == *name) {
        return Err(src.error(choice.name.span(), format!("{field}.name"), format!("duplicate choice `{name}`")));
    }
    let candidates = choice.candidates.get_ref();
    if candidates.len() < 2 {
        return Err(src.error(
            choice.candidates.span(),
            format!("{field}.candidates"),
            format!("a choice needs at least 2 candidates; `{name}` has {}", candidates.len()),
        ));
    }
    let names: Vec<String> = candidates.iter().map(|c| c.get_ref().clone()).collect();
    for (i, candidate) in candidates.iter().enumerate() {
        if names[..i].contains(candidate.get_ref()) {
            return Err(src.error(
                candidate.span(),
                format!("{field}.candidates[{i}]"),
                format!("candidate `{}` listed twice", candidate.get_ref()),
            ));
        }
    }
    groups.slot(name, ChoiceKind::Input, &names, name.clone());
    Ok(())
}

/// Choice groups under construction, keyed by (sharing key, kind, candidates).
#[derive(Default)]
struct GroupTable {
    groups: Vec<ChoiceGroup>,
    index: HashMap<(String, ChoiceKind, Vec<String>), usize>,
}

impl GroupTable {
    /// The slot of the choice labelled `label`; cells with the same key and label share it.
    fn slot(&mut self, key: &str, kind: ChoiceKind, candidates: &[String], label: String) -> ChoiceSlot {
        let map_key = (key.to_string(), kind, candidates.to_vec());
        let groups = &mut self.groups;
        let group = *self.index.entry(map_key).or_insert_with(|| {
            groups.push(ChoiceGroup {
                key: key.to_string(),
                kind,
                candidates: candidates.to_vec(),
                row_labels: vec![],
            });
            groups.len() - 1
        });
        let rows = &mut self.groups[group].row_labels;
        let row = rows.iter().position(|l| *l == label).unwrap_or_else(|| {
            rows.push(label);
            rows.len() - 1
        });
        ChoiceSlot { group, row }
    }
}

/// Checks that every op of a list (names with their source spans; `list_span` locates the list
/// itself) exists in the catalogue and appears once.
fn check_ops(
    ops: &[(String, Range<usize>)],
    list_span: Range<usize>,
    catalogue: Catalogue,
    src: &Source,
    field: &str,
) -> Result<()> {
    let Some((_, first_span)) = ops.first() else {
        return Err(src.error(list_span, field, "empty op list"));
    };
    for (i, (op, span)) in ops.iter().enumerate() {
        if !catalogue.contains(op) {
            return Err(src.error(
                span.clone(),
                format!("{field}[{i}]"),
                format!("unknown op `{op}` (catalogue {catalogue} has: {})", catalogue.ops().join(", ")),
            ));
        }
        if ops[..i].iter().any(|(o, _)| o == op) {
            return Err(src.error(span.clone(), format!("{field}[{i}]"), format!("op `{op}` listed twice")));
        }
    }
    if ops.iter().all(|(o, _)| o == ZERO_OP) {
        return Err(src.error(first_span.clone(), field, "an edge needs at least one op other than `none`"));
    }
    Ok(())
}

/// Resolves an op reference (set name or list) into op names.
fn resolve_ops(
    file: &SpaceFile,
    ops: &Spanned<OpsRef>,
    catalogue: Catalogue,
    src: &Source,
    field: &str,
) -> Result<Vec<String>> {
    match ops.get_ref() {
        OpsRef::Set(name) => {
            file.op_sets.get(name).map(|set| set.get_ref().iter().map(|o| o.get_ref().clone()).collect()).ok_or_else(
                || {
                    let known: Vec<&String> = file.op_sets.keys().collect();
                    src.error(ops.span(), field, format!("unknown op set `{name}` (defined: {known:?})"))
                },
            )
        }
        OpsRef::List(list) => {
            let located: Vec<(String, Range<usize>)> = list.iter().map(|o| (o.clone(), ops.span())).collect();
            check_ops(&located, ops.span(), catalogue, src, field)?;
            Ok(list.clone())
        }
    }
}

/// One edge as declared: source name (with span), ops, and the field path for errors.
struct DeclaredEdge {
    from: String,
    span: Range<usize>,
    ops: Vec<String>,
    field: String,
}

/// The edges a node declares through `from` + `ops` and through `[[edge]]` entries.
fn declared_edges(
    file: &SpaceFile,
    node: &NodeFile,
    catalogue: Catalogue,
    src: &Source,
    field: &str,
) -> Result<Vec<DeclaredEdge>> {
    let mut edges = Vec::new();
    if let (true, Some(ops)) = (node.from.is_empty(), &node.ops) {
        return Err(src.error(
            ops.span(),
            format!("{field}.ops"),
            "`ops` applies to the edges listed in `from`, and `from` is empty; give the ops inside each `[[cell.node.edge]]` or list the sources in `from`",
        ));
    }
    if !node.from.is_empty() {
        let ops = node.ops.as_ref().ok_or_else(|| {
            src.error(node.name.span(), format!("{field}.ops"), "`from` is given but `ops` is missing")
        })?;
        let ops = resolve_ops(file, ops, catalogue, src, &format!("{field}.ops"))?;
        for (i, from) in node.from.iter().enumerate() {
            edges.push(DeclaredEdge {
                from: from.get_ref().clone(),
                span: from.span(),
                ops: ops.clone(),
                field: format!("{field}.from[{i}]"),
            });
        }
    }
    for (i, edge) in node.edge.iter().enumerate() {
        let edge_field = format!("{field}.edge[{i}]");
        let ops = resolve_ops(file, &edge.ops, catalogue, src, &format!("{edge_field}.ops"))?;
        edges.push(DeclaredEdge {
            from: edge.from.get_ref().clone(),
            span: edge.from.span(),
            ops,
            field: format!("{edge_field}.from"),
        });
    }
    if edges.is_empty() {
        return Err(src.error(
            node.name.span(),
            format!("{field}.from"),
            format!("node `{}` has no incoming edges", node.name.get_ref()),
        ));
    }
    for (i, e) in edges.iter().enumerate() {
        if edges[..i].iter().any(|p| p.from == e.from) {
            return Err(src.error(e.span.clone(), e.field.clone(), format!("duplicate edge from `{}`", e.from)));
        }
    }
    Ok(edges)
}

/// Builds and validates one cell template.
fn build_cell(
    file: &SpaceFile,
    cell: &CellFile,
    catalogue: Catalogue,
    src: &Source,
    field: &str,
    groups: &mut GroupTable,
) -> Result<CellGraph> {
    let name = cell.name.get_ref().clone();
    let share = cell.share.clone().unwrap_or_else(|| name.clone());
    let Some(rule) = catalogue.cells() else {
        return Err(src.error(
            cell.name.span(),
            format!("{field}.name"),
            format!("cell `{name}`: the {catalogue} catalogue has no cells, only plain `[[choice]]` groups"),
        ));
    };
    if cell.reduction && !rule.reductions {
        return Err(src.error(
            cell.name.span(),
            format!("{field}.reduction"),
            format!("cell `{name}`: {catalogue} ops never shorten their input, so a cell cannot be a reduction"),
        ));
    }
    if cell.inputs.get_ref().len() != rule.inputs {
        return Err(src.error(
            cell.inputs.span(),
            format!("{field}.inputs"),
            format!(
                "{catalogue} cells take {}: expected {} inputs, found {}",
                rule.input_sources,
                rule.inputs,
                cell.inputs.get_ref().len()
            ),
        ));
    }
    let mut graph: DiGraph<NodeSpec, EdgeSpec> = DiGraph::new();
    let mut by_name: BTreeMap<String, NodeIndex> = BTreeMap::new();
    let mut inputs = Vec::new();
    for (i, input) in cell.inputs.get_ref().iter().enumerate() {
        if by_name.contains_key(input.get_ref()) {
            return Err(src.error(
                input.span(),
                format!("{field}.inputs[{i}]"),
                format!("duplicate node `{}`", input.get_ref()),
            ));
        }
        let idx = graph.add_node(NodeSpec {
            name: input.get_ref().clone(),
            role: NodeRole::Input,
            keep: None,
            input_choice: None,
        });
        by_name.insert(input.get_ref().clone(), idx);
        inputs.push(idx);
    }
    if cell.node.is_empty() {
        return Err(src.error(
            cell.name.span(),
            format!("{field}.node"),
            format!("cell `{name}` has no intermediate nodes"),
        ));
    }
    for (ni, node) in cell.node.iter().enumerate() {
        if by_name.contains_key(node.name.get_ref()) {
            return Err(src.error(
                node.name.span(),
                format!("{field}.node[{ni}].name"),
                format!("duplicate node `{}`", node.name.get_ref()),
            ));
        }
        let idx = graph.add_node(NodeSpec {
            name: node.name.get_ref().clone(),
            role: NodeRole::Intermediate,
            keep: None,
            input_choice: None,
        });
        by_name.insert(node.name.get_ref().clone(), idx);
    }
    for (ni, node) in cell.node.iter().enumerate() {
        let node_field = format!("{field}.node[{ni}]");
        let dst = by_name[node.name.get_ref()];
        let edges = declared_edges(file, node, catalogue, src, &node_field)?;
        for e in &edges {
            let Some(&from) = by_name.get(&e.from) else {
                return Err(src.error(
                    e.span.clone(),
                    e.field.clone(),
                    format!("`{}` is not a node of cell `{name}`", e.from),
                ));
            };
            let from_input = graph[from].role == NodeRole::Input;
            let label = format!("{}<-{}", node.name.get_ref(), e.from);
            let choice = (e.ops.len() > 1).then(|| groups.slot(&share, ChoiceKind::Op, &e.ops, label));
            let stride = if cell.reduction && from_input { 2 } else { 1 };
            graph.add_edge(from, dst, EdgeSpec { ops: e.ops.clone(), choice, stride });
        }
        if let Some(keep) = &node.keep {
            let k = *keep.get_ref();
            if k == 0 || k > edges.len() {
                return Err(src.error(
                    keep.span(),
                    format!("{node_field}.keep"),
                    format!("keep = {k} but node `{}` has {} incoming edges", node.name.get_ref(), edges.len()),
                ));
            }
            graph[dst].keep = Some(k);
        }
        if node.mix == MixFile::Weighted {
            if edges.len() < 2 {
                return Err(src.error(
                    node.name.span(),
                    format!("{node_field}.mix"),
                    format!(
                        "a weighted input choice needs at least 2 incoming edges; node `{}` has {}",
                        node.name.get_ref(),
                        edges.len()
                    ),
                ));
            }
            let sources: Vec<String> = edges.iter().map(|e| e.from.clone()).collect();
            graph[dst].input_choice =
                Some(groups.slot(&share, ChoiceKind::Input, &sources, node.name.get_ref().clone()));
        }
    }
    petgraph::algo::toposort(&graph, None).map_err(|cycle| {
        let node = &graph[cycle.node_id()].name;
        let (ni, n) =
            cell.node.iter().enumerate().find(|(_, n)| n.name.get_ref() == node).expect("cycle node is intermediate");
        src.error(
            n.name.span(),
            format!("{field}.node[{ni}].from"),
            format!("cycle through node `{node}` in cell `{name}`"),
        )
    })?;
    let order = stable_topological_order(&graph);
    let concat = match &cell.concat {
        None => order.clone(),
        Some(list) => {
            let mut concat = Vec::new();
            for (i, n) in list.iter().enumerate() {
                match by_name.get(n.get_ref()) {
                    Some(&idx) if graph[idx].role == NodeRole::Intermediate && !concat.contains(&idx) => {
                        concat.push(idx)
                    }
                    _ => {
                        return Err(src.error(
                            n.span(),
                            format!("{field}.concat[{i}]"),
                            format!(
                                "`{}` is not an intermediate node of cell `{name}` (or is listed twice)",
                                n.get_ref()
                            ),
                        ));
                    }
                }
            }
            concat
        }
    };
    for (ni, node) in cell.node.iter().enumerate() {
        let idx = by_name[node.name.get_ref()];
        let used = concat.contains(&idx) || graph.edges_directed(idx, petgraph::Direction::Outgoing).next().is_some();
        if !used {
            return Err(src.error(
                node.name.span(),
                format!("{field}.node[{ni}]"),
                format!("node `{}` is neither concatenated nor used by another node", node.name.get_ref()),
            ));
        }
    }
    Ok(CellGraph { name, share, reduction: cell.reduction, graph, inputs, order, concat })
}

/// Intermediate nodes in a topological order that keeps file order wherever the edges allow
/// (Kahn's algorithm, always taking the earliest ready node). The graph must be acyclic.
fn stable_topological_order(graph: &DiGraph<NodeSpec, EdgeSpec>) -> Vec<NodeIndex> {
    let mut done: Vec<NodeIndex> = graph.node_indices().filter(|&n| graph[n].role == NodeRole::Input).collect();
    let mut order = Vec::new();
    while done.len() < graph.node_count() {
        let ready = graph
            .node_indices()
            .find(|n| {
                !done.contains(n)
                    && graph.neighbors_directed(*n, petgraph::Direction::Incoming).all(|p| done.contains(&p))
            })
            .expect("acyclic graph always has a ready node");
        done.push(ready);
        order.push(ready);
    }
    order
}
