//! The size of a cell network before it is built: its exact parameter count and a lower bound of the
//! memory one training step needs, so that an oversized network is refused with the estimate instead
//! of aborting inside an allocation (or overflowing a size computation).

use super::cell_network::NetworkConfig;
use crate::error::{KdnasError, Result};
use crate::ops::conv2d::OpMode;
use crate::space::{ArchGraph, ZERO_OP};

/// What a [`CellNetwork`](super::cell_network::CellNetwork) of a given configuration holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkSize {
    /// Trainable parameters (the count [`trainable_params`](crate::metrics::trainable_params) reports once built).
    pub params: u128,
    /// Floats of the forward activations of one example (cell inputs after preprocessing, every op
    /// output, every node): a lower bound of what autodiff keeps for the backward pass.
    pub activations_per_example: u128,
}

/// Bytes per stored float.
const FLOAT_BYTES: u128 = 4;

/// A training step keeps at least the weights, their gradients and one optimiser buffer.
const PARAM_COPIES: u128 = 3;

impl NetworkSize {
    /// Counts the network of `arch` under `cfg` for `in_channels` x `side` x `side` images and
    /// `classes` outputs. `None` when a count does not fit in 128 bits (absurd sizes).
    pub fn of(
        arch: &ArchGraph,
        cfg: &NetworkConfig,
        in_channels: usize,
        classes: usize,
        side: usize,
        mode: OpMode,
    ) -> Option<Self> {
        let n = |v: usize| v as u128;
        let affine = mode.affine();
        let bn = |c: u128| if affine { c.checked_mul(2) } else { Some(0) };
        let c_stem = n(cfg.stem_multiplier).checked_mul(n(cfg.channels))?;
        let mut params = c_stem.checked_mul(n(in_channels) * 9)?.checked_add(c_stem.checked_mul(2)?)?;
        let mut acts: u128 = 0;
        let mut res = side;
        let (mut prev_prev, mut prev, mut node) = (c_stem, c_stem, n(cfg.channels));
        let reductions = cfg.reductions();
        for layer in 0..cfg.layers {
            let reduction = reductions.contains(&layer);
            let cell = arch.cell_by_reduction(reduction)?;
            let input_area = n(res).checked_mul(n(res))?;
            if reduction {
                node = node.checked_mul(2)?;
                res = res.div_ceil(2);
            }
            let area = n(res).checked_mul(n(res))?;
            let preprocess = prev_prev.checked_add(prev)?.checked_mul(node)?.checked_add(bn(node)?.checked_mul(2)?)?;
            params = params.checked_add(preprocess)?;
            let mut outputs = 2u128.checked_mul(node)?.checked_mul(input_area)?;
            for e in cell.graph.edge_indices() {
                let spec = &cell.graph[e];
                for op in spec.ops.iter().filter(|op| *op != ZERO_OP) {
                    let c = usize::try_from(node).ok()?;
                    let op_params = arch.catalogue.param_count(op, c, spec.stride, affine)?;
                    params = params.checked_add(n(op_params))?;
                    outputs = outputs.checked_add(node.checked_mul(area)?)?;
                }
            }
            outputs = outputs.checked_add(n(cell.order.len()).checked_mul(node)?.checked_mul(area)?)?;
            acts = acts.checked_add(outputs)?;
            (prev_prev, prev) = (prev, n(cell.concat.len()).checked_mul(node)?);
        }
        params = params.checked_add(n(classes).checked_mul(prev.checked_add(1)?)?)?;
        Some(Self { params, activations_per_example: acts })
    }

    /// Lower bound of the bytes one training step with batches of `batch` examples needs.
    pub fn step_bytes(&self, batch: usize) -> Option<u128> {
        let weights = self.params.checked_mul(PARAM_COPIES * FLOAT_BYTES)?;
        weights.checked_add(self.activations_per_example.checked_mul(batch as u128)?.checked_mul(FLOAT_BYTES)?)
    }
}

/// Refuses a network (described by `what`, e.g. `network.channels = 100000, layers = 5`) whose
/// training step would need more memory than the machine has, or whose size does not even fit a
/// 128-bit count; `size` is `None` in that case.
pub fn ensure_fits(size: Option<NetworkSize>, batch: usize, what: &str) -> Result<()> {
    let too_big = |detail: String| Err(KdnasError::Usage(format!("{what}: the network is too large: {detail}")));
    let Some(size) = size else {
        return too_big("its size overflows a 128-bit count".into());
    };
    let Some(needed) = size.step_bytes(batch) else {
        return too_big(format!("{} parameters; its memory overflows a 128-bit count", size.params));
    };
    let Some(total) = crate::memory::total_memory_bytes() else { return Ok(()) };
    if needed > total as u128 {
        return too_big(format!(
            "{} parameters; a training step with batch {batch} needs at least {} (weights, gradients and momentum {}, activations {}), this machine has {}",
            size.params,
            gib(needed),
            gib(size.params * PARAM_COPIES * FLOAT_BYTES),
            gib(needed - size.params * PARAM_COPIES * FLOAT_BYTES),
            gib(total as u128)
        ));
    }
    Ok(())
}

/// `bytes` in GiB with one decimal.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u128 << 30) as f64)
}
