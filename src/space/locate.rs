//! Turns byte offsets in a source file into located errors.

use crate::error::KdnasError;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A source file being validated: its path and text, for naming lines in errors.
pub struct Source<'a> {
    /// Path shown in messages.
    pub path: &'a Path,
    /// Full text of the file.
    pub text: &'a str,
}

impl Source<'_> {
    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// An `Invalid` error located at `span`, for the dotted `field`.
    pub fn error(&self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> KdnasError {
        KdnasError::Invalid {
            path: PathBuf::from(self.path),
            line: self.line_of(span.start),
            field: field.into(),
            message: message.into(),
        }
    }

    /// Converts a TOML parse error into a located error.
    pub fn toml_error(&self, err: toml::de::Error) -> KdnasError {
        let line = err.span().map(|s| self.line_of(s.start)).unwrap_or(0);
        let message = err.message().to_string();
        let field = named_field(&message).unwrap_or_else(|| "toml syntax".to_string());
        KdnasError::Invalid { path: PathBuf::from(self.path), line, field, message }
    }
}

/// The key a serde message is about (`unknown field `x``, `missing field `x``), if any.
fn named_field(message: &str) -> Option<String> {
    let start = message.find("field `")? + "field `".len();
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}
