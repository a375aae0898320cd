//! The figures of a training run, read from its per-epoch records: the loss with every named term
//! and evaluation losses, and the accuracies (training and every evaluation metric that is not a
//! loss). Written to `plots/` as PNG and SVG by the one curve writer (`run::figures`).

use super::records::TrainEpoch;
use crate::error::Result;
use crate::run::figures::{EpochFigures, epoch_series, is_loss_metric, write_epoch_figures};
use std::collections::BTreeSet;
use std::path::Path;

/// Writes `plots/train_loss` and `plots/train_accuracy` (PNG + SVG) of `history` into `run_dir`;
/// nothing when no epoch has finished.
pub fn write_training_figures(run_dir: &Path, history: &[TrainEpoch], label: &str) -> Result<()> {
    if history.is_empty() {
        return Ok(());
    }
    let terms: BTreeSet<&String> = history.iter().flat_map(|r| r.train_terms.keys()).collect();
    let metrics: BTreeSet<&String> = history.iter().flat_map(|r| r.metrics.keys()).collect();
    let mut losses = vec![epoch_series(history, "train loss (total, running mean)", |r| Some(r.train_loss))];
    if terms.len() > 1 {
        let term = |t: &String| epoch_series(history, &format!("train {t}"), |r| r.train_terms.get(t).copied());
        losses.extend(terms.iter().map(|t| term(t)));
    }
    let metric = |m: &&String| epoch_series(history, m, |r| r.metric(m));
    losses.extend(metrics.iter().filter(|m| is_loss_metric(m)).map(metric));
    let mut accuracies = vec![epoch_series(history, "train acc (running mean)", |r| r.train_acc)];
    accuracies.extend(metrics.iter().filter(|m| !is_loss_metric(m)).map(metric));
    let figures = EpochFigures {
        stem: "train",
        loss_title: format!("{label}: loss"),
        loss_label: "loss",
        losses,
        accuracy_title: format!("{label}: accuracy"),
        accuracies,
    };
    write_epoch_figures(run_dir, &figures)
}
