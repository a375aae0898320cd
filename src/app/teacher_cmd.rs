//! `kdnas teacher train`: train a teacher network (CIFAR ResNet / WRN of [`crate::models`]) with the
//! one training loop, checkpointing every epoch, keeping the best epoch's weights and, on request,
//! periodic snapshots; `--resume DIR` continues a stopped run exactly.

use crate::error::Result;
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::Model;
use crate::run::folder::write_final_outputs;
use crate::run::{RunStart, open_run};
use crate::tasks::image::{MODEL_INFO, ModelInfo, TeacherConfig, TeacherSummary};
use crate::train::figures::write_training_figures;
use crate::train::{ImageTrainTask, TrainRun, train_loop};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

/// Inputs of `kdnas teacher train`.
pub struct TeacherArgs {
    /// New run or resume.
    pub start: RunStart,
    /// Run directory.
    pub out: PathBuf,
    /// Show progress.
    pub progress: bool,
    /// Stop once this many epochs are finished (resume later with `--resume`).
    pub stop_after: Option<usize>,
}

/// Trains (or resumes training) a teacher and writes metrics, checkpoints, the best and final weights,
/// a summary and the training curves to `args.out`.
pub fn teacher_command<AB: AutodiffBackend>(args: &TeacherArgs, device: &AB::Device) -> Result<TeacherSummary> {
    let out = &args.out;
    let config: TeacherConfig = open_run(&args.start, out, |_, _| Ok(()))?;
    let (train, test) = config.data.load(Path::new("."))?;
    AB::seed(device, config.seed);
    let net: Model<AB> = config.model.build(train.channels, train.classes, device)?;
    let info = ModelInfo {
        name: config.model.name(),
        model: config.model.clone(),
        in_channels: train.channels,
        classes: train.classes,
        params: trainable_params(&net),
    };
    if !args.start.resumes() || !out.join(MODEL_INFO).exists() {
        info.save(out)?;
    }
    let fingerprint = Fingerprint::new(&config, &[], &net)?;
    if args.progress {
        eprintln!(
            "teacher: {} ({} parameters), {} training / {} test images, {} epochs -> {}",
            info.name,
            info.params,
            train.len(),
            test.len(),
            config.train.epochs,
            out.display()
        );
    }
    let augment = config.train.augmenter(&config.data);
    let task = ImageTrainTask::<AB, Model<AB>>::new(train, test, augment, 0.0, device.clone());
    let run = TrainRun {
        config: &config.train,
        seed: config.seed,
        run_dir: out,
        resume: args.start.resumes(),
        progress: args.progress,
        stop_after: args.stop_after,
        device,
        fingerprint: &fingerprint,
        keep_best: Some("test_acc"),
        label: "teacher",
    };
    let outcome = train_loop(&task, net, &run, |_, _| Ok(()))?;
    let summary = TeacherSummary::of(&info, &outcome, config.train.epochs);
    write_training_figures(out, &outcome.history, &format!("teacher {}", info.name))?;
    write_final_outputs(out, &outcome.net.valid(), &summary, outcome.epochs_run)?;
    Ok(summary)
}

/// The config file a teacher run reads: the given file of a new run, or the run directory's copy when
/// resuming (failing when that directory does not exist).
pub fn teacher_config_file(args: &TeacherArgs) -> Result<PathBuf> {
    args.start.config_file(&args.out, "teacher run")
}
