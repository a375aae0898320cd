//! The interaction-per-line format `user item [timestamp]` (SASRec), and the grouping of
//! interactions into per-user sequences that `.inter` files share.

use std::collections::HashMap;
use std::path::Path;

use super::format::{data_lines, line_error, parse_timestamp};
use crate::error::Result;

/// One interaction: user token, item token and an optional timestamp.
pub(super) type Interaction = (String, String, Option<f64>);

/// Parses `text` (read from `path`) into `(user, items)`, users in order of first appearance.
///
/// The first line decides whether the file has timestamps (3 fields) or not (2 fields); every
/// other line must have the same number of fields.
pub(super) fn parse_pairs(text: &str, path: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let mut rows = Vec::new();
    let mut first: Option<(usize, usize)> = None; // (line, fields) of the first data line
    for (line, content) in data_lines(text) {
        let fields: Vec<&str> = content.split_whitespace().collect();
        if !(2..=3).contains(&fields.len()) {
            let found = fields.len();
            return Err(line_error(
                path,
                line,
                "fields",
                format!("expected `user item [timestamp]`, found {found} fields"),
            ));
        }
        let (first_line, first_fields) = *first.get_or_insert((line, fields.len()));
        if fields.len() != first_fields {
            return Err(line_error(
                path,
                line,
                "fields",
                format!(
                    "{} fields, but line {first_line} has {first_fields} (give a timestamp on every line or on none)",
                    fields.len()
                ),
            ));
        }
        let timestamp = fields.get(2).map(|t| parse_timestamp(t, path, line)).transpose()?;
        rows.push((fields[0].to_string(), fields[1].to_string(), timestamp));
    }
    Ok(group_by_user(rows))
}

/// Groups interactions per user (users in order of first appearance); each user's items are
/// sorted by timestamp with a stable sort, so ties and rows without timestamps keep file order.
pub(super) fn group_by_user(rows: Vec<Interaction>) -> Vec<(String, Vec<String>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<(Option<f64>, String)>)> = Vec::new();
    for (user, item, timestamp) in rows {
        let slot = *index.entry(user.clone()).or_insert_with(|| {
            groups.push((user, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push((timestamp, item));
    }
    groups
        .into_iter()
        .map(|(user, mut items)| {
            items.sort_by(|a, b| a.0.unwrap_or(0.0).total_cmp(&b.0.unwrap_or(0.0))); // stable
            (user, items.into_iter().map(|(_, item)| item).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(users: &[(String, Vec<String>)], k: usize) -> Vec<&str> {
        users[k].1.iter().map(String::as_str).collect()
    }

    #[test]
    fn users_keep_first_appearance_order_and_untimed_rows_keep_file_order() {
        let users = parse_pairs("7 a\n3 b\n7 c\n3 a\n7 b\n", Path::new("p.txt")).unwrap();
        assert_eq!((users[0].0.as_str(), users[1].0.as_str()), ("7", "3"));
        assert_eq!(items(&users, 0), ["a", "c", "b"]);
        assert_eq!(items(&users, 1), ["b", "a"]);
    }

    #[test]
    fn wrong_field_counts_name_the_line() {
        let err = parse_pairs("1 a 5\n1 b\n", Path::new("p.txt")).unwrap_err();
        assert!(err.to_string().starts_with("p.txt:2: `fields`: 2 fields, but line 1 has 3"), "{err}");
        let err = parse_pairs("1 a 5 9\n", Path::new("p.txt")).unwrap_err();
        assert_eq!(err.to_string(), "p.txt:1: `fields`: expected `user item [timestamp]`, found 4 fields");
    }
}
