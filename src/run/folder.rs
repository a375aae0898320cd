//! The files of a run folder: the copy of the resolved config it keeps (`config.toml`, every path in
//! it relative to the folder).

use crate::error::{KdnasError, Result};
use serde::Serialize;
use std::path::Path;

/// Writes the copy of a resolved config that the run directory `run_dir` keeps, atomically, as the
/// file `name` in it (see [`run_copy_toml`]).
pub fn write_run_copy<T: Serialize>(config: &T, run_dir: &Path, name: &str) -> Result<()> {
    crate::files::write_file_atomically(&run_dir.join(name), run_copy_toml(config, run_dir)?.as_bytes())
}

/// The copy of a resolved config that a run directory keeps, as TOML text: every path (the resolved
/// config holds them absolute, and no other field is an absolute path) rewritten relative to `run_dir`,
/// which is what a resumed or evaluated run resolves them against. A project folder moved or cloned
/// elsewhere, run folders and data alike, so keeps working.
fn run_copy_toml<T: Serialize>(config: &T, run_dir: &Path) -> Result<String> {
    let serialise = |e: &dyn std::fmt::Display| KdnasError::Usage(format!("cannot serialise the config: {e}"));
    let mut value = toml::Value::try_from(config).map_err(|e| serialise(&e))?;
    relative_paths(&mut value, run_dir);
    toml::to_string_pretty(&value).map_err(|e| serialise(&e))
}

/// Rewrites every absolute path string inside `value` relative to `dir`.
fn relative_paths(value: &mut toml::Value, dir: &Path) {
    match value {
        toml::Value::String(text) if Path::new(text.as_str()).is_absolute() => {
            *text = crate::files::relative_to(dir, Path::new(text.as_str())).to_string_lossy().into_owned();
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|item| relative_paths(item, dir)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, item)| relative_paths(item, dir)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[derive(Serialize)]
    struct Paths {
        name: String,
        data: PathBuf,
        nested: Vec<Option<PathBuf>>,
    }

    #[test]
    fn run_copies_name_files_relative_to_the_run_folder() {
        let config = Paths {
            name: "resnet".into(),
            data: PathBuf::from("/p/data/set.txt"),
            nested: vec![Some(PathBuf::from("/p/runs/teacher/model.mpk")), Some(PathBuf::from("kept/as/is"))],
        };
        let text = run_copy_toml(&config, Path::new("/p/runs/student")).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(value["name"].as_str(), Some("resnet"));
        assert_eq!(value["data"].as_str(), Some("../../data/set.txt"));
        assert_eq!(value["nested"][0].as_str(), Some("../teacher/model.mpk"));
        assert_eq!(value["nested"][1].as_str(), Some("kept/as/is"));
    }
}
