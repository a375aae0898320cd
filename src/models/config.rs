//! The model section of a run configuration (e.g. `[teacher.model]`): which network to build, checked
//! with field-naming errors, named (`resnet20`, `wrn16_4`, `darts_c16_l8`), counted without building,
//! and built.

use super::darts::{check_stage_channels, check_stages_bridgeable};
use super::model::Model;
use super::resnet::{CifarResNet, resnet_blocks, resnet_params};
use super::wrn::{WideResNet, check_dropout, check_widen, wrn_blocks, wrn_params};
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::models::{CellNetwork, NetworkConfig};
use crate::ops::OpMode;
use crate::validate::{at_least_one, field_error};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// The network `kdnas train` trains from a search run's genotype ([`CellNetwork`]), as a
    /// student: stages split at its reduction cells, every cell output a block feature.
    Darts {
        /// `genotype.json` of a search run (relative to the config file).
        genotype: PathBuf,
        /// Initial node channels C.
        channels: usize,
        /// Number of cells (reduction cells at 1/3 and 2/3 of them).
        layers: usize,
        /// Stem width = stem_multiplier * C (DARTS: 3).
        #[serde(default = "darts_stem_multiplier")]
        stem_multiplier: usize,
    },
}

/// DARTS's stem multiplier, the default of [`ModelConfig::Darts`].
fn darts_stem_multiplier() -> usize {
    3
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
            ModelConfig::Darts { ref genotype, .. } => {
                if genotype.as_os_str().is_empty() {
                    return Err(field_error(&format!("{field}.genotype"), "give the genotype.json of a search run"));
                }
                let network = self.darts_network().unwrap_or_else(|| unreachable!("a DARTS model has a network"));
                network.validate(field)?;
                check_stages_bridgeable(&network, field)
            }
        }
    }

    /// Fails for a network that cannot be a frozen teacher (a DARTS network: students only);
    /// `field` names the section.
    pub fn validate_teacher(&self, field: &str) -> Result<()> {
        if let ModelConfig::Darts { .. } = self {
            return Err(field_error(
                &format!("{field}.kind"),
                "a DARTS network can be a student, not a teacher (train one with `kdnas train GENOTYPE`)",
            ));
        }
        self.validate(field)
    }

    /// Fails for a network without pre-activation taps (a DARTS network), which `reason` needs;
    /// `field` names the section.
    pub fn validate_preact(&self, field: &str, reason: &str) -> Result<()> {
        if let ModelConfig::Darts { .. } = self {
            return Err(field_error(
                &format!("{field}.kind"),
                format!("{reason} needs pre-activation taps, which only ResNets and WRNs have"),
            ));
        }
        Ok(())
    }

    /// The cell-network skeleton of a DARTS model; `None` for the other families.
    fn darts_network(&self) -> Option<NetworkConfig> {
        match *self {
            ModelConfig::Darts { channels, layers, stem_multiplier, .. } => {
                Some(NetworkConfig { channels, layers, stem_multiplier, reduction_layers: None })
            }
            _ => None,
        }
    }

    /// Makes a DARTS model's `genotype` path absolute against `base` (the config file's folder).
    pub fn resolve(&mut self, base: &Path) {
        if let ModelConfig::Darts { genotype, .. } = self {
            *genotype = crate::files::absolute_from(base, genotype);
        }
    }

    /// Points a DARTS model at `copy`, a run directory's own copy of its genotype (other families
    /// are unchanged).
    pub fn use_genotype_copy(&mut self, copy: PathBuf) {
        if let ModelConfig::Darts { genotype, .. } = self {
            *genotype = copy;
        }
    }

    /// The file a DARTS model is built from (its genotype), which a run fingerprints beside its config.
    pub fn input_file(&self) -> Option<&Path> {
        match self {
            ModelConfig::Darts { genotype, .. } => Some(genotype),
            _ => None,
        }
    }

    /// Short name: `resnet20`, `wrn16_4`.
    pub fn name(&self) -> String {
        match self {
            ModelConfig::Resnet { depth } => format!("resnet{depth}"),
            ModelConfig::Wrn { depth, widen, .. } => format!("wrn{depth}_{widen}"),
            ModelConfig::Darts { channels, layers, .. } => format!("darts_c{channels}_l{layers}"),
        }
    }

    /// Trainable parameters of the network [`ModelConfig::build`] returns for `in_channels` images and
    /// `classes` outputs, computed without building it; `None` for a DARTS network (its genotype says).
    /// Meant for a configuration that passes [`ModelConfig::validate`] (another depth counts its whole
    /// blocks); saturates at `usize::MAX`.
    pub fn param_count(&self, in_channels: usize, classes: usize) -> Option<usize> {
        self.params(in_channels, classes).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// [`ModelConfig::param_count`] without the conversion.
    fn params(&self, in_channels: usize, classes: usize) -> Option<u128> {
        match *self {
            ModelConfig::Resnet { depth } => Some(resnet_params(depth.saturating_sub(2) / 6, in_channels, classes)),
            ModelConfig::Wrn { depth, widen, .. } => {
                Some(wrn_params(depth.saturating_sub(4) / 6, widen, in_channels, classes))
            }
            ModelConfig::Darts { .. } => None,
        }
    }

    /// Builds the network for `in_channels` images and `classes` outputs. Fails on an invalid
    /// configuration (fields named `model.*`), zero channels or classes, an unreadable genotype, or a
    /// network whose weights, gradients and optimiser state would not fit in this machine's memory.
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
            ModelConfig::Darts { ref genotype, .. } => {
                let arch = Genotype::load(genotype)?.to_arch_graph()?;
                let network = self.darts_network().unwrap_or_else(|| unreachable!("a DARTS model has a network"));
                let net = CellNetwork::new(&arch, &network, in_channels, classes, OpMode::Derived, device)?;
                check_stage_channels(net.stages(), genotype)?;
                Model::Darts(net)
            }
        })
    }

    /// Refuses a network whose training state alone exceeds the machine's memory.
    fn ensure_fits(&self, in_channels: usize, classes: usize) -> Result<()> {
        // A DARTS network is sized by `CellNetwork::new` from its genotype.
        let Some(params) = self.params(in_channels, classes) else { return Ok(()) };
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
