//! The figures of a search: final architecture weights per choice group (heatmap), their evolution
//! over epochs, the loss/accuracy curves and, when the records carry them, the EMD mapping and the
//! ranking metrics (AdaRec). Written to `plots/` as PNG and SVG.

mod arch_grads;
mod emd;
mod ranking;
pub mod tradeoff;

use crate::error::Result;
use crate::plot::{WeightTable, evolution, heatmap, metric_curves};
use crate::run::figures::{EpochFigures, write_epoch_figures};
use crate::search::history::{EVAL_ACC, EVAL_LOSS};
use crate::search::{EpochRecord, SearchState};
use crate::space::{ArchGraph, ChoiceKind};
use ndarray::{Array2, Array3};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One named series of `(epoch, value)` points (epochs 1-based).
type Series = crate::run::figures::Series;

/// The points of `value` over the history of `state`, at 1-based epochs, skipping epochs without one.
fn epoch_series(state: &SearchState, name: &str, value: impl Fn(&EpochRecord) -> Option<f64>) -> Series {
    crate::run::figures::epoch_series(&state.history, name, value)
}

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
        let values = Array2::from_shape_fn((rows, cols), |(r, c)| last.extras.arch_weights[g][r][c]);
        let title = format!("{}: {} weights after epoch {}", group.key, kind, last.epoch + 1);
        let table =
            WeightTable { title, row_labels: group.row_labels.clone(), col_labels: group.candidates.clone(), values };
        heatmap(&table, &dir.join(format!("weights_{name}")))?;
        let epochs: Vec<usize> = state.history.iter().map(|r| r.epoch + 1).collect();
        let history = Array3::from_shape_fn((epochs.len(), rows, cols), |(e, r, c)| {
            state.history[e].extras.arch_weights[g][r][c]
        });
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
    if space.cells.is_empty() && !space.groups.is_empty() {
        plain_choices_heatmap(space, last, &dir)?;
    }
    write_term_curves(state, &dir)?;
    write_loss_and_accuracy(state, run_dir)?;
    emd::write_emd_figures(state, &dir)?;
    arch_grads::write_arch_grad_figures(space, state, &dir)?;
    ranking::write_ranking_figures(state, &dir)
}

/// The search loss (total, when the task has several terms) and, when the task reports one, the
/// accuracy. The running means are averaged over the epoch's steps in training mode while the weights
/// move; the eval pass is DARTS's reported figure (evaluation mode, whole validation split, epoch end).
/// Single-level search takes both means from the same steps, so they are drawn as one line.
fn write_loss_and_accuracy(state: &SearchState, run_dir: &Path) -> Result<()> {
    let single_level = state.history.iter().all(|r| r.train_loss == r.extras.val_loss);
    let mut losses = if single_level {
        vec![epoch_series(state, "train = val (single-level steps, running mean)", |r| Some(r.train_loss))]
    } else {
        vec![
            epoch_series(state, "train (weight steps, running mean)", |r| Some(r.train_loss)),
            epoch_series(state, "val (arch steps, running mean)", |r| Some(r.extras.val_loss)),
        ]
    };
    let eval_pass = epoch_series(state, "val (eval pass, epoch end)", |r| r.metric(EVAL_LOSS));
    // Ranking tasks' evaluation pass reports metrics, not a loss.
    if !eval_pass.1.is_empty() {
        losses.push(eval_pass);
    }
    let terms: BTreeSet<&String> = state.history.iter().flat_map(|r| r.train_terms.keys()).collect();
    let loss_label = if terms.len() > 1 { "total loss (weighted sum of the terms)" } else { "cross-entropy loss" };
    let accuracies = vec![
        epoch_series(state, "train (weight steps, running mean)", |r| r.train_acc),
        epoch_series(state, "val (arch steps, running mean)", |r| r.extras.val_acc),
        epoch_series(state, "val (eval pass, epoch end)", |r| r.metric(EVAL_ACC)),
    ];
    let figures = EpochFigures {
        stem: "search",
        loss_title: "search loss".to_string(),
        loss_label,
        losses,
        accuracy_title: "search accuracy".to_string(),
        accuracies,
    };
    write_epoch_figures(run_dir, &figures)
}

/// One heatmap of every plain choice (DFA: a row per teacher stage, a column per block), the cells a
/// choice does not have left blank.
fn plain_choices_heatmap(space: &ArchGraph, last: &EpochRecord, dir: &Path) -> Result<()> {
    let cols = space.groups.iter().map(|g| g.candidates.len()).max().unwrap_or(0);
    let values = Array2::from_shape_fn((space.groups.len(), cols), |(g, c)| {
        last.extras.arch_weights[g].first().and_then(|row| row.get(c)).copied().unwrap_or(f32::NAN)
    });
    let table = WeightTable {
        title: format!("weights of every choice after epoch {}", last.epoch + 1),
        row_labels: space.groups.iter().map(|g| g.key.clone()).collect(),
        col_labels: (1..=cols).map(|c| format!("candidate {c}")).collect(),
        values,
    };
    heatmap(&table, &dir.join("weights_all_choices"))?;
    Ok(())
}

/// Every named loss term over epochs: one figure for the weight steps and one for the architecture
/// steps, when a task reports more than one term (DFA: cross_entropy, feature, bridge_ts, bridge_st);
/// the architecture steps' figure only when its terms differ from the weight steps' (not single-level).
fn write_term_curves(state: &SearchState, dir: &Path) -> Result<()> {
    let single_level = state.history.iter().all(|r| r.extras.val_terms == r.train_terms);
    let figures: [(&str, &str, fn(&EpochRecord) -> &BTreeMap<String, f64>); 2] = [
        ("weight-step loss terms (training split)", "loss_terms_weights", |r| &r.train_terms),
        ("architecture-step loss terms (validation split)", "loss_terms_arch", |r| &r.extras.val_terms),
    ];
    // Single-level steps report the same terms twice: the architecture-step figure would repeat the first.
    for (title, stem, terms_of) in figures.into_iter().take(if single_level { 1 } else { 2 }) {
        let names: BTreeSet<&String> = state.history.iter().flat_map(|r| terms_of(r).keys()).collect();
        if names.len() < 2 {
            continue;
        }
        let series: Vec<Series> =
            names.iter().map(|name| epoch_series(state, name, |r| terms_of(r).get(*name).copied())).collect();
        metric_curves(title, "epoch", "mean loss per example", &series, &dir.join(stem))?;
    }
    Ok(())
}
