//! Checkpoints of the training loop, written atomically at every epoch end (the trained module, the
//! weight optimiser's state, the finished epochs' records), so `--resume` continues exactly where a
//! run stopped.

use super::records::TrainEpoch;
use crate::error::{KdnasError, Result};
use crate::files::write_dir_atomically;
use crate::manifest::{Fingerprint, verify_checkpoint, write_manifest};
use crate::optim::WeightOptimizer;
use crate::record_files::save_module;
use crate::run::checkpoint::{CHECKPOINT_DIR, checkpoint_to_resume, load_module, load_state};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The JSON part of a training checkpoint.
#[derive(Serialize, Deserialize)]
struct SavedProgress {
    history: Vec<TrainEpoch>,
}

/// Manifest kind of training checkpoints.
const TRAIN_KIND: &str = "train";

/// Writes `net`, the state of `optimizer` and `history` to `out_dir/checkpoint` (a complete new
/// directory swapped in by renames), with a manifest naming the run it belongs to.
pub fn save_training<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    out_dir: &Path,
    fingerprint: &Fingerprint,
    net: &N,
    optimizer: &WeightOptimizer<AB>,
    history: &[TrainEpoch],
) -> Result<()> {
    write_dir_atomically(&out_dir.join(CHECKPOINT_DIR), |dir| {
        save_module(net, &dir.join("net.mpk"))?;
        optimizer.save(dir)?;
        let state_path = dir.join("state.json");
        let json = serde_json::to_vec_pretty(&SavedProgress { history: history.to_vec() })
            .map_err(|e| KdnasError::Checkpoint { path: state_path.clone(), message: e.to_string() })?;
        std::fs::write(&state_path, json).map_err(|e| KdnasError::io(&state_path, e))?;
        write_manifest(dir, TRAIN_KIND, fingerprint)
    })
}

/// Restores the checkpoint of `out_dir` into `net` (freshly built, same shapes) and `optimizer` (fresh),
/// after checking that it belongs to the run `fingerprint` describes, that no file was altered and
/// that its records number the epochs from the first; returns them with the finished epochs' records.
pub fn load_training<AB: AutodiffBackend, N: AutodiffModule<AB>>(
    out_dir: &Path,
    fingerprint: &Fingerprint,
    net: N,
    mut optimizer: WeightOptimizer<AB>,
    device: &AB::Device,
) -> Result<(N, WeightOptimizer<AB>, Vec<TrainEpoch>)> {
    let dir = checkpoint_to_resume(out_dir)?;
    verify_checkpoint(&dir, TRAIN_KIND, fingerprint)?;
    let net = load_module(&dir, "net", net, device)?;
    optimizer.load(&dir, &net, device)?;
    let saved: SavedProgress = load_state(&dir)?;
    if let Some((i, record)) = saved.history.iter().enumerate().find(|(i, r)| r.epoch != *i) {
        return Err(KdnasError::Checkpoint {
            path: dir.join("state.json"),
            message: format!("record {} is of epoch {}: the epochs are not numbered in order", i + 1, record.epoch + 1),
        });
    }
    Ok((net, optimizer, saved.history))
}
