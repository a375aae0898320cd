//! Choosing a sequence file format and loading a file into a [`SequenceSet`]; the line helpers the
//! three parsers share.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::set::{SequenceSet, check_min_len};
use super::{inter, lines, pairs};
use crate::error::{KdnasError, Result};

/// The default `min_len`: the fewest interactions leave-one-out can split.
pub const DEFAULT_MIN_LEN: usize = super::set::MIN_SEQUENCE_LEN;

/// The layout of a sequence file (`"lines" | "pairs" | "inter"` in configuration files).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SequenceFormat {
    /// One user per line, `user item item ...` in chronological order, separated by white space
    /// (S3Rec's files); a user may not have two lines.
    Lines,
    /// One interaction per line, `user item [timestamp]` separated by white space (SASRec's files).
    /// Each user's items are sorted by timestamp with a stable sort, so ties keep file order; without
    /// timestamps file order is kept. Either every line has a timestamp or none has.
    Pairs,
    /// A RecBole atomic `.inter` file: a tab-separated header of typed columns such as
    /// `user_id:token  item_id:token  rating:float  timestamp:float`, then one interaction per line.
    /// Columns are found by name (`user_id`, `item_id`, optional `timestamp`); items are sorted per
    /// user by timestamp as for `pairs`.
    Inter,
}

/// Loads `path` in `format`, dropping users with fewer than `min_len` interactions
/// ([`DEFAULT_MIN_LEN`] is the smallest allowed).
///
/// Malformed lines are rejected with an error naming `file:line` and what is wrong; an empty file
/// and a file where no user is long enough are rejected too, as is a `min_len` below the default.
pub fn load_sequences(path: &Path, format: SequenceFormat, min_len: usize) -> Result<SequenceSet> {
    check_min_len(min_len)?;
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    let users = match format {
        SequenceFormat::Lines => lines::parse_lines(&text, path)?,
        SequenceFormat::Pairs => pairs::parse_pairs(&text, path)?,
        SequenceFormat::Inter => inter::parse_inter(&text, path)?,
    };
    if users.is_empty() {
        return Err(KdnasError::Data { path: path.to_path_buf(), message: "no interactions (empty file)".into() });
    }
    SequenceSet::from_token_sequences(users, min_len)
        .map_err(|e| KdnasError::Data { path: path.to_path_buf(), message: e.to_string() })
}

/// The non-blank lines of `text` with their 1-based line numbers.
pub(super) fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| (i + 1, line)).filter(|(_, line)| !line.trim().is_empty())
}

/// The error for a malformed `field` on line `line` of `path`.
pub(super) fn line_error(path: &Path, line: usize, field: &str, message: impl Into<String>) -> KdnasError {
    KdnasError::Invalid { path: path.to_path_buf(), line, field: field.into(), message: message.into() }
}

/// Parses a finite timestamp (integer or decimal) on line `line` of `path`.
pub(super) fn parse_timestamp(token: &str, path: &Path, line: usize) -> Result<f64> {
    match token.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(line_error(path, line, "timestamp", format!("`{token}` is not a finite number"))),
    }
}
