//! `kdnas inspect`: a summary of a search space (cells, nodes, edges, choices, parameters per op, and
//! the size of the search network), plus its DOT drawing.

use crate::error::{KdnasError, Result};
use crate::models::cell_network::check_cells_present;
use crate::models::{NetworkConfig, NetworkSize};
use crate::ops::conv2d::OpMode;
use crate::space::{ArchGraph, Catalogue, NodeRole, cell_kind};
use crate::supernet::cost::CostTable;
use crate::supernet::op_latency::op_latencies;
use std::fmt::Write;

/// Batch size of the memory estimate in the report (DARTS's search batch).
const INSPECT_BATCH: usize = 64;

/// The inspection report of `space` for a search network of `network` on `in_channels` x
/// `image_side` x `image_side` images and `classes` outputs; for a `causal1d` space, the cost table of
/// its ops at `network.channels` and `sequence_len` positions instead of the image network. The sizes are counted, not allocated,
/// so any size can be inspected; the count equals the built network's (tested).
pub fn inspect_report(
    space: &ArchGraph,
    network: &NetworkConfig,
    in_channels: usize,
    image_side: usize,
    classes: usize,
    sequence_len: usize,
    latency: bool,
) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "space `{}` (catalogue {}): {} cell templates, {} choice groups, {} choices",
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
    if space.catalogue == Catalogue::CAUSAL1D {
        write_sequence_costs(&mut out, space, network.channels, sequence_len, latency)?;
        return Ok(out);
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

/// The cost table of a `causal1d` space: per op its trainable parameters (search / derived), its
/// multiply-adds per sequence of `len` positions, the normalised cost of the cost-sensitive loss and,
/// with `latency`, its measured forward time on this CPU at batch [`INSPECT_BATCH`].
fn write_sequence_costs(out: &mut String, space: &ArchGraph, channels: usize, len: usize, latency: bool) -> Result<()> {
    let overflow = || KdnasError::Usage(format!("--channels {channels}: the op costs overflow"));
    let costs = CostTable::from_params(space, channels)?;
    let times = match latency {
        true => Some(op_latencies::<burn::backend::Flex>(space, channels, INSPECT_BATCH, len, &Default::default())?),
        false => None,
    };
    let _ = writeln!(out, "op costs at C={channels}, {len} positions (cost = parameters / the largest op's):");
    let ms_header = if latency { format!("ms (batch {INSPECT_BATCH})") } else { String::new() };
    let _ = writeln!(
        out,
        "  {:<14} {:>12} {:>12} {:>14} {:>6} {ms_header:>14}",
        "op", "params", "(derived)", "mult-adds", "cost"
    );
    for (g, (group, group_costs)) in space.groups.iter().zip(&costs.groups).enumerate() {
        for (c, (op, cost)) in group.candidates.iter().zip(group_costs).enumerate() {
            let params = |affine| space.catalogue.param_count(op, channels, 1, affine).ok_or_else(overflow);
            let flops = space.catalogue.flops(op, channels, 1, len).ok_or_else(overflow)?;
            let ms = times.as_ref().map_or(String::new(), |t| format!("{:.3}", t[g][c]));
            let _ = writeln!(
                out,
                "  {op:<14} {:>12} {:>12} {flops:>14} {cost:>6.3} {ms:>14}",
                params(false)?,
                params(true)?
            );
        }
    }
    Ok(())
}
