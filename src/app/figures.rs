//! The figures of a search: final architecture weights per choice group (heatmap), their evolution
//! over epochs, and the loss/accuracy curves. Written to `plots/` as PNG and SVG.

use crate::error::Result;
use crate::plot::{WeightTable, evolution, heatmap, metric_curves};
use crate::search::SearchState;
use crate::space::{ArchGraph, ChoiceKind};
use ndarray::{Array2, Array3};
use std::path::Path;

/// Writes every figure of `state` into `run_dir/plots`.
pub fn write_search_figures(run_dir: &Path, space: &ArchGraph, state: &SearchState) -> Result<()> {
    let Some(last) = state.history.last() else { return Ok(()) };
    let dir = run_dir.join("plots");
    for (g, group) in space.groups.iter().enumerate() {
        let kind = match group.kind {
            ChoiceKind::Op => "ops",
            ChoiceKind::Input => "inputs",
        };
        let name = crate::files::safe_file_name(&format!("{}_{}_{g}", group.key, kind));
        let (rows, cols) = (group.rows(), group.candidates.len());
        let values = Array2::from_shape_fn((rows, cols), |(r, c)| last.arch_weights[g][r][c]);
        let title = format!("{}: {} weights after epoch {}", group.key, kind, last.epoch + 1);
        let table =
            WeightTable { title, row_labels: group.row_labels.clone(), col_labels: group.candidates.clone(), values };
        heatmap(&table, &dir.join(format!("weights_{name}")))?;
        let epochs: Vec<usize> = state.history.iter().map(|r| r.epoch + 1).collect();
        let history =
            Array3::from_shape_fn((epochs.len(), rows, cols), |(e, r, c)| state.history[e].arch_weights[g][r][c]);
        let title = format!("{}: {} weights per epoch", group.key, kind);
        evolution(
            &title,
            "weight",
            &group.row_labels,
            &group.candidates,
            &epochs,
            &history,
            &dir.join(format!("evolution_{name}")),
        )?;
    }
    let series = |name: &str, f: &dyn Fn(&crate::search::EpochRecord) -> Option<f64>| {
        (
            name.to_string(),
            state.history.iter().filter_map(|r| f(r).map(|v| ((r.epoch + 1) as f64, v))).collect::<Vec<_>>(),
        )
    };
    // The running means are averaged over the epoch's steps in training mode while the weights move;
    // the eval pass is DARTS's reported figure (evaluation mode, whole validation split, epoch end).
    let losses = [
        series("train (weight steps, running mean)", &|r| Some(r.train_loss)),
        series("val (arch steps, running mean)", &|r| Some(r.val_loss)),
        series("val (eval pass, epoch end)", &|r| r.val_eval_loss),
    ];
    metric_curves("search loss", "epoch", "cross-entropy loss", &losses, &dir.join("search_loss"))?;
    let accuracy = [
        series("train (weight steps, running mean)", &|r| r.train_acc),
        series("val (arch steps, running mean)", &|r| r.val_acc),
        series("val (eval pass, epoch end)", &|r| r.val_eval_acc),
    ];
    metric_curves("search accuracy", "epoch", "accuracy", &accuracy, &dir.join("search_accuracy"))?;
    Ok(())
}
