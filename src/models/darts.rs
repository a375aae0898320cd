//! A derived DARTS network (a [`CellNetwork`] built from a search run's genotype) as a staged
//! classifier, so it can be a DFA or distillation student: its stages split at the reduction cells
//! and every cell output is a block feature.

use super::{Features, StageShape, StagedClassifier};
use crate::error::{KdnasError, Result};
use crate::models::cell_network::{CellStages, stage_starts};
use crate::models::{CellNetwork, NetworkConfig};
use crate::validate::field_error;
use burn::tensor::{Tensor, backend::Backend};
use std::path::Path;

impl<B: Backend> StagedClassifier<B> for CellNetwork<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        CellNetwork::forward(self, images, None)
    }

    fn forward_features(&self, images: Tensor<B, 4>) -> Features<B> {
        let stages = self.stages();
        let mut features: Vec<Vec<Tensor<B, 4>>> = vec![Vec::new(); stages.starts.len()];
        let s = self.stem(images);
        let (_, last) = self.run_cells(0..stages.cells, (s.clone(), s), None, 0.0, |cell, out| {
            let stage = stages.starts.partition_point(|&start| start <= cell) - 1;
            features[stage].push(out.clone());
        });
        Features { logits: self.classify(last), stages: features }
    }

    /// The cells after `stage` read `feature` as both of their first inputs (the outputs of the two
    /// cells before them, which [`check_stages_bridgeable`] makes the same shape).
    fn forward_from(&self, stage: usize, feature: Tensor<B, 4>) -> Tensor<B, 2> {
        let stages = self.stages();
        assert!(stage < stages.starts.len(), "stage {stage} of a network with {} stages", stages.starts.len());
        let rest = stages.range(stage).end..stages.cells;
        let (_, last) = self.run_cells(rest, (feature.clone(), feature), None, 0.0, |_, _| {});
        self.classify(last)
    }

    fn stage_shapes(&self) -> Vec<StageShape> {
        let stages = self.stages();
        (0..stages.starts.len())
            .map(|i| StageShape {
                channels: stages.channels(i),
                blocks: stages.range(i).len(),
                stride: stages.strides[i],
            })
            .collect()
    }
}

/// Fails unless every stage but the last has at least two cells: the first cell after a stage reads
/// the outputs of the two cells before it, and only then do both have the stage's shape, so that a
/// bridge can feed one stage feature as both. `field` names the network section.
pub fn check_stages_bridgeable(network: &NetworkConfig, field: &str) -> Result<()> {
    let starts = stage_starts(network);
    match starts.windows(2).position(|w| w[1] - w[0] < 2) {
        Some(i) => Err(field_error(
            &format!("{field}.layers"),
            format!(
                "{} cells with reduction cells at {:?} leave stage {i} (cells {}..{}) one cell; a DARTS student \
                 needs at least two cells in every stage but the last (e.g. layers = 8)",
                network.layers,
                network.reductions(),
                starts[i],
                starts[i + 1]
            ),
        )),
        None => Ok(()),
    }
}

/// Fails unless every cell of a stage outputs as many channels as the stage's first (a genotype whose
/// normal and reduction cells concatenate different numbers of nodes would give a stage blocks of
/// two shapes); `genotype` names the file.
pub fn check_stage_channels(stages: &CellStages, genotype: &Path) -> Result<()> {
    for stage in 0..stages.starts.len() {
        let channels = stages.channels(stage);
        if let Some(cell) = stages.range(stage).find(|&cell| stages.cell_channels[cell] != channels) {
            return Err(KdnasError::Usage(format!(
                "student.model.genotype: {}: cell {cell} outputs {} channels, the first cell of its stage {channels}; \
                 a DARTS student needs its normal and reduction cells to concatenate as many nodes",
                genotype.display(),
                stages.cell_channels[cell]
            )));
        }
    }
    Ok(())
}
