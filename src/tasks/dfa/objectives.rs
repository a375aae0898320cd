//! Stage-2 objectives of image distillation: the `[[objective]]` language (`distill::objective`) bound
//! to a student's and a teacher's logits and stage features. The aggregation objective's fixed weights
//! are DFA's searched softmax(beta) or the Last / Average / Random ablations.

pub use crate::distill::objective::{AggregationWeights, Objective};
use crate::distill::{Distance, attention_loss, kd_loss};
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::models::{StageShape, TapPoint};
use crate::validate::field_error;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::path::Path;

/// Which features of the two networks an objective reads (image distillation's taps).
impl Objective {
    /// Which features of both networks the term reads; `None` for the logit terms.
    pub fn taps(&self) -> Option<TapPoint> {
        match self {
            Objective::CrossEntropy { .. } | Objective::Kd { .. } | Objective::Rkd { .. } => None,
            Objective::Fitnet { .. } | Objective::Attention { .. } => Some(TapPoint::Block),
            Objective::Overhaul { .. } => Some(TapPoint::PreActivation),
            Objective::Aggregation { distance, .. } => Some(distance.taps()),
        }
    }
}

/// Applies an objective to tensors: the weighted loss terms of stage 2.
pub mod apply {
    use super::*;
    use crate::supernet::weighted_sum;
    use burn::tensor::{Tensor, backend::Backend};

    /// Hinton KD on logits, `[n, classes]` each, as `[1]`.
    pub fn kd<B: Backend>(student: Tensor<B, 2>, teacher: Tensor<B, 2>, temperature: f64) -> Tensor<B, 1> {
        kd_loss(student, teacher.detach(), temperature)
    }

    /// Attention transfer summed over stages.
    pub fn attention<B: Backend>(student: &[Tensor<B, 4>], teacher: &[Tensor<B, 4>], p: f64) -> Tensor<B, 1> {
        sum(student.iter().zip(teacher).map(|(s, t)| attention_loss(s.clone(), t.clone(), p)))
    }

    /// `d` over positions ([`Distance::over_positions`]; `margins` only for the overhaul distance).
    pub fn features<B: Backend>(
        connected: &[Tensor<B, 4>],
        targets: &[Tensor<B, 4>],
        margins: &[Tensor<B, 1>],
        distance: Distance,
    ) -> Tensor<B, 1> {
        distance.over_positions(connected, targets, margins)
    }

    /// A_i = sum_j w_ij T_i^j for every stage with host weights `w[i][j]`: the aggregation targets
    /// (`D = 4`, `[n, c_i, h_i, w_i]` each) or their margins (`D = 1`, `[c_i]` each).
    pub fn fixed_aggregates<B: Backend, const D: usize>(
        stages: &[Vec<Tensor<B, D>>],
        weights: &[Vec<f32>],
    ) -> Vec<Tensor<B, D>> {
        stages
            .iter()
            .zip(weights)
            .map(|(blocks, w)| {
                let device = blocks[0].device();
                weighted_sum(blocks.iter().cloned(), Tensor::from_floats(w.as_slice(), &device))
            })
            .collect()
    }

    fn sum<B: Backend>(terms: impl Iterator<Item = Tensor<B, 1>>) -> Tensor<B, 1> {
        terms.reduce(|a, b| a + b).expect("a model has stages")
    }
}

/// The tap point of a run's feature objectives (`None` when it has only logit terms); `objectives[i]`
/// is named in the error when two of them read different tap points.
pub fn feature_taps(objectives: &[Objective]) -> Result<Option<TapPoint>> {
    let mut found: Option<(usize, TapPoint)> = None;
    for (i, objective) in objectives.iter().enumerate() {
        match (objective.taps(), found) {
            (Some(taps), None) => found = Some((i, taps)),
            (Some(taps), Some((first, seen))) if taps != seen => {
                return Err(field_error(
                    &format!("objective[{i}]"),
                    format!(
                        "`{}` reads {taps:?} taps but objective[{first}] (`{}`) reads {seen:?} taps: one run distils one kind of feature",
                        objective.name(),
                        objectives[first].name()
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(found.map(|(_, taps)| taps))
}

/// The per-stage weights `[stage][block]` of an aggregation objective for a teacher of `stages`.
/// `field` (`objective[i]`) names the objective in errors.
pub fn aggregation_weights(
    weights: &AggregationWeights,
    search: Option<&Path>,
    seed: u64,
    stages: &[StageShape],
    field: &str,
) -> Result<Vec<Vec<f32>>> {
    Ok(match weights {
        AggregationWeights::Last => {
            stages.iter().map(|s| (0..s.blocks).map(|j| if j + 1 == s.blocks { 1.0 } else { 0.0 }).collect()).collect()
        }
        AggregationWeights::Average => stages.iter().map(|s| vec![1.0 / s.blocks as f32; s.blocks]).collect(),
        AggregationWeights::Random => {
            let mut rng = StdRng::seed_from_u64(seed);
            stages
                .iter()
                .map(|s| {
                    let raw: Vec<f32> = (0..s.blocks).map(|_| rng.random_range(0.0f32..1.0) + 1e-6).collect();
                    let total: f32 = raw.iter().sum();
                    raw.iter().map(|v| v / total).collect()
                })
                .collect()
        }
        AggregationWeights::Searched => {
            let dir = search.ok_or_else(|| field_error(&format!("{field}.search"), "missing"))?;
            searched_weights(&dir.join("genotype.json"), stages, field)?
        }
    })
}

/// softmax(beta) per stage from a DFA search's genotype, checked against the teacher's stages.
fn searched_weights(path: &Path, stages: &[StageShape], field: &str) -> Result<Vec<Vec<f32>>> {
    if !path.is_file() {
        return Err(field_error(
            &format!("{field}.search"),
            format!(
                "{} does not exist: run `kdnas dfa search` first (or point `search` at its run directory)",
                path.display()
            ),
        ));
    }
    let genotype = Genotype::load(path)?;
    let weights: Vec<Vec<f32>> = genotype.choices.iter().map(|c| c.weights.clone()).collect();
    let blocks: Vec<usize> = stages.iter().map(|s| s.blocks).collect();
    let found: Vec<usize> = weights.iter().map(Vec::len).collect();
    if found != blocks {
        return Err(KdnasError::Data {
            path: path.to_path_buf(),
            message: format!(
                "its choices weigh {found:?} blocks per stage, the teacher has {blocks:?}: the search used another teacher"
            ),
        });
    }
    Ok(weights)
}
