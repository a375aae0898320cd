//! The frozen teacher of a distillation run: loaded from a checkpoint, never updated, evaluated with
//! its running BatchNorm statistics on both backends.

use crate::error::{KdnasError, Result};
use crate::models::{Features, Model, ModelConfig, TapPoint, Taps};
use crate::run::checkpoint::load_module_file;
use burn::module::{AutodiffModule, Module};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `[teacher]` section: which network, and the weights to load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSection {
    /// The teacher's architecture.
    pub model: ModelConfig,
    /// Its weights: a `model.mpk` written by `kdnas teacher train` (relative to the config file).
    pub checkpoint: PathBuf,
}

impl TeacherSection {
    /// Checks the architecture fields.
    pub fn validate(&self) -> Result<()> {
        self.model.validate_teacher("teacher.model")
    }

    /// Makes `checkpoint` absolute against `base` (the config file's folder).
    pub fn resolve(&mut self, base: &Path) {
        self.checkpoint = crate::files::absolute_from(base, &self.checkpoint);
    }
}

/// A teacher whose weights and BatchNorm statistics never change.
pub struct FrozenTeacher<AB: AutodiffBackend> {
    /// For paths that pass gradients through the teacher to a student (no trainable parameters,
    /// BatchNorm with running statistics).
    pub net: Model<AB>,
    /// For features that need no gradient.
    pub inner: Model<AB::InnerBackend>,
    /// The overhaul margin of every pre-activation tap, from the BatchNorms' affine parameters
    /// ([`crate::models::preact`]); `None` for a network without such taps.
    pub margins: Option<Taps<Vec<f32>>>,
}

impl<AB: AutodiffBackend> FrozenTeacher<AB> {
    /// Builds the teacher of `section` for `in_channels`-channel images and `classes` classes, and
    /// loads its checkpoint; a checkpoint of another architecture is refused, naming the file.
    pub fn load(section: &TeacherSection, in_channels: usize, classes: usize, device: &AB::Device) -> Result<Self> {
        let file = &section.checkpoint;
        if !file.is_file() {
            return Err(KdnasError::Usage(format!(
                "teacher.checkpoint: {} does not exist (train one with `kdnas teacher train`)",
                file.display()
            )));
        }
        let built = section.model.build::<AB>(in_channels, classes, device)?;
        let loaded = load_module_file(file, built, device).map_err(|e| {
            KdnasError::Usage(format!(
                "teacher.checkpoint: {} is not a {} for {in_channels}-channel images and {classes} classes: {e}",
                file.display(),
                section.model.name()
            ))
        })?;
        Ok(Self::from_model(loaded))
    }

    /// Freezes `model` as it stands (untrained weights for a benchmark; [`FrozenTeacher::load`] for a
    /// trained teacher): no trainable parameters, BatchNorm with running statistics on both backends.
    pub fn from_model(model: Model<AB>) -> Self {
        let net = model.no_grad().into_frozen();
        let inner = net.valid();
        let margins = inner.residual().map(|r| r.tap_margins());
        Self { net, inner, margins }
    }

    /// The margin of every tap as a `[c]` tensor on `device`.
    ///
    /// # Panics
    /// For a teacher without pre-activation taps (configs refuse it before a run starts).
    pub fn margin_tensors(&self, device: &AB::Device) -> Taps<Tensor<AB, 1>> {
        let margins =
            self.margins.as_ref().expect("the overhaul needs a ResNet or WRN teacher (checked by the config)");
        let tensor = |m: &Vec<f32>| Tensor::from_floats(m.as_slice(), device);
        Taps {
            stem: tensor(&margins.stem),
            stages: margins.stages.iter().map(|b| b.iter().map(tensor).collect()).collect(),
        }
    }

    /// The teacher's logits and features at `at` of a batch ([`Model::forward_at`]), as constants of the
    /// autodiff backend.
    pub fn features(&self, images: Tensor<AB::InnerBackend, 4>, at: TapPoint) -> (Features<AB>, Option<Tensor<AB, 4>>) {
        let (f, stem) = self.inner.forward_at(images, at);
        let features = Features {
            logits: Tensor::from_inner(f.logits),
            stages: f.stages.into_iter().map(|s| s.into_iter().map(Tensor::from_inner).collect()).collect(),
        };
        (features, stem.map(Tensor::from_inner))
    }
}
