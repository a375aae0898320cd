//! `kdnas eval` for sequential recommenders (a NextItNet teacher run or an AdaRec fine-tuning run) and
//! `kdnas adarec table`: leave-one-out ranking metrics on the validation and test targets, parameters,
//! and inference latency in ms per 1,000 users, measured on this machine.

use super::eval_cmd::{locate, read_data_section};
use super::teacher_cmd::best_weights;
use crate::data::sequence::{EvalSplit, eval_batch};
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::files::{absolute_from, write_file_atomically};
use crate::metrics::trainable_params;
use crate::models::nextitnet::NextItNet;
use crate::models::sequence_cell_network::SequenceCellNetwork;
use crate::ops::OpMode;
use crate::run::FolderConfig;
use crate::run::checkpoint::load_module_file;
use crate::run::folder::RUN_CONFIG;
use crate::tasks::adarec::config::AdarecFinetuneConfig;
use crate::tasks::adarec::data::{SequenceData, SequenceDataConfig};
use crate::tasks::adarec::ranking::{named_metrics, rank_users};
use crate::tasks::adarec::recommender::SequenceRecommender;
use crate::tasks::adarec::teacher_config::SequenceTeacherConfig;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Users scored per forward pass when timing inference (as the ranking evaluation).
const LATENCY_BATCH: usize = 256;
/// Fewest timed passes over the users.
const LATENCY_PASSES: usize = 5;
/// Shortest total timing, in seconds.
const LATENCY_SECONDS: f64 = 1.0;

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

/// What `kdnas eval` measured on a ranking run (`eval.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingReport {
    /// The run directory.
    pub run: PathBuf,
    /// The weights scored.
    pub weights: PathBuf,
    /// Short name of the network.
    pub model: String,
    /// Trainable parameters.
    pub params: usize,
    /// Users ranked.
    pub users: usize,
    /// `valid_*` and `test_*` metrics: MRR, HR@k and NDCG@k.
    pub metrics: BTreeMap<String, f64>,
    /// Wall time of scoring the next item of 1,000 users (test histories, batches of 256; the median
    /// pass of [`ms_per_1000_users`]), in ms.
    pub ms_per_1000_users: f64,
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
fn build<B: Backend>(run_dir: &Path, items: usize, device: &B::Device) -> Result<(RankingModel<B>, String)> {
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
fn open<B: Backend>(
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
fn trainable_params_of<B: Backend>(run_dir: &Path, items: usize, device: &B::Device) -> Result<usize> {
    Ok(match build::<Autodiff<B>>(run_dir, items, device)?.0 {
        RankingModel::Teacher(net) => trainable_params(&net),
        RankingModel::Student(net) => trainable_params(&net),
    })
}

/// The data section of the run's config, or of `data_file` (relative paths against its folder).
fn data_config(run_dir: &Path, data_file: Option<&Path>) -> Result<SequenceDataConfig> {
    let file = data_file.map_or_else(|| run_dir.join(RUN_CONFIG), Path::to_path_buf);
    let mut data: SequenceDataConfig = read_data_section(&file, SequenceDataConfig::validate)?;
    let base = file.parent().unwrap_or(Path::new("."));
    data.path = data.path.map(|p| absolute_from(base, &p));
    Ok(data)
}

/// Ranks the validation and test targets with the weights `checkpoint` names (a run directory means its
/// best epoch's weights, `best/model.mpk`, when it has them), on the run's data or on `data_file`'s
/// `[data]`, and times inference; writes `eval.json` into `out` (default: `eval/` in the run).
pub fn ranking_eval<B: Backend>(
    checkpoint: &Path,
    data_file: Option<&Path>,
    out: Option<&Path>,
    device: &B::Device,
) -> Result<RankingReport> {
    let (run_dir, mut weights) = locate(checkpoint)?;
    if checkpoint.is_dir() && best_weights(&run_dir).is_file() {
        weights = best_weights(&run_dir);
    }
    let data = data_config(&run_dir, data_file)?.load(Path::new("."))?;
    let (model, name) = open::<B>(&run_dir, &weights, device, &data)?;
    let params = trainable_params_of::<B>(&run_dir, data.set.n_items(), device)?;
    let metrics = [EvalSplit::Valid, EvalSplit::Test]
        .into_iter()
        .flat_map(|split| named_metrics(split, &rank_users(&model, &data, split, device)))
        .collect();
    let report = RankingReport {
        run: run_dir.clone(),
        weights,
        model: name,
        params,
        users: data.set.len(),
        metrics,
        ms_per_1000_users: ms_per_1000_users(&model, &data, device)?,
    };
    let out = out.map_or_else(|| run_dir.join("eval"), Path::to_path_buf);
    std::fs::create_dir_all(&out).map_err(|e| KdnasError::io(&out, e))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| KdnasError::Usage(e.to_string()))?;
    write_file_atomically(&out.join("eval.json"), json.as_bytes())?;
    Ok(report)
}

/// The wall time of scoring the next item of every user's test history, per 1,000 users: the median of
/// repeated passes over every batch of [`LATENCY_BATCH`] users (at least [`LATENCY_PASSES`] passes and
/// [`LATENCY_SECONDS`] of timing, after one warm-up pass), each pass waiting for the device at its end.
pub fn ms_per_1000_users<B: Backend, M: SequenceRecommender<B>>(
    model: &M,
    data: &SequenceData,
    device: &B::Device,
) -> Result<f64> {
    let users: Vec<usize> = (0..data.set.len()).collect();
    let batches: Vec<Tensor<B, 2, Int>> = users
        .chunks(LATENCY_BATCH)
        .map(|chunk| eval_batch(&data.set, chunk, EvalSplit::Test, data.max_len).histories.to_tensor::<B>(device))
        .collect();
    let pass = || -> Result<f64> {
        let started = Instant::now();
        for batch in &batches {
            let _ = model.next_item_scores(batch.clone());
        }
        B::sync(device).map_err(|e| KdnasError::Usage(format!("device sync failed: {e:?}")))?;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    };
    pass()?;
    let mut times = Vec::new();
    let timing = Instant::now();
    while times.len() < LATENCY_PASSES || timing.elapsed().as_secs_f64() < LATENCY_SECONDS {
        times.push(pass()?);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2] * 1000.0 / users.len().max(1) as f64)
}

impl RankingReport {
    /// The report as printed by `kdnas eval`.
    pub fn text(&self) -> String {
        let m = |name: &str| self.metrics.get(name).copied().unwrap_or(f64::NAN);
        let mut text = format!(
            "{} ({} parameters), {} users; weights {}\n",
            self.model,
            self.params,
            self.users,
            self.weights.display()
        );
        for split in ["valid", "test"] {
            text.push_str(&format!(
                "{split:5}  MRR {:.4}  HR@5 {:.4}  HR@10 {:.4}  HR@20 {:.4}  NDCG@5 {:.4}  NDCG@10 {:.4}  NDCG@20 {:.4}\n",
                m(&format!("{split}_mrr")),
                m(&format!("{split}_hr@5")),
                m(&format!("{split}_hr@10")),
                m(&format!("{split}_hr@20")),
                m(&format!("{split}_ndcg@5")),
                m(&format!("{split}_ndcg@10")),
                m(&format!("{split}_ndcg@20")),
            ));
        }
        text.push_str(&format!("inference: {:.1} ms per 1,000 users\n", self.ms_per_1000_users));
        text
    }
}

/// The markdown table of `kdnas adarec table`: one row per report (test metrics), the speed-up against
/// the first teacher among them.
pub fn ranking_table(reports: &[RankingReport]) -> String {
    let teacher_ms = reports.iter().find(|r| r.model.starts_with("nextitnet")).map(|r| r.ms_per_1000_users);
    let mut table = String::from(
        "| run | model | params | MRR | HR@5 | HR@10 | HR@20 | NDCG@5 | NDCG@10 | NDCG@20 | ms / 1,000 users | speed-up |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let m = |name: &str| r.metrics.get(&format!("test_{name}")).map_or("-".to_string(), |v| format!("{v:.4}"));
        let speed_up = teacher_ms.map_or("-".to_string(), |t| format!("{:.1}x", t / r.ms_per_1000_users));
        let run = r.run.file_name().map_or_else(|| r.run.display().to_string(), |n| n.to_string_lossy().into_owned());
        table.push_str(&format!(
            "| {run} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {speed_up} |\n",
            r.model,
            r.params,
            m("mrr"),
            m("hr@5"),
            m("hr@10"),
            m("hr@20"),
            m("ndcg@5"),
            m("ndcg@10"),
            m("ndcg@20"),
            r.ms_per_1000_users
        ));
    }
    table
}

/// Evaluates every run of `runs` (see [`ranking_eval`]) and returns the reports in order.
pub fn evaluate_runs<B: Backend>(
    runs: &[PathBuf],
    data_file: Option<&Path>,
    device: &B::Device,
) -> Result<Vec<RankingReport>> {
    runs.iter().map(|run| ranking_eval::<B>(run, data_file, None, device)).collect()
}
