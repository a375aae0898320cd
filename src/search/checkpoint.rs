//! Full-state checkpoints, written atomically: a complete new directory is written next to the old one
//! and swapped in by renames, so a crash at any moment leaves a usable checkpoint.

use super::bilevel::Optimisers;
use super::history::SearchState;
use crate::error::{KdnasError, Result};
use crate::files::write_dir_atomically;
use crate::manifest::{Fingerprint, verify_checkpoint, write_manifest};
use crate::supernet::ArchParams;
use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

/// Manifest kind of search checkpoints.
const SEARCH_KIND: &str = "search";

/// Name of the checkpoint directory inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::<FullPrecisionSettings>::new()
}

fn ck_err(path: &Path, e: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: e.to_string() }
}

/// The checkpoint directory of a run, falling back to the previous one if a swap was interrupted.
pub fn existing_checkpoint(run_dir: &Path) -> Option<PathBuf> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let old = dir.with_extension("old");
    [dir, old].into_iter().find(|d| d.join("state.json").exists())
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
            "no checkpoint yet: the run has not finished an epoch, or this is not a run directory".to_string()
        };
        ck_err(&dir, why)
    })
}

/// Loads the record `name` (`net`, `arch`, ...) of checkpoint `dir` into `module`, naming the file on failure.
pub fn load_module<B: burn::tensor::backend::Backend, M: Module<B>>(
    dir: &Path,
    name: &str,
    module: M,
    device: &B::Device,
) -> Result<M> {
    let path = dir.join(name);
    module.load_file(&path, &recorder(), device).map_err(|e| ck_err(&path.with_extension("mpk"), e))
}

/// The checkpoint's loop state (`state.json`).
pub fn load_state<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join("state.json");
    let text = std::fs::read(&path).map_err(|e| KdnasError::io(&path, e))?;
    serde_json::from_slice(&text).map_err(|e| ck_err(&path, e))
}

/// Saves network, architecture, both optimisers, the loop state and the manifest (last, so that a
/// checkpoint without a complete manifest is never swapped in).
pub fn save<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    run_dir: &Path,
    fingerprint: &Fingerprint,
    net: &N,
    arch: &ArchParams<AB>,
    opt: &Optimisers<AB>,
    state: &SearchState,
) -> Result<()> {
    write_dir_atomically(&run_dir.join(CHECKPOINT_DIR), |dir| {
        let rec = recorder();
        net.clone().save_file(dir.join("net"), &rec).map_err(|e| ck_err(&dir.join("net.mpk"), e))?;
        arch.clone().save_file(dir.join("arch"), &rec).map_err(|e| ck_err(&dir.join("arch.mpk"), e))?;
        rec.record(opt.adam.to_record(), dir.join("arch_opt")).map_err(|e| ck_err(&dir.join("arch_opt.mpk"), e))?;
        opt.sgd.save(&dir.join("sgd_velocity.bin"))?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| ck_err(dir, e))?;
        std::fs::write(dir.join("state.json"), json).map_err(|e| KdnasError::io(dir.join("state.json"), e))?;
        write_manifest(dir, SEARCH_KIND, fingerprint)
    })
}

/// Restores everything [`save`] wrote into freshly built `net` / `arch` / `opt`, after checking that
/// the checkpoint belongs to the run described by `fingerprint` and that no file was altered.
pub fn load<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    run_dir: &Path,
    fingerprint: &Fingerprint,
    net: N,
    arch: ArchParams<AB>,
    mut opt: Optimisers<AB>,
    device: &AB::Device,
) -> Result<(N, ArchParams<AB>, Optimisers<AB>, SearchState)> {
    let dir = checkpoint_to_resume(run_dir)?;
    verify_checkpoint(&dir, SEARCH_KIND, fingerprint)?;
    let net = load_module(&dir, "net", net, device)?;
    let arch = load_module(&dir, "arch", arch, device)?;
    let adam_path = dir.join("arch_opt");
    let adam_record =
        recorder().load(adam_path.clone(), device).map_err(|e| ck_err(&adam_path.with_extension("mpk"), e))?;
    opt.adam = opt.adam.load_record(adam_record);
    opt.sgd.load(&dir.join("sgd_velocity.bin"), device)?;
    Ok((net, arch, opt, load_state(&dir)?))
}
