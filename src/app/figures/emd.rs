//! Figures of an EMD layer mapping (AdaRec's search), read from the records' task state: the last
//! transport flow (student cells x teacher layers) and the layer masses over epochs. Records
//! without an EMD state (DARTS, DFA) give no figure.

use crate::error::Result;
use crate::plot::{WeightTable, evolution, heatmap_of};
use crate::search::SearchState;
use crate::tasks::adarec::search_task::EmdState;
use ndarray::{Array2, Array3};
use std::path::Path;

/// Writes `emd_transport` and `emd_masses` into `dir` when the records carry an EMD state.
pub(super) fn write_emd_figures(state: &SearchState, dir: &Path) -> Result<()> {
    // [(1-based epoch, state)] of the records that have one.
    let states: Vec<(usize, EmdState)> = state
        .history
        .iter()
        .filter_map(|r| {
            let emd = serde_json::from_value(r.extras.task_state.clone()?).ok()?;
            Some((r.epoch + 1, emd))
        })
        .collect();
    let Some((last_epoch, last)) = states.last() else { return Ok(()) };
    if !last.flow.is_empty() {
        heatmap_of(&transport_table(*last_epoch, last), "flow", &dir.join("emd_transport"))?;
    }
    write_masses(&states, dir)
}

/// The flow of `emd`'s last step as a table, its rows and columns labelled with the layer masses.
fn transport_table(epoch: usize, emd: &EmdState) -> WeightTable {
    let cols = emd.flow.iter().map(Vec::len).max().unwrap_or(0);
    let values =
        Array2::from_shape_fn((emd.flow.len(), cols), |(s, t)| emd.flow[s].get(t).map_or(f32::NAN, |&f| f as f32));
    let labelled = |name: String, mass: Option<&f64>| match mass {
        Some(m) => format!("{name} (mass {m:.3})"),
        None => name,
    };
    WeightTable {
        title: format!("EMD transport of the last step of epoch {epoch} (labels: masses after it)"),
        row_labels: (0..emd.flow.len())
            .map(|s| labelled(format!("cell {}", s + 1), emd.masses.student.get(s)))
            .collect(),
        col_labels: (0..cols)
            .map(|t| labelled(format!("teacher layer {}", t + 1), emd.masses.teacher.get(t)))
            .collect(),
        values,
    }
}

/// The student and teacher layer masses after each epoch: two panels, a line per layer.
fn write_masses(states: &[(usize, EmdState)], dir: &Path) -> Result<()> {
    let layers = |side: usize| states.iter().map(|(_, s)| sides(s)[side].len()).max().unwrap_or(0);
    let (students, teachers) = (layers(0), layers(1));
    let width = students.max(teachers);
    if width == 0 {
        return Ok(());
    }
    // [epochs, side (student, teacher), layer]; NaN where a side has fewer layers.
    let history = Array3::from_shape_fn((states.len(), 2, width), |(e, side, layer)| {
        sides(&states[e].1)[side].get(layer).map_or(f32::NAN, |&m| m as f32)
    });
    let legend: Vec<String> = (0..width)
        .map(|l| match (l < students, l < teachers) {
            (true, true) => format!("cell {0} / teacher layer {0}", l + 1),
            (true, false) => format!("cell {}", l + 1),
            _ => format!("teacher layer {}", l + 1),
        })
        .collect();
    let panels = ["student: mass of each cell".to_string(), "teacher: mass of each layer".to_string()];
    let epochs: Vec<usize> = states.iter().map(|(e, _)| *e).collect();
    let stem = dir.join("emd_masses");
    evolution("EMD layer masses after each epoch", "mass", &panels, &legend, &epochs, &history, &stem)?;
    Ok(())
}

/// The student's and the teacher's masses, in that order.
fn sides(emd: &EmdState) -> [&[f64]; 2] {
    [&emd.masses.student, &emd.masses.teacher]
}
