//! Full-state checkpoints, written atomically: a complete new directory is written next to the old one
//! and swapped in by renames, so a crash at any moment leaves a usable checkpoint.

use super::bilevel::Optimisers;
use super::history::SearchState;
use crate::error::{KdnasError, Result};
use crate::supernet::ArchParams;
use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

/// Name of the checkpoint directory inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::<FullPrecisionSettings>::new()
}

fn ck_err(path: &Path, e: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes `dir`'s contents with `write` into a sibling temp directory, then swaps it in.
pub fn write_dir_atomically(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let old = dir.with_extension("old");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| KdnasError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| KdnasError::io(&tmp, e))?;
    write(&tmp)?;
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| KdnasError::io(&old, e))?;
        }
        std::fs::rename(dir, &old).map_err(|e| KdnasError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| KdnasError::io(dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| KdnasError::io(&old, e))?;
    }
    Ok(())
}

/// Writes a file atomically (temp file in the same directory, then rename).
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| KdnasError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| KdnasError::io(path, e))
}

/// The checkpoint directory of a run, falling back to the previous one if a swap was interrupted.
pub fn existing_checkpoint(run_dir: &Path) -> Option<PathBuf> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let old = dir.with_extension("old");
    [dir, old].into_iter().find(|d| d.join("state.json").exists())
}

/// Saves network, architecture, both optimisers and the loop state.
pub fn save<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    run_dir: &Path,
    net: &N,
    arch: &ArchParams<AB>,
    opt: &Optimisers<AB>,
    state: &SearchState,
) -> Result<()> {
    write_dir_atomically(&run_dir.join(CHECKPOINT_DIR), |dir| {
        let rec = recorder();
        net.clone().save_file(dir.join("net"), &rec).map_err(|e| ck_err(dir, e))?;
        arch.clone().save_file(dir.join("arch"), &rec).map_err(|e| ck_err(dir, e))?;
        rec.record(opt.adam.to_record(), dir.join("arch_opt")).map_err(|e| ck_err(dir, e))?;
        opt.sgd.save(&dir.join("sgd_velocity.bin"))?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| ck_err(dir, e))?;
        std::fs::write(dir.join("state.json"), json).map_err(|e| KdnasError::io(dir.join("state.json"), e))
    })
}

/// Restores everything [`save`] wrote into freshly built `net` / `arch` / `opt` of the same shapes.
pub fn load<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    run_dir: &Path,
    net: N,
    arch: ArchParams<AB>,
    mut opt: Optimisers<AB>,
    device: &AB::Device,
) -> Result<(N, ArchParams<AB>, Optimisers<AB>, SearchState)> {
    let dir = existing_checkpoint(run_dir).ok_or_else(|| {
        ck_err(&run_dir.join(CHECKPOINT_DIR), "no checkpoint to resume from (the run has not finished an epoch)")
    })?;
    let rec = recorder();
    let net = net.load_file(dir.join("net"), &rec, device).map_err(|e| ck_err(&dir, e))?;
    let arch = arch.load_file(dir.join("arch"), &rec, device).map_err(|e| ck_err(&dir, e))?;
    let adam_record = rec.load(dir.join("arch_opt"), device).map_err(|e| ck_err(&dir, e))?;
    opt.adam = opt.adam.load_record(adam_record);
    opt.sgd.load(&dir.join("sgd_velocity.bin"), device)?;
    let text = std::fs::read(dir.join("state.json")).map_err(|e| KdnasError::io(dir.join("state.json"), e))?;
    let state = serde_json::from_slice(&text).map_err(|e| ck_err(&dir.join("state.json"), e))?;
    Ok((net, arch, opt, state))
}
