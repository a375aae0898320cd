//! The figures of a training run, read from its per-epoch records: the loss with every named term
//! and evaluation losses, and the accuracies (training and every evaluation metric that is not a
//! loss). Written to `plots/` as PNG and SVG.

use super::records::TrainEpoch;
use crate::error::Result;
use crate::plot::metric_curves;
use std::collections::BTreeSet;
use std::path::Path;

/// One named series of `(epoch, value)` points (epochs 1-based).
type Series = (String, Vec<(f64, f64)>);

/// The points of `value` over `history`, at 1-based epochs, skipping epochs without a value.
fn series(name: &str, history: &[TrainEpoch], value: impl Fn(&TrainEpoch) -> Option<f64>) -> Series {
    (name.to_string(), history.iter().filter_map(|r| value(r).map(|v| ((r.epoch + 1) as f64, v))).collect())
}

/// Whether an evaluation metric is a loss (drawn with the losses, not the accuracies).
fn is_loss(name: &str) -> bool {
    name.contains("loss")
}

/// Writes `plots/train_loss` and `plots/train_accuracy` (PNG + SVG) of `history` into `run_dir`;
/// nothing when no epoch has finished.
pub fn write_training_figures(run_dir: &Path, history: &[TrainEpoch], label: &str) -> Result<()> {
    if history.is_empty() {
        return Ok(());
    }
    let dir = run_dir.join("plots");
    let terms: BTreeSet<&String> = history.iter().flat_map(|r| r.train_terms.keys()).collect();
    let metrics: BTreeSet<&String> = history.iter().flat_map(|r| r.metrics.keys()).collect();
    let mut losses = vec![series("train loss (total, running mean)", history, |r| Some(r.train_loss))];
    if terms.len() > 1 {
        losses.extend(terms.iter().map(|t| series(&format!("train {t}"), history, |r| r.train_terms.get(*t).copied())));
    }
    losses.extend(metrics.iter().filter(|m| is_loss(m)).map(|m| series(m, history, |r| r.metric(m))));
    metric_curves(&format!("{label}: loss"), "epoch", "loss", &losses, &dir.join("train_loss"))?;
    let mut accuracy = vec![series("train acc (running mean)", history, |r| r.train_acc)];
    accuracy.extend(metrics.iter().filter(|m| !is_loss(m)).map(|m| series(m, history, |r| r.metric(m))));
    metric_curves(&format!("{label}: accuracy"), "epoch", "accuracy", &accuracy, &dir.join("train_accuracy"))?;
    Ok(())
}
