//! The cost-sensitive loss of AdaRec (spec/adarec.md, L_E): every op choice's candidates carry a cost,
//! and the loss is the cost expected under the current op weights, summed over every choice row:
//! `L_E = sum_rows sum_o y_o * cost_o`. Rows are counted once per template (shared weights), as in
//! AdaRec's code.

use super::relaxation::ArchWeights;
use crate::error::{KdnasError, Result};
use crate::space::{ArchGraph, ChoiceKind};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

/// Normalised cost of every candidate of every choice group (`groups[g][candidate]`; 0 for the
/// candidates of input choices, which build nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTable {
    /// Per group, one cost per candidate column.
    pub groups: Vec<Vec<f64>>,
}

impl CostTable {
    /// Costs from each candidate's real trainable-parameter count at `channels` (stride 1, search-mode
    /// ops), divided by the largest count among the space's op candidates, so the costliest op costs 1
    /// and parameter-free ops (pools, skip, none) cost 0. Fails when no candidate has parameters.
    pub fn from_params(arch: &ArchGraph, channels: usize) -> Result<Self> {
        let count = |op: &str| {
            arch.catalogue.param_count(op, channels, 1, false).map(|n| n as f64).ok_or_else(|| {
                KdnasError::Usage(format!("the parameter count of `{op}` at {channels} channels overflows"))
            })
        };
        let mut raw = Vec::with_capacity(arch.groups.len());
        for group in &arch.groups {
            raw.push(match group.kind {
                ChoiceKind::Op => group.candidates.iter().map(|op| count(op)).collect::<Result<Vec<_>>>()?,
                ChoiceKind::Input => vec![0.0; group.candidates.len()],
            });
        }
        Self::normalised(arch, raw)
    }

    /// `raw` (per group, one non-negative value per candidate) divided by its largest value; fails when
    /// every value is 0 (the costs could not tell the candidates apart).
    pub fn normalised(arch: &ArchGraph, raw: Vec<Vec<f64>>) -> Result<Self> {
        let largest = raw.iter().flatten().copied().fold(0.0, f64::max);
        if largest <= 0.0 {
            return Err(KdnasError::Usage(format!(
                "space `{}`: every candidate op costs 0, so the cost cannot tell them apart",
                arch.name
            )));
        }
        Ok(Self { groups: raw.into_iter().map(|g| g.into_iter().map(|v| v / largest).collect()).collect() })
    }

    /// Costs looked up by op name in `table` as they are (not normalised): a fixed table such as
    /// AdaRec's. Fails naming the first op candidate the table lacks.
    pub fn from_named(arch: &ArchGraph, table: &[(&str, f64)], table_name: &str) -> Result<Self> {
        let lookup = |op: &str| {
            table.iter().find(|(name, _)| *name == op).map(|&(_, cost)| cost).ok_or_else(|| {
                KdnasError::Usage(format!("space `{}`: the {table_name} cost table has no cost for `{op}`", arch.name))
            })
        };
        let groups = arch
            .groups
            .iter()
            .map(|group| match group.kind {
                ChoiceKind::Op => group.candidates.iter().map(|op| lookup(op)).collect::<Result<Vec<_>>>(),
                ChoiceKind::Input => Ok(vec![0.0; group.candidates.len()]),
            })
            .collect::<Result<_>>()?;
        Ok(Self { groups })
    }

    /// `sum_g sum_rows sum_o weights[g][row, o] * cost[g][o]`, as `[1]` (gradient to the weights).
    pub fn expected<B: Backend>(&self, weights: &ArchWeights<B>) -> Tensor<B, 1> {
        let device = weights.groups.first().map(|g| g.device()).unwrap_or_default();
        let mut total = Tensor::<B, 1>::zeros([1], &device);
        for (w, costs) in weights.groups.iter().zip(&self.groups) {
            let cost = Tensor::<B, 1>::from_data(
                TensorData::new(costs.iter().map(|&c| c as f32).collect::<Vec<f32>>(), [costs.len()]),
                &device,
            )
            .unsqueeze::<2>(); // [1, candidates]
            total = total + (w.clone() * cost).sum();
        }
        total
    }
}
