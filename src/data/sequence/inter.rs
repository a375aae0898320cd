//! RecBole atomic `.inter` files: a tab-separated header of typed columns (`user_id:token`, ...), then
//! one interaction per line.

use std::path::Path;

use super::format::{data_lines, line_error, parse_timestamp};
use super::pairs::group_by_user;
use crate::error::Result;

/// The columns this loader reads, by position in the header.
struct Columns {
    /// Fields per line (the header's column count).
    count: usize,
    /// The `user_id` column.
    user: usize,
    /// The `item_id` column.
    item: usize,
    /// The `timestamp` column, when the file has one.
    timestamp: Option<usize>,
}

/// Parses `text` (read from `path`) into `(user, items)`, users in order of first appearance and
/// items sorted by timestamp (stable; file order without a `timestamp` column).
pub(super) fn parse_inter(text: &str, path: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let mut lines = data_lines(text);
    let Some((header_line, header)) = lines.next() else { return Ok(Vec::new()) };
    let columns = parse_header(header, path, header_line)?;
    let mut rows = Vec::new();
    for (line, content) in lines {
        let fields: Vec<&str> = content.split('\t').collect();
        if fields.len() != columns.count {
            let (want, found) = (columns.count, fields.len());
            let message = format!("expected {want} tab-separated fields as in the header, found {found}");
            return Err(line_error(path, line, "fields", message));
        }
        let token = |column: usize, name: &str| {
            let value = fields[column].trim();
            if value.is_empty() { Err(line_error(path, line, name, "empty value")) } else { Ok(value.to_string()) }
        };
        let (user, item) = (token(columns.user, "user_id")?, token(columns.item, "item_id")?);
        let timestamp = columns.timestamp.map(|c| parse_timestamp(fields[c].trim(), path, line)).transpose()?;
        rows.push((user, item, timestamp));
    }
    Ok(group_by_user(rows))
}

/// Finds the `user_id`, `item_id` and optional `timestamp` columns of a header such as
/// `user_id:token\titem_id:token\trating:float\ttimestamp:float`.
fn parse_header(header: &str, path: &Path, line: usize) -> Result<Columns> {
    let names: Vec<&str> = header.split('\t').map(|c| c.split(':').next().unwrap_or_default().trim()).collect();
    let find = |name: &str| names.iter().position(|n| *n == name);
    let require = |name: &str| {
        find(name).ok_or_else(|| line_error(path, line, "header", format!("no `{name}` column in `{header}`")))
    };
    Ok(Columns {
        count: names.len(),
        user: require("user_id")?,
        item: require("item_id")?,
        timestamp: find("timestamp"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let text = "timestamp:float\titem_id:token\tuser_id:token\n5\ta\tu1\n2\tb\tu1\n3\tc\tu2\n";
        let users = parse_inter(text, Path::new("x.inter")).unwrap();
        assert_eq!(users[0], ("u1".to_string(), vec!["b".to_string(), "a".to_string()]));
        assert_eq!(users[1], ("u2".to_string(), vec!["c".to_string()]));
    }

    #[test]
    fn without_timestamp_file_order_is_kept_and_empty_tokens_are_rejected() {
        let users = parse_inter("user_id:token\titem_id:token\nu\tb\nu\ta\n", Path::new("x.inter")).unwrap();
        assert_eq!(users[0].1, ["b", "a"]);
        let err = parse_inter("user_id:token\titem_id:token\nu\t \n", Path::new("x.inter")).unwrap_err();
        assert_eq!(err.to_string(), "x.inter:2: `item_id`: empty value");
    }
}
