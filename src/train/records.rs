//! What training remembers per epoch (part of every checkpoint) and its JSON-lines export
//! `train_metrics.jsonl`: learning rate, mean loss, the mean of every named loss term and every
//! evaluation metric by name, so plots and reports read them without task-specific code.

use crate::error::Result;
use crate::files::write_file_atomically;
use crate::run::{EpochRecord, RecordLayout, best_epoch};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File of a run directory with one [`TrainEpoch`] per line.
pub const TRAIN_METRICS: &str = "train_metrics.jsonl";

/// Keys of a [`TrainEpoch`] line that evaluation metrics may not take.
pub const RESERVED_KEYS: [&str; 6] = ["epoch", "lr", "train_loss", "train_acc", "terms", "seconds"];

/// One finished training epoch: the run's [`EpochRecord`] without extras.
pub type TrainEpoch = EpochRecord<()>;

/// A [`TrainEpoch`] as `train_metrics.jsonl` and the checkpoint's `state.json` hold it.
#[derive(Serialize, Deserialize)]
pub struct TrainLine {
    epoch: usize,
    lr: f64,
    train_loss: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    train_acc: Option<f64>,
    /// The training loss's named terms.
    #[serde(default)]
    terms: BTreeMap<String, f64>,
    /// Every evaluation metric, at the top level of the line.
    #[serde(flatten)]
    metrics: BTreeMap<String, f64>,
    seconds: f64,
}

impl RecordLayout for () {
    type Line = TrainLine;
    fn to_line(r: &TrainEpoch) -> TrainLine {
        TrainLine {
            epoch: r.epoch,
            lr: r.lr,
            train_loss: r.train_loss,
            train_acc: r.train_acc,
            terms: r.train_terms.clone(),
            metrics: r.metrics.clone(),
            seconds: r.seconds,
        }
    }
    fn from_line(l: TrainLine) -> TrainEpoch {
        EpochRecord {
            epoch: l.epoch,
            lr: l.lr,
            train_loss: l.train_loss,
            train_acc: l.train_acc,
            train_terms: l.terms,
            metrics: l.metrics,
            seconds: l.seconds,
            extras: (),
        }
    }
}

/// The epoch of `history` with the highest metric `name` (the earliest on ties; epochs without it
/// are skipped), as the training loop keeps it in `best/`.
pub fn best_train_epoch<'a>(history: &'a [TrainEpoch], name: &str) -> Option<&'a TrainEpoch> {
    best_epoch(history, |r| r.metric(name))
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
            train_terms: BTreeMap::from([("cross_entropy".to_string(), 1.5), ("kd".to_string(), 0.5)]),
            metrics: BTreeMap::from([("test_acc".to_string(), 0.5), ("test_top5".to_string(), 0.75)]),
            seconds: 1.25,
            extras: (),
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
        assert_eq!((record.metric("test_acc"), record.train_acc, record.train_terms.len()), (Some(0.4), Some(0.5), 0));
    }
}
