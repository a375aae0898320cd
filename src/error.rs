//! The library's error type: every failure a user can cause names where it happened.

use std::path::PathBuf;

/// Every error kdnas reports. Messages name the file, line and field where one exists.
#[derive(Debug, thiserror::Error)]
pub enum KdnasError {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error (shown in the message, not chained, so it is printed once).
        cause: std::io::Error,
    },
    /// A configuration or search-space file is malformed or inconsistent.
    #[error("{path}{}: `{field}`: {message}", line_suffix(*.line))]
    Invalid {
        /// The file that holds the mistake.
        path: PathBuf,
        /// 1-based line of the offending field (0 when no line can be named).
        line: usize,
        /// Dotted name of the offending field, e.g. `cells.normal.nodes[2].edges`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A data file is missing pieces, has a wrong magic number or inconsistent sizes.
    #[error("{path}: corrupt or unsupported data file: {message}")]
    Data {
        /// The data file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A value given on the command line or through the API is out of range.
    #[error("{0}")]
    Usage(String),
    /// A loss term became NaN or infinite; the last good checkpoint is kept.
    #[error("non-finite loss at epoch {}, step {} (1-based): term `{term}` = {value}", .epoch + 1, .step + 1)]
    NonFinite {
        /// 0-based epoch.
        epoch: usize,
        /// 0-based step inside the epoch.
        step: usize,
        /// Name of the loss term that was not finite.
        term: String,
        /// Its value.
        value: f32,
    },
    /// A checkpoint or record could not be written or restored.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Plot rendering failed.
    #[error("plot {path}: {message}")]
    Plot {
        /// The figure being written.
        path: PathBuf,
        /// The renderer's message.
        message: String,
    },
}

/// `:line` for a known line, nothing for line 0.
fn line_suffix(line: usize) -> String {
    if line == 0 { String::new() } else { format!(":{line}") }
}

/// Result alias used throughout the library.
pub type Result<T> = std::result::Result<T, KdnasError>;

impl KdnasError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        KdnasError::Io { path: path.into(), cause }
    }
}
