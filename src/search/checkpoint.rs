//! Full-state checkpoints, written atomically: a complete new directory is written next to the old one
//! and swapped in by renames, so a crash at any moment leaves a usable checkpoint.

use super::bilevel::Optimisers;
use super::history::SearchState;
use crate::error::{KdnasError, Result};
use crate::files::write_dir_atomically;
use crate::manifest::{Fingerprint, check_loaded, param_shapes, verify_checkpoint, write_manifest};
use crate::record_files::{guard_decoding, load_record, save_module};
use crate::supernet::ArchParams;
use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

/// Manifest kind of search checkpoints.
const SEARCH_KIND: &str = "search";

/// File of a checkpoint holding the architecture optimiser's moments.
pub const ARCH_STATE_FILE: &str = "arch_adam_moments.bin";

/// Name of the checkpoint directory inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";

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
            "no checkpoint yet: the run has not finished an epoch (start it again with `--config FILE --out` this \
             directory), or this is not a run directory"
                .to_string()
        };
        ck_err(&dir, why)
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
    serde_json::from_slice(&text).map_err(|e| ck_err(&path, e))
}

/// Saves network, architecture, both optimisers (the weights' state in the file its kind names), the
/// loop state and the manifest (last, so that a checkpoint without a complete manifest is never
/// swapped in).
pub fn save<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    run_dir: &Path,
    fingerprint: &Fingerprint,
    net: &N,
    arch: &ArchParams<AB>,
    opt: &Optimisers<AB>,
    state: &SearchState,
) -> Result<()> {
    write_dir_atomically(&run_dir.join(CHECKPOINT_DIR), |dir| {
        save_module(net, &dir.join("net.mpk"))?;
        save_module(arch, &dir.join("arch.mpk"))?;
        opt.arch.save(&dir.join(ARCH_STATE_FILE))?;
        opt.weights.save(dir)?;
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
    opt.arch.load(&dir.join(ARCH_STATE_FILE), &arch, device)?;
    opt.weights.load(&dir, &net, device)?;
    let state: SearchState = load_state(&dir)?;
    check_state(&dir.join("state.json"), &state, &arch)?;
    Ok((net, arch, opt, state))
}

/// Checks that the loop state agrees with itself and with the architecture: one record per finished
/// epoch, and every record's weights shaped like the choice groups (plots and derivation index them).
fn check_state<AB: AutodiffBackend>(path: &Path, state: &SearchState, arch: &ArchParams<AB>) -> Result<()> {
    if state.next_epoch != state.history.len() {
        let why = format!("next_epoch = {} but {} epoch records", state.next_epoch, state.history.len());
        return Err(ck_err(path, why));
    }
    let shapes: Vec<[usize; 2]> = arch.logits.iter().map(|p| p.dims()).collect();
    for record in &state.history {
        let fits = record.arch_weights.len() == shapes.len()
            && record.arch_weights.iter().zip(&shapes).all(|(rows, [r, c])| {
                rows.len() == *r && rows.iter().all(|row| row.len() == *c && row.iter().all(|v| v.is_finite()))
            });
        if !fits {
            let why = format!(
                "the architecture weights of epoch {} do not match the space's choice groups {shapes:?}",
                record.epoch + 1
            );
            return Err(ck_err(path, why));
        }
    }
    Ok(())
}
