//! `CellNetwork`: DARTS's macro network (stem, stacked cells with reductions at 1/3 and 2/3 depth,
//! global pooling, linear classifier). With mixed edges it is the search supernet; built from a derived
//! space it is the discrete network trained from scratch.

use super::cell_network_size::{NetworkSize, ensure_fits};
use crate::error::{KdnasError, Result};
use crate::ops::OpMode;
use crate::ops::conv2d::batch_norm::BatchNorm2d;
use crate::ops::init::uniform_fan_in;
use crate::space::{ArchGraph, cell_kind};
use crate::supernet::ArchWeights;
use crate::supernet::darts_cell::{CellChannels, DartsCell};
use crate::validate::{at_least_one, field_error};
use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// The macro skeleton around the cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Initial node channels C (DARTS search: 16).
    pub channels: usize,
    /// Number of cells (DARTS search: 8).
    pub layers: usize,
    /// Stem width = stem_multiplier * C (DARTS: 3).
    #[serde(default = "default_stem_multiplier")]
    pub stem_multiplier: usize,
    /// Indices of reduction cells; default layers/3 and 2*layers/3.
    #[serde(default)]
    pub reduction_layers: Option<Vec<usize>>,
}

/// The most cells a network may stack (a bound that keeps size estimates and cell loops finite).
pub const MAX_LAYERS: usize = 10_000;

fn default_stem_multiplier() -> usize {
    3
}

impl NetworkConfig {
    /// The reduction-cell indices in force.
    pub fn reductions(&self) -> Vec<usize> {
        self.reduction_layers.clone().unwrap_or_else(|| {
            let mut r = vec![self.layers / 3, 2 * self.layers / 3];
            r.dedup();
            r
        })
    }

    /// Checks the values; `field_prefix` names them in errors.
    pub fn validate(&self, field_prefix: &str) -> Result<()> {
        if self.channels < 2 {
            return Err(field_error(
                &format!("{field_prefix}.channels"),
                format!("{} must be at least 2", self.channels),
            ));
        }
        at_least_one(&format!("{field_prefix}.layers"), self.layers)?;
        at_least_one(&format!("{field_prefix}.stem_multiplier"), self.stem_multiplier)?;
        if self.layers > MAX_LAYERS {
            return Err(KdnasError::Usage(format!(
                "{field_prefix}.layers: {} cells; at most {MAX_LAYERS} are supported (DARTS uses 8 in search, 20 in evaluation)",
                self.layers
            )));
        }
        if let Some(bad) = self.reductions().into_iter().find(|&r| r >= self.layers) {
            return Err(KdnasError::Usage(format!(
                "{field_prefix}.reduction_layers: {bad} is not below layers = {}",
                self.layers
            )));
        }
        Ok(())
    }
}

/// Image classifier made of cells.
#[derive(Module, Debug)]
pub struct CellNetwork<B: Backend> {
    stem: Param<Tensor<B, 4>>,
    stem_bn: BatchNorm2d<B>,
    cells: Vec<DartsCell<B>>,
    classifier: Param<Tensor<B, 2>>,
    classifier_bias: Param<Tensor<B, 1>>,
    /// The cells split into stages ([`CellStages`]).
    #[module(skip)]
    stages: CellStages,
}

/// The cells of a network split into stages: a stage starts at the first cell and at every
/// reduction cell after it ([`stage_starts`]), so every cell output of a stage has the same
/// resolution (and the same channels when the normal and reduction cells concatenate as many nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellStages {
    /// Index of the first cell of each stage, ascending, starting with 0.
    pub starts: Vec<usize>,
    /// Output channels of every cell.
    pub cell_channels: Vec<usize>,
    /// Downsampling of each stage's outputs relative to the input image (1, 2, 4, ...).
    pub strides: Vec<usize>,
    /// Number of cells.
    pub cells: usize,
}

/// Index of the first cell of every stage of `cfg`: cell 0 and every reduction cell after it.
pub fn stage_starts(cfg: &NetworkConfig) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(cfg.reductions().into_iter().filter(|&r| r > 0));
    starts.sort_unstable();
    starts.dedup();
    starts
}

impl CellStages {
    /// The cell indices of stage `stage`.
    pub fn range(&self, stage: usize) -> std::ops::Range<usize> {
        self.starts[stage]..self.starts.get(stage + 1).copied().unwrap_or(self.cells)
    }

    /// Output channels of the first cell of stage `stage`.
    pub fn channels(&self, stage: usize) -> usize {
        self.cell_channels[self.starts[stage]]
    }
}

impl<B: Backend> CellNetwork<B> {
    /// Builds the network for `in_channels` images and `classes` outputs from the cells of `arch`
    /// (its non-reduction cell for normal layers, its reduction cell for reduction layers).
    pub fn new(
        arch: &ArchGraph,
        cfg: &NetworkConfig,
        in_channels: usize,
        classes: usize,
        mode: OpMode,
        device: &B::Device,
    ) -> Result<Self> {
        cfg.validate("network")?;
        let reductions = cfg.reductions();
        check_cells_present(arch, cfg)?;
        let size = NetworkSize::of(arch, cfg, in_channels, classes, 1, mode);
        ensure_fits(size, 0, &format!("network.channels = {}, layers = {}", cfg.channels, cfg.layers))?;
        let c_stem = cfg.stem_multiplier * cfg.channels;
        let stem = uniform_fan_in([c_stem, in_channels, 3, 3], in_channels * 9, device);
        let stem_bn = BatchNorm2d::new(c_stem, true, device);
        let (mut prev_prev, mut prev, mut node) = (c_stem, c_stem, cfg.channels);
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(cfg.layers);
        let starts = stage_starts(cfg);
        let mut stages =
            CellStages { starts: starts.clone(), cell_channels: Vec::new(), strides: Vec::new(), cells: cfg.layers };
        let mut stride = 1;
        for layer in 0..cfg.layers {
            let reduction = reductions.contains(&layer);
            if reduction {
                node *= 2;
                stride *= 2;
            }
            let graph = arch
                .cell_by_reduction(reduction)
                .ok_or_else(|| KdnasError::Usage(format!("space `{}` has no cell for layer {layer}", arch.name)))?;
            let cell = DartsCell::new(graph, CellChannels { prev_prev, prev, node }, reduction_prev, mode, device)?;
            (prev_prev, prev) = (prev, cell.multiplier() * node);
            if starts.contains(&layer) {
                stages.strides.push(stride);
            }
            stages.cell_channels.push(prev);
            reduction_prev = reduction;
            cells.push(cell);
        }
        let classifier = uniform_fan_in([classes, prev], prev, device);
        let classifier_bias = uniform_fan_in([classes], prev, device);
        Ok(Self { stem, stem_bn, cells, classifier, classifier_bias, stages })
    }

    /// The cells split into stages.
    pub fn stages(&self) -> &CellStages {
        &self.stages
    }

    /// The stem: `[n, in_channels, h, w] -> [n, stem_multiplier * C, h, w]`.
    pub fn stem(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.stem_bn.forward(conv2d(x, self.stem.val(), None, ConvOptions::new([1, 1], [1, 1], [1, 1], 1)))
    }

    /// Runs cells `cells` on the outputs `(s0, s1)` of the two cells before the first of them, calling
    /// `each(index, output)` after every cell; returns the last two outputs. `weights` and `drop_path`
    /// as in [`Self::forward_with_drop_path`].
    pub fn run_cells(
        &self,
        cells: std::ops::Range<usize>,
        (mut s0, mut s1): (Tensor<B, 4>, Tensor<B, 4>),
        weights: Option<&ArchWeights<B>>,
        drop_path: f64,
        mut each: impl FnMut(usize, &Tensor<B, 4>),
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        for index in cells {
            let out = self.cells[index].forward(s0, s1.clone(), weights, drop_path);
            each(index, &out);
            (s0, s1) = (s1, out);
        }
        (s0, s1)
    }

    /// Global average pool and the linear classifier: `[n, c, h, w]` (the last cell's output) ->
    /// logits `[n, classes]`.
    pub fn classify(&self, last: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, c, h, w] = last.dims();
        let pooled = last.reshape([n * c, h * w]).mean_dim(1).reshape([n, c]); // [n, c]
        pooled.matmul(self.classifier.val().transpose()) + self.classifier_bias.val().unsqueeze::<2>()
    }

    /// `[n, in_channels, h, w]` -> logits `[n, classes]`. `weights` drives the mixed edges (search);
    /// derived networks pass `None`.
    pub fn forward(&self, x: Tensor<B, 4>, weights: Option<&ArchWeights<B>>) -> Tensor<B, 2> {
        self.forward_with_drop_path(x, weights, 0.0)
    }

    /// [`Self::forward`] with DARTS's drop path of probability `drop_path` on the fixed, non-identity
    /// edges of every cell (training a derived network; 0 disables it).
    pub fn forward_with_drop_path(
        &self,
        x: Tensor<B, 4>,
        weights: Option<&ArchWeights<B>>,
        drop_path: f64,
    ) -> Tensor<B, 2> {
        let s = self.stem(x);
        let (_, last) = self.run_cells(0..self.cells.len(), (s.clone(), s), weights, drop_path, |_, _| {});
        self.classify(last)
    }
}

/// Fails unless `arch` has a normal cell for every normal layer of `cfg` and a reduction cell for every
/// reduction layer.
pub fn check_cells_present(arch: &ArchGraph, cfg: &NetworkConfig) -> Result<()> {
    let reductions = cfg.reductions();
    for reduction in [false, true] {
        if let Some(layer) = (0..cfg.layers).find(|l| reductions.contains(l) == reduction)
            && arch.cell_by_reduction(reduction).is_none()
        {
            let kind = cell_kind(reduction);
            return Err(KdnasError::Usage(format!(
                "space `{}` has no {kind} cell, but layer {layer} needs one",
                arch.name
            )));
        }
    }
    Ok(())
}
