//! `kdnas inspect`: a summary of a search space (cells, nodes, edges, choices, parameters per op, and
//! the size of the search network), plus its DOT drawing.

use crate::error::{KdnasError, Result};
use crate::ops::conv2d::OpMode;
use crate::space::{ArchGraph, NodeRole, cell_kind};
use crate::supernet::network::check_cells_present;
use crate::supernet::{NetworkConfig, NetworkSize};
use std::fmt::Write;

/// Batch size of the memory estimate in the report (DARTS's search batch).
const INSPECT_BATCH: usize = 64;

/// The inspection report of `space` for a search network of `network` on `in_channels` x
/// `image_side` x `image_side` images and `classes` outputs. The sizes are counted, not allocated,
/// so any size can be inspected; the count equals the built network's (tested).
pub fn inspect_report(
    space: &ArchGraph,
    network: &NetworkConfig,
    in_channels: usize,
    image_side: usize,
    classes: usize,
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
            cell_kind(cell.reduction),
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
    let count = |op: &str, stride: usize| {
        space.catalogue.param_count(op, network.channels, stride, false).map_or("overflow".into(), |n| n.to_string())
    };
    for op in space.catalogue.ops() {
        let _ = writeln!(out, "  {:<14} {:>8} / {:>8}", op, count(op, 1), count(op, 2));
    }
    let what = format!("--channels {} --layers {}", network.channels, network.layers);
    network.validate("network").map_err(|e| KdnasError::Usage(format!("{what}: {e}")))?;
    check_cells_present(space, network)?;
    let size = NetworkSize::of(space, network, in_channels, classes, image_side, OpMode::Search).ok_or_else(|| {
        KdnasError::Usage(format!("{what}: the network is too large: its size overflows a 128-bit count"))
    })?;
    let _ = writeln!(
        out,
        "search network: C={}, {} cells, reductions at {:?}, {} input channels, {} classes: {} trainable parameters",
        network.channels,
        network.layers,
        network.reductions(),
        in_channels,
        classes,
        size.params
    );
    let step = size
        .step_bytes(INSPECT_BATCH)
        .map_or("more than 2^128 bytes".into(), |b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64));
    let _ = writeln!(
        out,
        "memory of one search training step at batch {INSPECT_BATCH}, {image_side}x{image_side} images: at least {step} (weights, gradients, momentum, forward activations)"
    );
    Ok(out)
}
