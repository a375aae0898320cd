//! Zagoruyko & Komodakis (2016)'s Wide ResNet WRN-d-k: a 3x3 stem to 16 channels, three stages of
//! n = (d - 4) / 6 pre-activation blocks of widths 16k, 32k, 64k (strides 1, 2, 2), a final BN+ReLU,
//! global average pool and a linear classifier. Feature taps: every block's output (the residual sum,
//! before any activation); `forward_from` applies the later stages, then the final BN+ReLU and the head.

use super::blocks::{
    Classifier, Conv, PreActBlock, ResidualBlock, bn_params, classifier_params, conv_params, preact_block_params, sum,
};
use super::residual::{ResidualNet, STEM_CHANNELS, build_stages, plan_params, plan_shapes};
use crate::error::Result;
use crate::ops::conv2d::batch_norm::BatchNorm2d;
use crate::validate::{field_error, unit_interval};
use burn::module::Module;
use burn::tensor::backend::Backend;

/// Stage widths of WRN-d-1; WRN-d-k multiplies them by k.
pub const WRN_BASE_WIDTHS: [usize; 3] = [16, 32, 64];

/// The deepest network accepted (the WRN paper goes to 40; pre-activation ResNets to 1001).
pub const MAX_WRN_DEPTH: usize = 2000;

/// The widest widening factor accepted (the WRN paper goes to 12).
pub const MAX_WIDEN: usize = 64;

/// Blocks per stage `n` of a WRN of `depth = 6n + 4`; `field` names the depth in the error.
pub fn wrn_blocks(field: &str, depth: usize) -> Result<usize> {
    if depth < 10 || !(depth - 4).is_multiple_of(6) {
        return Err(field_error(field, format!("{depth} is not 6n+4 (10, 16, 22, 28, 40, ...)")));
    }
    if depth > MAX_WRN_DEPTH {
        return Err(field_error(field, format!("{depth} is above the supported maximum {MAX_WRN_DEPTH}")));
    }
    Ok((depth - 4) / 6)
}

/// Checks a widening factor (1 ..= [`MAX_WIDEN`]); `field` names it in the error.
pub fn check_widen(field: &str, widen: usize) -> Result<()> {
    match widen {
        0 => Err(field_error(field, "must be at least 1")),
        1..=MAX_WIDEN => Ok(()),
        _ => Err(field_error(field, format!("{widen} is above the supported maximum {MAX_WIDEN}"))),
    }
}

/// Checks a dropout probability (in `[0, 1)`); `field` names it in the error.
pub fn check_dropout(field: &str, dropout: f64) -> Result<()> {
    unit_interval(field, dropout)
}

/// The stage widths of WRN-d-`widen`.
pub fn wrn_widths(widen: usize) -> [usize; 3] {
    WRN_BASE_WIDTHS.map(|w| w.saturating_mul(widen))
}

/// Trainable parameters of a WRN with `blocks` blocks per stage and widening factor `widen` for
/// `in_channels` images and `classes` outputs (saturating for absurd sizes).
pub fn wrn_params(blocks: usize, widen: usize, in_channels: usize, classes: usize) -> u128 {
    let widths = wrn_widths(widen);
    sum(&[
        conv_params(in_channels, STEM_CHANNELS, 3),
        plan_params(&widths, blocks, preact_block_params),
        bn_params(widths[2]),
        classifier_params(widths[2], classes),
    ])
}

/// A Wide ResNet; see the module documentation.
#[derive(Module, Debug)]
pub struct WideResNet<B: Backend> {
    net: ResidualNet<B>,
}

impl<B: Backend> WideResNet<B> {
    /// WRN-`depth`-`widen` for `in_channels` images and `classes` outputs, with dropout probability
    /// `dropout` between the two convolutions of every block (0 disables it; it is active only on an
    /// autodiff backend, i.e. in training). Fails on a depth that is not 6n+4, a widening factor
    /// outside 1..=[`MAX_WIDEN`] or a dropout outside `[0, 1)`.
    pub fn new(
        depth: usize,
        widen: usize,
        dropout: f64,
        in_channels: usize,
        classes: usize,
        device: &B::Device,
    ) -> Result<Self> {
        let blocks = wrn_blocks("depth", depth)?;
        check_widen("widen", widen)?;
        check_dropout("dropout", dropout)?;
        let widths = wrn_widths(widen);
        let net = ResidualNet {
            stem: Conv::new(in_channels, STEM_CHANNELS, 3, 1, device),
            stem_bn: None,
            stages: build_stages(&widths, blocks, |spec| {
                ResidualBlock::PreAct(PreActBlock::new(spec, dropout, device))
            }),
            head_bn: Some(BatchNorm2d::new(widths[2], true, device)),
            classifier: Classifier::new(widths[2], classes, device),
            shapes: plan_shapes(&widths, blocks),
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

super::delegate_staged_classifier!(WideResNet);
