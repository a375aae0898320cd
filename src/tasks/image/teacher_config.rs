//! The teacher-training config of image tasks (`kdnas teacher train --config FILE`): data, the network
//! (a CIFAR ResNet / WRN of [`crate::models`]) and its training; the run folder keeps a copy.

use crate::data::DataConfig;
use crate::error::Result;
use crate::models::ModelConfig;
use crate::run::FolderConfig;
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A teacher-training config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherConfig {
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Image data.
    #[serde(default)]
    pub data: DataConfig,
    /// The network to train.
    pub model: ModelConfig,
    /// Training hyper-parameters.
    #[serde(default)]
    pub train: TrainConfig,
}

impl TeacherConfig {
    /// Reads and validates a config file; errors name the file, the line and the field.
    pub fn load(path: &Path) -> Result<Self> {
        crate::config_file::load_config(path, Self::validate)
    }

    /// Checks every section, and that `[train]` sets nothing that only derived cell networks have.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::field_error;
        self.data.validate()?;
        self.model.validate_teacher("model")?;
        self.train.validate()?;
        let derived_only = "only applies to derived cell networks (kdnas train); a teacher is sized by [model]";
        if self.train.channels.is_some() {
            return Err(field_error("train.channels", derived_only));
        }
        if self.train.layers.is_some() {
            return Err(field_error("train.layers", derived_only));
        }
        if self.train.drop_path != 0.0 {
            return Err(field_error("train.drop_path", "only derived cell networks have drop path"));
        }
        Ok(())
    }
}

impl FolderConfig for TeacherConfig {
    const COMMAND: &'static str = "teacher train";
    const WHAT: &'static str = "training run";
    fn load(path: &Path) -> Result<Self> {
        TeacherConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
    }
}
