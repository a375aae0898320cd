//! The skeleton both families share: a 3x3 stem, stages of residual blocks (the first stage keeps the
//! resolution, every later one halves it in its first block), global average pooling and a linear
//! classifier; a BN+ReLU follows the stem (ResNet) or precedes the pool (WRN). One stage runner serves
//! `forward`, `forward_features` and `forward_from`.

use super::blocks::{BlockSpec, Classifier, Conv, ResidualBlock, sum};
use super::{Features, StageShape, StagedClassifier};
use crate::ops::conv2d::batch_norm::BatchNorm2d;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Tensor, backend::Backend};

/// The channels of the stem convolution of both families.
pub const STEM_CHANNELS: usize = 16;

/// The block specifications of every stage: stage `i` has `blocks` blocks of `widths[i]` output
/// channels; the first block of stage `i > 0` has stride 2, all others stride 1.
pub fn stage_plan(widths: &[usize], blocks: usize) -> Vec<Vec<BlockSpec>> {
    let mut c_in = STEM_CHANNELS;
    widths
        .iter()
        .enumerate()
        .map(|(stage, &c_out)| {
            (0..blocks)
                .map(|block| {
                    let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                    let spec = BlockSpec { c_in, c_out, stride };
                    c_in = c_out;
                    spec
                })
                .collect()
        })
        .collect()
}

/// The blocks of [`stage_plan`]`(widths, blocks)`, each built by `make`.
pub fn build_stages<B: Backend>(
    widths: &[usize],
    blocks: usize,
    make: impl Fn(BlockSpec) -> ResidualBlock<B>,
) -> Vec<Vec<ResidualBlock<B>>> {
    stage_plan(widths, blocks).into_iter().map(|stage| stage.into_iter().map(&make).collect()).collect()
}

/// The summed parameter counts `count(spec)` of the blocks of [`stage_plan`]`(widths, blocks)`.
pub fn plan_params(widths: &[usize], blocks: usize, count: impl Fn(BlockSpec) -> u128) -> u128 {
    let counts: Vec<u128> = stage_plan(widths, blocks).into_iter().flatten().map(count).collect();
    sum(&counts)
}

/// The [`StageShape`]s of [`stage_plan`]`(widths, blocks)`.
pub fn plan_shapes(widths: &[usize], blocks: usize) -> Vec<StageShape> {
    widths.iter().enumerate().map(|(stage, &channels)| StageShape { channels, blocks, stride: 1 << stage }).collect()
}

/// Stem, stages, head; see the module documentation.
#[derive(Module, Debug)]
pub struct ResidualNet<B: Backend> {
    /// 3x3 convolution from the image channels to [`STEM_CHANNELS`].
    pub stem: Conv<B>,
    /// BatchNorm applied (with a ReLU) after the stem.
    pub stem_bn: Option<BatchNorm2d<B>>,
    /// The blocks of every stage, built from [`stage_plan`].
    pub stages: Vec<Vec<ResidualBlock<B>>>,
    /// BatchNorm applied (with a ReLU) before the pool.
    pub head_bn: Option<BatchNorm2d<B>>,
    /// The classifier on the pooled features of the last stage.
    pub classifier: Classifier<B>,
    /// The shapes of `stages` ([`plan_shapes`]).
    pub shapes: Vec<StageShape>,
}

impl<B: Backend> ResidualNet<B> {
    /// The same network in evaluation behaviour on every backend: every BatchNorm normalises with
    /// (and never updates) its running statistics, dropout is off; gradients still flow through it.
    pub fn into_frozen(self) -> Self {
        Self {
            stem_bn: self.stem_bn.map(BatchNorm2d::into_frozen),
            stages: self
                .stages
                .into_iter()
                .map(|blocks| blocks.into_iter().map(ResidualBlock::into_frozen).collect())
                .collect(),
            head_bn: self.head_bn.map(BatchNorm2d::into_frozen),
            ..self
        }
    }

    /// `[n, in_channels, h, w] -> [n, 16, h, w]`.
    fn stem(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.stem.forward(images);
        match &self.stem_bn {
            Some(bn) => relu(bn.forward(x)),
            None => x,
        }
    }

    /// Runs stages `first..` on `x`, handing every block output to `tap(stage, output)`.
    fn run_stages(&self, mut x: Tensor<B, 4>, first: usize, mut tap: impl FnMut(usize, &Tensor<B, 4>)) -> Tensor<B, 4> {
        for (stage, blocks) in self.stages.iter().enumerate().skip(first) {
            for block in blocks {
                x = block.forward(x);
                tap(stage, &x);
            }
        }
        x
    }

    /// `[n, c, h, w]` (last stage) `-> [n, classes]`: optional BN+ReLU, global average pool, classifier.
    fn head(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = match &self.head_bn {
            Some(bn) => relu(bn.forward(x)),
            None => x,
        };
        self.pool_classify(x)
    }

    /// `[n, c, h, w]` (activated last stage) `-> [n, classes]`: global average pool, classifier.
    pub(super) fn pool_classify(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, c, h, w] = x.dims();
        let pooled = x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c]); // [n, c]
        self.classifier.forward(pooled)
    }
}

impl<B: Backend> StagedClassifier<B> for ResidualNet<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head(self.run_stages(self.stem(images), 0, |_, _| {}))
    }

    fn forward_features(&self, images: Tensor<B, 4>) -> Features<B> {
        let mut stages = vec![Vec::new(); self.stages.len()];
        let last = self.run_stages(self.stem(images), 0, |stage, x| stages[stage].push(x.clone()));
        Features { logits: self.head(last), stages }
    }

    /// # Panics
    /// When `stage` is not below the number of stages (a programming error: stage indices come from
    /// [`StagedClassifier::stage_shapes`]).
    fn forward_from(&self, stage: usize, feature: Tensor<B, 4>) -> Tensor<B, 2> {
        assert!(stage < self.stages.len(), "forward_from: stage {stage} of a {}-stage network", self.stages.len());
        self.head(self.run_stages(feature, stage + 1, |_, _| {}))
    }

    fn stage_shapes(&self) -> Vec<StageShape> {
        self.shapes.clone()
    }
}
