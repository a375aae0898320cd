//! `kdnas adarec search`: AdaRec's stage 1 — search the shared op choices of a causal 1-D student's
//! cells, distilled from a frozen NextItNet under a parameter cost, through the one search loop.

use super::search_cmd::{Derivation, RUN_CONFIG, SearchControl, SearchResult, search_and_write};
use crate::error::{KdnasError, Result};
use crate::export::{DeriveRule, Genotype};
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::sequence_cell_network::SequenceCellNetwork;
use crate::ops::OpMode;
use crate::search::history::EpochRecord;
use crate::search::{PreparedRun, RUN_SPACE, SearchMode};
use crate::supernet::ArchParams;
use crate::tasks::adarec::budget::ParamBudget;
use crate::tasks::adarec::config::AdarecSearchConfig;
use crate::tasks::adarec::search_outputs::{budget_report, search_costs, write_student_init};
use crate::tasks::adarec::search_task::AdarecSearchTask;
use crate::tasks::adarec::student::AdarecStudent;
use crate::tasks::adarec::teacher::FrozenSequenceTeacher;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use std::path::Path;
use std::sync::Arc;

/// Runs (or resumes) an AdaRec search and writes the derived student (genotype.json), metrics and plots.
pub fn run_adarec_search<AB: AutodiffBackend>(
    run: &PreparedRun<AdarecSearchConfig>,
    control: &SearchControl<AB>,
) -> Result<SearchResult> {
    let (device, progress) = (control.device, control.progress);
    let cfg = &run.config;
    let in_config = |e: KdnasError| crate::config_file::locate_in_config(&run.dir.join(RUN_CONFIG), e);
    let data = Arc::new(cfg.data.load(Path::new("."))?);
    let items = data.set.n_items();
    let teacher = FrozenSequenceTeacher::<AB>::load(&cfg.teacher, items, device).map_err(in_config)?;
    AB::seed(device, cfg.seed);
    let student = SequenceCellNetwork::<AB>::new(&run.space, &cfg.student, items, OpMode::Search, device)?;
    let net = AdarecStudent::new(student, cfg.student.dim, cfg.teacher.model.dim, device);
    let arch = ArchParams::<AB>::new(&run.space, device);
    let costs = search_costs::<AB>(cfg, &run.space, &run.dir, data.max_len, device)?;
    let teacher_bytes =
        std::fs::read(&cfg.teacher.checkpoint).map_err(|e| KdnasError::io(&cfg.teacher.checkpoint, e))?;
    let fingerprint =
        Fingerprint::new(cfg, &[(RUN_SPACE, run.space_text.as_bytes()), ("teacher.checkpoint", &teacher_bytes)], &net)?;
    let fraction = (cfg.search.mode != SearchMode::SingleLevel).then_some(cfg.search.train_fraction);
    let task = AdarecSearchTask::new(
        data.clone(),
        fraction,
        teacher,
        cfg.adarec.clone(),
        costs,
        cfg.student.cells,
        device.clone(),
    )
    .map_err(in_config)?;
    let budget = match cfg.adarec.target_params {
        Some(target) => Some(ParamBudget::new(
            &run.space,
            trainable_params(&net.student),
            cfg.student.cells,
            cfg.student.dim,
            OpMode::Search.affine(),
            target,
        )?),
        None => None,
    };
    let task = match budget {
        Some(budget) => task.with_budget(budget),
        None => task,
    };
    if progress {
        eprintln!(
            "adarec search: {} users, {} items; teacher nextitnet-{}x{} -> student {} cells x {} ({} weights with \
             projections), {:?}, {} epochs -> {}",
            data.set.len(),
            items,
            cfg.teacher.model.blocks,
            cfg.teacher.model.dim,
            cfg.student.cells,
            cfg.student.dim,
            trainable_params(&net),
            cfg.search.mode,
            cfg.search.epochs,
            run.dir.display()
        );
    }
    let rule = DeriveRule::Argmax;
    let keep_student_init = |net: &AdarecStudent<AB>, record: &EpochRecord| {
        let derived = Genotype::derive(&run.space, &record.extras.arch_weights, rule).to_arch_graph()?;
        write_student_init::<AB::InnerBackend>(&net.student.valid(), &derived, &cfg.student, &run.dir, items, device)
    };
    let derivation = Derivation { rule, on_epoch: Some(&keep_student_init) };
    let result = search_and_write(run, &task, net, arch, &fingerprint, control, derivation)?;
    if let Some(target) = cfg.adarec.target_params {
        let report = budget_report::<AB>(&result.genotype, cfg, items, target, device)?;
        if progress {
            eprintln!(
                "budget: derived student {} trainable parameters, target {} ({})",
                report.derived_params,
                target,
                if report.met { "met" } else { "NOT met" }
            );
        }
        report.save(&run.dir)?;
    }
    Ok(result)
}
