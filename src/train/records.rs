//! What training remembers per epoch (part of every checkpoint) and its JSON-lines export
//! `train_metrics.jsonl`: learning rate, mean loss, the mean of every named loss term and every
//! evaluation metric by name, so plots and reports read them without task-specific code.

use crate::error::Result;
use crate::files::write_file_atomically;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File of a run directory with one [`TrainEpoch`] per line.
pub const TRAIN_METRICS: &str = "train_metrics.jsonl";

/// Keys of a [`TrainEpoch`] line that evaluation metrics may not take.
pub const RESERVED_KEYS: [&str; 6] = ["epoch", "lr", "train_loss", "train_acc", "terms", "seconds"];

/// One finished training epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainEpoch {
    /// 0-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Mean training loss (the total the optimiser minimised), weighted by batch size.
    pub train_loss: f64,
    /// Training accuracy (training mode, augmented batches), for tasks that count correct predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_acc: Option<f64>,
    /// Mean of every named loss term over the epoch (e.g. `cross_entropy`, `kd`), weighted by batch size.
    #[serde(default)]
    pub terms: BTreeMap<String, f64>,
    /// Every evaluation metric of the epoch's end by name (e.g. `test_acc`, `test_top5`), written at
    /// the top level of the line.
    #[serde(flatten)]
    pub metrics: BTreeMap<String, f64>,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

impl TrainEpoch {
    /// The evaluation metric `name`, if the task reported it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }
}

/// The epoch of `history` with the highest metric `name` (the earliest on ties; epochs without it
/// are skipped), as the training loop keeps it in `best/`.
pub fn best_epoch<'a>(history: &'a [TrainEpoch], name: &str) -> Option<&'a TrainEpoch> {
    history.iter().filter(|r| r.metric(name).is_some()).fold(None, |best, r| match best {
        Some(b) if b.metric(name) >= r.metric(name) => Some(b),
        _ => Some(r),
    })
}

/// Rewrites `run_dir/train_metrics.jsonl` from `history` (atomically, so it always agrees with the
/// checkpoint it was written after).
pub fn write_train_metrics(run_dir: &Path, history: &[TrainEpoch]) -> Result<()> {
    let mut lines = String::new();
    for record in history {
        let line = serde_json::to_string(record).map_err(|e| crate::error::KdnasError::Usage(e.to_string()))?;
        lines.push_str(&line);
        lines.push('\n');
    }
    write_file_atomically(&run_dir.join(TRAIN_METRICS), lines.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TrainEpoch {
        TrainEpoch {
            epoch: 0,
            lr: 0.1,
            train_loss: 2.0,
            train_acc: Some(0.25),
            terms: BTreeMap::from([("cross_entropy".to_string(), 1.5), ("kd".to_string(), 0.5)]),
            metrics: BTreeMap::from([("test_acc".to_string(), 0.5), ("test_top5".to_string(), 0.75)]),
            seconds: 1.25,
        }
    }

    #[test]
    fn metrics_sit_at_the_top_level_and_round_trip() {
        let line = serde_json::to_string(&record()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["test_acc"], 0.5);
        assert_eq!(value["terms"]["kd"], 0.5);
        assert_eq!(serde_json::from_str::<TrainEpoch>(&line).unwrap(), record());
    }

    #[test]
    fn records_of_earlier_versions_still_load() {
        let old = r#"{"epoch":1,"lr":0.02,"train_loss":1.0,"train_acc":0.5,"test_acc":0.4,"seconds":3.0}"#;
        let record: TrainEpoch = serde_json::from_str(old).unwrap();
        assert_eq!((record.metric("test_acc"), record.train_acc, record.terms.len()), (Some(0.4), Some(0.5), 0));
    }
}
