//! The one-user-per-line format: `user item item ...` in chronological order (S3Rec).

use std::collections::HashSet;
use std::path::Path;

use super::format::{data_lines, line_error};
use crate::error::Result;

/// Parses `text` (read from `path`) into `(user, items)` in file order.
///
/// Fails on a line with a user but no item, and on a user named on two lines.
pub(super) fn parse_lines(text: &str, path: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let mut users = Vec::new();
    let mut seen = HashSet::new();
    for (line, content) in data_lines(text) {
        let mut fields = content.split_whitespace().map(str::to_string);
        let user = fields.next().unwrap_or_default(); // a data line has a first field
        let items: Vec<String> = fields.collect();
        if items.is_empty() {
            return Err(line_error(path, line, "items", format!("expected `user item item ...`, found only `{user}`")));
        }
        if !seen.insert(user.clone()) {
            return Err(line_error(path, line, "user", format!("user `{user}` already has a line above")));
        }
        users.push((user, items));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_skipped_and_repeated_users_rejected() {
        let users = parse_lines("1 5 6\n\n2 7 8 9\r\n", Path::new("s.txt")).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[1], ("2".to_string(), vec!["7".to_string(), "8".to_string(), "9".to_string()]));
        let err = parse_lines("1 5 6\n2 7\n1 8\n", Path::new("s.txt")).unwrap_err();
        assert_eq!(err.to_string(), "s.txt:3: `user`: user `1` already has a line above");
    }
}
