//! DFA run configs: `kdnas dfa search --config FILE` (stage 1). Paths are relative to the file.

use super::losses::DfaLosses;
use super::teacher::TeacherSection;
use crate::config_file::{config_toml, load_config, parse_config};
use crate::data::DataConfig;
use crate::error::Result;
use crate::files::absolute_from;
use crate::models::{ModelConfig, TapPoint};
use crate::run::FolderConfig;
use crate::search::SearchConfig;
use crate::search::prepared::{SpaceRunConfig, space_run_accessors};
use crate::tasks::{TaskKind, TaskSection};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `[student]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentSection {
    /// The student's architecture.
    pub model: ModelConfig,
}

/// A DFA search run: data, the frozen teacher, the student, the aggregation space and the losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DfaSearchConfig {
    /// Must say `kind = "dfa"`.
    pub task: TaskSection,
    /// The aggregation space (one `[[choice]]` per teacher stage), relative to the config file.
    pub space: PathBuf,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Image data.
    #[serde(default)]
    pub data: DataConfig,
    /// The frozen teacher.
    pub teacher: TeacherSection,
    /// The student trained during the search.
    pub student: StudentSection,
    /// Loss weights.
    #[serde(default)]
    pub dfa: DfaLosses,
    /// Bi-level search hyper-parameters (DARTS's defaults).
    #[serde(default)]
    pub search: SearchConfig,
}

impl DfaSearchConfig {
    /// Parses and validates config text; errors name `path`, the line and the field.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        parse_config(text, path, Self::validate)
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        self.task.expect(TaskKind::Dfa)?;
        self.data.validate()?;
        self.teacher.validate()?;
        self.student.model.validate("student.model")?;
        self.dfa.validate()?;
        if self.dfa.distance.taps() == TapPoint::PreActivation {
            self.student.model.validate_preact("student.model", "dfa.distance = \"overhaul\"")?;
        }
        self.search.validate()
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        config_toml(self)
    }
}

impl FolderConfig for DfaSearchConfig {
    const COMMAND: &'static str = "dfa search";
    const WHAT: &'static str = "search";
    fn load(path: &Path) -> Result<Self> {
        DfaSearchConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
        self.teacher.resolve(base);
        self.student.model.resolve(base);
        self.space = absolute_from(base, &self.space);
    }
}

impl SpaceRunConfig for DfaSearchConfig {
    space_run_accessors!();
}
