//! `kdnas dfa search`: DFA's stage 1 — search the per-stage aggregation weights of a frozen teacher's
//! block features with the bridge loss, through the one search loop.

use super::search_cmd::{RUN_CONFIG, SearchControl, SearchResult, search_and_write, search_splits};
use crate::config_file::locate_usage;
use crate::error::{KdnasError, Result};
use crate::export::DeriveRule;
use crate::manifest::Fingerprint;
use crate::metrics::trainable_params;
use crate::models::StagedClassifier;
use crate::search::{PreparedRun, RUN_SPACE};
use crate::space::Source;
use crate::supernet::ArchParams;
use crate::tasks::dfa::config::DfaSearchConfig;
use crate::tasks::dfa::space_check::{check_pair, stage_slots};
use crate::tasks::dfa::{DfaSearchTask, DfaStudent, FrozenTeacher};
use burn::tensor::backend::AutodiffBackend;

/// Runs (or resumes) a DFA search and writes the aggregation weights (genotype.json), metrics and plots.
pub fn run_dfa_search<AB: AutodiffBackend>(
    run: &PreparedRun<DfaSearchConfig>,
    control: &SearchControl<AB>,
) -> Result<SearchResult> {
    let (device, progress) = (control.device, control.progress);
    let cfg = &run.config;
    let config_path = run.dir.join(RUN_CONFIG);
    let in_config = |e: KdnasError| crate::config_file::locate_in_config(&config_path, e);
    let (train, val) = search_splits(&cfg.data, &cfg.search, &run.dir)?;
    let teacher = FrozenTeacher::<AB>::load(&cfg.teacher, train.channels, train.classes, device).map_err(in_config)?;
    let teacher_shapes = teacher.inner.stage_shapes();
    let space_src = Source { path: &run.dir.join(RUN_SPACE), text: &run.space_text };
    let slots =
        stage_slots(&run.space, &teacher_shapes, &cfg.teacher.model.name()).map_err(|e| locate_usage(&space_src, e))?;
    AB::seed(device, cfg.seed);
    let student = cfg.student.model.build::<AB>(train.channels, train.classes, device)?;
    check_pair(&teacher_shapes, &student.stage_shapes(), (&cfg.teacher.model.name(), &cfg.student.model.name()))
        .map_err(in_config)?;
    let net = DfaStudent::new(student, &teacher_shapes, device);
    let arch = ArchParams::<AB>::new(&run.space, device);
    if progress {
        eprintln!(
            "dfa search: teacher {} -> student {} ({} weights with connectors), {:?}, {} epochs -> {}",
            cfg.teacher.model.name(),
            cfg.student.model.name(),
            trainable_params(&net),
            cfg.search.mode,
            cfg.search.epochs,
            run.dir.display()
        );
    }
    let teacher_bytes =
        std::fs::read(&cfg.teacher.checkpoint).map_err(|e| KdnasError::io(&cfg.teacher.checkpoint, e))?;
    let mut inputs: Vec<(&str, Vec<u8>)> =
        vec![(RUN_SPACE, run.space_text.clone().into_bytes()), ("teacher.checkpoint", teacher_bytes)];
    if let Some(genotype) = cfg.student.model.input_file() {
        inputs.push(("student.model.genotype", std::fs::read(genotype).map_err(|e| KdnasError::io(genotype, e))?));
    }
    let inputs: Vec<(&str, &[u8])> = inputs.iter().map(|(name, bytes)| (*name, bytes.as_slice())).collect();
    let fingerprint = Fingerprint::new(cfg, &inputs, &net)?;
    let task = DfaSearchTask::<AB> {
        train,
        val,
        augment: cfg.data.augmenter(),
        teacher,
        slots,
        losses: cfg.dfa.clone(),
        device: device.clone(),
    };
    search_and_write(run, &task, net, arch, &fingerprint, control, DeriveRule::Argmax.into())
}
