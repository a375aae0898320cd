//! Checkpoints of derived-network training, written atomically at every epoch end (network weights,
//! SGD velocity, finished epochs), so `kdnas train --resume DIR` continues exactly where a run stopped.

use super::{TrainEpoch, TrainState};
use crate::error::{KdnasError, Result};
use crate::files::write_dir_atomically;
use crate::manifest::{Fingerprint, verify_checkpoint, write_manifest};
use crate::record_files::save_module;
use crate::search::checkpoint::{CHECKPOINT_DIR, checkpoint_to_resume, load_module, load_state};
use crate::search::sgd::Sgd;
use crate::supernet::CellNetwork;
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

/// Writes `state` to `out_dir/checkpoint` (a complete new directory swapped in by renames), with a
/// manifest naming the run it belongs to.
pub fn save_training<AB: AutodiffBackend>(
    out_dir: &Path,
    fingerprint: &Fingerprint,
    state: &TrainState<AB>,
) -> Result<()> {
    write_dir_atomically(&out_dir.join(CHECKPOINT_DIR), |dir| {
        save_module(&state.net, &dir.join("net.mpk"))?;
        state.sgd.save(&dir.join("sgd_velocity.bin"))?;
        let state_path = dir.join("state.json");
        let json = serde_json::to_vec_pretty(&SavedProgress { history: state.history.clone() })
            .map_err(|e| KdnasError::Checkpoint { path: state_path.clone(), message: e.to_string() })?;
        std::fs::write(&state_path, json).map_err(|e| KdnasError::io(&state_path, e))?;
        write_manifest(dir, TRAIN_KIND, fingerprint)
    })
}

/// Restores a checkpoint of `out_dir` into `net` (freshly built, same shapes) and `sgd` (fresh),
/// after checking that it belongs to the run `fingerprint` describes and that no file was altered.
pub fn load_training<AB: AutodiffBackend>(
    out_dir: &Path,
    fingerprint: &Fingerprint,
    net: CellNetwork<AB>,
    mut sgd: Sgd<AB>,
    device: &AB::Device,
) -> Result<TrainState<AB>> {
    let dir = checkpoint_to_resume(out_dir)?;
    verify_checkpoint(&dir, TRAIN_KIND, fingerprint)?;
    let net = load_module(&dir, "net", net, device)?;
    sgd.load(&dir.join("sgd_velocity.bin"), &net, device)?;
    let saved: SavedProgress = load_state(&dir)?;
    Ok(TrainState { net, sgd, history: saved.history })
}
