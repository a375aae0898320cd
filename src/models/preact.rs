//! Pre-activation taps of the residual families (Heo et al. 2019, "A Comprehensive Overhaul of Feature
//! Distillation"): every feature taken as the output of the BatchNorm that precedes a ReLU, with that
//! BatchNorm's affine parameters for the overhaul margin.
//!
//! Where each tap is:
//! - **WRN** (pre-activation blocks, no BN after the stem): the tap of the stem and of every block output is
//!   the BatchNorm the next ReLU reads: the next block's `bn1` (so the tap of a stage's last block is the
//!   next stage's first `bn1`), and for the very last block the head BN before the pooling ReLU. These are
//!   the positions of PkuDavidGuan/Distillation's `WideResNet.forward(preReLU=True)`.
//! - **ResNet** (post-activation basic blocks): the stem tap is the stem BN's output; a block's tap is its
//!   sum `bn2(conv2(..)) + shortcut` before the final ReLU, with the margin from `bn2` (the shortcut is
//!   ignored, as in clovaai/overhaul-distillation's CIFAR ResNet `get_bn_before_relu`).

use super::blocks::ResidualBlock;
use super::residual::ResidualNet;
use crate::ops::conv2d::batch_norm::BatchNorm2d;
use burn::tensor::activation::relu;
use burn::tensor::{Tensor, backend::Backend};

/// Which features a distillation reads from a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TapPoint {
    /// Every residual block's output ([`super::StagedClassifier::forward_features`]).
    #[default]
    Block,
    /// The pre-activation taps of this module (residual families only), plus the stem's.
    PreActivation,
}

/// One value per tap: the stem's and every block's, grouped by stage like [`super::Features`].
#[derive(Debug, Clone, PartialEq)]
pub struct Taps<T> {
    /// The stem's tap.
    pub stem: T,
    /// `stages[i][j]`: the tap of block `j` of stage `i`.
    pub stages: Vec<Vec<T>>,
}

impl<T> Taps<T> {
    /// Groups `flat` (stem first, then every block in order) by `blocks[i]` blocks per stage.
    ///
    /// # Panics
    /// If `flat` does not hold `1 + sum(blocks)` values (a programming error).
    pub fn from_flat(flat: Vec<T>, blocks: &[usize]) -> Self {
        assert_eq!(flat.len(), 1 + blocks.iter().sum::<usize>(), "Taps::from_flat: wrong number of taps");
        let mut it = flat.into_iter();
        let stem = it.next().expect("checked length");
        let stages = blocks.iter().map(|&n| it.by_ref().take(n).collect()).collect();
        Self { stem, stages }
    }

    /// The stem's tap then the last block's tap of every stage: the overhaul loss's positions.
    pub fn stage_ends(&self) -> Vec<&T> {
        std::iter::once(&self.stem).chain(self.stages.iter().map(|b| b.last().expect("a stage has blocks"))).collect()
    }
}

/// Logits plus the pre-activation taps of a batch.
#[derive(Debug, Clone)]
pub struct PreActFeatures<B: Backend> {
    /// `[batch, classes]`.
    pub logits: Tensor<B, 2>,
    /// `[batch, channels, h, w]` each (the stem tap has the stem's 16 channels).
    pub taps: Taps<Tensor<B, 4>>,
}

/// The affine shift and scale of a BatchNorm (0 and 1 when it has none), read to the host.
pub fn bn_affine<B: Backend>(bn: &BatchNorm2d<B>) -> (Vec<f32>, Vec<f32>) {
    let read = |t: Tensor<B, 1>| t.into_data().convert::<f32>().into_vec::<f32>().expect("f32 data");
    let channels = bn.running_mean.value().dims()[0];
    let shift = bn.beta.as_ref().map_or(vec![0.0; channels], |b| read(b.val()));
    let scale = bn.gamma.as_ref().map_or(vec![1.0; channels], |g| read(g.val()));
    (shift, scale)
}

impl<B: Backend> ResidualNet<B> {
    /// Logits and pre-activation taps of `images`, `[n, in_channels, h, w]`; the logits equal
    /// [`super::StagedClassifier::forward`]'s and every BatchNorm runs once.
    pub fn forward_preact(&self, images: Tensor<B, 4>) -> PreActFeatures<B> {
        let raw = self.stem.forward(images);
        let mut flat = Vec::new();
        let mut x = match &self.stem_bn {
            Some(bn) => {
                let pre = bn.forward(raw);
                flat.push(pre.clone());
                relu(pre)
            }
            None => raw,
        };
        for block in self.stages.iter().flatten() {
            x = match block {
                ResidualBlock::Basic(b) => {
                    let pre = b.forward_pre_relu(x);
                    flat.push(pre.clone());
                    relu(pre)
                }
                ResidualBlock::PreAct(b) => {
                    let opened = b.opening_bn().forward(x.clone());
                    flat.push(opened.clone());
                    b.forward_opened(x, opened)
                }
            };
        }
        let x = match &self.head_bn {
            Some(bn) => {
                let pre = bn.forward(x);
                flat.push(pre.clone());
                relu(pre)
            }
            None => x,
        };
        let blocks: Vec<usize> = self.shapes.iter().map(|s| s.blocks).collect();
        PreActFeatures { logits: self.pool_classify(x), taps: Taps::from_flat(flat, &blocks) }
    }

    /// The BatchNorm that produces (or, for a basic block, gives the residual branch of) every tap of
    /// [`ResidualNet::forward_preact`], in the same order.
    pub fn tap_bns(&self) -> Taps<&BatchNorm2d<B>> {
        let mut flat: Vec<&BatchNorm2d<B>> = self.stem_bn.iter().collect();
        for block in self.stages.iter().flatten() {
            flat.push(match block {
                ResidualBlock::Basic(b) => b.closing_bn(),
                ResidualBlock::PreAct(b) => b.opening_bn(),
            });
        }
        flat.extend(self.head_bn.iter());
        let blocks: Vec<usize> = self.shapes.iter().map(|s| s.blocks).collect();
        Taps::from_flat(flat, &blocks)
    }

    /// The overhaul margin of every tap from its BatchNorm ([`crate::distill::overhaul_margin`]).
    pub fn tap_margins(&self) -> Taps<Vec<f32>> {
        let bns = self.tap_bns();
        let margin = |bn: &&BatchNorm2d<B>| {
            let (shift, scale) = bn_affine(*bn);
            crate::distill::overhaul_margin(&shift, &scale)
        };
        Taps {
            stem: margin(&bns.stem),
            stages: bns.stages.iter().map(|blocks| blocks.iter().map(margin).collect()).collect(),
        }
    }
}
