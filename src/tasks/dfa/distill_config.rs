//! Distillation configs: `kdnas distill --config FILE` (DFA's stage 2 and its baselines).

use super::config::StudentSection;
use super::objectives::Objective;
use super::teacher::TeacherSection;
use crate::config_file::{config_toml, load_config};
use crate::data::DataConfig;
use crate::error::Result;
use crate::models::TapPoint;
use crate::run::FolderConfig;
use crate::train::TrainConfig;
use crate::validate::field_error;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A distillation run: data, the frozen teacher, a fresh student, the training schedule and the
/// weighted objectives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Image data.
    #[serde(default)]
    pub data: DataConfig,
    /// The frozen teacher.
    pub teacher: TeacherSection,
    /// The student, trained from scratch.
    pub student: StudentSection,
    /// Training hyper-parameters of the student.
    #[serde(default)]
    pub train: TrainConfig,
    /// The weighted terms of the loss, at least one, each kind at most once.
    pub objective: Vec<Objective>,
}

impl DistillConfig {
    /// Reads and validates a config file; errors name the file, the line and the field.
    pub fn load(path: &Path) -> Result<Self> {
        load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        self.data.validate()?;
        self.teacher.validate()?;
        self.student.model.validate("student.model")?;
        self.train.validate()?;
        self.train.refuse_patience("kdnas distill")?;
        if self.train.channels.is_some() || self.train.layers.is_some() || self.train.drop_path != 0.0 {
            return Err(field_error(
                "train.channels",
                "channels, layers and drop_path only apply to derived cell networks; the student is sized by [student]",
            ));
        }
        if self.objective.is_empty() {
            return Err(field_error("objective", "give at least one `[[objective]]` (e.g. kind = \"cross_entropy\")"));
        }
        if super::objectives::feature_taps(&self.objective)? == Some(TapPoint::PreActivation) {
            self.student.model.validate_preact("student.model", "the overhaul distance")?;
        }
        crate::distill::objective::validate_objectives(&self.objective)
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        config_toml(self)
    }
}

impl FolderConfig for DistillConfig {
    const COMMAND: &'static str = "distill";
    const WHAT: &'static str = "distillation run";
    fn load(path: &Path) -> Result<Self> {
        DistillConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    /// Makes every relative path absolute against `base` (the folder of the file it was read from).
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
        self.teacher.resolve(base);
        self.student.model.resolve(base);
        for objective in &mut self.objective {
            objective.resolve(base);
        }
    }
}
