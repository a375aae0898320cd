//! What a finished (or stopped) search leaves in its run directory: the genotype (JSON and DARTS
//! notation), DOT drawings of the space and of the derived cells, and the architecture-weight plots.

use crate::error::{KdnasError, Result};
use crate::export::{DeriveRule, Genotype};
use crate::files::write_file_atomically;
use crate::search::SearchState;
use crate::search::config::DeriveEpoch;
use crate::space::ArchGraph;
use crate::space::dot::space_to_dot;
use std::path::Path;

/// Derives the genotype from the weights of the epoch `from` picks and writes every derived artefact.
pub fn write_search_outputs(
    run_dir: &Path,
    space: &ArchGraph,
    state: &SearchState,
    rule: DeriveRule,
    from: DeriveEpoch,
) -> Result<Genotype> {
    let record = from
        .pick(&state.history)
        .ok_or_else(|| KdnasError::Usage(format!("{}: the search has not finished an epoch yet", run_dir.display())))?;
    let mut genotype = Genotype::derive(space, &record.extras.arch_weights, rule);
    if !from.is_last() {
        genotype.epoch = Some(record.epoch);
    }
    genotype.save(&run_dir.join("genotype.json"))?;
    write_file_atomically(&run_dir.join("genotype.txt"), format!("{}\n", genotype.summary()).as_bytes())?;
    write_file_atomically(&run_dir.join("space.dot"), space_to_dot(space).as_bytes())?;
    write_file_atomically(&run_dir.join("derived.dot"), space_to_dot(&genotype.to_arch_graph()?).as_bytes())?;
    super::figures::write_search_figures(run_dir, space, state)?;
    Ok(genotype)
}
