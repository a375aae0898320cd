//! burn records as files, encoded in memory and written by us, so that a failed write reports the
//! file and the operating system's reason (disk full, file too large) instead of an encoder error.

use crate::error::{KdnasError, Result};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use std::path::Path;

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::new()
}

fn record_error(path: &Path, e: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: e.to_string() }
}

/// Writes `record` to `path` (named MessagePack, full precision: what burn's `NamedMpkFileRecorder`
/// reads as `<stem>.mpk`).
pub fn save_record<B: Backend, R: Record<B>>(record: R, path: &Path) -> Result<()> {
    let bytes = Recorder::<B>::record(&recorder(), record, ()).map_err(|e| record_error(path, e))?;
    std::fs::write(path, bytes).map_err(|e| KdnasError::io(path, e))
}

/// Writes the weights of `module` to `path`.
pub fn save_module<B: Backend, M: Module<B>>(module: &M, path: &Path) -> Result<()> {
    save_record::<B, _>(module.clone().into_record(), path)
}

/// Reads a record written by [`save_record`].
pub fn load_record<B: Backend, R: Record<B>>(path: &Path, device: &B::Device) -> Result<R> {
    let bytes = std::fs::read(path).map_err(|e| KdnasError::io(path, e))?;
    Recorder::<B>::load(&recorder(), bytes, device).map_err(|e| record_error(path, e))
}
