//! A derived DARTS network (a [`CellNetwork`] built from a search run's genotype) as a staged
//! classifier, so it can be a DFA or distillation student: its stages split at the reduction cells
//! and every cell output is a block feature.

use super::{Features, StageShape, StagedClassifier};
use crate::error::Result;
use crate::supernet::network::CellStages;
use crate::supernet::{CellNetwork, NetworkConfig};
use crate::validate::field_error;
use burn::tensor::{Tensor, backend::Backend};

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
        let rest = stages.range(stage).end..stages.cells;
        let (_, last) = self.run_cells(rest, (feature.clone(), feature), None, 0.0, |_, _| {});
        self.classify(last)
    }

    fn stage_shapes(&self) -> Vec<StageShape> {
        let stages = self.stages();
        (0..stages.starts.len())
            .map(|i| StageShape {
                channels: stages.channels[i],
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
    let reductions = network.reductions();
    let mut starts: Vec<usize> = vec![0];
    starts.extend(reductions.iter().copied().filter(|&r| r > 0));
    starts.sort_unstable();
    starts.dedup();
    let stages = CellStages { starts, channels: Vec::new(), strides: Vec::new(), cells: network.layers };
    let count = stages.starts.len();
    match (0..count - 1).find(|&i| stages.range(i).len() < 2) {
        Some(i) => Err(field_error(
            &format!("{field}.layers"),
            format!(
                "{} cells with reduction cells at {reductions:?} leave stage {i} (cells {:?}) one cell; a DARTS \
                 student needs at least two cells in every stage but the last (e.g. layers = 8)",
                network.layers,
                stages.range(i)
            ),
        )),
        None => Ok(()),
    }
}
