//! `kdnas teacher train` for a `[task] kind = "adarec"` config: train the NextItNet teacher of AdaRec
//! with the one training loop (checkpoint every epoch, `--resume`, `--stop-after`), validation and test
//! ranking metrics per epoch, the best epoch by validation NDCG@10 kept in `best/`.

use super::teacher_cmd::{
    TEACHER_CONFIG, TeacherArgs, TeacherStart, refuse_existing_run, teacher_config_file, write_final_outputs,
};
use crate::error::{KdnasError, Result};
use crate::files::{absolute_from, write_file_atomically};
use crate::manifest::Fingerprint;
use crate::models::nextitnet::{NextItNet, NextItNetConfig};
use crate::supernet::trainable_params;
use crate::tasks::adarec::data::SequenceDataConfig;
use crate::tasks::adarec::train_task::SequenceTrainTask;
use crate::tasks::{TaskKind, TaskSection};
use crate::train::figures::write_training_figures;
use crate::train::records::best_epoch;
use crate::train::{TrainConfig, TrainEpoch, TrainRun, train_loop};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The metric that picks the best epoch of a ranking run.
pub const BEST_RANKING_METRIC: &str = "valid_ndcg@10";

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
        super::run_config::load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        use crate::validate::field_error;
        self.task.expect(TaskKind::Adarec)?;
        self.data.validate()?;
        self.model.validate("model")?;
        self.train.validate()?;
        for (field, set) in [
            ("train.channels", self.train.channels.is_some()),
            ("train.layers", self.train.layers.is_some()),
            ("train.cutout", self.train.cutout.is_some()),
            ("train.drop_path", self.train.drop_path != 0.0),
        ] {
            if set {
                return Err(field_error(field, "only applies to image networks; a NextItNet is sized by [model]"));
            }
        }
        Ok(())
    }
}

/// What a NextItNet teacher run reports (also `result.json` once every epoch is done).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceTeacherSummary {
    /// Short name of the network (`nextitnet-16x256`).
    pub model: String,
    /// Trainable parameters.
    pub params: usize,
    /// 0-based epoch with the best validation NDCG@10 (its weights are in `best/model.mpk`).
    pub best_epoch: usize,
    /// Validation and test metrics of that epoch (`valid_ndcg@10`, `test_hr@10`, ...).
    pub best_metrics: BTreeMap<String, f64>,
    /// Finished epochs.
    pub epochs: usize,
    /// Epochs the run is configured for.
    pub planned_epochs: usize,
    /// Wall-clock seconds of training, summed over epochs (resumed runs included).
    pub seconds: f64,
}

impl SequenceTeacherSummary {
    /// Whether every planned epoch is done.
    pub fn finished(&self) -> bool {
        self.epochs >= self.planned_epochs
    }

    fn of(model: String, params: usize, history: &[TrainEpoch], planned_epochs: usize) -> Self {
        let best = best_epoch(history, BEST_RANKING_METRIC);
        Self {
            model,
            params,
            best_epoch: best.map_or(0, |r| r.epoch),
            best_metrics: best.map(|r| r.metrics.clone()).unwrap_or_default(),
            epochs: history.len(),
            planned_epochs,
            seconds: history.iter().map(|r| r.seconds).sum(),
        }
    }
}

/// Writes the resolved config of a new run into `out` (the data path made absolute, so the copy
/// finds it from anywhere; refusing a directory that already holds a run) and returns it.
fn prepare_new(config_path: &Path, seed: Option<u64>, out: &Path) -> Result<SequenceTeacherConfig> {
    refuse_existing_run(out)?;
    let mut config = SequenceTeacherConfig::load(config_path)?;
    if let Some(s) = seed {
        config.seed = s;
    }
    let base = config_path.parent().unwrap_or(Path::new("."));
    config.data.path = config.data.path.map(|p| absolute_from(base, &p));
    std::fs::create_dir_all(out).map_err(|e| KdnasError::io(out, e))?;
    write_file_atomically(&out.join(TEACHER_CONFIG), super::run_config::config_toml(&config)?.as_bytes())?;
    Ok(config)
}

/// Trains (or resumes) a NextItNet teacher and writes metrics, checkpoints, the best and final
/// weights, a summary and the training curves to `args.out`.
pub fn sequence_teacher_command<AB: AutodiffBackend>(
    args: &TeacherArgs,
    device: &AB::Device,
) -> Result<SequenceTeacherSummary> {
    let out = &args.out;
    let config = match &args.start {
        TeacherStart::New { config, seed } => prepare_new(config, *seed, out)?,
        TeacherStart::Resume => SequenceTeacherConfig::load(&teacher_config_file(args)?)?,
    };
    let data = Arc::new(config.data.load(Path::new("."))?);
    AB::seed(device, config.seed);
    let net: NextItNet<AB> = config.model.build(data.set.n_items(), device)?;
    let name = format!("nextitnet-{}x{}", config.model.blocks, config.model.dim);
    let params = trainable_params(&net);
    let fingerprint = Fingerprint::new(&config, &[], &net)?;
    if args.progress {
        eprintln!(
            "teacher: {name} ({params} parameters), {} users, {} items, {} interactions, {} epochs -> {}",
            data.set.len(),
            data.set.n_items(),
            data.set.interactions(),
            config.train.epochs,
            out.display()
        );
    }
    let task = SequenceTrainTask::<AB, NextItNet<AB>>::new(data, device.clone());
    let run = TrainRun {
        config: &config.train,
        seed: config.seed,
        run_dir: out,
        resume: matches!(args.start, TeacherStart::Resume),
        progress: args.progress,
        stop_after: args.stop_after,
        device,
        fingerprint: &fingerprint,
        keep_best: Some(BEST_RANKING_METRIC),
        label: "teacher",
    };
    let outcome = train_loop(&task, net, &run, |_, _| Ok(()))?;
    let summary = SequenceTeacherSummary::of(name.clone(), params, &outcome.history, config.train.epochs);
    write_training_figures(out, &outcome.history, &format!("teacher {name}"))?;
    write_final_outputs(out, &outcome.net.valid(), &summary, summary.finished(), outcome.epochs_run)?;
    Ok(summary)
}
