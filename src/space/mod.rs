//! Search spaces: TOML files parsed and validated into an [`ArchGraph`] (petgraph), plus DOT output.
//! The format is documented in docs/search-spaces.md.

mod build;
pub mod dot;
mod file;
pub mod graph;
mod locate;

pub use crate::ops::catalogue::{Catalogue, ZERO_OP};
pub use graph::{ArchGraph, CellGraph, ChoiceGroup, ChoiceKind, ChoiceSlot, EdgeSpec, NodeRole, NodeSpec, cell_kind};
pub use locate::Source;

use crate::error::{KdnasError, Result};
use std::path::Path;

/// Reads and validates a search-space file.
pub fn load_space(path: &Path) -> Result<ArchGraph> {
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    parse_space(&text, path)
}

/// Parses and validates search-space text; `path` is only used in error messages.
pub fn parse_space(text: &str, path: &Path) -> Result<ArchGraph> {
    let src = Source { path, text };
    let file: file::SpaceFile = toml::from_str(text).map_err(|e| src.toml_error(e))?;
    build::build_arch_graph(&file, &src)
}
