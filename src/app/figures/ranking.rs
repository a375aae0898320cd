//! Figures of a ranking search (AdaRec), read from the records' end-of-epoch evaluation metrics: MRR,
//! HR@10 and NDCG@10 of the argmax architecture over epochs, and the cost term against NDCG@10.
//! Records without those metrics (DARTS, DFA) give no figure.

use super::{Series, epoch_series};
use crate::error::Result;
use crate::plot::metric_curves;
use crate::search::SearchState;
use std::path::Path;

/// The metric set against the cost term.
const NDCG: &str = "valid_ndcg@10";
/// The metrics of `search_ranking`.
const RANKING: [&str; 3] = ["valid_mrr", "valid_hr@10", NDCG];
/// The loss term holding the expected architecture cost.
const COST: &str = "cost";

/// Writes `search_ranking` and `cost_vs_ranking` into `dir` when the records carry ranking metrics.
pub(super) fn write_ranking_figures(state: &SearchState, dir: &Path) -> Result<()> {
    let series: Vec<Series> = RANKING.iter().map(|m| epoch_series(state, m, |r| r.metric(m))).collect();
    if series.iter().all(|(_, points)| points.is_empty()) {
        return Ok(());
    }
    let title = "validation ranking of the argmax architecture (epoch end)";
    metric_curves(title, "epoch", "metric (higher is better)", &series, &dir.join("search_ranking"))?;
    write_cost_vs_ndcg(state, dir)
}

/// The epochs' `(cost term, NDCG@10)` points joined in epoch order, the first and last epochs marked.
fn write_cost_vs_ndcg(state: &SearchState, dir: &Path) -> Result<()> {
    let points: Vec<(usize, (f64, f64))> = state
        .history
        .iter()
        .filter_map(|r| Some((r.epoch + 1, (*r.train_terms.get(COST)?, r.metric(NDCG)?))))
        .collect();
    let (Some(first), Some(last)) = (points.first(), points.last()) else { return Ok(()) };
    let marked = |(epoch, point): &(usize, (f64, f64))| (format!("epoch {epoch}"), vec![*point]);
    let series = if points.len() == 1 {
        vec![marked(first)]
    } else {
        let path = points.iter().map(|(_, p)| *p).collect();
        vec![(format!("epochs {} to {}, joined in order", first.0, last.0), path), marked(first), marked(last)]
    };
    metric_curves(
        "cost term against validation NDCG@10, one point per epoch",
        "expected parameter cost (cost term, mean over the epoch's weight steps)",
        "valid NDCG@10 (epoch end)",
        &series,
        &dir.join("cost_vs_ranking"),
    )?;
    Ok(())
}
