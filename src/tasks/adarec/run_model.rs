//! The sequential recommender a finished ranking run trained (a NextItNet teacher or a derived AdaRec
//! student), rebuilt from its run folder alone for `kdnas eval` and `kdnas adarec table`.

use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::metrics::trainable_params;
use crate::models::nextitnet::NextItNet;
use crate::models::sequence_cell_network::SequenceCellNetwork;
use crate::ops::OpMode;
use crate::run::FolderConfig;
use crate::run::checkpoint::load_module_file;
use crate::run::folder::RUN_CONFIG;
use crate::tasks::adarec::config::AdarecFinetuneConfig;
use crate::tasks::adarec::data::SequenceData;
use crate::tasks::adarec::recommender::SequenceRecommender;
use crate::tasks::adarec::teacher_config::SequenceTeacherConfig;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use std::path::Path;

/// A trained sequential recommender of either kind.
pub enum RankingModel<B: Backend> {
    /// A NextItNet teacher.
    Teacher(NextItNet<B>),
    /// A derived AdaRec student.
    Student(SequenceCellNetwork<B>),
}

impl<B: Backend> SequenceRecommender<B> for RankingModel<B> {
    fn sequence_logits(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        match self {
            Self::Teacher(net) => net.sequence_logits(items),
            Self::Student(net) => net.sequence_logits(items),
        }
    }

    fn next_item_scores(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        match self {
            Self::Teacher(net) => net.next_item_scores(items),
            Self::Student(net) => net.next_item_scores(items),
        }
    }
}

/// Whether the run directory `run_dir` holds a sequential-recommendation run (`[task] kind = "adarec"`).
pub fn is_ranking_run(run_dir: &Path) -> bool {
    crate::tasks::task_kind_of(&run_dir.join(RUN_CONFIG)).is_ok_and(|k| k == crate::tasks::TaskKind::Adarec)
}

/// What a ranking run trained, as its config says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankingRunKind {
    /// A NextItNet teacher (also a config that does not parse: loading it as one reports where).
    Teacher,
    /// A derived student (`genotype`), `distilled` when it has a `[kd]` or a `[teacher]` section.
    Student {
        /// Whether the fine-tuning distilled from a teacher.
        distilled: bool,
    },
}

/// The kind of the ranking run `run_dir`, read from its config.
pub fn ranking_run_kind(run_dir: &Path) -> Result<RankingRunKind> {
    let config_path = run_dir.join(RUN_CONFIG);
    let text = std::fs::read_to_string(&config_path).map_err(|e| KdnasError::io(&config_path, e))?;
    Ok(match toml::from_str::<toml::Table>(&text) {
        Ok(table) if table.contains_key("genotype") => {
            RankingRunKind::Student { distilled: table.contains_key("kd") || table.contains_key("teacher") }
        }
        _ => RankingRunKind::Teacher,
    })
}

/// The untrained model of the ranking run `run_dir` for `items` items, and its name.
pub fn build<B: Backend>(run_dir: &Path, items: usize, device: &B::Device) -> Result<(RankingModel<B>, String)> {
    let config_path = run_dir.join(RUN_CONFIG);
    if ranking_run_kind(run_dir)? != RankingRunKind::Teacher {
        let mut config = AdarecFinetuneConfig::load(&config_path)?;
        FolderConfig::resolve(&mut config, run_dir);
        let derived = Genotype::load(&config.genotype)?.to_arch_graph()?;
        let net = SequenceCellNetwork::<B>::new(&derived, &config.student, items, OpMode::Derived, device)?;
        return Ok((
            RankingModel::Student(net),
            format!("adarec-student-{}x{}", config.student.cells, config.student.dim),
        ));
    }
    let config = SequenceTeacherConfig::load(&config_path)?;
    Ok((
        RankingModel::Teacher(config.model.build::<B>(items, device)?),
        format!("nextitnet-{}x{}", config.model.blocks, config.model.dim),
    ))
}

/// The model of the ranking run `run_dir` with the weights `weights`, and its name.
pub fn open<B: Backend>(
    run_dir: &Path,
    weights: &Path,
    device: &B::Device,
    data: &SequenceData,
) -> Result<(RankingModel<B>, String)> {
    let items = data.set.n_items();
    let wrong_data = |e: KdnasError| {
        KdnasError::Usage(format!(
            "{}: does not fit this data ({items} items; a model is built for the items of its own data): {e}",
            weights.display()
        ))
    };
    let (model, name) = build::<B>(run_dir, items, device)?;
    let model = match model {
        RankingModel::Teacher(net) => {
            RankingModel::Teacher(load_module_file(weights, net, device).map_err(wrong_data)?)
        }
        RankingModel::Student(net) => {
            RankingModel::Student(load_module_file(weights, net, device).map_err(wrong_data)?)
        }
    };
    Ok((model, name))
}

/// The trainable parameters of the ranking run `run_dir`'s model, counted as training counts them: on
/// an autodiff backend, where BatchNorm running statistics (which `num_params` includes) need no
/// gradient. The weights do not change the count, so an untrained copy is counted.
pub fn trainable_params_of<B: Backend>(run_dir: &Path, items: usize, device: &B::Device) -> Result<usize> {
    Ok(match build::<Autodiff<B>>(run_dir, items, device)?.0 {
        RankingModel::Teacher(net) => trainable_params(&net),
        RankingModel::Student(net) => trainable_params(&net),
    })
}
