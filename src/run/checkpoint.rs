//! The checkpoint layout of a run directory, the same for every loop: the `checkpoint/` folder (with
//! `checkpoint.old/` as the fallback of an interrupted swap), its `state.json` and its module records,
//! loaded with every tensor's shape checked.

use crate::error::{KdnasError, Result};
use crate::manifest::{check_loaded, param_shapes};
use crate::record_files::{guard_decoding, load_record};
use burn::module::Module;
use std::path::{Path, PathBuf};

/// Name of the checkpoint directory inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";

/// A checkpoint error naming `path`.
pub fn checkpoint_error(path: &Path, e: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: e.to_string() }
}

/// The checkpoint directory of a run, falling back to the previous one if a swap was interrupted.
pub fn existing_checkpoint(run_dir: &Path) -> Option<PathBuf> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let old = dir.with_extension("old");
    [dir, old].into_iter().find(|d| d.join("state.json").exists())
}

/// Fails when `out` already holds a run (`what`: `training run`, `search`, ...) with a checkpoint: a
/// run is resumed with `COMMAND --resume OUT` (`command`: the full command, `kdnas teacher train`),
/// never overwritten by a new one.
pub fn refuse_existing_run(out: &Path, what: &str, command: &str) -> Result<()> {
    match existing_checkpoint(out) {
        Some(_) => Err(KdnasError::Usage(format!(
            "{} already holds a {what}; resume it with `{command} --resume {}` or choose another --out",
            out.display(),
            out.display()
        ))),
        None => Ok(()),
    }
}

/// The checkpoint to resume `run_dir` from, or an error saying why there is none.
pub fn checkpoint_to_resume(run_dir: &Path) -> Result<PathBuf> {
    existing_checkpoint(run_dir).ok_or_else(|| {
        let dir = run_dir.join(CHECKPOINT_DIR);
        let why = if !run_dir.is_dir() {
            "the run directory does not exist".to_string()
        } else if dir.is_dir() {
            format!("{} is missing: the checkpoint is incomplete", dir.join("state.json").display())
        } else {
            "no checkpoint yet: the run has not finished an epoch (start it again with `--config FILE --out` this \
             directory), or this is not a run directory"
                .to_string()
        };
        checkpoint_error(&dir, why)
    })
}

/// Loads the record `name` (`net`, `arch`, ...) of checkpoint `dir` into `module` and checks that every
/// tensor kept the shape `module` was built with; errors name the file.
pub fn load_module<B: burn::tensor::backend::Backend, M: Module<B>>(
    dir: &Path,
    name: &str,
    module: M,
    device: &B::Device,
) -> Result<M> {
    load_module_file(&dir.join(format!("{name}.mpk")), module, device)
}

/// Loads the record file `file` into `module`, guarded against records that make burn's decoder
/// panic and checked tensor by tensor against the shapes `module` was built with.
pub fn load_module_file<B: burn::tensor::backend::Backend, M: Module<B>>(
    file: &Path,
    module: M,
    device: &B::Device,
) -> Result<M> {
    let expected = param_shapes(&module);
    guard_decoding(file, || {
        let loaded = module.load_record(load_record(file, device)?);
        check_loaded(file, &expected, &loaded)?;
        Ok(loaded)
    })
}

/// The checkpoint's loop state (`state.json`).
pub fn load_state<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join("state.json");
    let text = std::fs::read(&path).map_err(|e| KdnasError::io(&path, e))?;
    serde_json::from_slice(&text).map_err(|e| checkpoint_error(&path, e))
}
