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

/// Writes `record` to `path` atomically (named MessagePack, full precision: what burn's
/// `NamedMpkFileRecorder` reads as `<stem>.mpk`).
pub fn save_record<B: Backend, R: Record<B>>(record: R, path: &Path) -> Result<()> {
    let bytes = Recorder::<B>::record(&recorder(), record, ()).map_err(|e| record_error(path, e))?;
    crate::files::write_file_atomically(path, &bytes)
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

/// Runs `decode` — burn decoding a record into a module, which panics on some malformed records (an
/// invalid parameter id, a tensor buffer shorter than its shape) instead of returning an error — and
/// turns such a panic into a checkpoint error naming `path`. The panic message is not printed: the
/// error carries it.
pub fn guard_decoding<T>(path: &Path, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    std::panic::set_hook(hook);
    outcome.unwrap_or_else(|payload| {
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(record_error(path, format!("malformed record: {text}")))
    })
}
