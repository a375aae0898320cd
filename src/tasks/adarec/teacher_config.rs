//! The NextItNet teacher config of the AdaRec task (`kdnas teacher train --config FILE` with
//! `[task] kind = "adarec"`); the run folder keeps a copy.

use super::data::SequenceDataConfig;
use crate::error::Result;
use crate::models::nextitnet::NextItNetConfig;
use crate::run::FolderConfig;
use crate::tasks::{TaskKind, TaskSection};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A NextItNet teacher config file (`[task] kind = "adarec"`, `[data]`, `[model]`, `[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceTeacherConfig {
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Must say `adarec`.
    pub task: TaskSection,
    /// Sequence data.
    pub data: SequenceDataConfig,
    /// NextItNet sizes.
    #[serde(default)]
    pub model: NextItNetConfig,
    /// Training hyper-parameters.
    pub train: TrainConfig,
}

impl SequenceTeacherConfig {
    /// Reads and validates a config file; errors name the file, the line and the field.
    pub fn load(path: &Path) -> Result<Self> {
        crate::config_file::load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        self.task.expect(TaskKind::Adarec)?;
        self.data.validate()?;
        self.model.validate("model")?;
        self.train.validate()?;
        self.train.refuse_image_fields("a NextItNet is sized by [model]")
    }
}

impl FolderConfig for SequenceTeacherConfig {
    const COMMAND: &'static str = "teacher train";
    const WHAT: &'static str = "training run";
    fn load(path: &Path) -> Result<Self> {
        SequenceTeacherConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
    }
}
