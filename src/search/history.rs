//! What a search remembers across epochs (part of every checkpoint), and its JSON-lines exports.

use super::arch_grads::ArchGradRecord;
use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::run::{self, RecordLayout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One finished search epoch: the run's [`run::EpochRecord`] with the search's extras. Its `lr` is
/// the weights' learning rate; its metrics are those of the evaluation pass over the whole
/// validation split at the epoch's end (DARTS's reported `valid_acc` pass): [`EVAL_LOSS`],
/// [`EVAL_ACC`] and the task's own figures (ranking tasks: `valid_ndcg@10`, ... of the argmax
/// architecture).
pub type EpochRecord = run::EpochRecord<SearchExtras>;

/// Metric of a search record: the loss of the end-of-epoch evaluation pass.
pub const EVAL_LOSS: &str = "val_eval_loss";
/// Metric of a search record: the accuracy of the end-of-epoch evaluation pass.
pub const EVAL_ACC: &str = "val_eval_acc";

/// What a search epoch records beyond the common fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchExtras {
    /// Gumbel temperature used, if any.
    pub temperature: Option<f64>,
    /// Mean loss of the architecture steps (validation batches, training-mode BatchNorm, weights
    /// changing during the epoch): a running average, not DARTS's reported validation figure.
    pub val_loss: f64,
    /// Accuracy of the architecture steps (same running average), when the task has one.
    pub val_acc: Option<f64>,
    /// Per-example mean of every named term of the architecture-step loss (e.g. `bridge_ts`).
    pub val_terms: BTreeMap<String, f64>,
    /// softmax(alpha) per choice group at the end of the epoch: `[group][row][candidate]`.
    pub arch_weights: Vec<Vec<Vec<f32>>>,
    /// The task's step-to-step state at the end of the epoch (AdaRec: EMD layer masses and flow).
    pub task_state: Option<serde_json::Value>,
    /// Whether the architecture moved this epoch (false in warm-up epochs).
    pub arch_moved: bool,
    /// The architecture gradients of the parts of the architecture loss, when probed.
    pub arch_grads: Option<ArchGradRecord>,
}

/// A search [`EpochRecord`] as a checkpoint's `state.json` holds it.
#[derive(Serialize, Deserialize)]
pub struct SearchLine {
    epoch: usize,
    w_lr: f64,
    temperature: Option<f64>,
    train_loss: f64,
    train_acc: Option<f64>,
    val_loss: f64,
    val_acc: Option<f64>,
    #[serde(default)]
    val_eval_loss: Option<f64>,
    #[serde(default)]
    val_eval_acc: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    val_eval_metrics: BTreeMap<String, f64>,
    #[serde(default)]
    train_terms: BTreeMap<String, f64>,
    #[serde(default)]
    val_terms: BTreeMap<String, f64>,
    seconds: f64,
    arch_weights: Vec<Vec<Vec<f32>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_state: Option<serde_json::Value>,
    #[serde(default = "moved_by_default")]
    arch_moved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    arch_grads: Option<ArchGradRecord>,
}

impl RecordLayout for SearchExtras {
    type Line = SearchLine;
    fn to_line(r: &EpochRecord) -> SearchLine {
        let mut val_eval_metrics = r.metrics.clone();
        let val_eval_loss = val_eval_metrics.remove(EVAL_LOSS);
        let val_eval_acc = val_eval_metrics.remove(EVAL_ACC);
        let x = &r.extras;
        SearchLine {
            epoch: r.epoch,
            w_lr: r.lr,
            temperature: x.temperature,
            train_loss: r.train_loss,
            train_acc: r.train_acc,
            val_loss: x.val_loss,
            val_acc: x.val_acc,
            val_eval_loss,
            val_eval_acc,
            val_eval_metrics,
            train_terms: r.train_terms.clone(),
            val_terms: x.val_terms.clone(),
            seconds: r.seconds,
            arch_weights: x.arch_weights.clone(),
            task_state: x.task_state.clone(),
            arch_moved: x.arch_moved,
            arch_grads: x.arch_grads.clone(),
        }
    }
    fn from_line(l: SearchLine) -> EpochRecord {
        let mut metrics = l.val_eval_metrics;
        metrics.extend(l.val_eval_loss.map(|v| (EVAL_LOSS.to_string(), v)));
        metrics.extend(l.val_eval_acc.map(|v| (EVAL_ACC.to_string(), v)));
        run::EpochRecord {
            epoch: l.epoch,
            lr: l.w_lr,
            train_loss: l.train_loss,
            train_acc: l.train_acc,
            train_terms: l.train_terms,
            metrics,
            seconds: l.seconds,
            extras: SearchExtras {
                temperature: l.temperature,
                val_loss: l.val_loss,
                val_acc: l.val_acc,
                val_terms: l.val_terms,
                arch_weights: l.arch_weights,
                task_state: l.task_state,
                arch_moved: l.arch_moved,
                arch_grads: l.arch_grads,
            },
        }
    }
}

/// Records written before warm-up existed moved the architecture every epoch.
fn moved_by_default() -> bool {
    true
}

/// The loop's state: the next epoch to run and the records so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchState {
    /// First epoch not yet finished.
    pub next_epoch: usize,
    /// One record per finished epoch.
    pub history: Vec<EpochRecord>,
}

/// Rewrites `metrics.jsonl` and `arch_weights.jsonl` in `run_dir` from `history` (atomically, so they
/// always agree with the checkpoint).
pub fn write_history_files(run_dir: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut metrics = String::new();
    let mut weights = String::new();
    for r in history {
        let mut m = serde_json::to_value(SearchExtras::to_line(r)).map_err(|e| KdnasError::Usage(e.to_string()))?;
        if let Some(line) = m.as_object_mut() {
            // The weights and gradients have files of their own.
            line.remove("arch_weights");
            line.remove("arch_grads");
        }
        metrics.push_str(&m.to_string());
        metrics.push('\n');
        weights.push_str(&serde_json::json!({ "epoch": r.epoch, "groups": r.extras.arch_weights }).to_string());
        weights.push('\n');
    }
    write_file_atomically(&run_dir.join("metrics.jsonl"), metrics.as_bytes())?;
    write_file_atomically(&run_dir.join("arch_weights.jsonl"), weights.as_bytes())?;
    let grads: Vec<String> = history
        .iter()
        .filter_map(|r| {
            let record = r.extras.arch_grads.as_ref()?;
            Some(
                serde_json::json!({ "epoch": r.epoch, "arch_moved": r.extras.arch_moved, "grads": record }).to_string(),
            )
        })
        .collect();
    if grads.is_empty() {
        return Ok(());
    }
    write_file_atomically(&run_dir.join(ARCH_GRADS_FILE), (grads.join("\n") + "\n").as_bytes())
}

/// Per-epoch architecture-gradient records of a search (one JSON line per epoch).
pub const ARCH_GRADS_FILE: &str = "arch_grads.jsonl";

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the searches before the one epoch driver wrote it into `state.json`.
    const WRITTEN_BEFORE: &str = r#"{"epoch":2,"w_lr":0.02,"temperature":null,"train_loss":1.5,"train_acc":0.5,
        "val_loss":1.6,"val_acc":0.4,"val_eval_loss":1.7,"val_eval_acc":0.45,
        "val_eval_metrics":{"valid_ndcg@10":0.3},"train_terms":{"cross_entropy":1.5},"val_terms":{"cost":0.1},
        "seconds":3.0,"arch_weights":[[[0.25,0.75]]],"task_state":{"masses":1},"arch_moved":false}"#;

    #[test]
    fn records_written_before_load_and_are_written_back_unchanged() {
        let record: EpochRecord = serde_json::from_str(WRITTEN_BEFORE).unwrap();
        assert_eq!((record.lr, record.metric(EVAL_ACC), record.metric(EVAL_LOSS)), (0.02, Some(0.45), Some(1.7)));
        assert_eq!(record.metric("valid_ndcg@10"), Some(0.3));
        assert_eq!((record.extras.val_loss, record.extras.arch_moved), (1.6, false));
        let written: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(written, serde_json::from_str::<serde_json::Value>(WRITTEN_BEFORE).unwrap());
    }

    #[test]
    fn the_oldest_records_default_what_they_lack() {
        let oldest = r#"{"epoch":0,"w_lr":0.02,"temperature":null,"train_loss":1.5,"train_acc":null,
            "val_loss":1.6,"val_acc":null,"seconds":3.0,"arch_weights":[[[1.0]]]}"#;
        let record: EpochRecord = serde_json::from_str(oldest).unwrap();
        assert!(record.metrics.is_empty() && record.extras.arch_moved && record.extras.task_state.is_none());
    }
}
