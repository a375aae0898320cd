//! He et al. (2016)'s CIFAR ResNet of depth 6n+2: a 3x3 stem to 16 channels with BN+ReLU, three stages
//! of n basic blocks (16, 32, 64 channels; the first block of stages 2 and 3 has stride 2 and a 1x1
//! conv + BN shortcut, "option B" as in the CRD / torchdistill implementations), global average pool
//! and a linear classifier. Feature taps: every block's output after its final ReLU.

use super::blocks::{
    BasicBlock, Classifier, Conv, ResidualBlock, basic_block_params, bn_params, classifier_params, conv_params, sum,
};
use super::residual::{ResidualNet, STEM_CHANNELS, build_stages, plan_params, plan_shapes};
use crate::error::Result;
use crate::ops::conv2d::batch_norm::BatchNorm2d;
use crate::validate::field_error;
use burn::module::Module;
use burn::tensor::backend::Backend;

/// Output channels of the three stages.
pub const RESNET_WIDTHS: [usize; 3] = [16, 32, 64];

/// The deepest network accepted (ResNet-1202 is the deepest CIFAR ResNet He et al. trained).
pub const MAX_RESNET_DEPTH: usize = 2000;

/// Blocks per stage `n` of a ResNet of `depth = 6n + 2`; `field` names the depth in the error.
pub fn resnet_blocks(field: &str, depth: usize) -> Result<usize> {
    if depth < 8 || !(depth - 2).is_multiple_of(6) {
        return Err(field_error(field, format!("{depth} is not 6n+2 (8, 14, 20, 32, 44, 56, 110, ...)")));
    }
    if depth > MAX_RESNET_DEPTH {
        return Err(field_error(field, format!("{depth} is above the supported maximum {MAX_RESNET_DEPTH}")));
    }
    Ok((depth - 2) / 6)
}

/// Trainable parameters of a ResNet with `blocks` blocks per stage for `in_channels` images and
/// `classes` outputs (saturating for absurd sizes).
pub fn resnet_params(blocks: usize, in_channels: usize, classes: usize) -> u128 {
    sum(&[
        conv_params(in_channels, STEM_CHANNELS, 3),
        bn_params(STEM_CHANNELS),
        plan_params(&RESNET_WIDTHS, blocks, basic_block_params),
        classifier_params(RESNET_WIDTHS[2], classes),
    ])
}

/// A CIFAR ResNet; see the module documentation.
#[derive(Module, Debug)]
pub struct CifarResNet<B: Backend> {
    net: ResidualNet<B>,
}

impl<B: Backend> CifarResNet<B> {
    /// A ResNet of `depth` (6n+2) for `in_channels` images and `classes` outputs; fails on another depth.
    pub fn new(depth: usize, in_channels: usize, classes: usize, device: &B::Device) -> Result<Self> {
        let blocks = resnet_blocks("depth", depth)?;
        let net = ResidualNet {
            stem: Conv::new(in_channels, STEM_CHANNELS, 3, 1, device),
            stem_bn: Some(BatchNorm2d::new(STEM_CHANNELS, true, device)),
            stages: build_stages(&RESNET_WIDTHS, blocks, |spec| ResidualBlock::Basic(BasicBlock::new(spec, device))),
            head_bn: None,
            classifier: Classifier::new(RESNET_WIDTHS[2], classes, device),
            shapes: plan_shapes(&RESNET_WIDTHS, blocks),
        };
        Ok(Self { net })
    }

    /// The same network in evaluation behaviour on every backend ([`ResidualNet::into_frozen`]).
    pub fn into_frozen(self) -> Self {
        Self { net: self.net.into_frozen() }
    }

    /// The shared residual network (its pre-activation taps: [`ResidualNet::forward_preact`]).
    pub fn residual(&self) -> &ResidualNet<B> {
        &self.net
    }

    /// The shared network the trait methods run on.
    fn staged(&self) -> &dyn super::StagedClassifier<B> {
        &self.net
    }
}

super::delegate_staged_classifier!(CifarResNet);
