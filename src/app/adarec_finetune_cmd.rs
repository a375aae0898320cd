//! `kdnas adarec finetune`: AdaRec's stage 2 — build the derived student of a search from its genotype
//! and train it, from scratch or from the search's weights (`init`), with the one training loop (cross-entropy, optionally with continued
//! distillation from the frozen teacher); ranking metrics per epoch, the best epoch kept.

use super::sequence_teacher_cmd::{SequenceTraining, sequence_run_config, train_sequence_model};
use super::teacher_cmd::TeacherArgs;
use crate::distill::objective::Objective;
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::sequence_cell_network::SequenceCellNetwork;
use crate::ops::OpMode;
use crate::run::checkpoint::load_module_file;
use crate::run::folder::RUN_CONFIG;
use crate::tasks::adarec::config::{AdarecFinetuneConfig, StudentInit};
use crate::tasks::adarec::run_summary::SequenceTeacherSummary;
use crate::tasks::adarec::student::STUDENT_INIT_FILE;
use crate::tasks::adarec::teacher::FrozenSequenceTeacher;
use crate::tasks::adarec::train_task::SequenceTrainTask;
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The search's [`STUDENT_INIT_FILE`] beside `genotype`, or an error saying why it is not there.
fn search_student_init(genotype: &Path) -> Result<PathBuf> {
    let file = genotype.with_file_name(STUDENT_INIT_FILE);
    if file.is_file() {
        return Ok(file);
    }
    Err(KdnasError::Usage(format!(
        "init = \"search\" needs {}, which the search writes beside its genotype; this search run has none \
         (an unfinished search, or one made before kdnas wrote that file): rerun the search or use init = \"scratch\"",
        file.display()
    )))
}

/// Trains (or resumes) the derived student of `genotype` and writes metrics, checkpoints, the best and
/// final weights, a summary and the training curves to `args.out`.
pub fn adarec_finetune_command<AB: AutodiffBackend>(
    args: &TeacherArgs,
    device: &AB::Device,
) -> Result<SequenceTeacherSummary> {
    let config: AdarecFinetuneConfig = sequence_run_config(args)?;
    let genotype_bytes = std::fs::read(&config.genotype).map_err(|e| KdnasError::io(&config.genotype, e))?;
    let derived = Genotype::load(&config.genotype)?.to_arch_graph()?;
    let data = Arc::new(config.data.load(Path::new("."))?);
    let items = data.set.n_items();
    AB::seed(device, config.seed);
    let mut net = SequenceCellNetwork::<AB>::new(&derived, &config.student, items, OpMode::Derived, device)?;
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![("genotype", genotype_bytes)];
    if config.init == StudentInit::Search {
        let file = search_student_init(&config.genotype)?;
        inputs.push(("student_init", std::fs::read(&file).map_err(|e| KdnasError::io(&file, e))?));
        net = load_module_file(&file, net, device)?;
    }
    let in_config = |e| crate::config_file::locate_in_config(&args.out.join(RUN_CONFIG), e);
    let (objectives, reduction, teacher_section) = config.loss_terms();
    let teacher = match teacher_section {
        Some(section) => {
            // The name `[kd]` runs' fingerprints have always used.
            let input = if config.kd.is_some() { "kd.teacher.checkpoint" } else { "teacher.checkpoint" };
            let bytes = std::fs::read(&section.checkpoint).map_err(|e| KdnasError::io(&section.checkpoint, e))?;
            inputs.push((input, bytes));
            Some(FrozenSequenceTeacher::<AB>::load(section, items, device).map_err(in_config)?)
        }
        None => None,
    };
    let task = SequenceTrainTask::<AB, SequenceCellNetwork<AB>>::new(data.clone(), device.clone())
        .with_objectives(&objectives, reduction, teacher)
        .map_err(in_config)?;
    let borrowed: Vec<(&str, &[u8])> = inputs.iter().map(|(name, bytes)| (*name, bytes.as_slice())).collect();
    let fingerprint = Fingerprint::new(&config, &borrowed, &net)?;
    let name = format!("adarec-student-{}x{}", config.student.cells, config.student.dim);
    if args.progress {
        let how = match (&config.kd, objectives.as_slice()) {
            (Some(kd), _) => format!("distilled, gamma {}", kd.gamma),
            (None, [Objective::CrossEntropy { .. }]) => "cross-entropy only".to_string(),
            (None, list) => list.iter().map(|o| format!("{} {}", o.weight(), o.name())).collect::<Vec<_>>().join(" + "),
        };
        let how = match config.init {
            StudentInit::Scratch => format!("{how}, from scratch"),
            StudentInit::Search => format!("{how}, from the search's weights"),
        };
        eprintln!(
            "finetune: {name} ({} parameters, {how}), {} users, {} items, {} epochs -> {}",
            trainable_params(&net),
            data.set.len(),
            items,
            config.train.epochs,
            args.out.display()
        );
    }
    let run =
        SequenceTraining { train: &config.train, seed: config.seed, name, fingerprint: &fingerprint, label: "student" };
    train_sequence_model(args, run, &task, net, device)
}
