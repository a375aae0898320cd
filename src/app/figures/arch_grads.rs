//! Figures of what drives the architecture, from the records' gradient probes: the norm of each part
//! of the architecture loss's gradient over epochs (AdaRec: task + distillation against cost; DFA: the
//! two bridge paths), and the cosine between the first two parts, whole and per choice row (do the
//! two players pull opposite ways?). Records without probes give no figure.

use super::{Series, epoch_series};
use crate::error::Result;
use crate::plot::metric_curves;
use crate::search::SearchState;
use crate::space::ArchGraph;
use std::collections::BTreeSet;
use std::path::Path;

/// Writes `arch_grad_norms` and, with two parts or more, `arch_grad_cosine` into `dir`.
pub(super) fn write_arch_grad_figures(space: &ArchGraph, state: &SearchState, dir: &Path) -> Result<()> {
    let parts: BTreeSet<&String> =
        state.history.iter().filter_map(|r| r.extras.arch_grads.as_ref()).flat_map(|g| g.norm.keys()).collect();
    if parts.is_empty() {
        return Ok(());
    }
    let norms: Vec<Series> = parts
        .iter()
        .map(|part| {
            epoch_series(state, part, |r| {
                r.extras.arch_grads.as_ref()?.norm.get(*part).filter(|n| **n > 0.0).map(|n| n.log10())
            })
        })
        .collect();
    metric_curves(
        "architecture gradient of each part of the architecture loss (mean over the epoch's probes)",
        "epoch",
        "log10 of the L2 norm",
        &norms,
        &dir.join("arch_grad_norms"),
    )?;
    if parts.len() < 2 {
        return Ok(());
    }
    let names: Vec<&String> = parts.into_iter().collect();
    let mut cosines = vec![epoch_series(state, "whole gradient", |r| r.extras.arch_grads.as_ref()?.cosine)];
    for (g, group) in space.groups.iter().enumerate() {
        for (row, label) in group.row_labels.iter().enumerate() {
            let name = format!("{} {label}", group.key);
            cosines.push(epoch_series(state, &name, |r| {
                Some(*r.extras.arch_grads.as_ref()?.row_cosine.as_ref()?.get(g)?.get(row)?)
            }));
        }
    }
    let title = format!(
        "cosine between the architecture gradients of {} and {} (below 0: they pull apart)",
        names[0], names[1]
    );
    metric_curves(&title, "epoch", "cosine (mean over the epoch's probes)", &cosines, &dir.join("arch_grad_cosine"))?;
    Ok(())
}
