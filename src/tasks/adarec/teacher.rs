//! The frozen NextItNet teacher of an AdaRec search or fine-tuning: loaded from a `kdnas teacher train`
//! checkpoint, run once per batch without gradients, its features handed to the losses as constants.

use super::losses::AdarecLosses;
use crate::error::{KdnasError, Result};
use crate::models::nextitnet::{NextItNet, NextItNetConfig};
use crate::run::checkpoint::load_module_file;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `[teacher]` section of AdaRec runs: the NextItNet's sizes and the weights to load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceTeacherSection {
    /// The teacher's sizes (as in its training config's `[model]`).
    #[serde(default)]
    pub model: NextItNetConfig,
    /// Its weights: `best/model.mpk` (or `model.mpk`) of a `kdnas teacher train` run, relative to the
    /// config file.
    pub checkpoint: PathBuf,
}

impl SequenceTeacherSection {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        self.model.validate("teacher.model")
    }

    /// Makes `checkpoint` absolute against `base` (the config file's folder).
    pub fn resolve(&mut self, base: &Path) {
        self.checkpoint = crate::files::absolute_from(base, &self.checkpoint);
    }
}

/// What the losses read of the teacher for one batch, as constants of the autodiff backend.
pub struct TeacherTargets<AB: AutodiffBackend> {
    /// Item embeddings `[batch, time, teacher_dim]`.
    pub embedding: Tensor<AB, 3>,
    /// The mapping's teacher layers, each `[batch, time, teacher_dim]`.
    pub hidden: Vec<Tensor<AB, 3>>,
    /// `[batch, time, items + 1]`.
    pub logits: Tensor<AB, 3>,
}

/// A NextItNet whose weights never change.
pub struct FrozenSequenceTeacher<AB: AutodiffBackend> {
    /// The network on the inner backend (no autodiff graph).
    pub net: NextItNet<AB::InnerBackend>,
    /// Its sizes.
    pub config: NextItNetConfig,
}

impl<AB: AutodiffBackend> FrozenSequenceTeacher<AB> {
    /// Builds the teacher of `section` for `items` items and loads its checkpoint; a checkpoint of other
    /// sizes (or trained on data with another item count) is refused, naming the file.
    pub fn load(section: &SequenceTeacherSection, items: usize, device: &AB::Device) -> Result<Self> {
        let file = &section.checkpoint;
        if !file.is_file() {
            return Err(KdnasError::Usage(format!(
                "teacher.checkpoint: {} does not exist (train one with `kdnas teacher train`)",
                file.display()
            )));
        }
        let built: NextItNet<AB> = section.model.build(items, device)?;
        let loaded = load_module_file(file, built, device).map_err(|e| {
            KdnasError::Usage(format!(
                "teacher.checkpoint: {} is not a NextItNet of {} blocks x {} for {items} items (is [teacher.model] the \
                 teacher's [model], and [data] the data it was trained on?): {e}",
                file.display(),
                section.model.blocks,
                section.model.dim
            ))
        })?;
        Ok(Self { net: loaded.valid(), config: section.model.clone() })
    }

    /// Wraps an untrained network (benchmarks).
    pub fn from_model(net: NextItNet<AB::InnerBackend>, config: NextItNetConfig) -> Self {
        Self { net, config }
    }

    /// The embedding, the mapping's layers (per `losses.teacher_layers`) and the logits of `items`
    /// `[batch, time]`.
    pub fn targets(&self, items: Tensor<AB::InnerBackend, 2, Int>, losses: &AdarecLosses) -> TeacherTargets<AB> {
        let features = self.net.forward_features(items);
        let layers = losses.teacher_layers(features.hidden.len());
        TeacherTargets {
            embedding: Tensor::from_inner(features.embedding),
            hidden: layers.into_iter().map(|i| Tensor::from_inner(features.hidden[i].clone())).collect(),
            logits: Tensor::from_inner(features.logits),
        }
    }
}
