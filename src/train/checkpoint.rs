//! Checkpoints of derived-network training, written atomically at every epoch end (network weights,
//! SGD velocity, finished epochs), so `kdnas train --resume DIR` continues exactly where a run stopped.

use super::{TrainEpoch, TrainState};
use crate::error::{KdnasError, Result};
use crate::search::checkpoint::{CHECKPOINT_DIR, existing_checkpoint, write_dir_atomically};
use crate::search::sgd::Sgd;
use crate::supernet::CellNetwork;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The JSON part of a training checkpoint.
#[derive(Serialize, Deserialize)]
struct SavedProgress {
    history: Vec<TrainEpoch>,
}

fn ck_err(path: &Path, e: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes `state` to `out_dir/checkpoint` (a complete new directory swapped in by renames).
pub fn save_training<AB: AutodiffBackend>(out_dir: &Path, state: &TrainState<AB>) -> Result<()> {
    write_dir_atomically(&out_dir.join(CHECKPOINT_DIR), |dir| {
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        state.net.clone().save_file(dir.join("net"), &recorder).map_err(|e| ck_err(dir, e))?;
        state.sgd.save(&dir.join("sgd_velocity.bin"))?;
        let json =
            serde_json::to_vec_pretty(&SavedProgress { history: state.history.clone() }).map_err(|e| ck_err(dir, e))?;
        std::fs::write(dir.join("state.json"), json).map_err(|e| KdnasError::io(dir.join("state.json"), e))
    })
}

/// Restores a checkpoint of `out_dir` into `net` (freshly built, same shapes) and `sgd` (fresh).
pub fn load_training<AB: AutodiffBackend>(
    out_dir: &Path,
    net: CellNetwork<AB>,
    mut sgd: Sgd<AB>,
    device: &AB::Device,
) -> Result<TrainState<AB>> {
    let dir = existing_checkpoint(out_dir).ok_or_else(|| {
        ck_err(&out_dir.join(CHECKPOINT_DIR), "no checkpoint to resume from (training has not finished an epoch)")
    })?;
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let net = net.load_file(dir.join("net"), &recorder, device).map_err(|e| ck_err(&dir, e))?;
    sgd.load(&dir.join("sgd_velocity.bin"), device)?;
    let state_path = dir.join("state.json");
    let text = std::fs::read(&state_path).map_err(|e| KdnasError::io(&state_path, e))?;
    let saved: SavedProgress = serde_json::from_slice(&text).map_err(|e| ck_err(&state_path, e))?;
    Ok(TrainState { net, sgd, history: saved.history })
}
