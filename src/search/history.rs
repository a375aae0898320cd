//! What a search remembers across epochs (part of every checkpoint), and its JSON-lines exports.

use super::arch_grads::ArchGradRecord;
use crate::error::Result;
use crate::files::write_file_atomically;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Metrics of one finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Weight learning rate used.
    pub w_lr: f64,
    /// Gumbel temperature used, if any.
    pub temperature: Option<f64>,
    /// Mean training loss of the weight steps.
    pub train_loss: f64,
    /// Training accuracy of the weight steps (train-mode network), when the task has one.
    pub train_acc: Option<f64>,
    /// Mean loss of the architecture steps (validation batches, training-mode BatchNorm, weights
    /// changing during the epoch): a running average, not DARTS's reported validation figure.
    pub val_loss: f64,
    /// Accuracy of the architecture steps (same running average), when the task has one.
    pub val_acc: Option<f64>,
    /// Loss of an evaluation-mode pass over the whole validation split at the epoch's end (DARTS's
    /// reported `valid_acc` pass), when the task has one.
    #[serde(default)]
    pub val_eval_loss: Option<f64>,
    /// Accuracy of that end-of-epoch evaluation pass.
    #[serde(default)]
    pub val_eval_acc: Option<f64>,
    /// The task's own figures of that pass (ranking tasks: `valid_ndcg@10`, ... of the argmax
    /// architecture).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub val_eval_metrics: BTreeMap<String, f64>,
    /// Per-example mean of every named term of the weight-step loss (e.g. `cross_entropy`, `feature`).
    #[serde(default)]
    pub train_terms: BTreeMap<String, f64>,
    /// Per-example mean of every named term of the architecture-step loss (e.g. `bridge_ts`).
    #[serde(default)]
    pub val_terms: BTreeMap<String, f64>,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
    /// softmax(alpha) per choice group at the end of the epoch: `[group][row][candidate]`.
    pub arch_weights: Vec<Vec<Vec<f32>>>,
    /// The task's step-to-step state at the end of the epoch (AdaRec: EMD layer masses and flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_state: Option<serde_json::Value>,
    /// Whether the architecture moved this epoch (false in warm-up epochs).
    #[serde(default = "moved_by_default")]
    pub arch_moved: bool,
    /// The architecture gradients of the parts of the architecture loss, when probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_grads: Option<ArchGradRecord>,
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

/// Rewrites `metrics.jsonl` and `arch_weights.jsonl` in `run_dir` from the history (atomically, so they
/// always agree with the checkpoint).
pub fn write_history_files(run_dir: &Path, state: &SearchState) -> Result<()> {
    let mut metrics = String::new();
    let mut weights = String::new();
    for r in &state.history {
        let m = serde_json::json!({
            "epoch": r.epoch, "w_lr": r.w_lr, "temperature": r.temperature,
            "train_loss": r.train_loss, "train_acc": r.train_acc,
            "val_loss": r.val_loss, "val_acc": r.val_acc,
            "val_eval_loss": r.val_eval_loss, "val_eval_acc": r.val_eval_acc,
            "val_eval_metrics": r.val_eval_metrics, "task_state": r.task_state,
            "train_terms": r.train_terms, "val_terms": r.val_terms, "seconds": r.seconds,
            "arch_moved": r.arch_moved,
        });
        metrics.push_str(&m.to_string());
        metrics.push('\n');
        weights.push_str(&serde_json::json!({ "epoch": r.epoch, "groups": r.arch_weights }).to_string());
        weights.push('\n');
    }
    write_file_atomically(&run_dir.join("metrics.jsonl"), metrics.as_bytes())?;
    write_file_atomically(&run_dir.join("arch_weights.jsonl"), weights.as_bytes())?;
    let grads: Vec<String> = state
        .history
        .iter()
        .filter_map(|r| {
            let record = r.arch_grads.as_ref()?;
            Some(serde_json::json!({ "epoch": r.epoch, "arch_moved": r.arch_moved, "grads": record }).to_string())
        })
        .collect();
    if grads.is_empty() {
        return Ok(());
    }
    write_file_atomically(&run_dir.join(ARCH_GRADS_FILE), (grads.join("\n") + "\n").as_bytes())
}

/// Per-epoch architecture-gradient records of a search (one JSON line per epoch).
pub const ARCH_GRADS_FILE: &str = "arch_grads.jsonl";
