//! Full-state checkpoints, written atomically: a complete new directory is written next to the old one
//! and swapped in by renames, so a crash at any moment leaves a usable checkpoint.

use super::bilevel::Optimisers;
use super::history::{EpochRecord, SearchState};
use crate::error::{KdnasError, Result};
use crate::files::write_dir_atomically;
use crate::manifest::{Fingerprint, verify_checkpoint, write_manifest};
use crate::record_files::save_module;
use crate::run::checkpoint::{CHECKPOINT_DIR, checkpoint_error, checkpoint_to_resume, load_module, load_state};
use crate::supernet::ArchParams;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use std::path::Path;

/// Manifest kind of search checkpoints.
const SEARCH_KIND: &str = "search";

/// File of a checkpoint holding the architecture optimiser's moments.
pub const ARCH_STATE_FILE: &str = "arch_adam_moments.bin";

/// The loop state as [`save`] writes it (read back as a [`SearchState`]).
#[derive(serde::Serialize)]
struct SavedState<'a> {
    next_epoch: usize,
    history: &'a [EpochRecord],
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
    history: &[EpochRecord],
) -> Result<()> {
    write_dir_atomically(&run_dir.join(CHECKPOINT_DIR), |dir| {
        save_module(net, &dir.join("net.mpk"))?;
        save_module(arch, &dir.join("arch.mpk"))?;
        opt.arch.save(&dir.join(ARCH_STATE_FILE))?;
        opt.weights.save(dir)?;
        let state = SavedState { next_epoch: history.len(), history };
        let json = serde_json::to_vec_pretty(&state).map_err(|e| checkpoint_error(dir, e))?;
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

/// The loop state of the search in `run_dir` (its records), read from its checkpoint without the
/// modules, as `kdnas derive` needs it; errors name the missing or unreadable file.
pub fn load_search_state(run_dir: &Path) -> Result<SearchState> {
    load_state(&checkpoint_to_resume(run_dir)?)
}

/// Checks that the loop state agrees with itself and with the architecture: one record per finished
/// epoch, and every record's weights shaped like the choice groups (plots and derivation index them).
fn check_state<AB: AutodiffBackend>(path: &Path, state: &SearchState, arch: &ArchParams<AB>) -> Result<()> {
    if state.next_epoch != state.history.len() {
        let why = format!("next_epoch = {} but {} epoch records", state.next_epoch, state.history.len());
        return Err(checkpoint_error(path, why));
    }
    let shapes: Vec<[usize; 2]> = arch.logits.iter().map(|p| p.dims()).collect();
    for record in &state.history {
        let weights = &record.extras.arch_weights;
        let fits = weights.len() == shapes.len()
            && weights.iter().zip(&shapes).all(|(rows, [r, c])| {
                rows.len() == *r && rows.iter().all(|row| row.len() == *c && row.iter().all(|v| v.is_finite()))
            });
        if !fits {
            let why = format!(
                "the architecture weights of epoch {} do not match the space's choice groups {shapes:?}",
                record.epoch + 1
            );
            return Err(checkpoint_error(path, why));
        }
    }
    Ok(())
}
