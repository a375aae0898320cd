//! `kdnas inspect`: a summary of a search space (cells, nodes, edges, choices, parameters per op, and
//! the size of the search network), plus its DOT drawing.

use crate::error::Result;
use crate::ops::conv2d::OpMode;
use crate::space::{ArchGraph, NodeRole};
use crate::supernet::{CellNetwork, NetworkConfig, trainable_params};
use burn::tensor::backend::Backend;
use std::fmt::Write;

/// The inspection report of `space` for a search network of `network` on `in_channels` x `classes`.
pub fn inspect_report<B: Backend>(
    space: &ArchGraph,
    network: &NetworkConfig,
    in_channels: usize,
    classes: usize,
    device: &B::Device,
) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "space `{}` (catalogue {:?}): {} cell templates, {} choice groups, {} choices",
        space.name,
        space.catalogue,
        space.cells.len(),
        space.groups.len(),
        space.choice_count()
    );
    for cell in &space.cells {
        let inputs = cell.graph.node_indices().filter(|&n| cell.graph[n].role == NodeRole::Input).count();
        let _ = writeln!(
            out,
            "  cell `{}` ({}, share `{}`): {} inputs, {} intermediate nodes, {} edges, concat {}",
            cell.name,
            if cell.reduction { "reduction" } else { "normal" },
            cell.share,
            inputs,
            cell.order.len(),
            cell.graph.edge_count(),
            cell.concat.len()
        );
        for &node in &cell.order {
            let sources: Vec<String> = cell
                .in_edges(node)
                .into_iter()
                .filter_map(|e| cell.graph.edge_endpoints(e))
                .map(|(s, _)| cell.graph[s].name.clone())
                .collect();
            let keep = cell.graph[node].keep.map_or("all".to_string(), |k| k.to_string());
            let _ = writeln!(out, "    {} <- [{}] keep {}", cell.graph[node].name, sources.join(", "), keep);
        }
    }
    for (g, group) in space.groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "  group {g}: key `{}`, {:?} choice, {} rows x {} candidates [{}]",
            group.key,
            group.kind,
            group.rows(),
            group.candidates.len(),
            group.candidates.join(", ")
        );
    }
    let _ = writeln!(out, "parameters per op at C={} (search: non-affine BN; stride 1 / stride 2):", network.channels);
    for op in space.catalogue.ops() {
        let c = network.channels;
        let _ = writeln!(
            out,
            "  {:<14} {:>8} / {:>8}",
            op,
            space.catalogue.param_count(op, c, 1, false),
            space.catalogue.param_count(op, c, 2, false)
        );
    }
    let net = CellNetwork::<B>::new(space, network, in_channels, classes, OpMode::Search, device)?;
    let _ = writeln!(
        out,
        "search network: C={}, {} cells, reductions at {:?}, {} input channels, {} classes: {} trainable parameters",
        network.channels,
        network.layers,
        network.reductions(),
        in_channels,
        classes,
        trainable_params(&net)
    );
    Ok(out)
}
