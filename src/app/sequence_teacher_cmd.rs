//! `kdnas teacher train` for a `[task] kind = "adarec"` config: train the NextItNet teacher of AdaRec
//! with the one training loop (checkpoint every epoch, `--resume`, `--stop-after`), validation and test
//! ranking metrics per epoch, the best epoch by validation NDCG@10 kept in `best/`.

use super::teacher_cmd::TeacherArgs;
use crate::error::Result;
use crate::manifest::Fingerprint;
use crate::metrics::ranking::BEST_RANKING_METRIC;
use crate::metrics::trainable_params;
use crate::models::nextitnet::NextItNet;
use crate::run::folder::write_final_outputs;
use crate::run::{FolderConfig, open_run};
use crate::tasks::adarec::run_summary::SequenceTeacherSummary;
use crate::tasks::adarec::teacher_config::SequenceTeacherConfig;
use crate::tasks::adarec::train_task::SequenceTrainTask;
use crate::train::figures::write_training_figures;
use crate::train::{TrainConfig, TrainRun, train_loop};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use std::path::Path;
use std::sync::Arc;

/// The config of a new run (`args.start` is `New`) written into `args.out` with its paths made absolute
/// (refusing a directory that already holds a run), or the run's own copy when resuming.
pub fn sequence_run_config<C: FolderConfig>(args: &TeacherArgs) -> Result<C> {
    open_run(&args.start, &args.out, |_, _| Ok(()))
}

/// What a sequence training run needs besides its network and task.
pub struct SequenceTraining<'a> {
    /// Training hyper-parameters.
    pub train: &'a TrainConfig,
    /// Seed of the loop.
    pub seed: u64,
    /// Short name of the network (`nextitnet-16x256`, `adarec-student`).
    pub name: String,
    /// What the run is (checked on resume).
    pub fingerprint: &'a Fingerprint,
    /// Progress label (`teacher`, `student`).
    pub label: &'static str,
}

/// Trains (or resumes) `net` on `task` with the one training loop into `args.out`: metrics, checkpoints,
/// the best epoch by validation NDCG@10, the final weights, a summary and the training curves.
pub fn train_sequence_model<AB, T>(
    args: &TeacherArgs,
    run: SequenceTraining,
    task: &T,
    net: T::Net,
    device: &AB::Device,
) -> Result<SequenceTeacherSummary>
where
    AB: AutodiffBackend,
    T: crate::train::TrainTask<AB>,
{
    let params = trainable_params(&net);
    let train_run = TrainRun {
        config: run.train,
        seed: run.seed,
        run_dir: &args.out,
        resume: args.start.resumes(),
        progress: args.progress,
        stop_after: args.stop_after,
        device,
        fingerprint: run.fingerprint,
        keep_best: Some(BEST_RANKING_METRIC),
        label: run.label,
    };
    let outcome = train_loop(task, net, &train_run, |_, _| Ok(()))?;
    let summary = SequenceTeacherSummary::of(run.name.clone(), params, &outcome, run.train.epochs);
    write_training_figures(&args.out, &outcome.history, &format!("{} {}", run.label, run.name))?;
    write_final_outputs(&args.out, &outcome.net.valid(), &summary, outcome.epochs_run)?;
    Ok(summary)
}

/// Trains (or resumes) a NextItNet teacher and writes metrics, checkpoints, the best and final
/// weights, a summary and the training curves to `args.out`.
pub fn sequence_teacher_command<AB: AutodiffBackend>(
    args: &TeacherArgs,
    device: &AB::Device,
) -> Result<SequenceTeacherSummary> {
    let config: SequenceTeacherConfig = sequence_run_config(args)?;
    let data = Arc::new(config.data.load(Path::new("."))?);
    AB::seed(device, config.seed);
    let net: NextItNet<AB> = config.model.build(data.set.n_items(), device)?;
    let name = format!("nextitnet-{}x{}", config.model.blocks, config.model.dim);
    let fingerprint = Fingerprint::new(&config, &[], &net)?;
    if args.progress {
        eprintln!(
            "teacher: {name} ({} parameters), {} users, {} items, {} interactions, {} epochs -> {}",
            trainable_params(&net),
            data.set.len(),
            data.set.n_items(),
            data.set.interactions(),
            config.train.epochs,
            args.out.display()
        );
    }
    let task = SequenceTrainTask::<AB, NextItNet<AB>>::new(data, device.clone());
    let run =
        SequenceTraining { train: &config.train, seed: config.seed, name, fingerprint: &fingerprint, label: "teacher" };
    train_sequence_model(args, run, &task, net, device)
}
