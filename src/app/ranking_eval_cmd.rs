//! `kdnas eval` for sequential recommenders (a NextItNet teacher run or an AdaRec fine-tuning run) and
//! `kdnas adarec table`: leave-one-out ranking metrics on the validation and test targets, parameters,
//! and inference latency in ms per 1,000 users, measured on this machine.

use super::eval_cmd::locate;
use crate::config_file::load_data_section;
use crate::data::sequence::{EvalSplit, eval_batch};
use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::run::folder::RUN_CONFIG;
use crate::tasks::adarec::data::{SequenceData, SequenceDataConfig};
use crate::tasks::adarec::ranking::{named_metrics, rank_users};
use crate::tasks::adarec::recommender::SequenceRecommender;
use crate::tasks::adarec::run_model::{open, trainable_params_of};
use crate::train::epochs::best_weights;
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

/// The data section of the run's config, or of `data_file` (relative paths against its folder).
fn data_config(run_dir: &Path, data_file: Option<&Path>) -> Result<SequenceDataConfig> {
    let file = data_file.map_or_else(|| run_dir.join(RUN_CONFIG), Path::to_path_buf);
    let mut data: SequenceDataConfig = load_data_section(&file, SequenceDataConfig::validate)?;
    data.resolve(file.parent().unwrap_or(Path::new(".")));
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
