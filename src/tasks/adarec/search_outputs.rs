//! What an AdaRec search keeps beside the generic search outputs: its cost table (`costs.json`), the
//! derived student with the supernet's trained weights (`student_init.mpk`, for fine-tuning with
//! `init = "search"`) and, under a parameter budget, the derived student's size against it
//! (`budget.json`).

use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::files::write_file_atomically;
use crate::metrics::trainable_params;
use crate::models::sequence_cell_network::{SequenceCellNetwork, SequenceNetworkConfig};
use crate::ops::OpMode;
use crate::record_files::save_module;
use crate::space::ArchGraph;
use crate::supernet::cost::CostTable;
use crate::tasks::adarec::config::AdarecSearchConfig;
use crate::tasks::adarec::cost_table::adarec_costs;
use crate::tasks::adarec::losses::CostKind;
use crate::tasks::adarec::student::STUDENT_INIT_FILE;
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::path::Path;

/// The cost table of an AdaRec search, in its run directory.
pub const COSTS_FILE: &str = "costs.json";

/// The run's cost table, kept in `costs.json`: from parameter counts, or from op latencies measured when
/// the run starts (a resumed run reads the file, so its loss is the one it started with).
pub fn search_costs<AB: AutodiffBackend>(
    cfg: &AdarecSearchConfig,
    space: &ArchGraph,
    run_dir: &Path,
    time: usize,
    device: &AB::Device,
) -> Result<CostTable> {
    let file = run_dir.join(COSTS_FILE);
    let costs = match cfg.adarec.cost {
        CostKind::Latency if file.is_file() => {
            let text = std::fs::read(&file).map_err(|e| KdnasError::io(&file, e))?;
            return serde_json::from_slice(&text).map_err(|e| KdnasError::Checkpoint {
                path: file.clone(),
                message: format!("unreadable cost table: {e}"),
            });
        }
        CostKind::Latency => {
            CostTable::from_latency::<AB::InnerBackend>(space, cfg.student.dim, cfg.search.batch_size, time, device)?
        }
        CostKind::Params => CostTable::from_params(space, cfg.student.dim)?,
        CostKind::Adarec => adarec_costs(space)?,
    };
    let json = serde_json::to_string_pretty(&costs).map_err(|e| KdnasError::Usage(e.to_string()))?;
    write_file_atomically(&file, json.as_bytes())?;
    Ok(costs)
}

/// Builds the student of the derived space `derived` and writes it with the weights of `supernet` to
/// [`STUDENT_INIT_FILE`].
pub fn write_student_init<B: Backend>(
    supernet: &SequenceCellNetwork<B>,
    derived: &ArchGraph,
    skeleton: &SequenceNetworkConfig,
    run_dir: &Path,
    items: usize,
    device: &B::Device,
) -> Result<()> {
    let student = SequenceCellNetwork::<B>::new(derived, skeleton, items, OpMode::Derived, device)?;
    save_module(&student.adopt_trained(supernet)?, &run_dir.join(STUDENT_INIT_FILE))
}

/// The parameter budget's outcome, in its run directory.
pub const BUDGET_FILE: &str = "budget.json";

/// The derived student's size against the target (`budget.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BudgetReport {
    /// `adarec.target_params`.
    pub target_params: usize,
    /// Trainable parameters of the derived student, counted on the built network.
    pub derived_params: usize,
    /// Whether the derived student is within the target.
    pub met: bool,
}

impl BudgetReport {
    /// Writes the report to [`BUDGET_FILE`] in `run_dir`.
    pub fn save(&self, run_dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| KdnasError::Usage(e.to_string()))?;
        write_file_atomically(&run_dir.join(BUDGET_FILE), json.as_bytes())
    }
}

/// Builds the derived student of `genotype` and counts its trainable parameters against `target`.
pub fn budget_report<AB: AutodiffBackend>(
    genotype: &Genotype,
    cfg: &AdarecSearchConfig,
    items: usize,
    target: usize,
    device: &AB::Device,
) -> Result<BudgetReport> {
    let derived = genotype.to_arch_graph()?;
    // Built on the autodiff backend: trainable parameters are those that require gradients.
    let student = SequenceCellNetwork::<AB>::new(&derived, &cfg.student, items, OpMode::Derived, device)?;
    let derived_params = trainable_params(&student);
    Ok(BudgetReport { target_params: target, derived_params, met: derived_params <= target })
}
