//! The model section of a run configuration (e.g. `[teacher.model]`): which network to build, checked
//! with field-naming errors, named (`resnet20`, `wrn16_4`), counted without building, and built.

use super::model::Model;
use super::resnet::{CifarResNet, resnet_blocks, resnet_params};
use super::wrn::{WideResNet, check_dropout, check_widen, wrn_blocks, wrn_params};
use crate::error::{KdnasError, Result};
use crate::validate::at_least_one;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Bytes a training step needs per parameter at least: the f32 weight, its gradient, one optimiser buffer.
const BYTES_PER_PARAM: u128 = 12;

/// Which network to build.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// A CIFAR ResNet ([`CifarResNet`]).
    Resnet {
        /// 6n+2: 8, 14, 20, 32, 44, 56, 110, ...
        depth: usize,
    },
    /// A Wide ResNet WRN-depth-widen ([`WideResNet`]).
    Wrn {
        /// 6n+4: 10, 16, 22, 28, 40, ...
        depth: usize,
        /// Widening factor k (1 ..= 64).
        widen: usize,
        /// Dropout probability between the convolutions of every block, in `[0, 1)` (default 0).
        #[serde(default, skip_serializing_if = "is_zero")]
        dropout: f64,
    },
}

/// Whether a dropout is the default 0 (not written back).
fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

impl ModelConfig {
    /// Rejects impossible depths, widening factors and dropouts; `field` names the section, e.g.
    /// `teacher.model` gives `teacher.model.depth: 21 is not 6n+2 (8, 14, 20, 32, 44, 56, 110, ...)`.
    pub fn validate(&self, field: &str) -> Result<()> {
        let depth_field = format!("{field}.depth");
        match *self {
            ModelConfig::Resnet { depth } => resnet_blocks(&depth_field, depth).map(drop),
            ModelConfig::Wrn { depth, widen, dropout } => {
                wrn_blocks(&depth_field, depth)?;
                check_widen(&format!("{field}.widen"), widen)?;
                check_dropout(&format!("{field}.dropout"), dropout)
            }
        }
    }

    /// Short name: `resnet20`, `wrn16_4`.
    pub fn name(&self) -> String {
        match self {
            ModelConfig::Resnet { depth } => format!("resnet{depth}"),
            ModelConfig::Wrn { depth, widen, .. } => format!("wrn{depth}_{widen}"),
        }
    }

    /// Trainable parameters of the network [`ModelConfig::build`] returns for `in_channels` images and
    /// `classes` outputs, computed without building it. Meant for a configuration that passes
    /// [`ModelConfig::validate`] (another depth counts its whole blocks); saturates at `usize::MAX`.
    pub fn param_count(&self, in_channels: usize, classes: usize) -> usize {
        usize::try_from(self.params(in_channels, classes)).unwrap_or(usize::MAX)
    }

    /// [`ModelConfig::param_count`] without the conversion.
    fn params(&self, in_channels: usize, classes: usize) -> u128 {
        match *self {
            ModelConfig::Resnet { depth } => resnet_params(depth.saturating_sub(2) / 6, in_channels, classes),
            ModelConfig::Wrn { depth, widen, .. } => {
                wrn_params(depth.saturating_sub(4) / 6, widen, in_channels, classes)
            }
        }
    }

    /// Builds the network for `in_channels` images and `classes` outputs. Fails on an invalid
    /// configuration (fields named `model.*`), zero channels or classes, or a network whose weights,
    /// gradients and optimiser state would not fit in this machine's memory.
    pub fn build<B: Backend>(&self, in_channels: usize, classes: usize, device: &B::Device) -> Result<Model<B>> {
        self.validate("model")?;
        at_least_one("in_channels", in_channels)?;
        at_least_one("classes", classes)?;
        self.ensure_fits(in_channels, classes)?;
        Ok(match *self {
            ModelConfig::Resnet { depth } => Model::Resnet(CifarResNet::new(depth, in_channels, classes, device)?),
            ModelConfig::Wrn { depth, widen, dropout } => {
                Model::Wrn(WideResNet::new(depth, widen, dropout, in_channels, classes, device)?)
            }
        })
    }

    /// Refuses a network whose training state alone exceeds the machine's memory.
    fn ensure_fits(&self, in_channels: usize, classes: usize) -> Result<()> {
        let params = self.params(in_channels, classes);
        let needed = params.saturating_mul(BYTES_PER_PARAM);
        match crate::memory::total_memory_bytes() {
            Some(total) if needed > total as u128 => Err(KdnasError::Usage(format!(
                "model {}: {params} parameters need at least {} for weights, gradients and optimiser state; \
                 this machine has {}",
                self.name(),
                gib(needed),
                gib(total as u128)
            ))),
            _ => Ok(()),
        }
    }
}

/// `bytes` in GiB with one decimal.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u128 << 30) as f64)
}
