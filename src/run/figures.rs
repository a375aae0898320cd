//! The one writer of a run's per-epoch curves, for every loop: a loss figure and an accuracy figure
//! (`plots/<stem>_loss`, `plots/<stem>_accuracy`, PNG + SVG), each a set of named lines read from the
//! epoch records ([`EpochFigures`]); and the series helper the loops' other figures use.

use super::record::EpochRecord;
use crate::error::Result;
use crate::plot::metric_curves;
use std::path::Path;

/// One named series of `(epoch, value)` points (epochs 1-based).
pub type Series = (String, Vec<(f64, f64)>);

/// The points of `value` over `history`, at 1-based epochs, skipping epochs without a value.
pub fn epoch_series<X>(
    history: &[EpochRecord<X>],
    name: &str,
    value: impl Fn(&EpochRecord<X>) -> Option<f64>,
) -> Series {
    (name.to_string(), history.iter().filter_map(|r| value(r).map(|v| ((r.epoch + 1) as f64, v))).collect())
}

/// Whether an evaluation metric is a loss (drawn with the losses, not the accuracies).
pub fn is_loss_metric(name: &str) -> bool {
    name.contains("loss")
}

/// The two curve figures of a run.
pub struct EpochFigures<'a> {
    /// File stem prefix (`train`, `search`).
    pub stem: &'a str,
    /// Title of the loss figure.
    pub loss_title: String,
    /// Y-axis label of the loss figure.
    pub loss_label: &'a str,
    /// Lines of the loss figure.
    pub losses: Vec<Series>,
    /// Title of the accuracy figure.
    pub accuracy_title: String,
    /// Lines of the accuracy figure; the figure is drawn only when one of them has a point.
    pub accuracies: Vec<Series>,
}

/// Writes the figures into `run_dir/plots`.
pub fn write_epoch_figures(run_dir: &Path, figures: &EpochFigures) -> Result<()> {
    let dir = run_dir.join("plots");
    let losses = dir.join(format!("{}_loss", figures.stem));
    metric_curves(&figures.loss_title, "epoch", figures.loss_label, &figures.losses, &losses)?;
    if figures.accuracies.iter().any(|(_, points)| !points.is_empty()) {
        let accuracy = dir.join(format!("{}_accuracy", figures.stem));
        metric_curves(&figures.accuracy_title, "epoch", "accuracy", &figures.accuracies, &accuracy)?;
    }
    Ok(())
}
