//! The run folder of a search: its config (a [`FolderConfig`] that names a space) and its own copy of
//! the space, written when the run starts ([`prepare_new_run`], [`prepare_from_file`]) and read back
//! when it resumes ([`reopen_run`]).

use super::SearchConfig;
use crate::error::{KdnasError, Result};
use crate::files::write_file_atomically;
use crate::run::FolderConfig;
use crate::run::checkpoint::refuse_existing_run;
use crate::run::folder::{load_run_copy, write_run_copy};
use crate::space::{ArchGraph, parse_space};
use std::path::{Path, PathBuf};

/// Copy of the search space inside a run directory.
pub const RUN_SPACE: &str = "space.toml";

/// A run config of a search: a [`FolderConfig`] (its `resolve` makes the space path absolute too)
/// that names a search space and carries the search settings.
pub trait SpaceRunConfig: FolderConfig {
    /// The search-space file (relative to the config file until resolved).
    fn space(&self) -> &Path;
    /// Points the config at another space file (the run folder's copy).
    fn set_space(&mut self, space: PathBuf);
    /// The seed of everything random.
    fn seed(&self) -> u64;
    /// The search hyper-parameters.
    fn search(&self) -> &SearchConfig;
}

/// The [`SpaceRunConfig`] methods of a config with `space: PathBuf`, `seed: u64` and
/// `search: SearchConfig` fields (every search config has all three).
macro_rules! space_run_accessors {
    () => {
        fn space(&self) -> &std::path::Path {
            &self.space
        }
        fn set_space(&mut self, space: std::path::PathBuf) {
            self.space = space;
        }
        fn seed(&self) -> u64 {
            self.seed
        }
        fn search(&self) -> &crate::search::SearchConfig {
            &self.search
        }
    };
}
pub(crate) use space_run_accessors;

/// A prepared run: its directory, config and space.
pub struct PreparedRun<C> {
    /// Run directory.
    pub dir: PathBuf,
    /// Resolved config (its space is the run directory's copy).
    pub config: C,
    /// Validated space.
    pub space: ArchGraph,
    /// Text of the run's copy of the space (part of the checkpoint fingerprint).
    pub space_text: String,
}

/// Creates `out` for a new run of `config` (refusing to overwrite a run that has a checkpoint) and
/// writes the resolved config and the space into it. `base` resolves relative paths of the config; a
/// space that does not parse leaves no folder behind.
pub fn prepare_new_run<C: SpaceRunConfig>(
    mut config: C,
    base: &Path,
    space_text: &str,
    space_path: &Path,
    out: &Path,
) -> Result<PreparedRun<C>> {
    refuse_existing_run(out, C::WHAT, &format!("kdnas {}", C::COMMAND))?;
    let space = parse_space(space_text, space_path)?;
    std::fs::create_dir_all(out).map_err(|e| KdnasError::io(out, e))?;
    config.resolve(base);
    config.set_space(out.join(RUN_SPACE));
    write_file_atomically(&out.join(RUN_SPACE), space_text.as_bytes())?;
    write_run_copy(&config, out)?;
    Ok(PreparedRun { dir: out.to_path_buf(), config, space, space_text: space_text.to_string() })
}

/// Prepares a run from a config file, with optional seed override.
pub fn prepare_from_file<C: SpaceRunConfig>(
    config_path: &Path,
    out: &Path,
    seed: Option<u64>,
) -> Result<PreparedRun<C>> {
    let mut config = C::load(config_path)?;
    if let Some(seed) = seed {
        config.set_seed(seed);
    }
    let base = config_path.parent().unwrap_or(Path::new("."));
    let space_path = base.join(config.space());
    let space_text = std::fs::read_to_string(&space_path).map_err(|e| KdnasError::io(&space_path, e))?;
    prepare_new_run(config, base, &space_text, &space_path, out)
}

/// Re-opens an existing run directory for resuming.
pub fn reopen_run<C: SpaceRunConfig>(dir: &Path) -> Result<PreparedRun<C>> {
    if !dir.is_dir() {
        return Err(KdnasError::Usage(format!("{}: no such run directory", dir.display())));
    }
    let resolve = |mut config: C, dir: &Path| {
        config.resolve(dir);
        config
    };
    let config = load_run_copy(dir, C::load, resolve)?;
    let space_path = dir.join(RUN_SPACE);
    let space_text = std::fs::read_to_string(&space_path).map_err(|e| KdnasError::io(&space_path, e))?;
    let space = parse_space(&space_text, &space_path)?;
    Ok(PreparedRun { dir: dir.to_path_buf(), config, space, space_text })
}
