//! `kdnas distill`: stage 2 — train a fresh student from a frozen teacher with weighted objectives
//! (CE, KD, FitNet, AT, DFA's aggregation with searched / Last / Average / Random weights) through
//! the one training loop; `--resume DIR` continues a stopped run exactly.

use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::StagedClassifier;
use crate::run::folder::{RUN_CONFIG, write_final_outputs};
use crate::run::{RunStart, open_run};
use crate::tasks::dfa::FrozenTeacher;
use crate::tasks::dfa::distill_config::DistillConfig;
use crate::tasks::dfa::distill_task::{BoundObjective, DistillStudent, DistillTask};
use crate::tasks::dfa::objectives::{Objective, aggregation_weights, feature_taps};
use crate::tasks::image::{ModelInfo, TeacherSummary};
use crate::train::figures::write_training_figures;
use crate::train::{TrainRun, train_loop};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

/// Inputs of `kdnas distill`.
pub struct DistillArgs {
    /// A new run of a config file, or the run in `out` resumed.
    pub start: RunStart,
    /// Run directory.
    pub out: PathBuf,
    /// Show progress.
    pub progress: bool,
    /// Stop once this many epochs are finished (resume later with `--resume`).
    pub stop_after: Option<usize>,
}

/// File of a distillation run directory with the copy of a DARTS student's genotype the run builds
/// the student from.
pub const STUDENT_GENOTYPE: &str = "student_genotype.json";

/// Copies a DARTS student's genotype into the new run folder `out` and points `config` at the copy:
/// the run (and `kdnas eval` of it) builds the student from its own copy, which a later search
/// writing the same genotype.json cannot change.
fn keep_student_genotype(config: &mut DistillConfig, out: &Path) -> Result<()> {
    if let Some(genotype) = config.student.model.input_file() {
        let bytes = std::fs::read(genotype).map_err(|e| KdnasError::io(genotype, e))?;
        let copy = std::path::absolute(out.join(STUDENT_GENOTYPE)).map_err(|e| KdnasError::io(out, e))?;
        write_file_atomically(&copy, &bytes)?;
        config.student.model.use_genotype_copy(copy);
    }
    Ok(())
}

/// The bytes of every file a distillation depends on besides its config (the teacher's weights and
/// the searched aggregation weights), for the checkpoint fingerprint.
fn input_files(config: &DistillConfig) -> Result<Vec<(String, Vec<u8>)>> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| KdnasError::io(path, e));
    let mut files = vec![("teacher.checkpoint".to_string(), read(&config.teacher.checkpoint)?)];
    if let Some(genotype) = config.student.model.input_file() {
        files.push(("student.model.genotype".to_string(), read(genotype)?));
    }
    for (i, objective) in config.objective.iter().enumerate() {
        if let Objective::Aggregation { search: Some(dir), .. } = objective {
            let path = dir.join("genotype.json");
            if path.is_file() {
                files.push((format!("objective[{i}].search"), read(&path)?));
            }
        }
    }
    Ok(files)
}

/// Trains (or resumes) a distillation run and writes metrics, checkpoints, the student's weights
/// (`model.mpk` + `model.json`, readable by `kdnas eval`), a summary and the curves to `args.out`.
pub fn distill_command<AB: AutodiffBackend>(args: &DistillArgs, device: &AB::Device) -> Result<TeacherSummary> {
    let out = &args.out;
    let config: DistillConfig = open_run(&args.start, out, keep_student_genotype)?;
    let config_path = out.join(RUN_CONFIG);
    let in_config = |e: KdnasError| crate::config_file::locate_in_config(&config_path, e);
    let (train, test) = config.data.load(Path::new("."))?;
    let teacher =
        FrozenTeacher::<AB>::load(&config.teacher, train.channels, train.classes, device).map_err(in_config)?;
    let teacher_shapes = teacher.inner.stage_shapes();
    let objectives = config
        .objective
        .iter()
        .enumerate()
        .map(|(i, objective)| {
            let aggregation = match objective {
                Objective::Aggregation { weights, search, seed, .. } => Some(
                    aggregation_weights(weights, search.as_deref(), *seed, &teacher_shapes, &format!("objective[{i}]"))
                        .map_err(in_config)?,
                ),
                _ => None,
            };
            Ok(BoundObjective { objective: objective.clone(), aggregation })
        })
        .collect::<Result<Vec<_>>>()?;
    AB::seed(device, config.seed);
    let student = config.student.model.build::<AB>(train.channels, train.classes, device)?;
    crate::tasks::dfa::space_check::check_pair(
        &teacher_shapes,
        &student.stage_shapes(),
        (&config.teacher.model.name(), &config.student.model.name()),
    )
    .map_err(in_config)?;
    let info = ModelInfo {
        name: config.student.model.name(),
        model: config.student.model.clone(),
        in_channels: train.channels,
        classes: train.classes,
        params: trainable_params(&student),
    };
    let taps = feature_taps(&config.objective)?;
    let connect = taps.filter(|_| config.objective.iter().any(Objective::needs_connectors));
    let net = DistillStudent::new(student, &teacher_shapes, connect, device);
    let files = input_files(&config)?;
    let inputs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let fingerprint = Fingerprint::new(&config, &inputs, &net)?;
    info.save(out)?;
    if args.progress {
        let names: Vec<&str> = config.objective.iter().map(Objective::name).collect();
        eprintln!(
            "distill: teacher {} -> student {} ({} parameters), objectives {}, {} epochs -> {}",
            config.teacher.model.name(),
            info.name,
            info.params,
            names.join(" + "),
            config.train.epochs,
            out.display()
        );
    }
    let augment = config.train.augmenter(&config.data);
    let task = DistillTask { train, test, augment, teacher, objectives, device: device.clone() };
    let run = TrainRun {
        config: &config.train,
        seed: config.seed,
        run_dir: out,
        resume: args.start.resumes(),
        progress: args.progress,
        stop_after: args.stop_after,
        device,
        fingerprint: &fingerprint,
        keep_best: None,
        label: "distill",
    };
    let outcome = train_loop(&task, net, &run, |_, _| Ok(()))?;
    let summary = TeacherSummary::of(&info, &outcome, config.train.epochs);
    write_training_figures(out, &outcome.history, &format!("distill {}", info.name))?;
    write_final_outputs(out, &outcome.net.student.valid(), &summary, outcome.epochs_run)?;
    Ok(summary)
}
