//! Measured latency of the candidate ops of a `causal1d` space: the optional cost table of AdaRec's
//! cost-sensitive loss ("measured latency as an option"), and the latency column of `kdnas inspect`.

use super::cost::CostTable;
use crate::error::{KdnasError, Result};
use crate::ops::causal1d::Op1d;
use crate::ops::family::{CandidateOp, OpMode};
use crate::space::{ArchGraph, Catalogue, ChoiceKind, ZERO_OP};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;

/// Timed forward passes per op (after one warm-up pass); the median is kept.
const TIMED_PASSES: usize = 7;

/// The median forward time in ms of every candidate of every choice group of the `causal1d` space
/// `space`, built in search mode at `channels` and run on `[batch, channels, time]` random inputs on
/// `device` (`none` and the candidates of input choices: 0).
///
/// # Errors
/// [`KdnasError::Usage`] when the space is not `causal1d`, a size is 0, an op cannot be built, or the
/// device fails to synchronise.
pub fn op_latencies<B: Backend>(
    space: &ArchGraph,
    channels: usize,
    batch: usize,
    time: usize,
    device: &B::Device,
) -> Result<Vec<Vec<f64>>> {
    if space.catalogue != Catalogue::CAUSAL1D {
        return Err(KdnasError::Usage(format!(
            "space `{}`: op latencies are measured for `causal1d` spaces only ({})",
            space.name, space.catalogue
        )));
    }
    if channels == 0 || batch == 0 || time == 0 {
        return Err(KdnasError::Usage(format!(
            "op latency at channels {channels}, batch {batch}, time {time}: sizes must be at least 1"
        )));
    }
    let input = Tensor::<B, 3>::random([batch, channels, time], Distribution::Normal(0.0, 1.0), device); // [batch, channels, time]
    let sync = || B::sync(device).map_err(|e| KdnasError::Usage(format!("device sync failed: {e:?}")));
    let measure = |op: &str| -> Result<f64> {
        if op == ZERO_OP {
            return Ok(0.0);
        }
        let built = Op1d::<B>::build(op, channels, 1, OpMode::Search, device)?;
        let _ = built.forward(input.clone()).into_data();
        let mut times = Vec::with_capacity(TIMED_PASSES);
        for _ in 0..TIMED_PASSES {
            sync()?;
            let started = Instant::now();
            let _ = built.forward(input.clone());
            sync()?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[TIMED_PASSES / 2])
    };
    space
        .groups
        .iter()
        .map(|group| match group.kind {
            ChoiceKind::Op => group.candidates.iter().map(|op| measure(op)).collect(),
            ChoiceKind::Input => Ok(vec![0.0; group.candidates.len()]),
        })
        .collect()
}

impl CostTable {
    /// Costs from measured op latencies ([`op_latencies`]) divided by the slowest candidate's, so the
    /// slowest op costs 1 and `none` 0. Measured on this machine: keep the table with the run
    /// (`costs.json`) so that a resumed run uses the same one.
    pub fn from_latency<B: Backend>(
        space: &ArchGraph,
        channels: usize,
        batch: usize,
        time: usize,
        device: &B::Device,
    ) -> Result<Self> {
        CostTable::normalised(space, op_latencies::<B>(space, channels, batch, time, device)?)
    }
}
