//! The run configuration file (`kdnas search --config FILE`): which space, data, network and
//! hyper-parameters. Every field has DARTS's default except the space and the network size.

use crate::data::DataConfig;
use crate::error::{KdnasError, Result};
use crate::export::DeriveRule;
use crate::search::SearchConfig;
use crate::space::Source;
use crate::supernet::NetworkConfig;
use crate::tasks::{TaskKind, TaskSection};
use crate::train::TrainConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A complete run description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Which task (`image`, the default, for DARTS cell search).
    #[serde(default)]
    pub task: TaskSection,
    /// Search-space file, relative to the config file.
    pub space: PathBuf,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Image data.
    #[serde(default)]
    pub data: DataConfig,
    /// Search network skeleton.
    pub network: NetworkConfig,
    /// Search hyper-parameters.
    #[serde(default)]
    pub search: SearchConfig,
    /// Derivation rule.
    #[serde(default)]
    pub derive: DeriveRule,
    /// Training of the derived network.
    #[serde(default)]
    pub train: TrainConfig,
}

impl RunConfig {
    /// Parses and validates config text; errors name `path`, the line and the field.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        parse_config(text, path, Self::validate)
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        load_config(path, Self::validate)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        self.task.expect(TaskKind::Image)?;
        self.data.validate()?;
        self.network.validate("network")?;
        self.search.validate()?;
        self.train.validate()?;
        self.train.refuse_patience("kdnas train")
    }

    /// Makes a relative `data.dir` absolute against `base` (the config file's folder), so the config
    /// can be copied into a run directory and still find its data.
    pub fn with_absolute_data_dir(mut self, base: &Path) -> Self {
        self.data.dir = self.data.dir.map(|dir| crate::files::absolute_from(base, &dir));
        self
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        config_toml(self)
    }
}

/// Parses config text of any kind and validates it with `validate`; parse errors and `section.field:
/// why` validation errors both name `path` and the line.
pub fn parse_config<T: DeserializeOwned>(text: &str, path: &Path, validate: impl Fn(&T) -> Result<()>) -> Result<T> {
    let src = Source { path, text };
    let config: T = toml::from_str(text).map_err(|e| src.toml_error(e))?;
    validate(&config).map_err(|e| locate_usage(&src, e))?;
    Ok(config)
}

/// Reads a config file of any kind and validates it (see [`parse_config`]).
pub fn load_config<T: DeserializeOwned>(path: &Path, validate: impl Fn(&T) -> Result<()>) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    parse_config(&text, path, validate)
}

/// A config as TOML text.
pub fn config_toml<T: Serialize>(config: &T) -> Result<String> {
    toml::to_string_pretty(config).map_err(|e| KdnasError::Usage(format!("cannot serialise the config: {e}")))
}

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

/// Turns a `section.field: message` usage error about the config file at `path` into one that names
/// the file and the line of that field (the file is read again; if it cannot be, `err` is returned).
pub fn locate_in_config(path: &Path, err: KdnasError) -> KdnasError {
    match std::fs::read_to_string(path) {
        Ok(text) => locate_usage(&Source { path, text: &text }, err),
        Err(_) => err,
    }
}

/// Turns a `section.field: message` usage error into one that names the line of that field. The
/// section may be an array of tables with an index (`choice[1].candidates` is the `candidates` key of
/// the second `[[choice]]`).
pub fn locate_usage(src: &Source, err: KdnasError) -> KdnasError {
    let KdnasError::Usage(message) = &err else { return err };
    let Some((field, rest)) = message.split_once(": ") else { return err };
    let Some((section, key)) = field.split_once('.') else { return err };
    let key = key.split(['.', '[']).next().unwrap_or(key);
    let (section, index) = match section.split_once('[') {
        Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().ok()),
        None => (section, None),
    };
    let mut in_section = false;
    let mut seen = 0;
    let mut offset = 0;
    for line in src.text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_matches(|c| c == '[' || c == ']').trim();
            let is_array = trimmed.starts_with("[[");
            in_section = name == section
                && match index {
                    Some(i) => {
                        is_array && {
                            seen += 1;
                            seen - 1 == i
                        }
                    }
                    None => !is_array,
                };
        } else if in_section && trimmed.split('=').next().is_some_and(|k| k.trim() == key) {
            return src.error(offset..offset, field, rest);
        }
        offset += line.len() + 1;
    }
    src.error(0..0, field, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

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
