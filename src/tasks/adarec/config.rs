//! AdaRec search configs: `kdnas adarec search --config FILE` (stage 1). Paths are relative to the file.

use super::data::SequenceDataConfig;
use super::losses::{AdarecLosses, KlReduction};
use super::teacher::SequenceTeacherSection;
use crate::config_file::{config_toml, load_config, parse_config};
use crate::distill::objective::{Objective, validate_objectives};
use crate::error::Result;
use crate::files::absolute_from;
use crate::models::sequence_cell_network::SequenceNetworkConfig;
use crate::run::FolderConfig;
use crate::search::SearchConfig;
use crate::search::prepared::{SpaceRunConfig, space_run_accessors};
use crate::tasks::{TaskKind, TaskSection};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// An AdaRec search run: sequence data, the frozen teacher, the student skeleton, the space, the loss
/// weights and the search hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdarecSearchConfig {
    /// Must say `kind = "adarec"`.
    pub task: TaskSection,
    /// The student's cell space (a `causal1d` space with one cell template), relative to the file.
    pub space: PathBuf,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Sequence data (the teacher's).
    pub data: SequenceDataConfig,
    /// The frozen NextItNet teacher.
    pub teacher: SequenceTeacherSection,
    /// Width, cells and dropout of the student.
    #[serde(default)]
    pub student: SequenceNetworkConfig,
    /// Loss weights and the EMD layer mapping.
    #[serde(default)]
    pub adarec: AdarecLosses,
    /// Search hyper-parameters (DARTS's defaults; AdaRec's are in examples/adarec/search.toml).
    #[serde(default)]
    pub search: SearchConfig,
}

impl AdarecSearchConfig {
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
        self.task.expect(TaskKind::Adarec)?;
        self.data.validate()?;
        self.teacher.validate()?;
        self.student.validate("student")?;
        self.adarec.validate()?;
        self.search.validate()
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        config_toml(self)
    }
}

impl AdarecFinetuneConfig {
    /// The loss's objectives, how their KD term reduces over positions and the teacher they read:
    /// `[kd]` as `(1 - gamma) cross_entropy + gamma kd`, else the `[[objective]]` list, else
    /// cross-entropy alone.
    pub fn loss_terms(&self) -> (Vec<Objective>, KlReduction, Option<&SequenceTeacherSection>) {
        if let Some(kd) = &self.kd {
            let objectives = vec![
                Objective::CrossEntropy { weight: 1.0 - kd.gamma },
                Objective::Kd { weight: kd.gamma, temperature: kd.temperature },
            ];
            return (objectives, kd.reduction, Some(&kd.teacher));
        }
        if self.objective.is_empty() {
            return (vec![Objective::CrossEntropy { weight: 1.0 }], KlReduction::PerPosition, None);
        }
        (self.objective.clone(), KlReduction::PerPosition, self.teacher.as_ref())
    }

    /// Checks `[[objective]]` and `[teacher]`: not with `[kd]`, only the terms a sequence student
    /// has, and a teacher for those that read one.
    fn validate_objectives(&self) -> Result<()> {
        use crate::validate::field_error;
        if self.kd.is_some() && (!self.objective.is_empty() || self.teacher.is_some()) {
            return Err(field_error("kd", "give the loss as [kd] or as [[objective]] with [teacher], not both"));
        }
        validate_objectives(&self.objective)?;
        if let Some((i, o)) = self.objective.iter().enumerate().find(|(_, o)| o.reads_features()) {
            return Err(field_error(
                &format!("objective[{i}].kind"),
                format!(
                    "`{}` reads stage features, which a sequence student does not have: AdaRec fine-tuning takes \
                     cross_entropy, kd and rkd",
                    o.name()
                ),
            ));
        }
        match (&self.teacher, self.objective.iter().find(|o| o.reads_teacher())) {
            (Some(teacher), _) => teacher.validate(),
            (None, Some(o)) => Err(field_error(
                "teacher",
                format!("`{}` reads a teacher: add a [teacher] section (checkpoint = a teacher run)", o.name()),
            )),
            (None, None) => Ok(()),
        }
    }
}

/// The `[kd]` section of a fine-tuning run: continued distillation from the frozen teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneKd {
    /// Weight of the logit KL against the cross-entropy, in (0, 1].
    pub gamma: f64,
    /// Softmax temperature of the KL (default 1, AdaRec's).
    #[serde(default = "unit_temperature")]
    pub temperature: f64,
    /// The teacher.
    pub teacher: SequenceTeacherSection,
    /// How the KL reduces over positions (as `[adarec] reduction`); left out of written configs when
    /// `"per_position"`, the default.
    #[serde(default, skip_serializing_if = "KlReduction::is_per_position")]
    pub reduction: KlReduction,
}

fn unit_temperature() -> f64 {
    1.0
}

/// Where a fine-tuned student's weights start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StudentInit {
    /// A fresh initialisation (the default).
    #[default]
    Scratch,
    /// The weights the search trained (`student_init.mpk` beside the genotype): AdaRec's
    /// student_finetune.
    Search,
}

impl StudentInit {
    /// Whether this is the default (left out of written configs, so older runs keep their fingerprint).
    pub fn is_scratch(&self) -> bool {
        *self == StudentInit::Scratch
    }
}

/// AdaRec's stage 2 (`kdnas adarec finetune --config FILE`): the derived student of a search, trained
/// from scratch or from the search's weights with cross-entropy, optionally with continued
/// distillation (`[kd]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdarecFinetuneConfig {
    /// Must say `kind = "adarec"`.
    pub task: TaskSection,
    /// The derived student: a search run's `genotype.json`, relative to the file.
    pub genotype: PathBuf,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Sequence data (the search's).
    pub data: SequenceDataConfig,
    /// Width, cells and dropout of the student (the search's).
    #[serde(default)]
    pub student: SequenceNetworkConfig,
    /// Where the weights start: `"scratch"` (default) or `"search"`.
    #[serde(default, skip_serializing_if = "StudentInit::is_scratch")]
    pub init: StudentInit,
    /// Continued distillation as `(1 - gamma) CE + gamma KD` (the older form of `objective`); absent,
    /// with no `objective` either: cross-entropy only (the from-scratch baseline).
    #[serde(default)]
    pub kd: Option<FinetuneKd>,
    /// The loss as a weighted `[[objective]]` list, DFA distillation's language: `cross_entropy`,
    /// `kd` (over every real position, per position) and `rkd` (between the sequences' last
    /// positions); the feature objectives need stage features a sequence student does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objective: Vec<Objective>,
    /// The teacher of the objectives that read one (`kd`, `rkd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<SequenceTeacherSection>,
    /// Training hyper-parameters (AdaRec: AdamW, lr 1e-4).
    pub train: crate::train::TrainConfig,
}

impl AdarecFinetuneConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::{field_error, positive};
        self.task.expect(TaskKind::Adarec)?;
        self.data.validate()?;
        self.student.validate("student")?;
        if let Some(kd) = &self.kd {
            if !(kd.gamma > 0.0 && kd.gamma <= 1.0) {
                return Err(field_error(
                    "kd.gamma",
                    format!("{} is not in (0, 1] (leave [kd] out for none)", kd.gamma),
                ));
            }
            positive("kd.temperature", kd.temperature)?;
            kd.teacher.validate()?;
        }
        self.validate_objectives()?;
        self.train.validate()?;
        self.train.refuse_image_fields("a student is sized by [student] and its genotype")
    }
}

impl FolderConfig for AdarecFinetuneConfig {
    const COMMAND: &'static str = "adarec finetune";
    const WHAT: &'static str = "training run";
    fn load(path: &Path) -> Result<Self> {
        AdarecFinetuneConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
        self.genotype = absolute_from(base, &self.genotype);
        if let Some(kd) = &mut self.kd {
            kd.teacher.resolve(base);
        }
        if let Some(teacher) = &mut self.teacher {
            teacher.resolve(base);
        }
    }
}

impl FolderConfig for AdarecSearchConfig {
    const COMMAND: &'static str = "adarec search";
    const WHAT: &'static str = "search";
    fn load(path: &Path) -> Result<Self> {
        AdarecSearchConfig::load(path)
    }
    fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }
    fn resolve(&mut self, base: &Path) {
        self.data.resolve(base);
        self.teacher.resolve(base);
        self.space = absolute_from(base, &self.space);
    }
}

impl SpaceRunConfig for AdarecSearchConfig {
    space_run_accessors!();
}
