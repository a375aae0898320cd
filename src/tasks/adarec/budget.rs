//! A parameter budget for the searched student (`[adarec] target_params`): the expected trainable
//! parameters of the derived student under the current op weights, and the multiplier that the search
//! raises while that size is over the target (dual ascent on `E[size] / target - 1 <= 0`).

use crate::error::{KdnasError, Result};
use crate::space::{ArchGraph, ChoiceKind, ZERO_OP};
use crate::supernet::ArchWeights;
use crate::supernet::cost::CostTable;
use burn::tensor::{ElementConversion, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// The derived student's size as a function of its op choices:
/// `size = fixed + sum_groups sum_rows sum_o w[row, o] * per_candidate.groups[group][o]` (the choice
/// part is a [`CostTable`] of parameter counts, whose expectation is the cost term's).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamBudget {
    /// Parameters that do not depend on the choices (embedding, output layer, cell combinations, norms).
    pub fixed: f64,
    /// Per group, the parameters one candidate adds to the derived student over all the cells that
    /// share the group's weights (0 for `none` and for input choices).
    pub per_candidate: CostTable,
    /// The target size.
    pub target: f64,
}

/// The multiplier of the budget term and the expected size it last saw (part of the task state).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BudgetState {
    /// Current multiplier (starts at 0: no pressure until the expected size exceeds the target).
    pub multiplier: f64,
    /// Expected parameters at the last loss evaluation.
    pub expected_params: f64,
}

impl ParamBudget {
    /// The budget of a student with `cells` copies of the template of `space`, whose search supernet
    /// (built with `search_affine` normalisation) has `supernet_params` trainable parameters, at width
    /// `dim`; the candidates are counted as the derived student builds them (affine normalisation).
    ///
    /// # Errors
    /// [`KdnasError::Usage`] when a count overflows or the choices would be larger than the supernet.
    pub fn new(
        space: &ArchGraph,
        supernet_params: usize,
        cells: usize,
        dim: usize,
        search_affine: bool,
        target: usize,
    ) -> Result<Self> {
        let count =
            |op: &str, affine: bool| -> Result<f64> {
                if op == ZERO_OP {
                    return Ok(0.0);
                }
                space.catalogue.param_count(op, dim, 1, affine).map(|n| (n * cells) as f64).ok_or_else(|| {
                    KdnasError::Usage(format!("the parameter count of `{op}` at {dim} channels overflows"))
                })
            };
        let mut per_candidate = Vec::with_capacity(space.groups.len());
        let mut in_supernet = 0.0;
        for group in &space.groups {
            let row = match group.kind {
                ChoiceKind::Op => group.candidates.iter().map(|op| count(op, true)).collect::<Result<Vec<_>>>()?,
                ChoiceKind::Input => vec![0.0; group.candidates.len()],
            };
            if group.kind == ChoiceKind::Op {
                let built: f64 = group
                    .candidates
                    .iter()
                    .map(|op| count(op, search_affine))
                    .collect::<Result<Vec<_>>>()?
                    .iter()
                    .sum();
                in_supernet += built * group.row_labels.len() as f64;
            }
            per_candidate.push(row);
        }
        let fixed = supernet_params as f64 - in_supernet;
        if fixed < 0.0 {
            return Err(KdnasError::Usage(format!(
                "space `{}`: its ops count {in_supernet} parameters, more than the supernet's {supernet_params}",
                space.name
            )));
        }
        Ok(Self { fixed, per_candidate: CostTable { groups: per_candidate }, target: target as f64 })
    }

    /// The expected size under `weights`, `[1]` (differentiable in the weights).
    pub fn expected<B: Backend>(&self, weights: &ArchWeights<B>) -> Tensor<B, 1> {
        self.per_candidate.expected(weights).add_scalar(self.fixed)
    }

    /// The budget term `multiplier * E[size] / target` (`[1]`), and the state after the multiplier's
    /// dual-ascent step `multiplier += rate * (E[size] / target - 1)`, kept at 0 or above.
    pub fn term<B: Backend>(
        &self,
        weights: &ArchWeights<B>,
        state: BudgetState,
        rate: f64,
    ) -> (Tensor<B, 1>, BudgetState) {
        let expected = self.expected(weights);
        let size: f64 = expected.clone().into_scalar().elem();
        let term = expected.div_scalar(self.target).mul_scalar(state.multiplier);
        let multiplier = (state.multiplier + rate * (size / self.target - 1.0)).max(0.0);
        (term, BudgetState { multiplier, expected_params: size })
    }
}

#[cfg(test)]
mod tests {
    use super::{BudgetState, ParamBudget};
    use crate::supernet::ArchWeights;
    use crate::supernet::cost::CostTable;
    use burn::backend::Flex;
    use burn::tensor::{ElementConversion, Tensor};

    fn budget() -> ParamBudget {
        ParamBudget { fixed: 100.0, per_candidate: CostTable { groups: vec![vec![0.0, 50.0, 200.0]] }, target: 200.0 }
    }

    fn weights(row: [f32; 3]) -> ArchWeights<Flex> {
        ArchWeights { groups: vec![Tensor::<Flex, 2>::from_floats([row], &Default::default())], selected: None }
    }

    #[test]
    fn expected_size_is_the_weighted_candidate_sizes_plus_the_fixed_part() {
        let got: f32 = budget().expected(&weights([0.5, 0.25, 0.25])).into_scalar().elem();
        assert_eq!(got, 100.0 + 12.5 + 50.0);
    }

    #[test]
    fn the_multiplier_rises_over_the_target_and_falls_to_zero_under_it() {
        let over = weights([0.0, 0.0, 1.0]); // 300 of 200: relative excess 0.5
        let (term, state) = budget().term(&over, BudgetState { multiplier: 2.0, expected_params: 0.0 }, 0.1);
        let term: f32 = term.into_scalar().elem();
        assert_eq!(term, 2.0 * 300.0 / 200.0);
        assert!((state.multiplier - 2.05).abs() < 1e-12 && state.expected_params == 300.0, "{state:?}");
        let under = weights([1.0, 0.0, 0.0]); // 100 of 200: relative excess -0.5
        let (_, state) = budget().term(&under, BudgetState { multiplier: 0.02, expected_params: 0.0 }, 0.1);
        assert_eq!(state.multiplier, 0.0, "never below 0");
    }
}
