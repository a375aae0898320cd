//! What a sequence training run reports: the best epoch by validation NDCG@10 and its metrics.

use crate::metrics::ranking::BEST_RANKING_METRIC;
use crate::run::{RunProgress, RunSummary};
use crate::train::TrainOutcome;
use crate::train::records::best_train_epoch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a sequence training run (a NextItNet teacher, a fine-tuned AdaRec student) reports (also `result.json` once every epoch is done or the run stopped early).
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
    /// Whether `train.patience` ended the run before `planned_epochs`.
    #[serde(default)]
    pub stopped_early: bool,
    /// Wall-clock seconds of training, summed over epochs (resumed runs included).
    pub seconds: f64,
}

impl RunSummary for SequenceTeacherSummary {
    fn progress(&self) -> RunProgress {
        RunProgress { epochs: self.epochs, planned_epochs: self.planned_epochs, stopped_early: self.stopped_early }
    }

    /// The best epoch's validation NDCG@10 and test NDCG@10, HR@10 and MRR.
    fn headline(&self) -> String {
        let metric = |name: &str| self.best_metrics.get(name).copied().unwrap_or(0.0);
        format!(
            "{}: {} parameters; best epoch {} ({}): valid NDCG@10 {:.4}, test NDCG@10 {:.4} HR@10 {:.4} MRR {:.4}",
            self.model,
            self.params,
            self.best_epoch + 1,
            self.progress().text(),
            metric("valid_ndcg@10"),
            metric("test_ndcg@10"),
            metric("test_hr@10"),
            metric("test_mrr")
        )
    }
}

impl SequenceTeacherSummary {
    /// The summary of a finished (or stopped) run: the best epoch by validation NDCG@10.
    pub fn of<N>(model: String, params: usize, outcome: &TrainOutcome<N>, planned_epochs: usize) -> Self {
        let history = &outcome.history;
        let best = best_train_epoch(history, BEST_RANKING_METRIC);
        Self {
            model,
            params,
            best_epoch: best.map_or(0, |r| r.epoch),
            best_metrics: best.map(|r| r.metrics.clone()).unwrap_or_default(),
            epochs: history.len(),
            planned_epochs,
            stopped_early: outcome.stopped_early,
            seconds: history.iter().map(|r| r.seconds).sum(),
        }
    }
}
